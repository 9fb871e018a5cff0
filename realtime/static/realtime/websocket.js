// WebSocket transport: the page talks to this server's proxy (/ws/realtime/, same origin,
// the session cookie identifies the user); the proxy holds the OpenAI key. Audio is ours to
// move: the microphone goes out as 24 kHz PCM16 from an AudioWorklet, 20 ms per
// input_audio_buffer.append, and response.output_audio.delta is played by another. GPT-Live
// over a WebSocket (live.js) is this with its own events.
import { base64ToFloat, pcm16ToBase64, playedMs, SAMPLE_RATE } from "./audio.js";
import { Problem, problemFromEvent } from "./problems.js";

function socketUrl(path) {
  const url = new URL(path, window.location.origin);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export class WebSocketTransport {
  constructor(config, handlers) {
    this.config = config;
    this.handlers = handlers; // { event, sent, connected, failed, inputLevel, outputLevel }
    this.socket = null;
    this.capture = null;
    this.playback = null;
    this.received = new Map(); // assistant item -> samples received
    this.lastError = null;
    this.closing = false;
  }

  async connect(microphone) {
    await this.openSocket();
    this.handlers.connected();
    await this.startPlayback();
    await this.startCapture(microphone);
  }

  // Resolves once the session is ready for audio; rejects if the socket closes first.
  openSocket() {
    return new Promise((resolve, reject) => {
      const socket = (this.socket = new WebSocket(socketUrl(this.config.websocketPath)));
      socket.onopen = () => this.opened(resolve);
      socket.onmessage = (message) => this.onEvent(JSON.parse(message.data));
      socket.onclose = (close) => {
        const problem = this.closeProblem(close);
        this.socket = null;
        if (this.closing) return;
        reject(problem);
        this.handlers.failed(problem);
      };
    });
  }

  // The proxy explains every close with an error event first; a close without one (the
  // server unreachable) still gets a message.
  closeProblem(close) {
    if (this.lastError) return this.lastError;
    const code = close.reason ? close.reason.split(".").pop() : `closed_${close.code}`;
    return new Problem(`The voice session closed (${close.code}${close.reason ? ` ${close.reason}` : ""}).`, {
      code,
      hint: this.config.hints[code] || "",
    });
  }

  // Realtime's session is ready as soon as the socket opens.
  opened(ready) {
    ready();
  }

  onEvent(event) {
    this.react(event);
    this.handlers.event(event);
  }

  // What the transport itself does with a server event: play audio, cut it off, keep errors.
  react(event) {
    if (event.type === "response.output_audio.delta") {
      this.play(event.delta, event.item_id);
    } else if (event.type === "input_audio_buffer.speech_started") {
      this.interrupt();
    } else if (event.type === "error") {
      this.lastError = problemFromEvent(event, this.config.hints);
    }
  }

  play(delta, item) {
    const samples = base64ToFloat(delta);
    this.received.set(item, (this.received.get(item) || 0) + samples.length);
    this.playback?.port.postMessage({ type: "audio", item, samples }, [samples.buffer]);
  }

  // One chunk of the microphone, as the API takes it.
  appendEvent(audio) {
    return { type: "input_audio_buffer.append", audio };
  }

  async startPlayback() {
    const context = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
    await context.audioWorklet.addModule(new URL("./worklets/playback.js", import.meta.url));
    const node = new AudioWorkletNode(context, "realtime-playback", { outputChannelCount: [1] });
    node.connect(context.destination);
    node.port.onmessage = ({ data }) => {
      if (data.type === "progress") this.handlers.outputLevel(data.level);
      if (data.type === "cleared") this.truncate(data.item, data.played);
    };
    await context.resume();
    this.playback = node;
    this.playbackContext = context;
  }

  async startCapture(microphone) {
    const context = new AudioContext({ latencyHint: "interactive" });
    await context.audioWorklet.addModule(new URL("./worklets/capture.js", import.meta.url));
    const source = context.createMediaStreamSource(microphone);
    const node = new AudioWorkletNode(context, "realtime-capture");
    node.port.onmessage = ({ data }) => {
      this.handlers.inputLevel(data.level);
      this.send(this.appendEvent(pcm16ToBase64(new Int16Array(data.pcm))));
    };
    source.connect(node);
    await context.resume();
    this.capture = node;
    this.captureContext = context;
  }

  // Barge-in: the user spoke over the reply. Drop what is queued at once; when the player
  // says how much of the item was heard, tell the service so its memory matches.
  interrupt() {
    this.playback?.port.postMessage({ type: "clear" });
  }

  truncate(item, played) {
    if (!item || !this.received.has(item)) return;
    const received = this.received.get(item);
    this.received.delete(item);
    if (played >= received) return; // it had all been heard: nothing to cut
    this.send({
      type: "conversation.item.truncate",
      item_id: item,
      content_index: 0,
      audio_end_ms: playedMs(played, received),
    });
  }

  send(event) {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    this.socket.send(JSON.stringify(event));
    this.handlers.sent(event);
  }

  setMuted(muted) {
    this.capture?.port.postMessage({ type: "mute", muted });
  }

  close() {
    const socket = this.socket;
    this.closing = true;
    this.endSession(socket);
    if (this.capture) this.capture.port.onmessage = null;
    this.capture?.disconnect();
    this.captureContext?.close();
    this.playbackContext?.close();
    this.socket = this.capture = this.playback = null;
  }

  endSession(socket) {
    socket?.close(1000, "stopped");
  }
}
