// The publish page: a browser as a MoQ (KIXEL_00) publisher.
//
// Pipeline: a source (a drawn test pattern with a tone, or camera and
// microphone) gives MediaStreamTracks -> MediaStreamTrackProcessor -> WebCodecs
// (H.264 with a keyframe every second, Opus at 48 kHz) -> fragmented MP4
// (mp4-writer.js: one moof+mdat per frame) -> MoQ tracks (moq.js) following
// the ecosystem's publishing conventions:
//   .catalog  one JSON segment         1.mp4  ftyp+moov of both tracks
//   1         video: a segment per GOP  2      audio: a segment per ~200 ms
// The relay subscribes when viewers ask; each track keeps its current segment
// so that a late subscription starts at a keyframe.
//
// The broadcast (tracks, encoders) outlives the WebTransport session: when the
// connection drops, the page reconnects and goes on serving the same tracks.
//
// Configuration: the relay injects <script id="moq-config"> ({url, fingerprint,
// name}); without it ?relay=https://host:port&fingerprint=HEX&name=NAME.
// ?source=pattern|camera picks the source, ?autostart=1 starts at once (tests).
// window.moqPublisher.stats has the live figures.

import { MoqSession, PublishedTrack, ROLE, CODE } from '/static/moq.js';
import { initSegment, fragment } from '/static/mp4-writer.js';
import { readPageConfig, sleep, RateMeter } from '/static/page.js';

const VIDEO_TRACK_ID = 1;
const AUDIO_TRACK_ID = 2;
const VIDEO_TIMESCALE = 90000;
const AUDIO_TIMESCALE = 48000; // Opus always decodes at 48 kHz
const AUDIO_SAMPLE_RATE = 48000;
const KEYFRAME_INTERVAL_US = 1_000_000; // a joining viewer waits at most this for a keyframe
const AUDIO_SEGMENT_US = 200_000;
const SEGMENT_EXPIRES_S = 10;
const VIDEO_BIT_RATE = 2_000_000;
const AUDIO_BIT_RATE = 64_000;
const FRAME_RATE = 30;
const PATTERN_WIDTH = 1280;
const PATTERN_HEIGHT = 720;
const MAX_ENCODE_QUEUE = 3; // frames waiting in the encoder beyond this are dropped: live beats complete
const FIRST_MEDIA_TIMEOUT_MS = 10000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 5000;

// ------------------------------------------------------------ configuration

function readConfig() {
  const config = readPageConfig('publish');
  const source = config.params.get('source') === 'camera' ? 'camera' : 'pattern';
  return { ...config, source, autostart: config.params.get('autostart') === '1' };
}

// ------------------------------------------------------------ small helpers

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------ sources

// Every source yields { video, audio (or null), preview: MediaStream, label,
// frameRate, stop() }. Audio always goes through an AudioContext at 48 kHz
// mixed down to mono, so the encoder gets one format whatever the device.
async function audioGraph() {
  const context = new AudioContext({ sampleRate: AUDIO_SAMPLE_RATE, latencyHint: 'interactive' });
  const destination = context.createMediaStreamDestination();
  destination.channelCount = 1;
  destination.channelCountMode = 'explicit';
  // Without a user gesture (autostart) a browser may keep the context
  // suspended; then no audio would ever flow: say so rather than wait.
  await Promise.race([context.resume().catch(() => {}), sleep(1000)]);
  if (context.state !== 'running') {
    context.close().catch(() => {});
    throw new Error('the browser would not start audio without a click: press Start');
  }
  return { context, destination };
}

