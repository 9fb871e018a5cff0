// The live transcript as data: realtime server events in, a list of turns out. Pure, so
// Node's test runner checks it (tests/js/transcript.test.mjs); app.js renders the turns.

// A turn: { id, role: "user" | "assistant" | "tool", text, done }. A tool turn is a
// function call the model made: its name and arguments, then the output it was given
// (by this server for its own tools).
export function emptyTranscript() {
  return { turns: [], byId: new Map(), byCallId: new Map() };
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
