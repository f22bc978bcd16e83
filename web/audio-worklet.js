// AudioWorklet side of the player: a ring buffer addressed by media time.
//
// The main thread posts decoded PCM with the media timestamp (in sample
// frames) of its first frame; this processor places it at that position, so
// late, overlapping or missing audio never shifts the timeline: late audio is
// dropped, a gap plays as silence. Playback waits until `prebufferFrames` are
// buffered (at start and after an underrun), then plays. It reports its
// position so that the main thread can drive the video clock from what is
// actually heard.
//
// Messages in:  { type: 'reset', position, prebufferFrames, generation }  start over at position
//               { type: 'seek', position, generation }  jump ahead, within the buffer when possible
//               { type: 'pcm', position, channels: [Float32Array...] }
//               { type: 'volume', value }
// Messages out: { type: 'position', position, contextTime, playing, buffered, underruns, generation }
// (generation tells the main thread which reset/seek a report comes after.)

const CAPACITY_SECONDS = 8;
const REPORT_EVERY_QUANTA = 8; // ~21 ms at 48 kHz

class RingBufferPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.channelCount = options.processorOptions?.channelCount || 2;
    this.capacity = Math.ceil(sampleRate * CAPACITY_SECONDS);
    this.ring = Array.from({ length: this.channelCount }, () => new Float32Array(this.capacity));
    this.readPosition = -1; // absolute media position in frames; -1 until reset
    this.writeEnd = -1; // one past the newest frame written
    this.prebufferFrames = Math.round(sampleRate * 0.15);
    this.playing = false;
    this.underruns = 0;
    this.volume = 1;
    this.quanta = 0;
    this.generation = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(msg) {
    if (msg.type === 'reset') {
      this.generation = msg.generation;
      this.readPosition = msg.position;
      this.writeEnd = msg.position;
      if (msg.prebufferFrames !== undefined) this.prebufferFrames = msg.prebufferFrames;
      this.playing = false;
    } else if (msg.type === 'seek') {
      this.generation = msg.generation;
      // Keep a prebuffer's worth ahead of the new position when the buffer
      // allows it: landing right at the newest sample would underrun at once.
      const target = Math.min(msg.position, this.writeEnd - this.prebufferFrames);
      if (this.readPosition >= 0 && target >= this.readPosition) {
        this.readPosition = target;
      } else if (this.readPosition < 0 || msg.position > this.writeEnd) {
        this.readPosition = msg.position;
        this.writeEnd = msg.position;
        this.playing = false;
      } // else: already at or past the target; nothing to skip
    } else if (msg.type === 'pcm') {
      this.write(msg.position, msg.channels);
    } else if (msg.type === 'volume') {
      this.volume = msg.value;
    }
  }

  write(position, channels) {
    if (this.readPosition < 0) return;
    const frames = channels[0].length;
    let skip = 0;
    if (position < this.readPosition) skip = this.readPosition - position; // late: keep only the future part
    if (skip >= frames) return;
    const start = position + skip;
    // A gap before this chunk is silence (never stale audio from a lap ago).
    for (let p = this.writeEnd; p < start; p++) {
      for (const ch of this.ring) ch[p % this.capacity] = 0;
    }
    for (let c = 0; c < this.channelCount; c++) {
      const src = channels[Math.min(c, channels.length - 1)]; // mono feeds both sides
      const dst = this.ring[c];
      for (let i = skip; i < frames; i++) dst[(position + i) % this.capacity] = src[i];
    }
    this.writeEnd = Math.max(this.writeEnd, position + frames);
    // More than the ring holds: the oldest audio is lost; move the reader on.
    if (this.writeEnd - this.readPosition > this.capacity) this.readPosition = this.writeEnd - this.capacity;
  }

  process(_inputs, outputs) {
    const out = outputs[0];
    const frames = out[0].length;
    const buffered = this.readPosition < 0 ? 0 : this.writeEnd - this.readPosition;
    if (!this.playing && this.readPosition >= 0 && buffered >= this.prebufferFrames) this.playing = true;
    if (this.playing) {
      const n = Math.min(frames, buffered);
      for (let c = 0; c < out.length; c++) {
        const src = this.ring[Math.min(c, this.channelCount - 1)];
        const dst = out[c];
        for (let i = 0; i < n; i++) dst[i] = src[(this.readPosition + i) % this.capacity] * this.volume;
        dst.fill(0, n);
      }
      this.readPosition += n;
      if (n < frames) {
        // Underrun: stop the clock until enough is buffered again.
        this.playing = false;
        this.underruns++;
      }
    } // else outputs stay silent (they come zeroed)
    if (++this.quanta % REPORT_EVERY_QUANTA === 0) {
      this.port.postMessage({
        type: 'position',
        position: this.readPosition,
        contextTime: currentTime + frames / sampleRate, // the end of this quantum
        playing: this.playing,
        buffered: Math.max(0, this.writeEnd - this.readPosition),
        underruns: this.underruns,
        generation: this.generation,
      });
    }
    return true;
  }
}

registerProcessor('moq-ring-buffer-player', RingBufferPlayer);