// A canvas drawing a running clock, a frame counter and moving shapes, and a
// tone (440 Hz, with a short 880 Hz beep at every second of audio time, which
// makes gaps audible).
async function openTestPattern(name) {
  const canvas = document.createElement('canvas');
  canvas.width = PATTERN_WIDTH;
  canvas.height = PATTERN_HEIGHT;
  const ctx = canvas.getContext('2d', { alpha: false });
  const stream = canvas.captureStream(FRAME_RATE);
  const [video] = stream.getVideoTracks();
  const started = performance.now();
  let frame = 0;
  const draw = () => {
    const t = (performance.now() - started) / 1000;
    const w = canvas.width;
    const h = canvas.height;
    const hue = (t * 20) % 360;
    const gradient = ctx.createLinearGradient(0, 0, w, h);
    gradient.addColorStop(0, `hsl(${hue}, 60%, 25%)`);
    gradient.addColorStop(1, `hsl(${(hue + 120) % 360}, 60%, 15%)`);
    ctx.fillStyle = gradient;
    ctx.fillRect(0, 0, w, h);
    // Colour bars along the bottom: a quick check of colour and scaling.
    const bars = ['#c0c0c0', '#c0c000', '#00c0c0', '#00c000', '#c000c0', '#c00000', '#0000c0'];
    bars.forEach((c, i) => {
      ctx.fillStyle = c;
      ctx.fillRect((i * w) / bars.length, h * 0.85, w / bars.length + 1, h * 0.15);
    });
    // A ball bouncing across and a spinning square: motion shows stutter.
    const x = w * (0.1 + 0.8 * Math.abs(((t * 0.25) % 2) - 1));
    const y = h * (0.62 + 0.12 * Math.sin(t * 3));
    ctx.fillStyle = '#ffd166';
    ctx.beginPath();
    ctx.arc(x, y, h * 0.06, 0, Math.PI * 2);
    ctx.fill();
    ctx.save();
    ctx.translate(w * 0.85, h * 0.25);
    ctx.rotate(t * 1.5);
    ctx.fillStyle = '#ef476f';
    ctx.fillRect(-h * 0.07, -h * 0.07, h * 0.14, h * 0.14);
    ctx.restore();
    const now = new Date();
    const clock = `${now.toLocaleTimeString('en-GB', { hour12: false })}.${String(now.getMilliseconds()).padStart(3, '0')}`;
    ctx.fillStyle = '#ffffff';
    ctx.textBaseline = 'top';
    ctx.font = `bold ${Math.round(h * 0.14)}px ui-monospace, monospace`;
    ctx.fillText(clock, w * 0.05, h * 0.08);
    ctx.font = `${Math.round(h * 0.05)}px ui-monospace, monospace`;
    ctx.fillText(`frame ${frame}   ${t.toFixed(1)} s`, w * 0.05, h * 0.27);
    ctx.fillText(name, w * 0.05, h * 0.35);
    frame++;
  };
  draw();
  const timer = setInterval(draw, 1000 / FRAME_RATE);

  let graph;
  try {
    graph = await audioGraph();
  } catch (e) {
    clearInterval(timer);
    video.stop();
    throw e;
  }
  const { context, destination } = graph;
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  oscillator.frequency.value = 440;
  gain.gain.value = 0.08;
  oscillator.connect(gain).connect(destination);
  oscillator.start();
  // Beeps are scheduled a little ahead on the audio clock, which is exact.
  let nextBeep = Math.ceil(context.currentTime);
  const scheduleBeeps = () => {
    while (nextBeep < context.currentTime + 1) {
      oscillator.frequency.setValueAtTime(880, nextBeep);
      gain.gain.setValueAtTime(0.25, nextBeep);
      oscillator.frequency.setValueAtTime(440, nextBeep + 0.1);
      gain.gain.setValueAtTime(0.08, nextBeep + 0.1);
      nextBeep += 1;
    }
  };
  scheduleBeeps();
  const beepTimer = setInterval(scheduleBeeps, 250);
  const [audio] = destination.stream.getAudioTracks();

  return {
    label: 'test pattern',
    video,
    audio,
    frameRate: FRAME_RATE,
    preview: new MediaStream([video]),
    stop() {
      clearInterval(timer);
      clearInterval(beepTimer);
      video.stop();
      audio.stop();
      context.close().catch(() => {});
    },
  };
}

