// node --test: the live transcript built from server events.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  applyEvent, applyLiveEvent, elideAudio, emptyTranscript, liveTypedEvent,
} from "../../realtime/static/realtime/transcript.js";

function replay(events) {
  const transcript = emptyTranscript();
  for (const event of events) applyEvent(transcript, event);
  return transcript.turns.map(({ role, text, done }) => ({ role, text, done }));
}

test("a spoken turn gets the user's bubble before the reply's, in streaming order", () => {
  assert.deepEqual(
    replay([
      { type: "input_audio_buffer.committed", item_id: "item_u" },
      { type: "response.output_audio_transcript.delta", item_id: "item_a", delta: "I heard" },
      { type: "conversation.item.input_audio_transcription.delta", item_id: "item_u", delta: "hello" },
      { type: "response.output_audio_transcript.delta", item_id: "item_a", delta: " you." },
      { type: "conversation.item.input_audio_transcription.completed", item_id: "item_u", transcript: "Hello." },
    ]),
    [
      { role: "user", text: "Hello.", done: true },
      { role: "assistant", text: "I heard you.", done: false },
    ],
  );
});

test("the done event's transcript replaces the streamed one", () => {
  assert.deepEqual(
    replay([
      { type: "response.output_audio_transcript.delta", item_id: "a", delta: "Hel" },
      { type: "response.output_audio_transcript.done", item_id: "a", transcript: "Hello." },
    ]),
    [{ role: "assistant", text: "Hello.", done: true }],
  );
});

test("typed user messages and text replies are turns too", () => {
  assert.deepEqual(
    replay([
      {
        type: "conversation.item.added",
        item: { id: "u", role: "user", content: [{ type: "input_text", text: "hi" }] },
      },
      { type: "conversation.item.added", item: { id: "a", role: "assistant", content: [] } },
      { type: "response.output_text.delta", item_id: "a", delta: "Hey" },
      { type: "response.output_text.done", item_id: "a", text: "Hey!" },
    ]),
    [
      { role: "user", text: "hi", done: true },
      { role: "assistant", text: "Hey!", done: true },
    ],
  );
});

test("a truncated reply is marked interrupted; unrelated events change nothing", () => {
  const transcript = emptyTranscript();
  applyEvent(transcript, { type: "response.output_audio_transcript.delta", item_id: "a", delta: "Long" });
  assert.equal(applyEvent(transcript, { type: "session.updated" }), null);
  const turn = applyEvent(transcript, { type: "conversation.item.truncated", item_id: "a" });
  assert.equal(turn.interrupted, true);
});

test("the debug log elides audio but keeps text deltas", () => {
  const shown = elideAudio({ type: "x", delta: "A".repeat(100), audio: "B".repeat(65) });
  assert.equal(shown.delta, "<100 base64 characters>");
  assert.equal(shown.audio, "<65 base64 characters>");
  assert.equal(elideAudio({ delta: "a short transcript piece" }).delta, "a short transcript piece");
});

test("a tool call is a turn: its name and arguments, then the output the model was given", () => {
  const call = { type: "function_call", id: "item_f", call_id: "call_1", name: "lookup_order" };
  const steps = [];
  const transcript = emptyTranscript();
  for (const event of [
    { type: "response.output_item.added", item: { ...call, arguments: "" } },
    {
      type: "response.function_call_arguments.done",
      item_id: "item_f",
      call_id: "call_1",
      name: "lookup_order",
      arguments: '{"order":"42"}',
    },
    {
      type: "conversation.item.added",
      item: { type: "function_call_output", id: "item_o", call_id: "call_1", output: '{"status":"shipped"}' },
    },
  ]) {
    const turn = applyEvent(transcript, event);
    steps.push({ role: turn.role, text: turn.text, done: turn.done });
  }
  assert.deepEqual(steps, [
    { role: "tool", text: "calling lookup_order()…", done: false },
    { role: "tool", text: 'calling lookup_order({"order":"42"})…', done: false },
    { role: "tool", text: 'lookup_order({"order":"42"}) → {"status":"shipped"}', done: true },
  ]);
  assert.equal(transcript.turns.length, 1);
});

