// Voice chat over WebRTC: the browser talks to OpenAI directly for media; the SDP offer
// goes through this server's handshake relay, so no server key ever reaches the page.
const config = JSON.parse(document.getElementById("realtime-config").textContent);
const element = (id) => document.getElementById(id);

class Problem extends Error {
  constructor(message, hint = "") {
    super(message);
    this.hint = hint;
  }
}

let call = null;

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// Absolute URLs: a relative relay URL is the seed's "Failed to construct 'URL'" pitfall.
function endpoint(path) {
  return new URL(path, window.location.origin).toString();
}

function setStatus(state) {
  const status = element("status");
  status.dataset.state = state;
  status.textContent = state;
}

function showProblem(problem) {
  const box = element("problem");
  box.hidden = !problem;
  box.textContent = problem ? [problem.message, problem.hint].filter(Boolean).join(" — ") : "";
}

function elideAudio(event) {
  const shown = { ...event };
  for (const key of ["audio", "delta"]) {
    if (typeof shown[key] === "string" && shown[key].length > 64) {
      shown[key] = `<${shown[key].length} characters>`;
    }
  }
  return shown;
}

// Every event's time and type; with REALTIME_DEBUG, its payload too (audio elided).
function logEvent(direction, event) {
  const time = new Date().toISOString().slice(11, 23);
  const detail = config.debug ? ` ${JSON.stringify(elideAudio(event))}` : "";
  const log = element("event-log");
  log.textContent += `${time} ${direction} ${event.type}${detail}\n`;
  log.scrollTop = log.scrollHeight;
  if (config.debug) console.debug("realtime", direction, event);
}

// Never hand an error body to setRemoteDescription: read our JSON error instead.
async function problemFrom(response) {
  try {
    const { error } = await response.json();
    return new Problem(error.message || `HTTP ${response.status}`, error.hint || "");
  } catch {
    return new Problem(`The server answered HTTP ${response.status}.`);
  }
}

async function authorisation() {
  if (config.webrtcFlow !== "ephemeral") {
    return { "X-CSRFToken": csrfToken() };
  }
  const minted = await fetch(endpoint(config.clientSecretPath), {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
  });
  if (!minted.ok) throw await problemFrom(minted);
  const { value } = await minted.json();
  return { Authorization: `Bearer ${value}` };
}

async function relayOffer(sdp) {
  const response = await fetch(endpoint(config.handshakePath), {
    method: "POST",
    body: sdp,
    headers: { "Content-Type": "application/sdp", ...(await authorisation()) },
    credentials: "same-origin",
  });
  if (!response.ok) throw await problemFrom(response);
  return response.text();
}

async function openMicrophone() {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (error) {
    throw new Problem(`Microphone unavailable: ${error.message}`, config.hints.mic_blocked);
  }
}

async function start() {
  element("start").disabled = true;
  element("stop").disabled = false;
  showProblem(null);
  setStatus("connecting");
  try {
    const microphone = await openMicrophone();
    const peer = new RTCPeerConnection();
    const channel = peer.createDataChannel("oai-events");
    call = { microphone, peer, channel };
    peer.ontrack = (event) => {
      element("assistant-audio").srcObject = event.streams[0];
    };
    peer.onconnectionstatechange = () => {
      if (peer.connectionState === "failed") fail(new Problem("The WebRTC connection failed."));
    };
    for (const track of microphone.getAudioTracks()) peer.addTrack(track, microphone);
    channel.onopen = () => setStatus("connected");
    channel.onmessage = (message) => logEvent("←", JSON.parse(message.data));
    await peer.setLocalDescription(await peer.createOffer());
    const answer = await relayOffer(peer.localDescription.sdp);
    await peer.setRemoteDescription({ type: "answer", sdp: answer });
  } catch (error) {
    fail(error instanceof Problem ? error : new Problem(error.message));
  }
}

function stop() {
  if (call) {
    call.channel.close();
    for (const track of call.microphone.getTracks()) track.stop();
    call.peer.close();
    call = null;
  }
  element("start").disabled = false;
  element("stop").disabled = true;
}

function fail(problem) {
  stop();
  setStatus("error");
  showProblem(problem);
}

element("start").addEventListener("click", start);
element("stop").addEventListener("click", () => {
  stop();
  setStatus("idle");
});