async function openCamera() {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no camera access here (a secure context is needed)');
  const captured = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: FRAME_RATE } },
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const [video] = captured.getVideoTracks();
  const [microphone] = captured.getAudioTracks();
  let graph = null;
  let audio = null;
  if (microphone) {
    try {
      graph = await audioGraph();
    } catch (e) {
      for (const t of captured.getTracks()) t.stop();
      throw e;
    }
    graph.context.createMediaStreamSource(new MediaStream([microphone])).connect(graph.destination);
    [audio] = graph.destination.stream.getAudioTracks();
  }
  return {
    label: video.label || 'camera',
    video,
    audio,
    frameRate: Math.round(video.getSettings().frameRate || FRAME_RATE),
    preview: new MediaStream([video]),
    stop() {
      for (const t of captured.getTracks()) t.stop();
      audio?.stop();
      graph?.context.close().catch(() => {});
    },
  };
}

// ------------------------------------------------------------ encoding

// Frames from a MediaStreamTrack into an encoder. Timestamps of the capture
// clock are moved onto the broadcast's clock (µs since the broadcast began)
// by the offset seen at the first frame, so that audio and video, whose
// capture clocks need not agree, line up as they were captured.
class TrackEncoding {
  constructor(broadcastStart, track) {
    this.broadcastStart = broadcastStart;
    this.track = track;
    this.offsetUs = null;
    this.stopped = false;
    this.reader = null;
    this.decoderConfig = null;
    this.configured = new Promise((resolve, reject) => ((this.resolveConfigured = resolve), (this.rejectConfigured = reject)));
    this.configured.catch(() => {});
  }

  toBroadcastUs(captureUs) {
    return Math.max(0, captureUs + this.offsetUs);
  }

  noteFirstFrame(captureUs) {
    if (this.offsetUs === null) this.offsetUs = (performance.now() - this.broadcastStart) * 1000 - captureUs;
  }

  async readFrames(onFrame) {
    // MediaStreamTrackProcessor: the raw VideoFrame/AudioData of a live track.
    this.reader = new MediaStreamTrackProcessor({ track: this.track }).readable.getReader();
    while (!this.stopped) {
      const { value, done } = await this.reader.read();
      if (done) break;
      if (this.stopped) {
        value.close();
        break;
      }
      onFrame(value);
    }
    if (!this.stopped) throw new Error(`the ${this.track.kind} source ended`);
  }

  stop() {
    this.stopped = true;
    this.reader?.cancel().catch(() => {});
    this.rejectConfigured(new Error('stopped'));
  }
}

class VideoEncoding extends TrackEncoding {
  constructor(broadcastStart, track, { frameRate, onChunk, onError, stats }) {
    super(broadcastStart, track);
    this.frameRate = frameRate;
    this.onChunk = onChunk;
    this.onError = onError;
    this.stats = stats;
    this.encoder = null;
    this.configuring = false;
    this.lastKeyframeUs = null;
    this.width = 0;
    this.height = 0;
  }

  async run() {
    await this.readFrames((frame) => this.#encode(frame).catch((e) => this.onError(e)));
  }

  async #configure(frame) {
    // H.264 wants even dimensions; Chrome scales a frame of another size.
    this.width = frame.displayWidth & ~1;
    this.height = frame.displayHeight & ~1;
    const largerThan720p = this.width * this.height > 1280 * 720;
    const candidates = largerThan720p ? ['avc1.640028', 'avc1.64001f', 'avc1.42e01f'] : ['avc1.42e01f', 'avc1.64001f'];
    const base = {
      width: this.width,
      height: this.height,
      bitrate: VIDEO_BIT_RATE,
      framerate: this.frameRate,
      latencyMode: 'realtime',
      avc: { format: 'avc' }, // decoderConfig.description is then the avcC the init segment needs
    };
    for (const codec of candidates) {
      const config = { ...base, codec };
      const { supported } = await VideoEncoder.isConfigSupported(config).catch(() => ({ supported: false }));
      if (!supported) continue;
      this.encoder = new VideoEncoder({
        output: (chunk, metadata) => this.#output(chunk, metadata),
        error: (e) => this.onError(new Error(`video encoder: ${e.message}`)),
      });
      this.encoder.configure(config);
      return;
    }
    throw new Error(`this browser cannot encode H.264 at ${this.width}x${this.height} (tried ${candidates.join(', ')})`);
  }