test("an output for a call the page never saw adds no turn", () => {
  assert.deepEqual(
    replay([
      {
        type: "conversation.item.added",
        item: { type: "function_call_output", id: "item_o", call_id: "call_x", output: "{}" },
      },
    ]),
    [],
  );
});

// --- GPT-Live ------------------------------------------------------------------------------

function replayLive(events) {
  const transcript = emptyTranscript();
  for (const event of events) applyLiveEvent(transcript, event);
  return transcript.turns.map(({ role, text, done }) => ({ role, text, done }));
}

test("a Live utterance is complete when the other side speaks", () => {
  assert.deepEqual(
    replayLive([
      { type: "session.input_transcript.delta", delta: "(1.2", start_ms: 0, end_ms: 600 },
      { type: "session.input_transcript.delta", delta: " seconds)", start_ms: 600, end_ms: 1200 },
      { type: "session.output_transcript.delta", delta: "I heard", start_ms: 1700, end_ms: 1900 },
      { type: "session.output_transcript.delta", delta: " you.", start_ms: 1900, end_ms: 2100 },
    ]),
    [
      { role: "user", text: "(1.2 seconds)", done: true },
      { role: "assistant", text: "I heard you.", done: false },
    ],
  );
});

test("a Live delta that ends an utterance returns both turns, the ended one done", () => {
  const transcript = emptyTranscript();
  applyLiveEvent(transcript, { type: "session.output_transcript.delta", delta: "Hi." });

  const changed = applyLiveEvent(transcript, { type: "session.input_transcript.delta", delta: "Hey" });

  assert.deepEqual(
    changed.map(({ role, done }) => ({ role, done })),
    [{ role: "assistant", done: true }, { role: "user", done: false }],
  );
  assert.notEqual(changed[0].id, changed[1].id);
});

test("a typed Live message is sent as context and shown as the user's own words", () => {
  const typed = liveTypedEvent('say "hi"');
  assert.deepEqual(typed, {
    type: "session.instructions.append",
    content: 'The user typed: "say \\"hi\\""',
    delegation_id: null,
  });

  assert.deepEqual(
    replayLive([
      { type: "session.output_transcript.delta", delta: "Hello." },
      typed,
      { type: "session.output_transcript.delta", delta: "You said" },
      { type: "session.instructions.append", content: "Be brief.", delegation_id: null },
    ]),
    [
      { role: "assistant", text: "Hello.", done: true },
      { role: "user", text: 'say "hi"', done: true },
      { role: "assistant", text: "You said", done: false },
    ],
  );
});

test("Live delegations and the backend's function calls are tool turns", () => {
  assert.deepEqual(
    replayLive([
      { type: "session.input_transcript.delta", delta: "lookup_order 42" },
      {
        type: "session.delegation.created",
        offset_ms: 900,
        delegation: { id: "item_d", type: "delegation", target: "responses" },
      },
      { type: "response.event", event: { type: "response.created", response: { id: "resp_1" } } },
      {
        type: "response.event",
        event: {
          type: "response.output_item.done",
          item: { type: "function_call", id: "fc_1", name: "lookup_order", arguments: '{"order":"42"}' },
        },
      },
      { type: "session.closed", reason: "close_requested" },
    ]),
    [
      { role: "user", text: "lookup_order 42", done: true },
      { role: "tool", text: "delegated to responses", done: true },
      { role: "tool", text: 'lookup_order({"order":"42"})', done: true },
    ],
  );
});

test("the end of a Live session completes what was being said", () => {
  const transcript = emptyTranscript();
  applyLiveEvent(transcript, { type: "session.output_transcript.delta", delta: "Bye" });

  const [ended] = applyLiveEvent(transcript, { type: "session.closed", reason: "expired" });

  assert.equal(ended.done, true);
  assert.deepEqual(applyLiveEvent(transcript, { type: "session.usage.updated" }), []);
});
