// node --test: the page's pure audio helpers.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CHUNK_SAMPLES,
  Chunker,
  Resampler,
  base64ToBytes,
  base64ToFloat,
  bytesToBase64,
  floatTo16BitPCM,
  pcm16ToBase64,
  pcm16ToFloat,
  playedMs,
  resample,
  rms,
} from "../../realtime/static/realtime/audio.js";

test("float samples become clamped 16-bit PCM", () => {
  assert.deepEqual(
    Array.from(floatTo16BitPCM(Float32Array.from([0, 1, -1, 0.5, -0.5, 2, -2]))),
    [0, 32767, -32768, 16384, -16384, 32767, -32768],
  );
});

test("PCM16 back to floats stays within one step", () => {
  const original = Float32Array.from([0, 0.25, -0.75, 0.999]);
  const back = pcm16ToFloat(floatTo16BitPCM(original));
  for (let i = 0; i < original.length; i++) assert.ok(Math.abs(back[i] - original[i]) < 1 / 16384);
});

test("resampling 48 kHz to 24 kHz halves the samples and keeps a slow signal", () => {
  const input = Float32Array.from({ length: 4800 }, (_, i) => Math.sin((2 * Math.PI * 100 * i) / 48000));
  const output = resample(input, 48000, 24000);
  assert.equal(output.length, 2400);
  for (let i = 0; i < output.length; i++) {
    const expected = Math.sin((2 * Math.PI * 100 * i) / 24000);
    assert.ok(Math.abs(output[i] - expected) < 1e-3, `sample ${i}`);
  }
});

test("resampling 44.1 kHz in render quanta equals resampling it whole", () => {
  const input = Float32Array.from({ length: 44100 / 10 }, (_, i) => Math.sin(i / 20));
  const whole = resample(input, 44100, 24000);
  const streaming = new Resampler(44100, 24000);
  const pieces = [];
  for (let i = 0; i < input.length; i += 128) pieces.push(...streaming.push(input.subarray(i, i + 128)));
  assert.ok(Math.abs(pieces.length - whole.length) <= 1);
  for (let i = 0; i < Math.min(pieces.length, whole.length); i++) {
    assert.ok(Math.abs(pieces[i] - whole[i]) < 1e-6, `sample ${i}`);
  }
  assert.ok(Math.abs(whole.length - 2400) <= 1);
});

test("the chunker hands out 20 ms chunks and keeps the rest", () => {
  const chunker = new Chunker();
  assert.equal(CHUNK_SAMPLES, 480);
  assert.equal(chunker.push(new Float32Array(300)).length, 0);
  const chunks = chunker.push(Float32Array.from({ length: 700 }, (_, i) => i));
  assert.equal(chunks.length, 2);
  assert.equal(chunks[0].length, 480);
  assert.equal(chunks[1][0], 180);
  assert.equal(chunker.filled, 40);
});

test("base64 round-trips bytes, including buffers too big for one call", () => {
  const bytes = Uint8Array.from({ length: 200000 }, (_, i) => (i * 7) % 256);
  assert.deepEqual(base64ToBytes(bytesToBase64(bytes)), bytes);
  assert.equal(bytesToBase64(Uint8Array.from([104, 105])), "aGk=");
});

test("PCM16 to base64 is little-endian, as the API expects", () => {
  assert.equal(pcm16ToBase64(Int16Array.from([1, -2])), Buffer.from([1, 0, 0xfe, 0xff]).toString("base64"));
  assert.deepEqual(Array.from(base64ToFloat(Buffer.from([0, 0x40, 0, 0xc0]).toString("base64"))), [0.5, -0.5]);
});

test("truncation reports what was heard, never more than arrived", () => {
  assert.equal(playedMs(24000, 48000), 1000);
  assert.equal(playedMs(36000, 24000), 1000);
  assert.equal(playedMs(12345, 48000), 514);
  assert.equal(playedMs(-5, 100), 0);
});

test("rms measures level", () => {
  assert.equal(rms(new Float32Array(10)), 0);
  assert.ok(Math.abs(rms(Float32Array.from([0.5, -0.5, 0.5, -0.5])) - 0.5) < 1e-9);
  assert.equal(rms(new Float32Array(0)), 0);
});
