// The publisher half of web/moq.js, in Node with a stand-in WebTransport
// (the relay never sends SUBSCRIBE_STOP, so the browser tests cannot reach
// that path): SUBSCRIBE -> SUBSCRIBE_OK and the current segment from its
// start, then live ones; unknown track or namespace -> 404; SUBSCRIBE_STOP ->
// streams reset, SUBSCRIBE_RESET 206; ending -> whole segments, then RESET 0.
//   node --test tests/browser/moq_publisher_test.mjs

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  MoqSession, PublishedTrack, ROLE, MESSAGE, CODE, VERSION_KIXEL_00,
  StreamReader, encodeMessage, readMessage, readObjectHeader,
} from '../../web/moq.js';

// A WebTransport whose far end is the test: `peer` writes to and reads from
// the control stream; every unidirectional stream the client opens is kept
// with the bytes written to it.
class FakeWebTransport {
  constructor() {
    const toClient = new TransformStream();
    const toPeer = new TransformStream();
    this.peer = { writer: toClient.writable.getWriter(), reader: new StreamReader(toPeer.readable) };
    this.control = { readable: toClient.readable, writable: toPeer.writable };
    this.ready = Promise.resolve();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.incomingUnidirectionalStreams = new ReadableStream(); // a publisher gets none
    this.objects = []; // { options, chunks: [], closed, aborted }
    this.objectWaiters = [];
    FakeWebTransport.last = this;
  }
  async createBidirectionalStream() {
    return this.control;
  }
  async createUnidirectionalStream(options) {
    const object = { options, chunks: [], closed: false, aborted: null };
    this.objects.push(object);
    return new WritableStream({
      write: (chunk) => {
        object.chunks.push(chunk.slice());
        this.#wake();
      },
      close: () => {
        object.closed = true;
        this.#wake();
      },
      abort: (reason) => {
        object.aborted = reason;
        this.#wake();
      },
    });
  }
  #wake() {
    for (const w of this.objectWaiters.splice(0)) w();
  }
  async until(predicate) {
    while (!predicate()) await new Promise((resolve) => this.objectWaiters.push(resolve));
  }
  close(info) {
    this.resolveClosed(info);
  }
}
globalThis.WebTransport = FakeWebTransport;

const send = (t, msg) => t.peer.writer.write(encodeMessage(msg));
const bytes = (...values) => new Uint8Array(values);

async function parseObject(object) {
  const all = new Blob(object.chunks);
  const reader = new StreamReader(all.stream());
  const header = await readObjectHeader(reader);
  return { ...header, payload: Array.from(await reader.readAll()) };
}

async function connectPublisher(tracks) {
  const connecting = MoqSession.connect('https://relay.test/name', { role: ROLE.publisher, tracks });
  await new Promise((resolve) => setImmediate(resolve));
  const t = FakeWebTransport.last;
  const setup = await readMessage(t.peer.reader);
  assert.deepEqual(setup, { type: MESSAGE.CLIENT_SETUP, versions: [VERSION_KIXEL_00], role: ROLE.publisher });
  await send(t, { type: MESSAGE.SERVER_SETUP, version: VERSION_KIXEL_00, role: ROLE.subscriber });
  return { session: await connecting, t };
}

test('a late SUBSCRIBE gets the current segment from its start, then live ones', async () => {
  const video = new PublishedTrack('1');
  const old = video.beginSegment({ priority: 0, expires: 10 });
  old.append(bytes(9));
  const current = video.beginSegment({ priority: 1000, expires: 10 });
  current.append(bytes(1, 2));
  const { session, t } = await connectPublisher(new Map([['1', video]]));

  await send(t, { type: MESSAGE.SUBSCRIBE, id: 7, namespace: '', name: '1' });
  assert.deepEqual(await readMessage(t.peer.reader), { type: MESSAGE.SUBSCRIBE_OK, id: 7 });
  current.append(bytes(3));
  const next = video.beginSegment({ priority: 2000, expires: 10 }); // finishes `current`
  next.append(bytes(4));
  next.finish();
  await t.until(() => t.objects.length === 2 && t.objects.every((o) => o.closed));
  const sent = await Promise.all(t.objects.map(parseObject));
  assert.deepEqual(sent, [
    { track: 7, sequence: 1, priority: 1000, expires: 10, payload: [1, 2, 3] },
    { track: 7, sequence: 2, priority: 2000, expires: 10, payload: [4] },
  ]);
  assert.deepEqual(t.objects.map((o) => o.options.sendOrder), [1000, 2000]);
  session.close();
});

test('unknown tracks and namespaces are refused with 404', async () => {
  const { session, t } = await connectPublisher(new Map([['.catalog', new PublishedTrack('.catalog')]]));
  await send(t, { type: MESSAGE.SUBSCRIBE, id: 0, namespace: '', name: 'nope' });
  const reset = await readMessage(t.peer.reader);
  assert.equal(reset.type, MESSAGE.SUBSCRIBE_RESET);
  assert.equal(reset.id, 0);
  assert.equal(reset.code, CODE.notFound);
  await send(t, { type: MESSAGE.SUBSCRIBE, id: 1, namespace: 'other', name: '.catalog' });
  assert.equal((await readMessage(t.peer.reader)).code, CODE.notFound);
  session.close();
});

test('SUBSCRIBE_STOP resets the open streams and answers SUBSCRIBE_RESET 206', async () => {
  const audio = new PublishedTrack('2');
  const open = audio.beginSegment({ priority: 5, expires: 10 });
  open.append(bytes(1));
  const { session, t } = await connectPublisher(new Map([['2', audio]]));
  await send(t, { type: MESSAGE.SUBSCRIBE, id: 3, namespace: '', name: '2' });
  assert.equal((await readMessage(t.peer.reader)).type, MESSAGE.SUBSCRIBE_OK);
  await t.until(() => t.objects.length === 1 && t.objects[0].chunks.length === 2); // header + first chunk
  await send(t, { type: MESSAGE.SUBSCRIBE_STOP, id: 3 });
  assert.deepEqual(await readMessage(t.peer.reader), { type: MESSAGE.SUBSCRIBE_RESET, id: 3, code: CODE.stop, reason: 'stop' });
  await t.until(() => t.objects[0].aborted);
  audio.beginSegment({ priority: 6, expires: 10 }).append(bytes(2));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(t.objects.length, 1, 'no object after SUBSCRIBE_STOP');
  assert.equal(session.served.size, 0);
  session.close();
});

test('ending the subscriptions lets finished segments go out whole, then RESET 0', async () => {
  const catalog = new PublishedTrack('.catalog');
  const { session, t } = await connectPublisher(new Map([['.catalog', catalog]]));
  await send(t, { type: MESSAGE.SUBSCRIBE, id: 0, namespace: '', name: '.catalog' });
  assert.equal((await readMessage(t.peer.reader)).type, MESSAGE.SUBSCRIBE_OK);
  catalog.publishSingle(new TextEncoder().encode('{}')); // published after the SUBSCRIBE: still delivered
  // (The stand-in's control stream has no buffer: a write completes when the
  // peer reads it, so read before awaiting the end.)
  const ending = session.endServedSubscriptions(CODE.closed, 'publisher stopped');
  assert.deepEqual(await readMessage(t.peer.reader), { type: MESSAGE.SUBSCRIBE_RESET, id: 0, code: 0, reason: 'publisher stopped' });
  await ending;
  assert.ok(t.objects[0].closed);
  assert.deepEqual(await parseObject(t.objects[0]), { track: 0, sequence: 0, priority: 0x7fffffff, expires: 0, payload: [123, 125] });
  session.close();
});
