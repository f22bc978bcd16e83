// The watch page: a live MoQ (KIXEL_00) player.
//
// Pipeline: WebTransport session (moq.js) -> `.catalog` -> init track (fMP4
// ftyp+moov, mp4.js) -> one subscription per data track. Video segments
// (a keyframe and what follows it) are decoded with VideoDecoder and drawn on a
// canvas; audio with AudioDecoder and played by an AudioWorklet ring buffer
// (audio-worklet.js). The audio position is the clock: a video frame is shown
// once the audio heard has reached its timestamp. Without usable audio (no
// track, or the browser will not start sound) a wall clock stands in.
//
// Live-edge policy: start at the newest video segment (it begins with a
// keyframe); whenever playback is further behind the newest received media
// than the target latency and a newer segment exists, jump to it rather than
// play the backlog.

import { MoqSession, CODE } from '/static/moq.js';
import { parseInit, FragmentStream, describeTrack } from '/static/mp4.js';
import { readPageConfig, sleep, RateMeter } from '/static/page.js';

const PAGE_START = performance.now();
const STARTUP_GRACE_MS = 120; // after the first video object: the relay may still be sending newer cached ones
const AUDIO_PREBUFFER_MS = 150;
const AUDIO_GAP_WAIT_MS = 150; // how long a hole in the audio may be waited for before it is played as silence
const AUDIO_START_TIMEOUT_MS = 1500; // audio that never starts: fall back to the wall clock
const MAX_QUEUED_FRAMES = 90;
const STALL_THRESHOLD_MS = 250;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 5000;

// ------------------------------------------------------------ configuration

function readConfig() {
  const config = readPageConfig('watch');
  return { ...config, latencyMs: Number(config.params.get('latency')) || 1000 };
}

// ------------------------------------------------------------ small helpers

// Wakes whoever waits; wait(ms) also returns after ms.
class Signal {
  constructor() {
    this.waiters = [];
  }
  wait(timeoutMs) {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (timeoutMs) setTimeout(resolve, timeoutMs);
    });
  }
  notify() {
    for (const w of this.waiters.splice(0)) w();
  }
}

class NotLiveError extends Error {}
class RelayUnreachableError extends Error {}
class BroadcastEndedError extends Error {}
class CatalogChangedError extends Error {}

// ------------------------------------------------------------ one MoQ object's media

// Reads one OBJECT (a segment) as it arrives, parsing its moof+mdat pairs
// into samples that stay available by index (a video restart may re-read
// them). onSamples is called with every new batch.
class SegmentBuffer {
  constructor(object, init, onBytes, onSamples) {
    this.sequence = object.sequence;
    this.object = object;
    this.samples = [];
    this.done = false;
    this.cancelled = false;
    this.error = null;
    this.onSamples = onSamples;
    this.#read(init, onBytes);
  }

  async #read(init, onBytes) {
    const parser = new FragmentStream(init);
    try {
      for (let chunk; (chunk = await this.object.reader.chunk()); ) {
        onBytes(chunk.length);
        const samples = parser.push(chunk);
        if (samples.length) {
          this.samples.push(...samples);
          this.onSamples(samples, this);
        }
      }
      if (parser.leftover) console.warn(`segment ${this.sequence}: ${parser.leftover} bytes of an unfinished box at the end`);
    } catch (e) {
      if (!this.cancelled) {
        this.error = e;
        console.warn(`segment ${this.sequence}: ${e.message || e}`);
      }
    }
    this.done = true;
    this.onSamples([], this);
  }

  cancel() {
    if (this.done) return;
    this.cancelled = true;
    this.done = true;
    this.object.cancel();
  }
}

// ------------------------------------------------------------ audio output

