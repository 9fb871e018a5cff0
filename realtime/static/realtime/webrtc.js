// WebRTC transport: media flows between the browser and OpenAI; the SDP offer goes through
// this server's handshake relay (never a server key in the page). Events travel on the
// "oai-events" data channel. GPT-Live's WebRTC (live.js) is this with its own names.
import { Problem, problemFromResponse } from "./problems.js";

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// Absolute URLs: a relative relay URL fails with "Failed to construct 'URL': Invalid URL".
export function endpoint(path) {
  return new URL(path, window.location.origin).toString();
}

export class WebRTCTransport {
  // The handshake's answer names the call in this header; the hangup's body names it so.
  static CALL_HEADER = "X-Realtime-Call-Id";
  static HANGUP_KEY = "call_id";

  constructor(config, handlers) {
    this.config = config;
    this.handlers = handlers; // { event, sent, connected, failed, outputStream }
    this.peer = null;
    this.channel = null;
    this.microphone = null;
    this.callId = "";
    this.closing = false;
  }

  async connect(microphone) {
    this.microphone = microphone;
    const peer = (this.peer = new RTCPeerConnection());
    const channel = (this.channel = peer.createDataChannel("oai-events"));
    peer.ontrack = (event) => this.handlers.outputStream(event.streams[0]);
    peer.onconnectionstatechange = () => {
      if (peer.connectionState === "failed") {
        this.handlers.failed(new Problem("The WebRTC connection failed.", { code: "webrtc_failed" }));
      }
    };
    for (const track of microphone.getAudioTracks()) peer.addTrack(track, microphone);
    channel.onopen = () => this.opened();
    channel.onmessage = (message) => this.onEvent(JSON.parse(message.data));
    await peer.setLocalDescription(await peer.createOffer());
    const answer = await this.relayOffer(peer.localDescription.sdp);
    await peer.setRemoteDescription({ type: "answer", sdp: answer });
  }

  // Realtime's session is ready as soon as its events can flow.
  opened() {
    this.handlers.connected();
  }

  onEvent(event) {
    this.handlers.event(event);
  }

  async authorisation() {
    if (this.config.webrtcFlow !== "ephemeral") return { "X-CSRFToken": csrfToken() };
    // The agent the page talks to (none: the default), which the secret's session is for.
    const agent = this.config.agent ? { agent: this.config.agent } : {};
    const minted = await fetch(endpoint(this.config.clientSecretPath), {
      method: "POST",
      body: JSON.stringify(agent),
      headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/json" },
      credentials: "same-origin",
    });
    if (!minted.ok) throw await problemFromResponse(minted);
    const { value } = await minted.json();
    return { Authorization: `Bearer ${value}` };
  }

  async relayOffer(sdp) {
    const response = await fetch(endpoint(this.config.handshakePath), {
      method: "POST",
      body: sdp,
      headers: { "Content-Type": "application/sdp", ...(await this.authorisation()) },
      credentials: "same-origin",
    });
    if (!response.ok) throw await problemFromResponse(response);
    this.callId = response.headers.get(this.constructor.CALL_HEADER) || "";
    return response.text();
  }

  send(event) {
    if (this.channel?.readyState !== "open") return;
    this.channel.send(JSON.stringify(event));
    this.handlers.sent(event);
  }

  setMuted(muted) {
    for (const track of this.microphone?.getAudioTracks() || []) track.enabled = !muted;
  }

  // Barge-in needs nothing here: over WebRTC the service cuts its own output track.
  interrupt() {}

  close() {
    this.closing = true;
    const { channel, peer } = this;
    this.peer = this.channel = null;
    this.release(channel, peer, this.hangUp());
    this.callId = "";
  }

  // Tell the server the call is over: it hangs up with OpenAI and closes the session row.
  hangUp() {
    if (!this.callId) return Promise.resolve();
    return fetch(endpoint(this.config.hangupPath), {
      method: "POST",
      body: JSON.stringify({ [this.constructor.HANGUP_KEY]: this.callId }),
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      keepalive: true,
    }).catch(() => {});
  }

  release(channel, peer) {
    channel?.close();
    peer?.close();
  }
}
