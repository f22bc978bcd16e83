// A small Media over QUIC client for the browser, version KIXEL_00 (0xbad00)
// over WebTransport: see the project's spec moq-transport.md.
//
// Layers, bottom up, each usable alone:
//   - ByteWriter / StreamReader: QUIC varints, strings, i32 over bytes/streams
//   - encodeMessage / readMessage: every control message, both directions
//   - readObjectHeader / encodeObjectHeader: the OBJECT stream header
//   - PublishedTrack / OutgoingSegment: what a publisher offers, kept so that
//     a late subscription still gets the current segment from its start
//   - MoqSession: connect, SETUP, then either half:
//       subscriber: SUBSCRIBE, incoming OBJECT streams
//       publisher: answers SUBSCRIBE from its tracks, writes OBJECT streams,
//                  honours SUBSCRIBE_STOP

export const VERSION_KIXEL_00 = 0xbad00;
export const ROLE = Object.freeze({ publisher: 0, subscriber: 1, both: 2 });

export const MESSAGE = Object.freeze({
  OBJECT: 0x0,
  CLIENT_SETUP: 0x1,
  SERVER_SETUP: 0x2,
  SUBSCRIBE: 0x3,
  SUBSCRIBE_OK: 0x4,
  SUBSCRIBE_RESET: 0x5,
  ANNOUNCE: 0x6,
  ANNOUNCE_OK: 0x7,
  ANNOUNCE_RESET: 0x8,
  GOAWAY: 0x10,
  SUBSCRIBE_STOP: 0x15,
  ANNOUNCE_STOP: 0x18,
});

export const CODE = Object.freeze({
  closed: 0,
  stop: 206,
  notFound: 404,
  roleViolation: 405,
  unsupported: 406,
  duplicate: 409,
  internal: 500,
});

const MAX_STRING_BYTES = 64 * 1024; // never trust a peer's length
const MAX_VARINT = 2 ** 53 - 1; // exact in a JavaScript Number; plenty for ids and sequences

export class MoqError extends Error {
  constructor(code, reason) {
    super(`${reason} (code ${code})`);
    this.code = code;
    this.reason = reason;
  }
}

// ------------------------------------------------------------ encoding

export class ByteWriter {
  constructor() {
    this.bytes = new Uint8Array(64);
    this.length = 0;
  }

  #reserve(n) {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  // Minimal QUIC varint encoding (RFC 9000 §16).
  varint(v) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_VARINT) throw new RangeError(`varint out of range: ${v}`);
    if (v < 0x40) {
      this.#reserve(1);
      this.bytes[this.length++] = v;
    } else if (v < 0x4000) {
      this.#reserve(2);
      this.bytes[this.length++] = 0x40 | (v >> 8);
      this.bytes[this.length++] = v & 0xff;
    } else if (v < 0x40000000) {
      this.#reserve(4);
      new DataView(this.bytes.buffer).setUint32(this.length, (v | 0x80000000) >>> 0);
      this.length += 4;
    } else {
      this.#reserve(8);
      const view = new DataView(this.bytes.buffer);
      view.setUint32(this.length, (Math.floor(v / 2 ** 32) | 0xc0000000) >>> 0);
      view.setUint32(this.length + 4, v >>> 0);
      this.length += 8;
    }
    return this;
  }

  i32(v) {
    this.#reserve(4);
    new DataView(this.bytes.buffer).setInt32(this.length, v);
    this.length += 4;
    return this;
  }

  raw(bytes) {
    this.#reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  string(s) {
    const b = new TextEncoder().encode(s);
    return this.varint(b.length).raw(b);
  }

  finish() {
    return this.bytes.slice(0, this.length);
  }
}

export function encodeVarint(v) {
  return new ByteWriter().varint(v).finish();
}

// Incremental reader over a ReadableStream of Uint8Array chunks.
export class StreamReader {
  constructor(readable) {
    this.reader = readable.getReader();
    this.buffer = new Uint8Array(0);
    this.offset = 0; // start of unread bytes in buffer
    this.ended = false;
  }

  get available() {
    return this.buffer.length - this.offset;
  }