class AudioOutput {
  static async create(sampleRate, channelCount) {
    const context = new AudioContext({ sampleRate, latencyHint: 'interactive' });
    await context.audioWorklet.addModule('/static/audio-worklet.js');
    const node = new AudioWorkletNode(context, 'moq-ring-buffer-player', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [channelCount],
      processorOptions: { channelCount },
    });
    node.connect(context.destination);
    // Autoplay policy: without a user gesture the context may stay suspended.
    await Promise.race([context.resume().catch(() => {}), sleep(300)]);
    return new AudioOutput(context, node, channelCount);
  }

  constructor(context, node, channelCount) {
    this.context = context;
    this.node = node;
    this.channelCount = channelCount;
    this.sampleRate = context.sampleRate;
    this.generation = 0;
    this.report = null; // the worklet's latest { position, contextTime, playing, buffered, underruns }
    node.port.onmessage = (e) => {
      if (e.data.type === 'position' && e.data.generation === this.generation) this.report = e.data;
    };
  }

  get running() {
    return this.context.state === 'running';
  }

  reset(timestampUs) {
    this.generation++;
    this.report = null;
    this.node.port.postMessage({
      type: 'reset',
      position: Math.round((timestampUs * this.sampleRate) / 1e6),
      prebufferFrames: Math.round((AUDIO_PREBUFFER_MS * this.sampleRate) / 1000),
      generation: this.generation,
    });
  }

  seek(timestampUs) {
    this.generation++;
    this.report = null;
    this.node.port.postMessage({ type: 'seek', position: Math.round((timestampUs * this.sampleRate) / 1e6), generation: this.generation });
  }

  // AudioData -> planar float32 at its media position.
  write(audioData) {
    const frames = audioData.numberOfFrames;
    const channels = [];
    for (let c = 0; c < audioData.numberOfChannels; c++) {
      const plane = new Float32Array(frames);
      audioData.copyTo(plane, { planeIndex: c, format: 'f32-planar' });
      channels.push(plane);
    }
    const position = Math.round((audioData.timestamp * this.sampleRate) / 1e6);
    this.node.port.postMessage({ type: 'pcm', position, channels }, channels.map((p) => p.buffer));
  }

  setVolume(value) {
    this.node.port.postMessage({ type: 'volume', value });
  }

  // What is being heard now, in µs of media time; null before the first report.
  nowUs() {
    const r = this.report;
    if (!r) return null;
    let seconds = r.position / this.sampleRate;
    if (r.playing) {
      const elapsed = Math.min(Math.max(this.context.currentTime - r.contextTime, 0), 0.1, r.buffered / this.sampleRate);
      seconds += elapsed - (this.context.outputLatency || 0);
    }
    return seconds * 1e6;
  }

  get playing() {
    return !!this.report?.playing;
  }

  get bufferedMs() {
    return this.report ? (this.report.buffered * 1000) / this.sampleRate : 0;
  }

  close() {
    this.node.disconnect();
    this.context.close().catch(() => {});
  }
}

// ------------------------------------------------------------ clock

// Media time in µs. 'audio': the worklet position (stops when audio stalls,
// so video waits with it); 'wall': performance.now() from an anchor.
class PlaybackClock {
  constructor() {
    this.mode = 'stopped';
    this.audio = null;
    this.anchorMedia = 0;
    this.anchorWall = 0;
    this.paused = false;
    this.pausedAt = 0;
    this.last = 0;
  }

  get started() {
    return this.mode !== 'stopped';
  }

  startWall(mediaUs) {
    this.mode = 'wall';
    this.anchorMedia = mediaUs;
    this.anchorWall = performance.now();
    this.last = mediaUs;
  }

  startAudio(audio, mediaUs) {
    this.mode = 'audio';
    this.audio = audio;
    this.last = mediaUs;
    audio.reset(mediaUs);
  }

  seek(mediaUs) {
    if (this.mode === 'audio') this.audio.seek(mediaUs);
    else this.startWall(mediaUs);
    this.last = mediaUs;
  }

  nowUs() {
    if (this.mode === 'stopped') return -Infinity;
    if (this.paused) return this.pausedAt;
    let t;
    if (this.mode === 'audio') {
      t = this.audio.nowUs();
      if (t === null) return this.last; // no report since the last reset/seek yet
    } else {
      t = this.anchorMedia + (performance.now() - this.anchorWall) * 1000;
    }
    this.last = t;
    return t;
  }

  pause() {
    this.pausedAt = this.nowUs();
    this.paused = true;
  }

  resume() {
    this.paused = false;
    if (this.mode === 'wall') this.startWall(this.pausedAt);
  }
}

// ------------------------------------------------------------ video track

class VideoTrack {
  constructor(player, track) {
    this.player = player;
    this.track = track;
    this.segments = new Map(); // sequence -> SegmentBuffer (current and newer)
    this.current = null;
    this.index = 0; // next sample of current to decode
    this.needKeyframe = true;
    this.jumpRequested = false;
    this.signal = new Signal();
    this.frames = []; // decoded, not yet shown, by timestamp
    this.closed = false;
    this.config = {
      codec: track.codec,
      description: track.description || undefined,
      codedWidth: track.width,
      codedHeight: track.height,
      optimizeForLatency: true,
    };
    this.decoder = new VideoDecoder({
      output: (frame) => this.#onFrame(frame),
      error: (e) => player.fail(new Error(`video decoder: ${e.message}`)),
    });
    this.decoder.configure(this.config);
    this.run().catch((e) => player.fail(e));
  }

  addObject(object) {
    this.player.stats.videoObjects++;
    if (this.closed || (this.current && object.sequence < this.current.sequence)) {
      object.cancel(); // older than what plays: a live player never goes back
      return;
    }
    const seg = new SegmentBuffer(
      object,
      this.player.init,
      (n) => this.player.onBytes(n),
      (samples) => {
        for (const s of samples) this.player.onMediaReceived(s);
        this.signal.notify();
      },
    );
    this.segments.set(object.sequence, seg);
    this.signal.notify();
  }

  newest() {
    let best = null;
    for (const s of this.segments.values()) if (!best || s.sequence > best.sequence) best = s;
    return best;
  }

  // The start of the newest segment received: { timestamp, segment } or null.
  newestKeyframe() {
    const n = this.newest();
    return n && n.samples.length ? { timestamp: n.samples[0].timestamp, segment: n } : null;
  }

