// The voice chat page: controls, state, transcript, level meters and the event log. The
// transports (webrtc.js, websocket.js) move audio and events; this module shows them.
import { applyEvent, elideAudio, emptyTranscript } from "./transcript.js";
import { microphoneProblem, Problem } from "./problems.js";
import { emptyTally, summaryLine, tallyEvent } from "./summary.js";
import { WebRTCTransport } from "./webrtc.js";
import { WebSocketTransport } from "./websocket.js";

const config = JSON.parse(document.getElementById("realtime-config").textContent);
const $ = (id) => document.getElementById(id);
const TRANSPORT_KEY = "voiceproject.transport";
const LOG_LINES = 500;
// Events that arrive 50 times a second: counted on one log line, not one line each.
const STREAMING = new Set(["input_audio_buffer.append", "response.output_audio.delta"]);

let session = null;

function chosenTransport() {
  return document.querySelector("input[name=transport]:checked").value;
}

function restoreTransport() {
  const saved = localStorage.getItem(TRANSPORT_KEY);
  const choice = saved === "webrtc" || saved === "websocket" ? saved : config.transport;
  document.querySelector(`input[name=transport][value=${choice}]`).checked = true;
  for (const radio of document.querySelectorAll("input[name=transport]")) {
    radio.addEventListener("change", () => localStorage.setItem(TRANSPORT_KEY, chosenTransport()));
  }
}

function setState(state) {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = state;
  document.body.dataset.voiceState = state;
  const busy = state === "connecting" || state === "connected";
  $("start").disabled = busy;
  $("stop").disabled = !busy;
  $("mute").disabled = state !== "connected";
  $("message").disabled = state !== "connected";
  $("send").disabled = state !== "connected";
  for (const radio of document.querySelectorAll("input[name=transport]")) radio.disabled = busy;
}

function showProblem(problem) {
  const box = $("problem");
  box.hidden = !problem;
  if (!problem) return;
  box.dataset.code = problem.code || "";
  $("problem-message").textContent = problem.message;
  $("problem-hint").textContent = problem.hint || "";
}

// --- event log -----------------------------------------------------------------------------

function logEvent(direction, event) {
  const log = $("event-log");
  const last = log.lastElementChild;
  if (STREAMING.has(event.type) && last?.dataset.type === event.type && last.dataset.direction === direction) {
    last.dataset.count = String(Number(last.dataset.count) + 1);
    last.querySelector(".count").textContent = ` ×${last.dataset.count}`;
    return;
  }
  const line = document.createElement("li");
  line.dataset.type = event.type;
  line.dataset.direction = direction;
  line.dataset.count = "1";
  const time = new Date().toISOString().slice(11, 23);
  const head = document.createElement("span");
  head.textContent = `${time} ${direction} ${event.type}`;
  const count = document.createElement("span");
  count.className = "count";
  const payload = document.createElement("code");
  payload.textContent = ` ${JSON.stringify(elideAudio(event))}`;
  line.append(head, count, payload);
  log.append(line);
  while (log.childElementCount > LOG_LINES) log.firstElementChild.remove();
  if ($("debug").open) line.scrollIntoView({ block: "nearest" });
  if (config.debug) console.debug("realtime", direction, event);
}

// --- transcript ----------------------------------------------------------------------------