  async #fill() {
    if (this.ended) return false;
    const { value, done } = await this.reader.read();
    if (done) {
      this.ended = true;
      return false;
    }
    if (this.available === 0) {
      this.buffer = value;
    } else {
      const joined = new Uint8Array(this.available + value.length);
      joined.set(this.buffer.subarray(this.offset));
      joined.set(value, this.available);
      this.buffer = joined;
    }
    this.offset = 0;
    return true;
  }

  async #need(n) {
    while (this.available < n) {
      if (!(await this.#fill())) throw new MoqError(CODE.internal, 'stream ended in the middle of a message');
    }
  }

  #take(n) {
    const out = this.buffer.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  // True at a clean end of stream (no partial message pending).
  async done() {
    return this.available === 0 && !(await this.#fill());
  }

  async varint() {
    await this.#need(1);
    const length = 1 << (this.buffer[this.offset] >> 6);
    await this.#need(length);
    const b = this.#take(length);
    let v = b[0] & 0x3f;
    for (let i = 1; i < length; i++) v = v * 256 + b[i];
    if (v > MAX_VARINT) throw new MoqError(CODE.internal, 'varint too large for this client');
    return v;
  }

  async i32() {
    await this.#need(4);
    const b = this.#take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0);
  }

  async bytes(n) {
    await this.#need(n);
    return this.#take(n).slice();
  }

  async string() {
    const n = await this.varint();
    if (n > MAX_STRING_BYTES) throw new MoqError(CODE.internal, `string of ${n} bytes refused`);
    return new TextDecoder().decode(await this.bytes(n));
  }

  // The next chunk of whatever comes (buffered bytes first); null at the end.
  async chunk() {
    if (this.available > 0) return this.#take(this.available);
    if (!(await this.#fill())) return null;
    return this.#take(this.available);
  }

  async readAll() {
    const parts = [];
    let total = 0;
    for (let c; (c = await this.chunk()); ) parts.push(c), (total += c.length);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) out.set(p, at), (at += p.length);
    return out;
  }

  cancel(reason) {
    this.ended = true;
    return this.reader.cancel(reason).catch(() => {});
  }
}

// ------------------------------------------------------------ messages

// A message is a plain object { type: MESSAGE.X, ...fields } with the field
// names of the spec's table.
export function encodeMessage(msg) {
  const w = new ByteWriter().varint(msg.type);
  switch (msg.type) {
    case MESSAGE.CLIENT_SETUP:
      w.varint(msg.versions.length);
      for (const v of msg.versions) w.varint(v);
      return w.varint(msg.role).finish();
    case MESSAGE.SERVER_SETUP:
      return w.varint(msg.version).varint(msg.role).finish();
    case MESSAGE.SUBSCRIBE:
      return w.varint(msg.id).string(msg.namespace).string(msg.name).finish();
    case MESSAGE.SUBSCRIBE_OK:
    case MESSAGE.SUBSCRIBE_STOP:
      return w.varint(msg.id).finish();
    case MESSAGE.SUBSCRIBE_RESET:
      return w.varint(msg.id).varint(msg.code).string(msg.reason).finish();
    case MESSAGE.ANNOUNCE:
    case MESSAGE.ANNOUNCE_OK:
    case MESSAGE.ANNOUNCE_STOP:
      return w.string(msg.namespace).finish();
    case MESSAGE.ANNOUNCE_RESET:
      return w.string(msg.namespace).varint(msg.code).string(msg.reason).finish();
    case MESSAGE.GOAWAY:
      return w.string(msg.url).finish();
    default:
      throw new Error(`cannot encode message type ${msg.type}`);
  }
}

// Reads one control message (SETUP included). An unknown type is fatal.
export async function readMessage(r) {
  const type = await r.varint();
  switch (type) {
    case MESSAGE.CLIENT_SETUP: {
      const count = await r.varint();
      if (count > 64) throw new MoqError(CODE.internal, 'too many versions in CLIENT_SETUP');
      const versions = [];
      for (let i = 0; i < count; i++) versions.push(await r.varint());
      return { type, versions, role: await r.varint() };
    }
    case MESSAGE.SERVER_SETUP:
      return { type, version: await r.varint(), role: await r.varint() };
    case MESSAGE.SUBSCRIBE:
      return { type, id: await r.varint(), namespace: await r.string(), name: await r.string() };
    case MESSAGE.SUBSCRIBE_OK:
    case MESSAGE.SUBSCRIBE_STOP:
      return { type, id: await r.varint() };
    case MESSAGE.SUBSCRIBE_RESET:
      return { type, id: await r.varint(), code: await r.varint(), reason: await r.string() };
    case MESSAGE.ANNOUNCE:
    case MESSAGE.ANNOUNCE_OK:
    case MESSAGE.ANNOUNCE_STOP:
      return { type, namespace: await r.string() };
    case MESSAGE.ANNOUNCE_RESET:
      return { type, namespace: await r.string(), code: await r.varint(), reason: await r.string() };
    case MESSAGE.GOAWAY:
      return { type, url: await r.string() };
    default:
      throw new MoqError(CODE.internal, `unknown control message type 0x${type.toString(16)}`);
  }
}

export function encodeObjectHeader({ track, sequence, priority, expires }) {
  return new ByteWriter().varint(MESSAGE.OBJECT).varint(track).varint(sequence).i32(priority).varint(expires).finish();
}

export async function readObjectHeader(r) {
  const type = await r.varint();
  if (type !== MESSAGE.OBJECT) throw new MoqError(CODE.internal, `data stream starts with type ${type}, not OBJECT`);
  return { track: await r.varint(), sequence: await r.varint(), priority: await r.i32(), expires: await r.varint() };
}

export function hexToBytes(hex) {
  const clean = hex.replace(/[^0-9a-fA-F]/g, '');
  if (clean.length % 2) throw new Error('odd-length hex string');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

// ------------------------------------------------------------ publishing

// The largest i32: the priority of segments that must always go first
// (catalog, init) in the ecosystem's conventions.
export const PRIORITY_MAX = 0x7fffffff;

// One segment (object) being produced: bytes are appended in chunks, as they
// are made; every reader gets them all from the start, however late it comes,
// without copying them per reader.
export class OutgoingSegment {
  constructor(sequence, priority, expires) {
    this.sequence = sequence;
    this.priority = priority;
    this.expires = expires; // seconds, 0 = never
    this.chunks = []; // { bytes, onFirstSent }
    this.finished = false;
    this.finishedAt = 0; // performance.now() when finished
    this.waiters = [];
  }

  // onFirstSent: called once, when this chunk has been written whole to some
  // subscriber's stream (how a publisher counts "frames sent").
  append(bytes, onFirstSent = null) {
    if (this.finished) throw new Error(`segment ${this.sequence} is already finished`);
    this.chunks.push({ bytes, onFirstSent });
    this.#wake();
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    this.finishedAt = performance.now();
    this.#wake();
  }

  #wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  // Every chunk from the first, then each new one as it is appended, until finish().
  async *chunksFromStart() {
    for (let i = 0; ; ) {
      while (i < this.chunks.length) yield this.chunks[i++];
      if (this.finished) return;
      await new Promise((resolve) => this.waiters.push(resolve));
    }
  }

  // A reader this far behind a finished segment would only deliver what its
  // expiry has already dropped from every cache: it gives up instead.
  get stale() {
    return this.finished && this.expires > 0 && performance.now() - this.finishedAt > this.expires * 1000;
  }
}

// A track offered by a publisher. It keeps its newest segment (open or
// finished): the relay subscribes when its first viewer asks, and that viewer
// needs the current segment whole (it starts at a keyframe), then every later
// one live. A track with a single segment (catalog, init) thereby keeps it.
export class PublishedTrack {
  constructor(name) {
    this.name = name;
    this.nextSequence = 0;
    this.current = null;
    this.followers = new Set();
  }

  // Finishes the current segment and starts the next one.
  beginSegment({ priority, expires, sequence = this.nextSequence }) {
    this.current?.finish();
    const segment = new OutgoingSegment(sequence, priority, expires);
    this.nextSequence = sequence + 1;
    this.current = segment;
    for (const follower of this.followers) follower(segment);
    return segment;
  }

  // The whole track in one segment (catalog, init): sent first, kept forever.
  publishSingle(bytes) {
    const segment = this.beginSegment({ priority: PRIORITY_MAX, expires: 0, sequence: 0 });
    segment.append(bytes);
    segment.finish();
  }

  finish() {
    this.current?.finish();
  }

  // onSegment(segment) for the current segment now, then every new one.
  // Returns the function that stops following.
  follow(onSegment) {
    if (this.current) onSegment(this.current);
    this.followers.add(onSegment);
    return () => this.followers.delete(onSegment);
  }
}

// The publisher's side of one SUBSCRIBE: each segment of the track goes out on
// a unidirectional stream of its own, newer segments before older ones
// (sendOrder = priority, where the browser supports it).
class ServedSubscription {
  constructor(session, id, track) {
    this.session = session;
    this.id = id;
    this.track = track;
    this.active = true;
    this.writers = new Set();
    this.sending = new Set(); // promises of the segments being sent
    this.unfollow = track.follow((segment) => {
      const sending = this.#sendSegment(segment).catch((e) => {
        // One failed object is not the end of the subscription: the
        // subscriber may have stopped that stream on purpose (too old).
        if (this.active && !this.session.closedWith) console.warn(`track ${track.name} segment ${segment.sequence}: ${e.message || e}`);
      });
      this.sending.add(sending);
      sending.finally(() => this.sending.delete(sending));
    });
  }

  // Resolves once every segment begun so far has been sent whole (the track's
  // producer finishes its segments first).
  async drain() {
    this.unfollow();
    await Promise.all([...this.sending]);
  }

  async #sendSegment(segment) {
    if (!this.active) return;
    const stream = await this.session.transport.createUnidirectionalStream({ sendOrder: segment.priority });
    const writer = stream.getWriter();
    this.writers.add(writer);
    try {
      const header = encodeObjectHeader({
        track: this.id,
        sequence: segment.sequence,
        priority: segment.priority,
        expires: segment.expires,
      });
      await writer.write(header);
      this.session.countSent(header.length, false);
      for await (const chunk of segment.chunksFromStart()) {
        if (!this.active) return;
        if (segment.stale) throw new MoqError(CODE.internal, 'expired before it could be sent');
        await writer.write(chunk.bytes);
        this.session.countSent(chunk.bytes.length, false);
        if (chunk.onFirstSent) {
          const notify = chunk.onFirstSent;
          chunk.onFirstSent = null;
          notify();
        }
      }
      if (!this.active) return;
      await writer.close();
      this.session.countSent(0, true);
    } catch (e) {
      writer.abort(e).catch(() => {});
      throw e;
    } finally {
      this.writers.delete(writer);
    }
  }

  // Stops sending: open object streams are reset, no new ones are opened.
  stop() {
    if (!this.active) return;
    this.active = false;
    this.unfollow();
    for (const writer of this.writers) writer.abort(new MoqError(CODE.stop, 'stopped')).catch(() => {});
    this.writers.clear();
  }
}

