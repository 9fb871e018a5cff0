// Errors a person can act on: each carries a message and the hint for its code (the
// server's troubleshooting table, sent in the page config and in error answers).

export class Problem extends Error {
  constructor(message, { code = "", hint = "" } = {}) {
    super(message);
    this.code = code;
    this.hint = hint;
  }
}

// Our JSON error answers: { error: { code, message, hint } }. Never hand such a body to
// setRemoteDescription (it fails with "Failed to parse SessionDescription … Expect line: v=").
export async function problemFromResponse(response) {
  try {
    const { error } = await response.json();
    return new Problem(error.message || `The server answered HTTP ${response.status}.`, {
      code: error.code || `http_${response.status}`,
      hint: error.hint || "",
    });
  } catch {
    return new Problem(`The server answered HTTP ${response.status}.`, { code: `http_${response.status}` });
  }
}

// An `error` event from the proxy or OpenAI: { error: { code, message, hint? } }.
export function problemFromEvent(event, hints = {}) {
  const error = event.error || {};
  return new Problem(error.message || "The realtime session reported an error.", {
    code: error.code || error.type || "error",
    hint: error.hint || hints[error.code] || "",
  });
}

export function microphoneProblem(error, hints) {
  const insecure = !window.isSecureContext || !navigator.mediaDevices;
  const reason = insecure
    ? "This page is not on a secure origin, so the browser offers no microphone."
    : `The microphone is unavailable (${error?.name || "error"}: ${error?.message || "no detail"}).`;
  return new Problem(reason, { code: "mic_blocked", hint: hints.mic_blocked });
}
