// The voice chat page: controls, state, transcript, level meters and the event log, for the
// Realtime API or GPT-Live (live.js). The transports (webrtc.js, websocket.js and Live's
// subclasses) move audio and events; this module shows them.
import { recall, remember } from "./choices.js";
import { LIVE } from "./live.js";
import { microphoneProblem, Problem } from "./problems.js";
import { emptyTally, summaryLine, tallyEvent } from "./summary.js";
import { applyEvent, elideAudio, emptyTranscript } from "./transcript.js";
import { WebRTCTransport } from "./webrtc.js";
import { WebSocketTransport } from "./websocket.js";

const config = JSON.parse(document.getElementById("realtime-config").textContent);
const $ = (id) => document.getElementById(id);
const LOG_LINES = 500;
// Events that arrive 50 times a second: counted on one log line, not one line each.
const STREAMING = new Set([
  "input_audio_buffer.append",
  "response.output_audio.delta",
  "session.input_audio.append",
  "session.output_audio.delta",
]);
const APIS = {
  realtime: {
    transports: { webrtc: WebRTCTransport, websocket: WebSocketTransport },
    transcribe: (transcript, event) => [applyEvent(transcript, event)].filter(Boolean),
    tally: tallyEvent,
    // A user message item, then a response to it.
    typed: (text) => [
      {
        type: "conversation.item.create",
        item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
      },
      { type: "response.create" },
    ],
  },
  live: LIVE,
};
// The page's choices, remembered in this browser; GPT-Live only where the server offers it.
const CHOICES = {
  transport: { key: "voiceproject.transport", offered: ["webrtc", "websocket"], fallback: config.transport },
  api: { key: "voiceproject.api", offered: config.live ? ["realtime", "live"] : [], fallback: config.api },
};

let session = null;

function chosen(name) {
  return document.querySelector(`input[name=${name}]:checked`)?.value ?? CHOICES[name].fallback;
}

function restoreChoice(name, onChange = () => {}) {
  const radios = document.querySelectorAll(`input[name=${name}]`);
  const choice = recall(localStorage, CHOICES[name]);
  for (const radio of radios) {
    radio.checked = radio.value === choice;
    radio.addEventListener("change", () => {
      remember(localStorage, CHOICES[name], chosen(name));
      onChange();
    });
  }
  onChange();
}

// The config a session of the API runs with: Live's endpoints, model and price laid over.
function configFor(api) {
  return api === "live" ? { ...config, ...config.live } : config;
}

function showModel() {
  $("model").textContent = configFor(chosen("api")).model;
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
  for (const radio of document.querySelectorAll("input[name=transport], input[name=api]")) {
    radio.disabled = busy;
  }
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

// An event either way: the server's, or the page's own (a Live typed message is shown from it).
function onEvent(direction, event) {
  logEvent(direction, event);
  for (const turn of session.api.transcribe(session.transcript, event)) renderTurn(turn);
  session.api.tally(session.tally, event);
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
  const transportName = chosen("transport");
  const apiName = chosen("api");
  $("summary").hidden = true;
  session = {
    api: APIS[apiName],
    config: configFor(apiName),
    transcript: emptyTranscript(),
    tally: emptyTally(),
    cleanups: [],
    transport: null,
    name: transportName,
    connectedAt: null,
  };
  const current = session;
  const handlers = {
    event: (event) => session === current && onEvent("←", event),
    sent: (event) => (session === current ? onEvent("→", event) : logEvent("→", event)),
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
    const Transport = current.api.transports[transportName];
    current.transport = new Transport(current.config, handlers);
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
    $("summary").textContent = summaryLine(ending.tally, seconds, ending.config.price);
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

// A typed message, over either transport, as the session's API takes one.
function sendTyped(submitted) {
  submitted.preventDefault();
  const text = $("message").value.trim();
  if (!text || !session?.transport) return;
  for (const event of session.api.typed(text)) session.transport.send(event);
  $("message").value = "";
}

function toggleMute() {
  const muted = $("mute").getAttribute("aria-pressed") !== "true";
  $("mute").setAttribute("aria-pressed", String(muted));
  $("mute").textContent = muted ? "Unmute" : "Mute";
  session?.transport?.setMuted(muted);
}

restoreChoice("transport");
restoreChoice("api", showModel);
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
