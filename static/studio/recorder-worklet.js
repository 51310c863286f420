/* AudioWorklet processor "pcm16-recorder": microphone Float32 at the context's rate → PCM16 mono at
   16 kHz, the talk socket's format.

   Downsampling is done properly: a windowed-sinc low-pass (cutoff just under the target Nyquist, so
   nothing above 8 kHz folds back into the speech band) evaluated at each output instant, which also
   handles non-integer ratios such as 44.1 kHz → 16 kHz. The reference dropped samples with linear
   interpolation, which aliases.

   Posts {pcm: ArrayBuffer (Int16 LE), rms: number, peak: number} every `chunkMs` of output (default
   40 ms), and the remainder when it receives {command: "flush"}. RMS lets the page draw a meter and
   run its energy VAD without touching the samples again. */

const PHASES = 128; // kernel table resolution: 1/128 of an input sample

class Pcm16Recorder extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || 16000;
    this.ratio = sampleRate / this.targetRate; // input samples per output sample
    // Pass band to 0.42 × the target rate (6.7 kHz for 16 kHz); everything that would fold back into
    // it (above 16 − 6.7 = 9.3 kHz) is in the stop band of a ~100-tap Blackman filter at 48 kHz.
    this.cutoff = Math.min(1, (2 * 0.42 * this.targetRate) / sampleRate); // 2·fc/fs
    this.width = Math.max(8, Math.ceil(17 * Math.max(1, this.ratio))); // half-width in input samples
    this.table = new Float32Array(2 * this.width * PHASES + 2);
    for (let i = 0; i < this.table.length; i++) this.table[i] = this.kernelAt(i / PHASES - this.width);
    this.history = new Float32Array(this.width * 2 + 8192);
    this.filled = this.width; // start with `width` zeros of history
    this.pos = this.width; // position of the next output sample, in history coordinates
    this.chunkSamples = Math.round((this.targetRate * (opts.chunkMs || 40)) / 1000);
    this.out = new Int16Array(this.chunkSamples);
    this.outLen = 0;
    this.sumSquares = 0;
    this.peak = 0;
    this.port.onmessage = (event) => {
      if (event.data && event.data.command === "flush") this.emit(true);
    };
  }

  kernelAt(x) {
    // Blackman-windowed sinc, scaled for (about) unity gain at DC.
    const w = x / this.width;
    if (w <= -1 || w >= 1) return 0;
    const window = 0.42 + 0.5 * Math.cos(Math.PI * w) + 0.08 * Math.cos(2 * Math.PI * w);
    const arg = Math.PI * this.cutoff * x;
    const sinc = arg === 0 ? 1 : Math.sin(arg) / arg;
    return this.cutoff * sinc * window;
  }

  append(input) {
    if (this.filled + input.length > this.history.length) {
      const grown = new Float32Array((this.filled + input.length) * 2);
      grown.set(this.history.subarray(0, this.filled));
      this.history = grown;
    }
    this.history.set(input, this.filled);
    this.filled += input.length;
  }

  emit(all) {
    if (this.outLen === 0 || (!all && this.outLen < this.chunkSamples)) return;
    const pcm = this.out.slice(0, this.outLen);
    const rms = Math.sqrt(this.sumSquares / this.outLen);
    this.port.postMessage({ pcm: pcm.buffer, rms: rms, peak: this.peak }, [pcm.buffer]);
    this.outLen = 0;
    this.sumSquares = 0;
    this.peak = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const mono = channels[0];
    if (channels.length > 1) {
      for (let i = 0; i < mono.length; i++) {
        let sum = 0;
        for (let c = 0; c < channels.length; c++) sum += channels[c][i];
        mono[i] = sum / channels.length;
      }
    }
    this.append(mono);
    const h = this.history;
    while (this.pos + this.width < this.filled) {
      const centre = Math.floor(this.pos);
      let acc = 0;
      let gain = 0;
      // table index of kernel(pos - k) = (pos - k + width) * PHASES; it falls by PHASES per step of k.
      let index = (this.pos - (centre - this.width + 1) + this.width) * PHASES;
      for (let k = centre - this.width + 1; k <= centre + this.width; k++, index -= PHASES) {
        const weight = this.table[Math.round(index)] || 0;
        acc += h[k] * weight;
        gain += weight;
      }
      if (gain > 0) acc /= gain; // exact unity DC gain whatever the fractional phase
      const s = Math.max(-1, Math.min(1, acc));
      this.sumSquares += s * s;
      if (Math.abs(s) > this.peak) this.peak = Math.abs(s);
      this.out[this.outLen++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.outLen === this.chunkSamples) this.emit(false);
      this.pos += this.ratio;
    }
    // Drop history the filter no longer needs (keep `width` samples before the next output).
    const drop = Math.floor(this.pos) - this.width;
    if (drop > 0) {
      h.copyWithin(0, drop, this.filled);
      this.filled -= drop;
      this.pos -= drop;
    }
    return true;
  }
}

registerProcessor("pcm16-recorder", Pcm16Recorder);
