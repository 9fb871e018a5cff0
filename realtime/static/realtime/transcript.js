// The live transcript as data: server events in, a list of turns out, for the Realtime API
// (applyEvent) and GPT-Live (applyLiveEvent). Pure, so Node's test runner checks it
// (tests/js/transcript.test.mjs); app.js renders the turns.

// A turn: { id, role: "user" | "assistant" | "tool", text, done }. A tool turn is a
// function call the model made: its name and arguments, then the output it was given
// (by this server for its own tools).
export function emptyTranscript() {
  return { turns: [], byId: new Map(), byCallId: new Map(), speaking: null };
}

function describeCall(turn) {
  const called = `${turn.name}(${turn.arguments ?? ""})`;
  if (turn.output !== undefined) return `${called} → ${turn.output}`;
  return `calling ${called}…`;
}

function turnFor(transcript, id, role) {
  let turn = transcript.byId.get(id);
  if (!turn) {
    turn = { id, role, text: "", done: false };
    transcript.byId.set(id, turn);
    transcript.turns.push(turn);
  }
  return turn;
}

// Applies one event; returns the turn it changed, or null.
export function applyEvent(transcript, event) {
  switch (event.type) {
    // The user's turn gets its bubble when the audio is committed, so that it sits before
    // the reply even when the transcription arrives after the reply starts.
    case "input_audio_buffer.committed":
      return turnFor(transcript, event.item_id, "user");
    case "conversation.item.input_audio_transcription.delta": {
      const turn = turnFor(transcript, event.item_id, "user");
      turn.text += event.delta || "";
      return turn;
    }
    case "conversation.item.input_audio_transcription.completed": {
      const turn = turnFor(transcript, event.item_id, "user");
      turn.text = event.transcript || turn.text;
      turn.done = true;
      return turn;
    }
    case "response.output_item.added": {
      const item = event.item || {};
      if (item.type !== "function_call") return null;
      const turn = turnFor(transcript, item.id, "tool");
      turn.name = item.name;
      transcript.byCallId.set(item.call_id, turn);
      turn.text = describeCall(turn);
      return turn;
    }
    case "response.function_call_arguments.done": {
      const turn = turnFor(transcript, event.item_id, "tool");
      turn.name = turn.name || event.name;
      turn.arguments = event.arguments;
      transcript.byCallId.set(event.call_id, turn);
      turn.text = describeCall(turn);
      return turn;
    }
    case "conversation.item.added": {
      const item = event.item || {};
      if (item.type === "function_call_output") {
        const turn = transcript.byCallId.get(item.call_id);
        if (!turn) return null;
        turn.output = item.output;
        turn.text = describeCall(turn);
        turn.done = true;
        return turn;
      }
      const typed = (item.content || []).find((part) => part.type === "input_text");
      if (item.role !== "user" || !typed) return null;
      const turn = turnFor(transcript, item.id, "user");
      turn.text = typed.text;
      turn.done = true;
      return turn;
    }
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta": {
      const turn = turnFor(transcript, event.item_id, "assistant");
      turn.text += event.delta || "";
      return turn;
    }
    case "response.output_audio_transcript.done":
    case "response.output_text.done": {
      const turn = turnFor(transcript, event.item_id, "assistant");
      turn.text = event.transcript ?? event.text ?? turn.text;
      turn.done = true;
      return turn;
    }
    case "conversation.item.truncated": {
      // The user interrupted: keep what was said up to the cut, marked as cut off.
      const turn = transcript.byId.get(event.item_id);
      if (!turn) return null;
      turn.done = true;
      turn.interrupted = true;
      return turn;
    }
    default:
      return null;
  }
}

// --- GPT-Live ------------------------------------------------------------------------------
// Live has no items and no done event: each side's words arrive as deltas, and an utterance
// is complete when the other side speaks, a delegation starts or the session ends. Nor has
// it a user message: a typed message goes up as context (liveTypedEvent), and the page
// shows the text typed, as the user's, from that client event.

const TYPED_PREFIX = "The user typed: ";

export function liveTypedEvent(text) {
  return {
    type: "session.instructions.append",
    content: TYPED_PREFIX + JSON.stringify(text),
    delegation_id: null,
  };
}

function typedText(event) {
  const content = event.content;
  if (event.delegation_id !== null || !content?.startsWith(TYPED_PREFIX)) return null;
  try {
    return JSON.parse(content.slice(TYPED_PREFIX.length));
  } catch {
    return null;
  }
}

// Ends the utterance being spoken, if any; returns it (now done), or null.
function completeSpeech(transcript) {
  const speaking = transcript.speaking;
  transcript.speaking = null;
  if (!speaking) return null;
  speaking.done = true;
  return speaking;
}

function newTurn(transcript, id, role) {
  return turnFor(transcript, id ?? `live-${transcript.turns.length}`, role);
}

function speech(transcript, role, delta) {
  const changed = [];
  if (transcript.speaking?.role !== role) {
    changed.push(completeSpeech(transcript));
    transcript.speaking = newTurn(transcript, null, role);
  }
  transcript.speaking.text += delta || "";
  return [...changed, transcript.speaking];
}

// Applies one Live event, the server's or the page's own; returns the turns it changed.
export function applyLiveEvent(transcript, event) {
  let changed;
  switch (event.type) {
    case "session.input_transcript.delta":
      return speech(transcript, "user", event.delta);
    case "session.output_transcript.delta":
      return speech(transcript, "assistant", event.delta);
    case "session.instructions.append": {
      const text = typedText(event);
      if (text === null) return [];
      const turn = newTurn(transcript, null, "user");
      changed = [completeSpeech(transcript), Object.assign(turn, { text, done: true })];
      break;
    }
    case "session.delegation.created": {
      const delegation = event.delegation || {};
      const turn = newTurn(transcript, delegation.id, "tool");
      Object.assign(turn, { text: `delegated to ${delegation.target}`, done: true });
      changed = [completeSpeech(transcript), turn];
      break;
    }
    case "response.event": {
      // The Responses backend's function calls (a text answer is spoken, so heard as speech).
      const nested = event.event || {};
      const item = nested.item || {};
      if (nested.type !== "response.output_item.done" || item.type !== "function_call") return [];
      const turn = newTurn(transcript, item.id, "tool");
      Object.assign(turn, { text: `${item.name}(${item.arguments ?? ""})`, done: true });
      changed = [turn];
      break;
    }
    case "session.closed":
      changed = [completeSpeech(transcript)];
      break;
    default:
      return [];
  }
  return changed.filter(Boolean);
}

// A copy of an event fit for the debug log: audio payloads elided.
export function elideAudio(event) {
  const shown = { ...event };
  for (const key of ["audio", "delta"]) {
    const value = shown[key];
    if (typeof value === "string" && value.length > 64 && !/\s/.test(value)) {
      shown[key] = `<${value.length} base64 characters>`;
    }
  }
  return shown;
}
