/* Gapless playback of the talk socket's `audio_wav` chunks (one WAV per sentence).

   Each clip is decoded and scheduled to start exactly when the previous one ends (or now, if the
   queue ran dry), so sentences play back to back without gaps or overlaps. `stop()` silences
   everything at once (barge-in). Decoding is asynchronous, so clips are chained through a promise
   to keep their order even when a short clip decodes faster than a long one. */
(function (global) {
  "use strict";

  function base64ToArrayBuffer(b64) {
    const binary = atob(b64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  class WavQueuePlayer {
    constructor(context) {
      this.context = context || null;
      this.playAt = 0;
      this.sources = new Set();
      this.chain = Promise.resolve();
      this.generation = 0; // bumped by stop(): clips decoded for an older generation are dropped
      this.clipsScheduled = 0;
      this.clipsEnded = 0;
      this.secondsScheduled = 0;
      this.onstart = null; // called when a clip starts while nothing was playing
      this.onidle = null; // called when the last scheduled clip ends
    }

    ensureContext() {
      if (!this.context) this.context = new (global.AudioContext || global.webkitAudioContext)();
      if (this.context.state === "suspended") this.context.resume();
      return this.context;
    }

    get playing() {
      return this.sources.size > 0;
    }

    /** Queue one WAV (base64 text or ArrayBuffer). Resolves when it is scheduled. */
    enqueue(wav) {
      const generation = this.generation;
      const data = typeof wav === "string" ? base64ToArrayBuffer(wav) : wav;
      this.chain = this.chain.then(async () => {
        const ctx = this.ensureContext();
        let buffer;
        try {
          buffer = await ctx.decodeAudioData(data);
        } catch (err) {
          console.warn("Could not decode an audio chunk", err);
          return;
        }
        if (generation !== this.generation) return; // stopped while decoding
        const source = ctx.createBufferSource();
        source.buffer = buffer;
        source.connect(ctx.destination);
        const startAt = Math.max(this.playAt, ctx.currentTime + 0.01);
        const wasIdle = !this.playing;
        source.start(startAt);
        this.playAt = startAt + buffer.duration;
        this.sources.add(source);
        this.clipsScheduled += 1;
        this.secondsScheduled += buffer.duration;
        source.onended = () => {
          if (!this.sources.delete(source)) return;
          this.clipsEnded += 1;
          if (!this.playing && this.onidle) this.onidle();
        };
        if (wasIdle && this.onstart) this.onstart();
      });
      return this.chain;
    }

    /** Stop everything now and forget the queue (barge-in). Returns whether anything was playing. */
    stop() {
      const wasPlaying = this.playing;
      this.generation += 1;
      for (const source of this.sources) {
        source.onended = null;
        try {
          source.stop();
        } catch (err) {
          /* already stopped */
        }
      }
      this.sources.clear();
      this.playAt = 0;
      if (wasPlaying && this.onidle) this.onidle();
      return wasPlaying;
    }
  }

  global.WavQueuePlayer = WavQueuePlayer;
})(window);