  async #encode(frame) {
    try {
      this.noteFirstFrame(frame.timestamp);
      if (!this.encoder) {
        if (this.configuring) return; // frames during the asynchronous support check are dropped
        this.configuring = true;
        await this.#configure(frame);
      }
      if (this.stopped || this.encoder.state !== 'configured') return;
      if (this.encoder.encodeQueueSize >= MAX_ENCODE_QUEUE) {
        this.stats.videoFramesDropped++;
        return;
      }
      const keyFrame = this.lastKeyframeUs === null || frame.timestamp - this.lastKeyframeUs >= KEYFRAME_INTERVAL_US;
      if (keyFrame) this.lastKeyframeUs = frame.timestamp;
      this.encoder.encode(frame, { keyFrame });
    } finally {
      frame.close();
    }
  }

  #output(chunk, metadata) {
    if (metadata?.decoderConfig && !this.decoderConfig) {
      const description = metadata.decoderConfig.description;
      if (!description) {
        this.onError(new Error('the video encoder gave no avcC (description)'));
        return;
      }
      const avcC = new Uint8Array(ArrayBuffer.isView(description) ? description.buffer.slice(description.byteOffset, description.byteOffset + description.byteLength) : description.slice(0));
      const hex = (b) => b.toString(16).padStart(2, '0');
      this.decoderConfig = {
        avcC,
        // RFC 6381 from the avcC itself: profile, constraints, level as encoded.
        codec: `avc1.${hex(avcC[1])}${hex(avcC[2])}${hex(avcC[3])}`,
        width: metadata.decoderConfig.codedWidth || this.width,
        height: metadata.decoderConfig.codedHeight || this.height,
      };
      this.resolveConfigured(this.decoderConfig);
    }
    this.stats.videoFramesEncoded++;
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    this.onChunk({
      data,
      timestampUs: this.toBroadcastUs(chunk.timestamp),
      durationUs: chunk.duration || 1e6 / this.frameRate,
      keyframe: chunk.type === 'key',
    });
  }

  stop() {
    super.stop();
    if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
  }
}

class AudioEncoding extends TrackEncoding {
  constructor(broadcastStart, track, { onChunk, onError, stats }) {
    super(broadcastStart, track);
    this.onChunk = onChunk;
    this.onError = onError;
    this.stats = stats;
    this.encoder = null;
    this.channelCount = 1;
  }

  async run() {
    await this.readFrames((data) => {
      try {
        this.#encode(data);
      } catch (e) {
        this.onError(e);
      } finally {
        data.close();
      }
    });
  }

  #encode(data) {
    this.noteFirstFrame(data.timestamp);
    if (!this.encoder) {
      this.channelCount = data.numberOfChannels;
      this.encoder = new AudioEncoder({
        output: (chunk, metadata) => this.#output(chunk, metadata),
        error: (e) => this.onError(new Error(`audio encoder: ${e.message}`)),
      });
      // The encoder takes the format the track delivers (48 kHz mono from our
      // audio graph); Opus resamples internally if it ever is another.
      this.encoder.configure({ codec: 'opus', sampleRate: data.sampleRate, numberOfChannels: data.numberOfChannels, bitrate: AUDIO_BIT_RATE });
    }
    if (this.encoder.state !== 'configured') return;
    this.encoder.encode(data);
  }

  #output(chunk, metadata) {
    if (!this.decoderConfig) {
      // Pre-skip (decoder delay, in 48 kHz samples) comes from the OpusHead
      // the encoder may hand over; 312 is libopus's usual value otherwise.
      let preSkip = 312;
      const d = metadata?.decoderConfig?.description;
      if (d) {
        const head = new Uint8Array(ArrayBuffer.isView(d) ? d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) : d.slice(0));
        if (head.length >= 12 && new TextDecoder().decode(head.subarray(0, 8)) === 'OpusHead') preSkip = head[10] | (head[11] << 8);
      }
      this.decoderConfig = {
        codec: 'opus',
        channelCount: metadata?.decoderConfig?.numberOfChannels || this.channelCount,
        sampleRate: AUDIO_SAMPLE_RATE,
        inputSampleRate: metadata?.decoderConfig?.sampleRate || AUDIO_SAMPLE_RATE,
        preSkip,
      };
      this.resolveConfigured(this.decoderConfig);
    }
    this.stats.audioFramesEncoded++;
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    this.onChunk({ data, timestampUs: this.toBroadcastUs(chunk.timestamp), durationUs: chunk.duration || 20000, keyframe: true });
  }

  stop() {
    super.stop();
    if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
  }
}