  // Jump the picture to the keyframe that starts `segment`. Decoding runs
  // ahead of the picture, so that segment may be the one being decoded
  // already: then only the queued frames before its keyframe go, and the
  // clock moves. Otherwise the decoder moves on to it (see run()).
  skipTo(segment) {
    if (segment === this.current && !this.needKeyframe && !this.seekPending) {
      const keyframe = segment.samples[0].timestamp;
      while (this.frames.length && this.frames[0].timestamp < keyframe) this.frames.shift().close();
      this.player.seekClock(keyframe);
      this.player.stats.skips++;
    } else {
      this.jumpRequested = true;
    }
  }

  async run() {
    while (!this.segments.size && !this.closed) await this.signal.wait(500);
    await sleep(STARTUP_GRACE_MS);
    while (!this.closed) {
      const next = this.#pickNext();
      if (!next) {
        await this.signal.wait(250);
        continue;
      }
      this.#switchTo(next);
      for (;;) {
        if (this.closed) return;
        const seg = this.current;
        if (this.jumpRequested) break;
        if (this.index < seg.samples.length) {
          this.#decode(seg.samples[this.index++]);
          continue;
        }
        if (seg.done) break;
        await this.signal.wait(250);
      }
    }
  }

  #pickNext() {
    if (this.jumpRequested) {
      const n = this.newest();
      if (n && n.samples.length) return n; // may be the current one: replayed from its keyframe
      this.jumpRequested = false;
    }
    // Normally the next segment; if several are waiting we are a whole
    // segment behind already: take the newest.
    let best = null;
    for (const s of this.segments.values()) {
      if (this.current && s.sequence <= this.current.sequence) continue;
      if (!best || s.sequence > best.sequence) best = s;
    }
    return best;
  }

  #switchTo(next) {
    const previous = this.current;
    const continuous =
      previous && !this.jumpRequested && next.sequence === previous.sequence + 1 && previous.done && this.index >= previous.samples.length;
    if (previous && !continuous) {
      // Skipping: drop what the decoder still holds of the old segment; the
      // clock will be moved to the new keyframe when it is decoded.
      this.decoder.reset();
      this.decoder.configure(this.config);
      this.#dropQueuedFrames('skipped');
      this.needKeyframe = true;
      this.player.stats.skips++;
    }
    this.jumpRequested = false;
    this.seekPending = !!previous && !continuous;
    this.current = next;
    this.index = 0;
    for (const [seq, seg] of this.segments) {
      if (seq < next.sequence) {
        seg.cancel();
        this.segments.delete(seq);
      }
    }
  }

  #decode(sample) {
    if (this.needKeyframe) {
      if (!sample.keyframe) return; // cannot start here; wait for the next segment
      this.needKeyframe = false;
      if (!this.player.clock.started) this.player.startClock(sample.timestamp);
      else if (this.seekPending) this.player.seekClock(sample.timestamp);
      this.seekPending = false;
    }
    this.decoder.decode(
      new EncodedVideoChunk({
        type: sample.keyframe ? 'key' : 'delta',
        timestamp: sample.timestamp,
        duration: sample.duration,
        data: sample.data,
      }),
    );
  }

  #onFrame(frame) {
    if (this.closed) return frame.close();
    this.player.stats.videoFramesDecoded++;
    let i = this.frames.length;
    while (i > 0 && this.frames[i - 1].timestamp > frame.timestamp) i--;
    this.frames.splice(i, 0, frame);
    while (this.frames.length > MAX_QUEUED_FRAMES) {
      this.frames.shift().close();
      this.player.stats.droppedFrames++;
    }
  }

  #dropQueuedFrames(why) {
    for (const f of this.frames) f.close();
    if (why === 'dropped') this.player.stats.droppedFrames += this.frames.length;
    this.frames = [];
  }

  // The frame to show at media time `now`, closing the ones it replaces.
  // Returns { frame, late } or null when nothing new is due.
  takeFrameAt(now) {
    let chosen = null;
    while (this.frames.length && this.frames[0].timestamp <= now) {
      if (chosen) {
        chosen.close();
        this.player.stats.droppedFrames++; // decoded but its time passed before a paint
      }
      chosen = this.frames.shift();
    }
    return chosen;
  }

  peekFrame() {
    return this.frames[0] || null;
  }

  queuedMs(now) {
    const last = this.frames.at(-1);
    return last ? Math.max(0, (last.timestamp - now) / 1000) : 0;
  }

  close() {
    this.closed = true;
    this.signal.notify();
    for (const seg of this.segments.values()) seg.cancel();
    this.segments.clear();
    this.#dropQueuedFrames('closed');
    if (this.decoder.state !== 'closed') this.decoder.close();
  }
}

// ------------------------------------------------------------ audio track

