// GPT-Live on the page: its protocol over the same two transports as the Realtime API, and
// what app.js needs to know of it (LIVE). The audio, the worklets and the relay are the
// Realtime transports'; these subclasses change only what Live does differently:
// - WebRTC: the offer goes to /api/live/handshake, whose answer names the session in
//   X-Live-Session-Id; the service greets the "oai-events" channel with session.started
//   (the page never sends session.start); Stop hangs up with {session_id}.
// - WebSocket: the page sends session.start (the server fills in the model, instructions,
//   voice and delegation) and streams audio only after session.started, continuously,
//   silence included: the server owns the turns, so there is no commit, no response.create
//   and no VAD to configure. Stop sends session.close and waits briefly for session.closed,
//   Live's word that the session was finalised.
import { SAMPLE_RATE } from "./audio.js";
import { Problem } from "./problems.js";
import { tallyLiveEvent } from "./summary.js";
import { applyLiveEvent, liveTypedEvent } from "./transcript.js";
import { WebRTCTransport } from "./webrtc.js";
import { WebSocketTransport } from "./websocket.js";

const CLOSE_WAIT_MS = 2000; // for session.closed after session.close
const HANGUP_WAIT_MS = 3000; // for the server's hangup, before the peer closes anyway
const OUTPUT = "live"; // Live's output is one continuous track: one item for the player

// The session ended on the service's side (expired, content, …), not by the page's Stop.
function endedProblem(event) {
  const reason = event.reason || "unknown";
  return new Problem(`The GPT-Live session ended (${reason}).`, { code: `live_${reason}` });
}

export class LiveWebRTCTransport extends WebRTCTransport {
  static CALL_HEADER = "X-Live-Session-Id";
  static HANGUP_KEY = "session_id";

  // Connected once the service says the session started, not when the channel opens.
  opened() {}

  // The peer goes once the hangup is answered (or after HANGUP_WAIT_MS): a peer that left
  // first would end the session as the service's remote_hangup, not as the page's Stop.
  release(channel, peer, hungUp) {
    const wait = new Promise((resolve) => setTimeout(resolve, HANGUP_WAIT_MS));
    Promise.race([hungUp, wait]).then(() => super.release(channel, peer));
  }

  onEvent(event) {
    if (event.type === "session.started") this.handlers.connected();
    if (event.type === "session.closed" && !this.closing) this.handlers.failed(endedProblem(event));
    super.onEvent(event);
  }
}

export class LiveWebSocketTransport extends WebSocketTransport {
  opened(ready) {
    this.ready = ready;
    const format = { type: "audio/pcm", rate: SAMPLE_RATE };
    this.send({ type: "session.start", session: { audio: { format } } });
  }

  appendEvent(audio) {
    return { type: "session.input_audio.append", audio };
  }

  react(event) {
    switch (event.type) {
      case "session.started":
        this.ready?.();
        break;
      case "session.output_audio.delta":
        this.play(event.delta, OUTPUT);
        break;
      case "session.input_transcript.delta":
        // The user speaks: the model yields, so what is still queued of its voice is stale.
        if (this.assistantSpoke) this.interrupt();
        this.assistantSpoke = false;
        break;
      case "session.output_transcript.delta":
        this.assistantSpoke = true;
        break;
      case "session.closed":
        this.sessionClosed?.();
        if (!this.closing) this.lastError = endedProblem(event);
        break;
      case "error":
        super.react(event);
        break;
      default:
    }
  }

  // Live keeps its own record of what was heard: nothing to truncate after a barge-in.
  truncate() {}

  endSession(socket) {
    if (socket?.readyState !== WebSocket.OPEN) return super.endSession(socket);
    this.send({ type: "session.close" });
    const timer = setTimeout(() => super.endSession(socket), CLOSE_WAIT_MS);
    this.sessionClosed = () => {
      clearTimeout(timer);
      super.endSession(socket);
    };
  }
}

// What app.js needs of an API: its transports, how its events make the transcript and the
// tally, and the events a typed message becomes.
export const LIVE = {
  transports: { webrtc: LiveWebRTCTransport, websocket: LiveWebSocketTransport },
  transcribe: applyLiveEvent,
  tally: tallyLiveEvent,
  typed: (text) => [liveTypedEvent(text)],
};