function renderTurn(turn) {
  let bubble = document.getElementById(`turn-${turn.id}`);
  if (!bubble) {
    bubble = document.createElement("li");
    bubble.id = `turn-${turn.id}`;
    bubble.className = `turn ${turn.role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = { user: "You", assistant: "Assistant", tool: "Tool" }[turn.role];
    const text = document.createElement("span");
    text.className = "text";
    bubble.append(who, text);
    $("transcript").append(bubble);
  }
  bubble.querySelector(".text").textContent = turn.text || "…";
  bubble.dataset.done = String(turn.done);
  if (turn.interrupted) bubble.dataset.interrupted = "true";
  bubble.scrollIntoView({ block: "nearest" });
}

// --- levels --------------------------------------------------------------------------------

function showLevel(meter, level) {
  const value = Math.min(1, level * 4); // speech RMS is small: scale so talking fills it
  meter.value = value;
  meter.dataset.peak = String(Math.max(Number(meter.dataset.peak || 0), level));
}

// WebRTC streams are measured with an AnalyserNode; WebSocket audio by its worklets.
function watchStream(stream, meter) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const sample of samples) sum += sample * sample;
    showLevel(meter, Math.sqrt(sum / samples.length));
  }, 50);
  return () => {
    clearInterval(timer);
    context.close();
  };
}

// --- the session ---------------------------------------------------------------------------

async function openMicrophone() {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (error) {
    throw microphoneProblem(error, config.hints);
  }
}

function onServerEvent(event) {
  logEvent("←", event);
  const turn = applyEvent(session.transcript, event);
  if (turn) renderTurn(turn);
  tallyEvent(session.tally, event);
  if (event.type === "response.done") checkHeard(event);
}

// A reply with audio that never made a sound: the common "connected but silent" symptom.
function checkHeard(event) {
  const spoken = (event.response?.output || []).some((item) =>
    (item.content || []).some((part) => part.type === "output_audio"),
  );
  setTimeout(() => {
    if (session && spoken && Number($("output-level").dataset.peak || 0) < 0.001) {
      showProblem(
        new Problem("Connected, but no assistant audio was heard.", {
          code: "connected_but_silent",
          hint: config.hints.connected_but_silent,
        }),
      );
    }
  }, 1500);
}

async function start() {
  showProblem(null);
  setState("connecting");
  $("output-level").dataset.peak = "0";
  $("input-level").dataset.peak = "0";
  const transportName = chosenTransport();
  $("summary").hidden = true;
  session = {
    transcript: emptyTranscript(),
    tally: emptyTally(),
    cleanups: [],
    transport: null,
    name: transportName,
    connectedAt: null,
  };
  const current = session;
  const handlers = {
    event: (event) => session === current && onServerEvent(event),
    sent: (event) => logEvent("→", event),
    connected: () => {
      if (session !== current) return;
      current.connectedAt = performance.now();
      setState("connected");
    },
    failed: (problem) => session === current && fail(problem),
    inputLevel: (level) => showLevel($("input-level"), level),
    outputLevel: (level) => showLevel($("output-level"), level),
    outputStream: (stream) => {
      $("assistant-audio").srcObject = stream;
      current.cleanups.push(watchStream(stream, $("output-level")));
    },
  };
  try {
    const microphone = await openMicrophone();
    current.microphone = microphone;
    if (transportName === "webrtc") current.cleanups.push(watchStream(microphone, $("input-level")));
    const Transport = transportName === "websocket" ? WebSocketTransport : WebRTCTransport;
    current.transport = new Transport(config, handlers);
    await current.transport.connect(microphone);
  } catch (error) {
    if (session === current) fail(error instanceof Problem ? error : new Problem(error.message));
  }
}

function stop() {
  const ending = session;
  session = null;
  if (!ending) return;
  ending.transport?.close();
  if (ending.connectedAt !== null) {
    const seconds = (performance.now() - ending.connectedAt) / 1000;
    $("summary").textContent = summaryLine(ending.tally, seconds, config.price);
    $("summary").hidden = false;
  }
  for (const track of ending.microphone?.getTracks() || []) track.stop();
  for (const cleanup of ending.cleanups) cleanup();
  $("assistant-audio").srcObject = null;
  $("mute").setAttribute("aria-pressed", "false");
  showLevel($("input-level"), 0);
}

function fail(problem) {
  stop();
  setState("error");
  showProblem(problem);
}

// A typed message, over either transport: a user message item, then a response to it.
function sendTyped(submitted) {
  submitted.preventDefault();
  const text = $("message").value.trim();
  if (!text || !session?.transport) return;
  session.transport.send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  });
  session.transport.send({ type: "response.create" });
  $("message").value = "";
}

function toggleMute() {
  const muted = $("mute").getAttribute("aria-pressed") !== "true";
  $("mute").setAttribute("aria-pressed", String(muted));
  $("mute").textContent = muted ? "Unmute" : "Mute";
  session?.transport?.setMuted(muted);
}

restoreTransport();
if (config.debug) $("debug").open = true;
$("start").addEventListener("click", start);
$("stop").addEventListener("click", () => {
  stop();
  setState("idle");
});
$("mute").addEventListener("click", toggleMute);
$("typed").addEventListener("submit", sendTyped);
window.addEventListener("pagehide", stop);
setState("idle");