// Audio is scheduled by time, not by segment: whatever the grouping (one AAC
// frame per object today, ~200 ms later), samples are decoded in timestamp
// order from the position the player starts at.
class AudioTrack {
  constructor(player, track, output) {
    this.player = player;
    this.track = track;
    this.output = output;
    this.pending = []; // received, not decoded, any order
    this.nextUs = null; // timestamp expected next; null until started
    this.gapSince = 0;
    this.pumpTimer = 0;
    this.closed = false;
    this.decoder = new AudioDecoder({
      output: (data) => this.#onAudio(data),
      error: (e) => player.fail(new Error(`audio decoder: ${e.message}`)),
    });
    this.decoder.configure({
      codec: track.codec,
      sampleRate: track.sampleRate,
      numberOfChannels: track.channelCount,
      description: track.description || undefined,
    });
  }

  addObject(object) {
    this.player.stats.audioObjects++;
    if (this.closed) return object.cancel();
    new SegmentBuffer(
      object,
      this.player.init,
      (n) => this.player.onBytes(n),
      (samples, seg) => {
        if (!samples.length) return;
        for (const s of samples) this.player.onMediaReceived(s);
        // A cached segment from long before the playback position: stop its stream.
        const last = samples.at(-1);
        if (this.nextUs !== null && last.timestamp + last.duration < this.nextUs - 1e6) seg.cancel();
        this.pending.push(...samples);
        this.#pump();
      },
    );
  }

  start(timestampUs) {
    this.nextUs = timestampUs;
    this.#pump();
  }

  // Skip forward (never back): the samples in between are dropped.
  seek(timestampUs) {
    if (this.nextUs === null || timestampUs > this.nextUs) this.nextUs = timestampUs;
    this.#pump();
  }

  #pump() {
    if (this.closed) return;
    this.pending.sort((a, b) => a.timestamp - b.timestamp);
    if (this.nextUs === null) {
      // Not started: keep the last few seconds only.
      const newest = this.pending.at(-1)?.timestamp ?? 0;
      while (this.pending.length && this.pending[0].timestamp < newest - 3e6) this.pending.shift();
      return;
    }
    while (this.pending.length) {
      const s = this.pending[0];
      if (s.timestamp < this.nextUs - s.duration / 2) {
        this.pending.shift(); // before the position (or a duplicate)
        continue;
      }
      if (s.timestamp <= this.nextUs + s.duration / 2 || this.#gapExpired(s)) {
        this.pending.shift();
        this.gapSince = 0;
        this.nextUs = s.timestamp + s.duration;
        this.decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: s.timestamp, duration: s.duration, data: s.data }));
        continue;
      }
      // A hole: the missing audio may still be on its way (objects overtake each other).
      if (!this.pumpTimer) this.pumpTimer = setTimeout(() => ((this.pumpTimer = 0), this.#pump()), 50);
      break;
    }
  }

  #gapExpired(next) {
    const now = performance.now();
    if (!this.gapSince) this.gapSince = now;
    const spanAhead = this.pending.at(-1).timestamp - next.timestamp;
    return now - this.gapSince > AUDIO_GAP_WAIT_MS || spanAhead > 400e3;
  }

  #onAudio(data) {
    if (this.closed) return data.close();
    this.player.stats.audioFramesDecoded++;
    // A suspended context (no user gesture yet) would only pile the PCM up.
    if (this.output?.running) this.output.write(data);
    data.close();
  }

  close() {
    this.closed = true;
    clearTimeout(this.pumpTimer);
    this.pending = [];
    if (this.decoder.state !== 'closed') this.decoder.close();
  }
}

// ------------------------------------------------------------ the player

class Player {
  constructor(config, ui) {
    this.config = config;
    this.ui = ui;
    this.stats = {
      state: 'starting',
      videoFramesDecoded: 0,
      videoFramesRendered: 0,
      audioFramesDecoded: 0,
      videoObjects: 0,
      audioObjects: 0,
      droppedFrames: 0,
      skips: 0,
      stalls: 0,
      maxStallMs: 0,
      audioUnderruns: 0,
      firstFrameMs: null,
      reconnects: 0,
      width: 0,
      height: 0,
      latencyMs: null,
      bufferMs: 0,
      frameRate: 0,
      bitrate: 0,
      clock: 'none',
      error: null,
    };
    this.paused = false;
    this.muted = true;
    this.volume = 1;
    this.bytesMeter = new RateMeter();
    this.framesMeter = new RateMeter();
    this.media = null; // { session, video, audio, output, ... } while playing
    this.clock = new PlaybackClock();
    this.lastPresentWall = 0;
    this.played = false; // this session got as far as playing (resets the retry backoff)
    this.liveEdge = null; // newest media received: { us, at: performance.now() }
    this.render = this.render.bind(this);
    requestAnimationFrame(this.render);
    // rAF stops in background tabs; the stats and the latency policy keep going.
    setInterval(() => this.tick(), 250);
  }

  setState(state, message = '') {
    this.stats.state = state;
    this.ui.showMessage(message);
  }

  fail(error) {
    console.error(error);
    this.stats.error = String(error.message || error);
    this.media?.abort(error);
  }

  // ---- connection loop

