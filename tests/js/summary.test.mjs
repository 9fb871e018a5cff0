// node --test: the one-line summary of a finished session.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  emptyTally, estimateCost, formatDuration, summaryLine, tallyEvent, tallyLiveEvent,
} from "../../realtime/static/realtime/summary.js";

const PRICE = {
  text_input: 4, cached_text_input: 0.4, audio_input: 32, cached_audio_input: 0.4,
  text_output: 24, audio_output: 64,
};
const DONE = {
  type: "response.done",
  response: {
    usage: {
      input_token_details: {
        text_tokens: 59, audio_tokens: 73, cached_tokens_details: { text_tokens: 0, audio_tokens: 64 },
      },
      output_token_details: { text_tokens: 41, audio_tokens: 147 },
    },
  },
};

test("user turns are counted once each, spoken or typed", () => {
  const tally = emptyTally();
  for (const id of ["item_1", "item_2", "item_1"]) {
    tallyEvent(tally, { type: "conversation.item.added", item: { id, role: "user" } });
  }
  tallyEvent(tally, { type: "conversation.item.added", item: { id: "item_3", role: "assistant" } });
  assert.equal(tally.turns.size, 2);
});

test("the cost follows the price table, cached tokens at their own price", () => {
  const tally = emptyTally();
  tallyEvent(tally, DONE);
  const expected = (59 * 4 + 9 * 32 + 64 * 0.4 + 41 * 24 + 147 * 64) / 1e6;
  assert.ok(Math.abs(estimateCost(tally, PRICE) - expected) < 1e-12);
});

test("without a price the cost is unknown, never zero", () => {
  const tally = emptyTally();
  tallyEvent(tally, DONE);
  assert.equal(estimateCost(tally, null), null);
  assert.match(summaryLine(tally, 5, null), /cost unknown/);
});

test("the line shows m:ss, the turns and the estimate", () => {
  const tally = emptyTally();
  tallyEvent(tally, { type: "conversation.item.added", item: { id: "item_1", role: "user" } });
  tallyEvent(tally, DONE);
  assert.equal(formatDuration(83.4), "1:23");
  assert.equal(summaryLine(tally, 83.4, PRICE), "Session ended: 1:23 · 1 turn · about $0.0109");
});

// --- GPT-Live ------------------------------------------------------------------------------

const LIVE_PRICE = { per_minute: 0.05, standby_per_minute: 0.02 };

test("Live turns are each utterance after the assistant's and each typed message", () => {
  const tally = emptyTally();
  for (const event of [
    { type: "session.input_transcript.delta", delta: "(1.2" },
    { type: "session.input_transcript.delta", delta: " seconds)" },
    { type: "session.output_transcript.delta", delta: "I heard" },
    { type: "session.instructions.append", content: 'The user typed: "hi"', delegation_id: null },
    { type: "session.input_transcript.delta", delta: "and" },
    { type: "session.thinking.append", content: "Looking.", delegation_id: "item_1" },
  ]) {
    tallyLiveEvent(tally, event);
  }
  assert.equal(tally.turns.size, 3);
});

test("Live usage is the latest cumulative reading, priced per minute", () => {
  const tally = emptyTally();
  tallyLiveEvent(tally, { type: "session.usage.updated", usage: { seconds: 15, active_seconds: 15 } });
  tallyLiveEvent(tally, {
    type: "session.closed",
    reason: "close_requested",
    usage: { seconds: 120, active_seconds: 60, paused_seconds: 60 },
  });

  assert.ok(Math.abs(estimateCost(tally, LIVE_PRICE, 30) - (0.05 + 0.02)) < 1e-12);
});

test("a Live session with no reading yet is priced by the time it was connected", () => {
  const tally = emptyTally();
  tallyLiveEvent(tally, { type: "session.output_transcript.delta", delta: "Hi." });

  assert.equal(summaryLine(tally, 90, LIVE_PRICE), "Session ended: 1:30 · 0 turns · about $0.0750");
});
