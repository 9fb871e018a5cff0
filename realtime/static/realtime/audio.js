// Pure audio helpers shared by the page and its AudioWorklets: no DOM, no Web Audio, so
// Node's test runner checks them (tests/js/audio.test.mjs).

// The realtime API's PCM: 24 kHz, 16-bit, mono; the page sends it in 20 ms chunks.
export const SAMPLE_RATE = 24000;
export const CHUNK_MS = 20;
export const CHUNK_SAMPLES = (SAMPLE_RATE * CHUNK_MS) / 1000;

// Float samples in [-1, 1] to 16-bit PCM, clamped; the asymmetric scale keeps -1 at -32768.
export function floatTo16BitPCM(samples) {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    pcm[i] = s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff);
  }
  return pcm;
}

export function pcm16ToFloat(pcm) {
  const samples = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 0x8000;
  return samples;
}

// Linear-interpolation resampler that keeps its phase across calls, so a stream cut into
// 128-sample render quanta comes out as one continuous signal.
export class Resampler {
  constructor(fromRate, toRate) {
    this.step = fromRate / toRate;
    this.position = 0; // where the next output sample falls, in input samples
    this.previous = 0; // the last input sample of the previous call
  }

  push(input) {
    if (this.step === 1) return Float32Array.from(input);
    const output = [];
    // Index -1 is the previous call's last sample.
    while (this.position < input.length - 1 + 1e-9) {
      const index = Math.floor(this.position);
      const fraction = this.position - index;
      const left = index < 0 ? this.previous : input[index];
      const right = input[Math.min(index + 1, input.length - 1)];
      output.push(left + (right - left) * fraction);
      this.position += this.step;
    }
    this.position -= input.length;
    if (input.length) this.previous = input[input.length - 1];
    return Float32Array.from(output);
  }
}

export function resample(input, fromRate, toRate) {
  return new Resampler(fromRate, toRate).push(input);
}

// Collects samples and hands them out in fixed-size chunks (20 ms at 24 kHz by default).
export class Chunker {
  constructor(size = CHUNK_SAMPLES) {
    this.size = size;
    this.buffer = new Float32Array(size);
    this.filled = 0;
  }

  push(samples) {
    const chunks = [];
    let offset = 0;
    while (offset < samples.length) {
      const taken = Math.min(this.size - this.filled, samples.length - offset);
      this.buffer.set(samples.subarray(offset, offset + taken), this.filled);
      this.filled += taken;
      offset += taken;
      if (this.filled === this.size) {
        chunks.push(this.buffer);
        this.buffer = new Float32Array(this.size);
        this.filled = 0;
      }
    }
    return chunks;
  }
}

// Base64 of raw bytes, in slices: String.fromCharCode(...bytes) overflows the call stack
// on large buffers.
export function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function pcm16ToBase64(pcm) {
  return bytesToBase64(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
}

// PCM16 little-endian bytes (what response.output_audio.delta carries) to float samples.
export function base64ToFloat(text) {
  const bytes = base64ToBytes(text);
  const view = new DataView(bytes.buffer);
  const samples = new Float32Array(bytes.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true) / 0x8000;
  return samples;
}

// conversation.item.truncate's audio_end_ms: what the user actually heard of an item,
// never more than the audio that arrived for it.
export function playedMs(playedSamples, receivedSamples, sampleRate = SAMPLE_RATE) {
  const heard = Math.max(0, Math.min(playedSamples, receivedSamples));
  return Math.floor((heard * 1000) / sampleRate);
}

// Root mean square level of a block, 0..1: the level meters.
export function rms(samples) {
  if (!samples.length) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return Math.sqrt(sum / samples.length);
}