  async run() {
    const url = `${this.config.relay}/${encodeURIComponent(this.config.name)}`;
    let retryMs = RETRY_MIN_MS;
    let target = url;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) this.stats.reconnects++;
      let retryNow = false;
      try {
        this.setState('connecting', `Connecting to ${this.config.name}…`);
        await this.playSession(target);
      } catch (e) {
        if (e instanceof CatalogChangedError) {
          retryNow = true;
        } else if (e instanceof GoawayError) {
          target = goawayTarget(e.url, this.config.name) || url;
          retryNow = true;
        } else if (e instanceof RelayUnreachableError) {
          this.setState('offline', `Cannot reach the relay (${e.message}). Retrying…`);
        } else if (e instanceof NotLiveError) {
          this.setState('offline', `“${this.config.name}” is not live yet. Retrying…`);
        } else if (e instanceof BroadcastEndedError) {
          this.setState('ended', `The broadcast has ended. Waiting for it to come back…`);
        } else {
          console.error(e);
          this.stats.error = String(e.message || e);
          this.setState('error', `${e.message || e}. Retrying…`);
        }
      } finally {
        this.teardown();
      }
      if (this.played) retryMs = RETRY_MIN_MS; // it worked for a while: start the backoff over
      this.played = false;
      if (!retryNow) {
        await sleep(retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
  }

  async playSession(url) {
    let session;
    try {
      session = await MoqSession.connect(url, { fingerprint: this.config.fingerprint });
    } catch (e) {
      throw new RelayUnreachableError(e.message || String(e));
    }
    let abort;
    const aborted = new Promise((_, reject) => (abort = reject));
    aborted.catch(() => {});
    this.media = { session, abort, video: null, audio: null, output: null };
    session.onGoaway = (u) => abort(new GoawayError(u));
    session.closed.then((e) => abort(e?.code === 0 ? new BroadcastEndedError('session closed') : new Error(`session closed: ${e?.message}`)));

    this.setState('waiting', `Waiting for “${this.config.name}”…`);
    const catalogSub = session.subscribe('.catalog');
    const catalogs = this.#follow(catalogSub, async (object) => JSON.parse(new TextDecoder().decode(await object.reader.readAll())));
    const catalog = await Promise.race([catalogs.next(), aborted, catalogSub.closed.then((e) => Promise.reject(endError(e)))]);
    this.catalog = catalog;
    catalogs.onNewer = (newer) => {
      this.catalog = newer;
      if (trackSignature(newer) !== trackSignature(catalog)) abort(new CatalogChangedError('catalog changed'));
    };

    // The init segment(s), shared by every track that names them.
    const entries = catalog.tracks.filter((t) => t.kind === 'video' || t.kind === 'audio');
    if (!entries.length) throw new Error('the catalog lists no audio or video track');
    const initNames = [...new Set(entries.map((t) => t.init_track))];
    const inits = new Map();
    for (const name of initNames) {
      const sub = session.subscribe(name);
      const object = await Promise.race([nextObject(sub), aborted]);
      inits.set(name, parseInit(await object.reader.readAll()));
    }

    const videoEntry = entries.find((t) => t.kind === 'video');
    const audioEntry = entries.find((t) => t.kind === 'audio');
    const initTrack = (entry) => {
      const init = inits.get(entry.init_track);
      const t = init.trackById.get(Number(entry.data_track)) || init.tracks.find((x) => x.kind === entry.kind);
      if (!t) throw new Error(`no track ${entry.data_track} in ${entry.init_track}`);
      return { init, track: t };
    };
    // One init per session in practice (1.mp4 holds every track); the
    // fragment parser needs the one with all tracks it will meet.
    this.init = inits.get((videoEntry || audioEntry).init_track);

    if (audioEntry) {
      const { track } = initTrack(audioEntry);
      track.channelCount = audioChannels(track) || audioEntry.channel_count || track.channelCount;
      const config = { codec: track.codec, sampleRate: track.sampleRate, numberOfChannels: track.channelCount };
      const supported = await AudioDecoder.isConfigSupported(config).then((r) => r.supported, () => false);
      if (supported) {
        try {
          this.media.output = await AudioOutput.create(track.sampleRate, Math.max(1, Math.min(track.channelCount, 2)));
          this.applyVolume();
        } catch (e) {
          console.warn(`no sound output (${e.message || e}); video plays on the wall clock`);
        }
        this.media.audio = new AudioTrack(this, track, this.media.output);
      } else {
        console.warn(`audio codec ${track.codec} is not supported by this browser; playing video only`);
      }
    }
    if (videoEntry) {
      const { track } = initTrack(videoEntry);
      const support = await VideoDecoder.isConfigSupported({ codec: track.codec, description: track.description || undefined });
      if (!support.supported) throw new Error(`video codec ${track.codec} is not supported by this browser`);
      this.media.video = new VideoTrack(this, track);
      this.stats.width = track.width;
      this.stats.height = track.height;
      this.media.trackInfo = describeTrack(track);
    } else if (this.media.audio) {
      // Audio only: start at the newest audio received, once some is here.
      this.#startAudioOnly();
    }

    const dataSubs = [];
    for (const [entry, player] of [
      [videoEntry, this.media.video],
      [audioEntry, this.media.audio],
    ]) {
      if (!entry || !player) continue;
      const sub = session.subscribe(entry.data_track);
      sub.onObject = (o) => player.addObject(o);
      dataSubs.push(sub);
    }
    this.setState('buffering', 'Loading…');
    // Runs until a data track ends (publisher gone), the session drops, or a
    // newer catalog changes the tracks.
    await Promise.race([aborted, ...dataSubs.map((s) => s.closed.then((e) => Promise.reject(endError(e))))]);
  }

  // Follows a track whose newest object wins (the catalog): next() gives the
  // first; later newer ones go to onNewer.
  #follow(sub, decode) {
    let newest = -1;
    let first;
    const firstPromise = new Promise((resolve, reject) => (first = { resolve, reject }));
    const result = { next: () => firstPromise, onNewer: null };
    sub.onObject = async (object) => {
      try {
        if (object.sequence <= newest) return object.cancel();
        const value = await decode(object);
        if (object.sequence <= newest) return;
        const isFirst = newest < 0;
        newest = object.sequence;
        if (isFirst) first.resolve(value);
        else result.onNewer?.(value);
      } catch (e) {
        first.reject(e);
      }
    };
    return result;
  }

