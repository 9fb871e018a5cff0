// AudioWorklet: plays the assistant's 24 kHz audio (the context runs at 24 kHz) through a
// small jitter buffer, and says how much of each item was actually heard.
//
// In:  { type: "audio", item, samples: Float32Array }  queue audio for an item
//      { type: "clear" }                                drop everything queued (barge-in)
// Out: { type: "progress", item, played, level }        about every 100 ms while playing
//      { type: "cleared", item, played }                after a clear: the cut point
const PRIME_SAMPLES = 24000 * 0.06; // start (and restart after running dry) with 60 ms queued

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // [{ item, samples, offset }]
    this.queued = 0;
    this.priming = true;
    this.played = new Map(); // item -> samples played
    this.current = null;
    this.sinceReport = 0;
    this.port.onmessage = ({ data }) => {
      if (data.type === "audio") {
        this.queue.push({ item: data.item, samples: data.samples, offset: 0 });
        this.queued += data.samples.length;
      } else if (data.type === "clear") {
        const item = this.current;
        this.queue = [];
        this.queued = 0;
        this.priming = true;
        this.port.postMessage({ type: "cleared", item, played: this.played.get(item) || 0 });
      }
    };
  }

  process(_inputs, outputs) {
    const output = outputs[0][0];
    if (this.priming && this.queued < PRIME_SAMPLES) {
      output.fill(0);
      return true;
    }
    this.priming = false;
    let written = 0;
    let energy = 0;
    while (written < output.length && this.queue.length) {
      const head = this.queue[0];
      const count = Math.min(output.length - written, head.samples.length - head.offset);
      for (let i = 0; i < count; i++) {
        const sample = head.samples[head.offset + i];
        output[written + i] = sample;
        energy += sample * sample;
      }
      head.offset += count;
      written += count;
      this.queued -= count;
      this.current = head.item;
      this.played.set(head.item, (this.played.get(head.item) || 0) + count);
      if (head.offset === head.samples.length) this.queue.shift();
    }
    if (written < output.length) {
      output.fill(0, written);
      this.priming = this.queue.length === 0; // ran dry: wait for a cushion again
    }
    this.sinceReport += output.length;
    if (written && this.sinceReport >= 2400) {
      this.sinceReport = 0;
      this.port.postMessage({
        type: "progress",
        item: this.current,
        played: this.played.get(this.current) || 0,
        level: Math.sqrt(energy / output.length),
      });
    }
    return true;
  }
}

registerProcessor("realtime-playback", PlaybackProcessor);