// ------------------------------------------------------------ session

// One received OBJECT: header fields plus `reader`, a StreamReader positioned
// at the payload (read it in chunks as it arrives, or readAll()).
// cancel() abandons it (the sender sees the stream stopped).
class IncomingObject {
  constructor(header, reader) {
    Object.assign(this, header);
    this.reader = reader;
  }

  cancel() {
    return this.reader.cancel('not wanted');
  }
}

// A track subscription. `ready` resolves on SUBSCRIBE_OK and rejects with a
// MoqError on SUBSCRIBE_RESET. Objects are delivered to the onObject callback
// (set it before or right after subscribe(): objects may overtake
// SUBSCRIBE_OK, and those are queued until a callback exists). `closed`
// resolves with the MoqError that ended it (code 0 = clean end).
export class Subscription {
  constructor(session, id, name) {
    this.session = session;
    this.id = id;
    this.name = name;
    this.active = true;
    this.queued = [];
    this.onObjectCallback = null;
    this.ready = new Promise((resolve, reject) => ((this.resolveReady = resolve), (this.rejectReady = reject)));
    this.ready.catch(() => {}); // also reported through `closed`
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  set onObject(fn) {
    this.onObjectCallback = fn;
    for (const o of this.queued.splice(0)) fn(o);
  }

  deliver(object) {
    if (this.onObjectCallback) this.onObjectCallback(object);
    else this.queued.push(object);
  }

  end(error) {
    if (!this.active) return;
    this.active = false;
    this.rejectReady(error);
    this.resolveClosed(error);
    for (const o of this.queued.splice(0)) o.cancel();
  }

  // SUBSCRIBE_STOP: the publisher stops and answers SUBSCRIBE_RESET 206.
  async stop() {
    if (!this.active) return;
    await this.session.send({ type: MESSAGE.SUBSCRIBE_STOP, id: this.id }).catch(() => {});
    this.end(new MoqError(CODE.stop, 'stopped'));
  }
}

export class MoqSession {
  // connect(url, { fingerprint: hex SHA-256 of a self-signed cert, role, ... })
  // A publisher also passes `tracks` (a Map name -> PublishedTrack: what it
  // answers SUBSCRIBE with; anything else gets SUBSCRIBE_RESET 404) and may
  // pass onSent({ bytes, objects }) to count what leaves.
  static async connect(url, { fingerprint = null, role = ROLE.subscriber, timeoutMs = 10000, tracks = null, onSent = null } = {}) {
    const options = {};
    if (fingerprint) options.serverCertificateHashes = [{ algorithm: 'sha-256', value: hexToBytes(fingerprint) }];
    const transport = new WebTransport(url, options);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new MoqError(CODE.internal, `no answer from ${url} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([transport.ready, timeout]);
      const control = await transport.createBidirectionalStream();
      const session = new MoqSession(transport, control, role);
      session.tracks = tracks || new Map();
      session.onSent = onSent;
      const setupSent = performance.now();
      await session.send({ type: MESSAGE.CLIENT_SETUP, versions: [VERSION_KIXEL_00], role });
      const setup = await Promise.race([readMessage(session.controlReader), timeout]);
      // One application-level round trip: the only RTT figure where the
      // browser has no WebTransport getStats().
      session.setupRttMs = performance.now() - setupSent;
      if (setup.type !== MESSAGE.SERVER_SETUP) throw new MoqError(CODE.internal, `expected SERVER_SETUP, got type ${setup.type}`);
      if (setup.version !== VERSION_KIXEL_00) throw new MoqError(CODE.unsupported, `server chose version 0x${setup.version.toString(16)}`);
      session.serverRole = setup.role;
      session.#run();
      return session;
    } catch (e) {
      try {
        transport.close({ closeCode: CODE.internal, reason: 'setup failed' });
      } catch {}
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  constructor(transport, control, role) {
    this.transport = transport;
    this.role = role;
    this.controlWriter = control.writable.getWriter();
    this.controlReader = new StreamReader(control.readable);
    this.subscriptions = new Map(); // id -> Subscription (subscriber half)
    this.tracks = new Map(); // name -> PublishedTrack (publisher half)
    this.served = new Map(); // SUBSCRIBE id -> ServedSubscription (publisher half)
    this.onSent = null;
    this.nextSubscribeId = 0;
    this.onGoaway = null; // (url) => void
    this.closedWith = null;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  send(msg) {
    return this.controlWriter.write(encodeMessage(msg));
  }

  subscribe(name, namespace = '') {
    const id = this.nextSubscribeId++;
    const sub = new Subscription(this, id, name);
    this.subscriptions.set(id, sub);
    sub.closed.then(() => this.subscriptions.delete(id));
    this.send({ type: MESSAGE.SUBSCRIBE, id, namespace, name }).catch((e) => sub.end(toMoqError(e)));
    return sub;
  }

  get publishes() {
    return this.role === ROLE.publisher || this.role === ROLE.both;
  }

  get subscribes() {
    return this.role === ROLE.subscriber || this.role === ROLE.both;
  }

  countSent(bytes, objectFinished) {
    this.onSent?.({ bytes, objects: objectFinished ? 1 : 0 });
  }

  // The publisher ends every subscription it serves (code 0: clean end of
  // track), e.g. before closing the session when the broadcast stops. Objects
  // in flight get up to drainMs to finish (their segments must be finished by
  // then), so that subscribers see whole segments and then the end, not resets.
  async endServedSubscriptions(code = CODE.closed, reason = 'end of track', drainMs = 1000) {
    const ids = [...this.served.keys()];
    const drained = Promise.all(ids.map((id) => this.served.get(id)?.drain()));
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, drainMs))]);
    for (const id of ids) this.served.get(id)?.stop();
    this.served.clear();
    await Promise.all(ids.map((id) => this.send({ type: MESSAGE.SUBSCRIBE_RESET, id, code, reason }).catch(() => {})));
  }

  close(code = CODE.closed, reason = 'bye') {
    this.#finish(new MoqError(code, reason));
    try {
      this.transport.close({ closeCode: code, reason });
    } catch {}
  }

  #finish(error) {
    if (this.closedWith) return;
    this.closedWith = error;
    for (const sub of this.subscriptions.values()) sub.end(error);
    for (const served of this.served.values()) served.stop();
    this.served.clear();
    this.resolveClosed(error);
  }

  #run() {
    this.#controlLoop().catch((e) => this.#fail(e));
    this.#objectLoop().catch((e) => this.#fail(e));
    this.transport.closed.then(
      (info) => this.#finish(new MoqError(info?.closeCode ?? 0, info?.reason || 'session closed')),
      (e) => this.#finish(toMoqError(e)),
    );
  }

  #fail(e) {
    if (this.closedWith) return;
    const err = toMoqError(e);
    this.close(err.code || CODE.internal, err.reason || String(e));
    this.closedWith = err;
  }

  async #controlLoop() {
    for (;;) {
      if (await this.controlReader.done()) throw new MoqError(CODE.closed, 'control stream ended');
      const msg = await readMessage(this.controlReader);
      const forSubscriber = msg.type === MESSAGE.SUBSCRIBE_OK || msg.type === MESSAGE.SUBSCRIBE_RESET;
      const forPublisher = msg.type === MESSAGE.SUBSCRIBE || msg.type === MESSAGE.SUBSCRIBE_STOP;
      if ((forSubscriber && !this.subscribes) || (forPublisher && !this.publishes)) {
        throw new MoqError(CODE.roleViolation, `message type 0x${msg.type.toString(16)} sent to a session whose role does not take it`);
      }
      switch (msg.type) {
        case MESSAGE.SUBSCRIBE_OK:
          this.subscriptions.get(msg.id)?.resolveReady();
          break;
        case MESSAGE.SUBSCRIBE_RESET:
          this.subscriptions.get(msg.id)?.end(new MoqError(msg.code, msg.reason));
          break;
        case MESSAGE.SUBSCRIBE:
          await this.#serveSubscribe(msg);
          break;
        case MESSAGE.SUBSCRIBE_STOP: {
          const served = this.served.get(msg.id);
          if (!served) break; // already ended on our side: nothing to answer
          served.stop();
          this.served.delete(msg.id);
          await this.send({ type: MESSAGE.SUBSCRIBE_RESET, id: msg.id, code: CODE.stop, reason: 'stop' });
          break;
        }
        case MESSAGE.GOAWAY:
          this.onGoaway?.(msg.url);
          break;
        default:
          // ANNOUNCE* is not used in this ecosystem (the session's path names
          // the broadcast): refuse rather than silently ignore.
          throw new MoqError(CODE.roleViolation, `unexpected message type 0x${msg.type.toString(16)}`);
      }
    }
  }

  // SUBSCRIBE_OK and the stream of segments, or SUBSCRIBE_RESET 404 for a
  // track we do not have (the relay passes every viewer's wish on as is).
  async #serveSubscribe({ id, namespace, name }) {
    if (this.served.has(id)) {
      await this.send({ type: MESSAGE.SUBSCRIBE_RESET, id, code: CODE.duplicate, reason: 'subscribe id in use' });
      return;
    }
    const track = namespace === '' ? this.tracks.get(name) : undefined;
    if (!track) {
      await this.send({ type: MESSAGE.SUBSCRIBE_RESET, id, code: CODE.notFound, reason: `no track ${JSON.stringify(name)}` });
      return;
    }
    // SUBSCRIBE_OK first: an object stream overtaking it is allowed, but there
    // is no reason to make the subscriber queue.
    await this.send({ type: MESSAGE.SUBSCRIBE_OK, id });
    if (this.closedWith) return;
    this.served.set(id, new ServedSubscription(this, id, track));
  }

  async #objectLoop() {
    const streams = this.transport.incomingUnidirectionalStreams.getReader();
    for (;;) {
      const { value: stream, done } = await streams.read();
      if (done) return;
      this.#acceptObject(stream).catch(() => {}); // one bad stream is not fatal
    }
  }

  async #acceptObject(stream) {
    const reader = new StreamReader(stream);
    const header = await readObjectHeader(reader);
    const sub = this.subscriptions.get(header.track);
    if (!sub || !sub.active) {
      await reader.cancel('unknown track');
      return;
    }
    sub.deliver(new IncomingObject(header, reader));
  }
}

function toMoqError(e) {
  if (e instanceof MoqError) return e;
  // WebTransportError: streamErrorCode / source; anything else: a transport failure.
  return new MoqError(e?.streamErrorCode ?? 503, e?.message || String(e));
}