  async #startAudioOnly() {
    const audio = this.media.audio;
    while (this.media?.audio === audio && !audio.pending.length) await sleep(50);
    await sleep(STARTUP_GRACE_MS);
    const newest = audio.pending.at(-1);
    if (this.media?.audio !== audio || !newest) return;
    this.startClock(newest.timestamp);
  }

  teardown() {
    const m = this.media;
    this.media = null;
    if (!m) return;
    m.video?.close();
    m.audio?.close();
    m.output?.close();
    try {
      m.session.close(CODE.closed, 'player leaving');
    } catch {}
    this.clock = new PlaybackClock();
    this.stats.clock = 'none';
    this.audioWaitSince = 0;
    // The next broadcast has its own timeline, and the wait for it is no stall.
    this.liveEdge = null;
    this.lastPresentWall = 0;
    this.stats.latencyMs = null;
    this.stats.bufferMs = 0;
  }

  // ---- clock control (called by the video track at keyframes)

  startClock(timestampUs) {
    const edge = this.liveEdgeNowUs();
    console.info(`starting at ${(timestampUs / 1e6).toFixed(3)} s, ${edge === null ? '?' : Math.round((edge - timestampUs) / 1000)} ms behind the newest media received`);
    const out = this.media?.output;
    if (out && out.running) {
      this.clock.startAudio(out, timestampUs);
      this.audioWaitSince = performance.now();
      this.stats.clock = 'audio';
    } else {
      // No audio prebuffer to absorb arrival jitter: hold the picture back
      // by as much (less what the keyframe's age gives already).
      const holdUs = Math.max(0, AUDIO_PREBUFFER_MS * 1000 - (edge === null ? 0 : edge - timestampUs));
      this.clock.startWall(timestampUs - holdUs);
      this.stats.clock = 'wall';
    }
    this.media?.audio?.start(timestampUs);
    this.played = true;
  }

  seekClock(timestampUs) {
    console.info(`skipping to ${(timestampUs / 1e6).toFixed(3)} s`);
    this.clock.seek(timestampUs);
    this.media?.audio?.seek(timestampUs - AUDIO_PREBUFFER_MS * 1000);
    if (this.clock.mode === 'audio') this.audioWaitSince = performance.now();
  }

  onBytes(n) {
    this.bytesMeter.add(n);
  }

  onMediaReceived(sample) {
    const end = sample.timestamp + sample.duration;
    if (!this.liveEdge || end > this.liveEdge.us) this.liveEdge = { us: end, at: performance.now() };
  }

  liveEdgeNowUs() {
    return this.liveEdge ? this.liveEdge.us + (performance.now() - this.liveEdge.at) * 1000 : null;
  }

  // ---- rendering

  render() {
    requestAnimationFrame(this.render);
    const video = this.media?.video;
    if (!video) return;
    const now = this.clock.nowUs();
    let frame = null;
    if (!this.clock.started || this.paused) {
      // Before the clock runs, show the first decoded picture as a poster.
      if (!this.stats.videoFramesRendered && video.peekFrame()) frame = video.frames.shift();
    } else {
      frame = video.takeFrameAt(now);
    }
    if (!frame) return;
    this.ui.draw(frame);
    frame.close();
    const wall = performance.now();
    if (this.stats.firstFrameMs === null) {
      this.stats.firstFrameMs = Math.round(wall - PAGE_START);
      this.setState('playing', '');
    } else if (this.lastPresentWall && !this.pausedDuringGap) {
      const gap = wall - this.lastPresentWall;
      if (gap > this.stats.maxStallMs) this.stats.maxStallMs = Math.round(gap);
      if (gap > STALL_THRESHOLD_MS) this.stats.stalls++;
    }
    this.pausedDuringGap = false;
    this.lastPresentWall = wall;
    this.stats.videoFramesRendered++;
    this.framesMeter.add(1, wall);
    if (this.stats.state !== 'playing' && !this.paused) this.setState('playing', '');
  }

  // 4 Hz: latency policy, audio health, stats.
  tick() {
    const m = this.media;
    const s = this.stats;
    s.frameRate = Math.round(this.framesMeter.perSecond() * 10) / 10;
    s.bitrate = Math.round(this.bytesMeter.perSecond() * 8);
    if (m?.output?.report) s.audioUnderruns = m.output.report.underruns;
    if (m && this.clock.started && !this.paused) {
      const now = this.clock.nowUs();
      const edge = this.liveEdgeNowUs();
      s.latencyMs = edge === null ? null : Math.round((edge - now) / 1000);
      s.bufferMs = Math.round(this.clock.mode === 'audio' ? m.output.bufferedMs : m.video ? m.video.queuedMs(now) : 0);
      // Behind the target with a newer keyframe to jump to: jump.
      const keyframe = m.video?.newestKeyframe();
      if (s.latencyMs > this.config.latencyMs && keyframe && keyframe.timestamp > now + 100e3 && !m.video.jumpRequested) m.video.skipTo(keyframe.segment);
      // Audio that does not get going (no sound device, say) must not hold
      // the picture: the wall clock takes over.
      if (this.clock.mode === 'audio' && !m.output.playing && m.output.report?.underruns === 0 && performance.now() - this.audioWaitSince > AUDIO_START_TIMEOUT_MS) {
        console.warn('audio did not start; presenting video on the wall clock');
        this.clock.startWall(now);
        s.clock = 'wall';
      }
      if (!m.video && s.state !== 'playing' && (this.clock.mode !== 'audio' || m.output.playing)) this.setState('playing', 'Audio only');
      // A long stall with the video still late: counted when it ends, but
      // shown now.
      if (this.stats.state === 'playing' && this.lastPresentWall && performance.now() - this.lastPresentWall > 1000) this.setState('buffering', 'Buffering…');
    }
    this.ui.updateStats(this);
  }

  // ---- controls

  togglePause() {
    this.paused = !this.paused;
    const m = this.media;
    if (this.paused) {
      this.clock.pause();
      m?.output?.context.suspend().catch(() => {});
      this.setState('paused', 'Paused');
    } else {
      this.pausedDuringGap = true;
      this.clock.resume();
      m?.output?.context.resume().catch(() => {});
      // Back to live: replay from the newest keyframe instead of the backlog.
      if (m?.video) m.video.jumpRequested = true;
      this.setState('playing', '');
    }
    this.ui.updateControls(this);
  }

  toggleMute() {
    this.muted = !this.muted;
    const out = this.media?.output;
    // The click is the user gesture that lets a suspended context start.
    if (out && !out.running) {
      out.context.resume().then(() => {
        if (this.clock.mode === 'wall' && out.running && this.media?.output === out) {
          const now = this.clock.nowUs();
          this.clock.startAudio(out, now);
          this.audioWaitSince = performance.now();
          this.stats.clock = 'audio';
        }
      });
    }
    this.applyVolume();
    this.ui.updateControls(this);
  }

  setVolume(v) {
    this.volume = v;
    if (v > 0 && this.muted) return this.toggleMute();
    this.applyVolume();
  }

  applyVolume() {
    this.media?.output?.setVolume(this.muted ? 0 : this.volume);
  }
}

