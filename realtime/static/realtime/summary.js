// What a finished session comes to: its length, its turns and an estimate of its cost, from
// the events the page heard and the price the server gave it. Pure, so Node's test runner
// checks it (tests/js/summary.test.mjs); app.js shows the line when a session ends.
// Realtime bills tokens (tallyEvent, a price per 1M tokens); GPT-Live bills seconds of session
// (tallyLiveEvent, a price per minute).

export function emptyTally() {
  return { turns: new Set(), usage: null, liveUsage: null, speaker: null };
}

const USAGE_KINDS = [
  "input_text", "input_audio", "cached_text", "cached_audio", "output_text", "output_audio",
];

// Counts one server event: a user's turn (spoken or typed), or a response's usage.
export function tallyEvent(tally, event) {
  if (event.type === "conversation.item.added" && event.item?.role === "user") {
    tally.turns.add(event.item.id);
  } else if (event.type === "response.done" && event.response?.usage) {
    const usage = event.response.usage;
    const given = usage.input_token_details || {};
    const cached = given.cached_tokens_details || {};
    const produced = usage.output_token_details || {};
    const counts = [
      given.text_tokens, given.audio_tokens, cached.text_tokens, cached.audio_tokens,
      produced.text_tokens, produced.audio_tokens,
    ];
    tally.usage ??= Object.fromEntries(USAGE_KINDS.map((kind) => [kind, 0]));
    USAGE_KINDS.forEach((kind, index) => (tally.usage[kind] += counts[index] || 0));
  }
}

// Counts one GPT-Live event, the server's or the page's own: a user's turn is an utterance
// after the assistant spoke (Live's turns have no ids) or a typed message; usage is the
// latest reading, which is cumulative.
export function tallyLiveEvent(tally, event) {
  const typed = event.type === "session.instructions.append" && event.delegation_id === null;
  if (typed || (event.type === "session.input_transcript.delta" && tally.speaker !== "user")) {
    tally.turns.add(tally.turns.size);
  }
  if (event.type === "session.input_transcript.delta") tally.speaker = "user";
  else if (event.type === "session.output_transcript.delta") tally.speaker = "assistant";
  else if (typed) tally.speaker = null; // what the user says next is a turn of its own
  else if (event.type === "session.usage.updated" || event.type === "session.closed") {
    tally.liveUsage = event.usage || tally.liveUsage;
  }
}

// USD for a Live session at a price per minute: what it has been billed, at least the time
// the page was connected (the last reading may be up to 15 s old).
function liveCost(tally, price, seconds) {
  const usage = tally.liveUsage || {};
  const paused = usage.paused_seconds || 0;
  const active = Math.max(usage.seconds || 0, seconds) - paused;
  return (active * price.per_minute + paused * price.standby_per_minute) / 60;
}

// USD for the tally at the server's price (per 1M tokens, or per minute for Live) over a
// session of `seconds`; null when unknown.
export function estimateCost(tally, price, seconds = 0) {
  if (!price) return null;
  if (price.per_minute !== undefined) return liveCost(tally, price, seconds);
  const usage = tally.usage;
  if (!usage) return 0;
  const dollars =
    Math.max(usage.input_text - usage.cached_text, 0) * price.text_input +
    usage.cached_text * price.cached_text_input +
    Math.max(usage.input_audio - usage.cached_audio, 0) * price.audio_input +
    usage.cached_audio * price.cached_audio_input +
    usage.output_text * price.text_output +
    usage.output_audio * price.audio_output;
  return dollars / 1_000_000;
}

export function formatDuration(seconds) {
  const whole = Math.max(0, Math.round(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

export function summaryLine(tally, seconds, price) {
  const turns = tally.turns.size;
  const cost = estimateCost(tally, price, seconds);
  const shown = cost === null ? "cost unknown" : `about $${cost.toFixed(4)}`;
  return `Session ended: ${formatDuration(seconds)} · ${turns} turn${turns === 1 ? "" : "s"} · ${shown}`;
}