// ------------------------------------------------------------ fMP4 into MoQ segments

// One data track: each encoded frame becomes one moof+mdat appended to the
// current segment. Video starts a segment at every keyframe; audio (every
// Opus packet is a sync sample) about every 200 ms. Priority = the segment's
// decode time in ms, so that newer media goes first.
class SegmentedTrack {
  constructor({ track, trackId, timescale, segmentEveryUs = null, onFrameSent }) {
    this.track = track;
    this.trackId = trackId;
    this.timescale = timescale;
    this.segmentEveryUs = segmentEveryUs; // null: at every keyframe
    this.onFrameSent = onFrameSent;
    this.fragmentSequence = 0;
    this.segment = null;
    this.segmentStartUs = 0;
    this.lastDecodeTime = -1;
  }

  add({ data, timestampUs, durationUs, keyframe }) {
    const startsSegment = this.segmentEveryUs === null ? keyframe : !this.segment || timestampUs - this.segmentStartUs >= this.segmentEveryUs;
    if (!this.segment && !startsSegment) return; // a segment must begin at a sync sample
    if (startsSegment) {
      this.segment = this.track.beginSegment({
        priority: Math.min(Math.floor(timestampUs / 1000), 0x7ffffffe),
        expires: SEGMENT_EXPIRES_S,
      });
      this.segmentStartUs = timestampUs;
    }
    // Decode times must grow even if a capture clock stumbles.
    const decodeTime = Math.max(Math.round((timestampUs * this.timescale) / 1e6), this.lastDecodeTime + 1);
    this.lastDecodeTime = decodeTime;
    const bytes = fragment({
      sequenceNumber: ++this.fragmentSequence,
      trackId: this.trackId,
      baseDecodeTime: decodeTime,
      samples: [{ data, duration: Math.max(1, Math.round((durationUs * this.timescale) / 1e6)), keyframe }],
    });
    this.segment.append(bytes, this.onFrameSent);
  }

  finish() {
    this.track.finish();
  }
}

// ------------------------------------------------------------ the publisher

class Publisher {
  constructor(config, ui) {
    this.config = config;
    this.ui = ui;
    this.run = null; // the current broadcast: everything Start made
    this.byteRate = new RateMeter();
    this.stats = this.#freshStats('idle', null);
  }