class GoawayError extends Error {
  constructor(url) {
    super(`relay going away${url ? `; moving to ${url}` : ''}`);
    this.url = url;
  }
}

// GOAWAY names where to reconnect: a broadcast URL, or a relay's base URL
// (then the broadcast name goes on it). Anything else: stay with the current relay.
function goawayTarget(url, name) {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:') return null;
    if (u.pathname === '/' || u.pathname === '') u.pathname = `/${encodeURIComponent(name)}`;
    return u.toString();
  } catch {
    return null;
  }
}

// A subscription that ended: 404 = not live, 0 = ended, other = an error.
function endError(e) {
  if (e?.code === CODE.notFound) return new NotLiveError(e.reason);
  if (e?.code === CODE.closed) return new BroadcastEndedError(e.reason);
  return e instanceof Error ? e : new Error(String(e));
}

function nextObject(sub) {
  return new Promise((resolve, reject) => {
    sub.onObject = resolve;
    sub.closed.then((e) => reject(endError(e)));
  });
}

function trackSignature(catalog) {
  return JSON.stringify((catalog.tracks || []).map((t) => [t.kind, t.init_track, t.data_track, t.codec]));
}

// Channel count from the AudioSpecificConfig (the sample entry often says 2
// for mono AAC); null when it is not AAC or not stated there.
function audioChannels(track) {
  const asc = track.description;
  if (!track.codec.startsWith('mp4a') || !asc || asc.length < 2) return null;
  // 5 bits object type, 4 bits frequency index (15: 24 more bits of explicit
  // frequency follow), then 4 bits channel configuration.
  const freqIndex = ((asc[0] & 0x07) << 1) | (asc[1] >> 7);
  const channelConfig = freqIndex === 15 ? (asc.length > 4 ? (asc[4] >> 3) & 0x0f : 0) : (asc[1] >> 3) & 0x0f;
  return channelConfig >= 1 && channelConfig <= 7 ? (channelConfig === 7 ? 8 : channelConfig) : null;
}

