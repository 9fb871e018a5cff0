// AudioWorklet: the microphone as 24 kHz PCM16 in 20 ms chunks, with its level. Runs on
// the audio thread; posts { pcm: ArrayBuffer, level } for each chunk (the buffer is
// transferred, not copied).
import { Chunker, Resampler, floatTo16BitPCM, rms, SAMPLE_RATE } from "../audio.js";

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // sampleRate is the context's rate, a global of the worklet scope.
    this.resampler = new Resampler(sampleRate, SAMPLE_RATE);
    this.chunker = new Chunker();
    this.muted = false;
    this.port.onmessage = ({ data }) => {
      if (data.type === "mute") this.muted = data.muted;
    };
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    const samples = this.muted ? new Float32Array(channel.length) : channel;
    for (const chunk of this.chunker.push(this.resampler.push(samples))) {
      const pcm = floatTo16BitPCM(chunk);
      this.port.postMessage({ pcm: pcm.buffer, level: rms(chunk) }, [pcm.buffer]);
    }
    return true;
  }
}

registerProcessor("realtime-capture", CaptureProcessor);
