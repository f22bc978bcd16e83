// A small Media over QUIC client for the browser, version KIXEL_00 (0xbad00)
// over WebTransport: see the project's spec moq-transport.md.
//
// Layers, bottom up, each usable alone (a publish page will reuse the first
// three and add the publisher half of MoqSession):
//   - ByteWriter / StreamReader: QUIC varints, strings, i32 over bytes/streams
//   - encodeMessage / readMessage: every control message, both directions
//   - readObjectHeader / encodeObjectHeader: the OBJECT stream header
//   - MoqSession: connect, SETUP, SUBSCRIBE, incoming OBJECT streams, close

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
  // connect(url, { fingerprint: hex SHA-256 of a self-signed cert, role })
  static async connect(url, { fingerprint = null, role = ROLE.subscriber, timeoutMs = 10000 } = {}) {
    const options = {};
    if (fingerprint) options.serverCertificateHashes = [{ algorithm: 'sha-256', value: hexToBytes(fingerprint) }];
    const transport = new WebTransport(url, options);
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new MoqError(CODE.internal, `no answer from ${url} within ${timeoutMs} ms`)), timeoutMs),
    );
    try {
      await Promise.race([transport.ready, timeout]);
      const control = await transport.createBidirectionalStream();
      const session = new MoqSession(transport, control, role);
      await session.send({ type: MESSAGE.CLIENT_SETUP, versions: [VERSION_KIXEL_00], role });
      const setup = await Promise.race([readMessage(session.controlReader), timeout]);
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
    }
  }

  constructor(transport, control, role) {
    this.transport = transport;
    this.role = role;
    this.controlWriter = control.writable.getWriter();
    this.controlReader = new StreamReader(control.readable);
    this.subscriptions = new Map(); // id -> Subscription
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
      switch (msg.type) {
        case MESSAGE.SUBSCRIBE_OK:
          this.subscriptions.get(msg.id)?.resolveReady();
          break;
        case MESSAGE.SUBSCRIBE_RESET:
          this.subscriptions.get(msg.id)?.end(new MoqError(msg.code, msg.reason));
          break;
        case MESSAGE.GOAWAY:
          this.onGoaway?.(msg.url);
          break;
        default:
          // SUBSCRIBE/ANNOUNCE* are for a publishing session; a subscriber
          // receiving them is a role violation.
          throw new MoqError(CODE.roleViolation, `unexpected message type 0x${msg.type.toString(16)} for a subscriber`);
      }
    }
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