// ------------------------------------------------------------ UI

class PlayerUI {
  constructor(root) {
    this.root = root;
    this.canvas = root.querySelector('#video');
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.message = root.querySelector('#message');
    this.statsPanel = root.querySelector('#stats');
    this.playButton = root.querySelector('#play');
    this.muteButton = root.querySelector('#mute');
    this.volumeSlider = root.querySelector('#volume');
    this.statsButton = root.querySelector('#stats-toggle');
    this.fullscreenButton = root.querySelector('#fullscreen');
    this.liveBadge = root.querySelector('#live');
  }

  bind(player) {
    this.playButton.onclick = () => player.togglePause();
    this.muteButton.onclick = () => player.toggleMute();
    this.volumeSlider.oninput = () => player.setVolume(Number(this.volumeSlider.value));
    this.statsButton.onclick = () => this.toggleStats();
    this.fullscreenButton.onclick = () => this.toggleFullscreen();
    this.canvas.ondblclick = () => this.toggleFullscreen();
    document.addEventListener('keydown', (e) => {
      if (e.target instanceof HTMLInputElement) return;
      if (e.key === ' ' || e.key === 'k') player.togglePause();
      else if (e.key === 'm') player.toggleMute();
      else if (e.key === 'f') this.toggleFullscreen();
      else if (e.key === 's' || e.key === 'i') this.toggleStats();
      else return;
      e.preventDefault();
    });
    this.updateControls(player);
  }

  draw(frame) {
    const w = frame.displayWidth;
    const h = frame.displayHeight;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.ctx.drawImage(frame, 0, 0, w, h);
    this.lastSize = [w, h];
  }

  showMessage(text) {
    this.message.textContent = text;
    this.message.hidden = !text;
  }

  toggleStats() {
    this.statsPanel.hidden = !this.statsPanel.hidden;
    this.statsButton.setAttribute('aria-pressed', String(!this.statsPanel.hidden));
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else this.root.requestFullscreen?.().catch(() => {});
  }

  updateControls(player) {
    this.playButton.textContent = player.paused ? 'Play' : 'Pause';
    this.muteButton.textContent = player.muted ? 'Unmute' : 'Mute';
    this.muteButton.classList.toggle('attention', player.muted);
    this.volumeSlider.value = String(player.volume);
  }

  updateStats(player) {
    const s = player.stats;
    if (this.lastSize) [s.width, s.height] = this.lastSize;
    const live = s.state === 'playing' && s.latencyMs !== null && s.latencyMs < player.config.latencyMs * 1.5;
    this.liveBadge.classList.toggle('behind', !live);
    if (this.statsPanel.hidden) return;
    const m = player.media;
    const rows = [
      ['state', s.state],
      ['broadcast', player.config.name],
      ['latency (behind live)', s.latencyMs === null ? '–' : `${s.latencyMs} ms (target ${player.config.latencyMs})`],
      ['buffer', `${s.bufferMs} ms`],
      ['video', m?.trackInfo || '–'],
      ['resolution', s.width ? `${s.width}×${s.height}` : '–'],
      ['frame rate', `${s.frameRate} fps`],
      ['bitrate', `${(s.bitrate / 1e6).toFixed(2)} Mbit/s`],
      ['frames decoded / shown', `${s.videoFramesDecoded} / ${s.videoFramesRendered}`],
      ['frames dropped', s.droppedFrames],
      ['audio frames decoded', s.audioFramesDecoded],
      ['objects video / audio', `${s.videoObjects} / ${s.audioObjects}`],
      ['clock', s.clock],
      ['stalls (longest)', `${s.stalls} (${s.maxStallMs} ms)`],
      ['audio underruns', s.audioUnderruns],
      ['skips to live', s.skips],
      ['reconnects', s.reconnects],
    ];
    if (s.error) rows.push(['last error', s.error]);
    this.statsPanel.textContent = rows.map(([k, v]) => `${k.padEnd(24)} ${v}`).join('\n');
  }
}

// ------------------------------------------------------------ start

const root = document.getElementById('player');
const ui = new PlayerUI(root);
try {
  if (!('WebTransport' in window)) throw new Error('this browser has no WebTransport');
  if (!('VideoDecoder' in window) || !('AudioDecoder' in window)) throw new Error('this browser has no WebCodecs');
  const config = readConfig();
  document.title = `${config.name} – live`;
  document.getElementById('title').textContent = config.name;
  const player = new Player(config, ui);
  ui.bind(player);
  window.moqPlayer = player;
  player.run();
} catch (e) {
  ui.showMessage(`Cannot play: ${e.message || e}`);
  window.moqPlayer = { stats: { state: 'error', error: String(e.message || e) } };
}