  #freshStats(state, source) {
    return {
      state,
      source,
      message: '',
      error: null,
      connectionError: null,
      videoCodec: null,
      width: 0,
      height: 0,
      videoFramesEncoded: 0,
      videoFramesSent: 0,
      videoFramesDropped: 0,
      audioFramesEncoded: 0,
      audioFramesSent: 0,
      objectsSent: 0,
      bytesSent: 0,
      bitrateKbps: 0,
      rttMs: null,
      rttSource: null,
      subscriptions: 0,
      reconnects: 0,
      liveSince: null,
    };
  }

  setState(state, message = '') {
    this.stats.state = state;
    this.stats.message = message;
    this.ui.update(this);
  }

  get broadcastUrl() {
    return `${this.config.relay}/${encodeURIComponent(this.config.name)}`;
  }

  async start(sourceKind) {
    if (this.run) return;
    const run = { stopped: false, session: null, encodings: [], source: null, segmented: [] };
    this.run = run;
    this.byteRate = new RateMeter();
    this.stats = this.#freshStats('starting', sourceKind);
    this.setState('starting', sourceKind === 'camera' ? 'Asking for the camera and microphone…' : 'Starting the test pattern…');
    try {
      run.source = sourceKind === 'camera' ? await openCamera() : await openTestPattern(this.config.name);
      if (run.stopped) return run.source.stop();
      this.ui.showPreview(run.source.preview);

      const catalogTrack = new PublishedTrack('.catalog');
      const initTrack = new PublishedTrack('1.mp4');
      const videoTrack = new PublishedTrack(String(VIDEO_TRACK_ID));
      const audioTrack = run.source.audio ? new PublishedTrack(String(AUDIO_TRACK_ID)) : null;
      run.tracks = new Map([catalogTrack, initTrack, videoTrack, audioTrack].filter(Boolean).map((t) => [t.name, t]));

      const broadcastStart = performance.now();
      const onError = (e) => this.fail(e);
      const videoSegments = new SegmentedTrack({
        track: videoTrack,
        trackId: VIDEO_TRACK_ID,
        timescale: VIDEO_TIMESCALE,
        onFrameSent: () => this.stats.videoFramesSent++,
      });
      const video = new VideoEncoding(broadcastStart, run.source.video, {
        frameRate: run.source.frameRate,
        onChunk: (c) => videoSegments.add(c),
        onError,
        stats: this.stats,
      });
      run.encodings.push(video);
      run.segmented.push(videoSegments);
      let audio = null;
      if (audioTrack) {
        const audioSegments = new SegmentedTrack({
          track: audioTrack,
          trackId: AUDIO_TRACK_ID,
          timescale: AUDIO_TIMESCALE,
          segmentEveryUs: AUDIO_SEGMENT_US,
          onFrameSent: () => this.stats.audioFramesSent++,
        });
        audio = new AudioEncoding(broadcastStart, run.source.audio, { onChunk: (c) => audioSegments.add(c), onError, stats: this.stats });
        run.encodings.push(audio);
        run.segmented.push(audioSegments);
      }
      for (const e of run.encodings) e.run().catch((err) => !run.stopped && this.fail(err));

      // The session may come up before the catalog exists: the relay's
      // SUBSCRIBE for .catalog then simply waits for its one segment.
      this.#keepConnected(run);

      const [videoConfig, audioConfig] = await withTimeout(
        Promise.all([video.configured, audio ? audio.configured : null]),
        FIRST_MEDIA_TIMEOUT_MS,
        `no encoded media within ${FIRST_MEDIA_TIMEOUT_MS / 1000} s: is the source delivering frames?`,
      );
      if (run.stopped) return;
      this.stats.videoCodec = videoConfig.codec;
      this.stats.width = videoConfig.width;
      this.stats.height = videoConfig.height;

      const mp4Tracks = [{ id: VIDEO_TRACK_ID, kind: 'video', timescale: VIDEO_TIMESCALE, ...videoConfig }];
      const catalog = {
        tracks: [
          {
            container: 'mp4',
            kind: 'video',
            init_track: initTrack.name,
            data_track: videoTrack.name,
            codec: videoConfig.codec,
            width: videoConfig.width,
            height: videoConfig.height,
            frame_rate: run.source.frameRate,
            bit_rate: VIDEO_BIT_RATE,
          },
        ],
      };
      if (audioConfig) {
        mp4Tracks.push({ id: AUDIO_TRACK_ID, kind: 'audio', timescale: AUDIO_TIMESCALE, ...audioConfig });
        catalog.tracks.push({
          container: 'mp4',
          kind: 'audio',
          init_track: initTrack.name,
          data_track: audioTrack.name,
          codec: 'opus',
          channel_count: audioConfig.channelCount,
          sample_rate: audioConfig.sampleRate,
          sample_size: 16,
          bit_rate: AUDIO_BIT_RATE,
        });
      }
      initTrack.publishSingle(initSegment(mp4Tracks));
      catalogTrack.publishSingle(new TextEncoder().encode(JSON.stringify(catalog)));
      run.catalogPublished = true;
      if (run.session) this.#markLive();
    } catch (e) {
      if (!run.stopped) this.fail(e);
    }
  }

  #markLive() {
    this.stats.liveSince ??= performance.now();
    this.stats.connectionError = null;
    this.setState('live', '');
  }

  // Connects, and reconnects whenever the session ends while the broadcast runs.
  async #keepConnected(run) {
    let delay = RETRY_MIN_MS;
    let attempt = 0;
    while (!run.stopped) {
      if (attempt++ > 0) this.stats.reconnects++;
      try {
        if (this.stats.state !== 'live') this.setState(run.catalogPublished ? 'connecting' : 'starting', `Connecting to ${this.config.relay}…`);
        const session = await MoqSession.connect(this.broadcastUrl, {
          fingerprint: this.config.fingerprint,
          role: ROLE.publisher,
          tracks: run.tracks,
          onSent: ({ bytes, objects }) => {
            this.stats.bytesSent += bytes;
            this.stats.objectsSent += objects;
            this.byteRate.add(bytes);
          },
        });
        if (run.stopped) {
          session.close(CODE.closed, 'publisher stopped');
          return;
        }
        run.session = session;
        delay = RETRY_MIN_MS;
        if (run.catalogPublished) this.#markLive();
        else this.setState('starting', 'Connected; waiting for the first encoded frames…');
        const ended = await session.closed;
        run.session = null;
        if (run.stopped) return;
        this.stats.connectionError =
          ended.code === CODE.duplicate ? `the relay already has a live broadcast named “${this.config.name}”` : `the relay connection ended: ${ended.message}`;
      } catch (e) {
        if (run.stopped) return;
        this.stats.connectionError = `cannot reach the relay: ${e.message || e}`;
      }
      this.setState('reconnecting', `${this.stats.connectionError}. Retrying in ${Math.round(delay / 1000)} s…`);
      await sleep(delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  async stop(finalState = 'stopped', message = 'Stopped. Press Start to go live again.') {
    const run = this.run;
    if (!run) return;
    this.run = null;
    run.stopped = true;
    for (const e of run.encodings) e.stop();
    for (const s of run.segmented) s.finish();
    run.source?.stop();
    this.ui.showPreview(null);
    const session = run.session;
    if (session) {
      // Viewers see a clean end of their tracks, not a dropped connection.
      await session.endServedSubscriptions(CODE.closed, 'publisher stopped', 1000).catch(() => {});
      session.close(CODE.closed, 'publisher stopped');
    }
    this.stats.subscriptions = 0;
    this.stats.bitrateKbps = 0;
    this.setState(finalState, message);
  }

  fail(e) {
    const message = e?.message || String(e);
    // After Stop, late callbacks of closed encoders and streams are no news;
    // and the first error is the one that explains.
    if (!this.run || this.stats.error) return;
    console.error(`publisher: ${message}`);
    this.stats.error = message;
    this.stop('error', `Stopped: ${message}`);
  }

  // Once a second: bit rate, round-trip time, subscriptions.
  async sample() {
    this.stats.bitrateKbps = Math.round((this.byteRate.perSecond() * 8) / 1000);
    const session = this.run?.session;
    this.stats.subscriptions = session ? session.served.size : 0;
    if (session) {
      // The live smoothed RTT where the browser offers WebTransport stats;
      // otherwise the round trip measured by the SETUP exchange.
      let rtt = null;
      if (typeof session.transport.getStats === 'function') {
        try {
          const s = await session.transport.getStats();
          rtt = s.smoothedRtt ?? s.latestRtt ?? null;
        } catch {
          // the figure falls back to the SETUP round trip
        }
      }
      this.stats.rttSource = typeof rtt === 'number' ? 'smoothed' : 'at setup';
      if (typeof rtt !== 'number') rtt = session.setupRttMs ?? null;
      this.stats.rttMs = typeof rtt === 'number' ? Math.round(rtt * 10) / 10 : null;
    }
    this.ui.update(this);
  }
}

// ------------------------------------------------------------ UI

class PublisherUI {
  constructor(config) {
    this.config = config;
    this.preview = document.getElementById('preview');
    this.message = document.getElementById('message');
    this.sourceSelect = document.getElementById('source');
    this.startButton = document.getElementById('start');
    this.stopButton = document.getElementById('stop');
    this.live = document.getElementById('live');
    this.figures = document.querySelector('#figures tbody');
    this.error = document.getElementById('error');
    const watch = document.getElementById('watch-link');
    const watchUrl = new URL(`/watch/${encodeURIComponent(config.name)}`, location.href);
    if (!config.fromElement) {
      // Served without the relay's config: the watch page needs the same parameters.
      watchUrl.searchParams.set('relay', config.relay);
      if (config.fingerprint) watchUrl.searchParams.set('fingerprint', config.fingerprint);
      watchUrl.searchParams.set('name', config.name);
    }
    watch.href = watchUrl.href;
    watch.textContent = `Watch page: /watch/${config.name}`;
    this.sourceSelect.value = config.source;
  }

  showPreview(stream) {
    this.preview.srcObject = stream;
    if (stream) this.preview.play().catch(() => {}); // muted: allowed without a gesture
  }

  update(publisher) {
    const s = publisher.stats;
    const running = publisher.run !== null;
    this.startButton.disabled = running;
    this.stopButton.disabled = !running;
    this.sourceSelect.disabled = running;
    this.live.textContent = s.state === 'live' ? 'LIVE' : running ? s.state.toUpperCase() : 'OFF AIR';
    this.live.classList.toggle('behind', s.state !== 'live');
    this.message.hidden = s.state === 'live';
    this.message.textContent = s.message || (s.state === 'idle' ? 'Choose a source and press Start.' : s.state);
    const problem = s.error || (s.state !== 'live' && running ? s.connectionError : null);
    this.error.hidden = !problem;
    this.error.textContent = problem ? `Error: ${problem}` : '';
    const liveFor = s.liveSince && s.state === 'live' ? `${Math.round((performance.now() - s.liveSince) / 1000)} s` : '–';
    const rows = [
      ['state', s.state],
      ['broadcast', `${publisher.config.name} on ${publisher.config.relay}`],
      ['source', s.source || '–'],
      ['video', s.videoCodec ? `${s.videoCodec} ${s.width}x${s.height}` : '–'],
      ['bitrate sent', `${s.bitrateKbps} kbit/s`],
      ['video frames encoded / sent / dropped', `${s.videoFramesEncoded} / ${s.videoFramesSent} / ${s.videoFramesDropped}`],
      ['audio frames encoded / sent', `${s.audioFramesEncoded} / ${s.audioFramesSent}`],
      ['objects sent', String(s.objectsSent)],
      ['bytes sent', s.bytesSent.toLocaleString('en')],
      ['subscriptions from the relay', String(s.subscriptions)],
      ['round-trip time', s.rttMs === null ? '–' : `${s.rttMs} ms (${s.rttSource})`],
      ['live for', liveFor],
      ['reconnects', String(s.reconnects)],
    ];
    if (this.figures.rows.length !== rows.length) {
      this.figures.replaceChildren(
        ...rows.map(() => {
          const tr = document.createElement('tr');
          tr.append(document.createElement('th'), document.createElement('td'));
          return tr;
        }),
      );
    }
    rows.forEach(([label, value], i) => {
      const [th, td] = this.figures.rows[i].cells;
      if (th.textContent !== label) th.textContent = label;
      if (td.textContent !== value) td.textContent = value;
    });
  }
}

// ------------------------------------------------------------ main

function showFatal(message) {
  const error = document.getElementById('error');
  error.hidden = false;
  error.textContent = `Error: ${message}`;
  document.getElementById('message').textContent = message;
  document.getElementById('start').disabled = true;
  window.moqPublisher = { stats: { state: 'error', error: message } };
}

try {
  const missing = ['WebTransport', 'VideoEncoder', 'AudioEncoder', 'MediaStreamTrackProcessor'].filter((api) => !(api in window));
  if (missing.length) throw new Error(`this browser lacks ${missing.join(', ')}: publishing needs a recent Chromium-based browser`);
  const config = readConfig();
  document.title = `Publish ${config.name} – MoQ`;
  document.getElementById('title').textContent = `Publish “${config.name}”`;
  const ui = new PublisherUI(config);
  const publisher = new Publisher(config, ui);
  window.moqPublisher = publisher;
  ui.startButton.addEventListener('click', () => publisher.start(ui.sourceSelect.value));
  ui.stopButton.addEventListener('click', () => publisher.stop());
  setInterval(() => publisher.sample(), 1000);
  addEventListener('pagehide', () => publisher.stop());
  ui.update(publisher);
  if (config.autostart) publisher.start(config.source);
} catch (e) {
  showFatal(e.message || String(e));
}
