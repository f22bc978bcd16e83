// A minimal KIXEL_00 subscriber in headless Chromium, through moq-relay:
//   node moq_subscribe.mjs https://localhost:PORT/NAME [FINGERPRINT] [TRACK]
// Prints one JSON line with what it saw and exits 0 when every step worked.
//
// 1. The certificate fingerprint comes from the relay's --dev endpoint
//    GET https://localhost:PORT/fingerprint (HTTPS over TCP), fetched here in
//    Node with certificate verification off. The page can't fetch it itself:
//    it is served from http://localhost and Chromium refuses the relay's
//    self-signed certificate for fetch() (serverCertificateHashes only applies
//    to WebTransport). When FINGERPRINT is given, the fetched one must match.
// 2. In the page: WebTransport with serverCertificateHashes, the control
//    stream (CLIENT_SETUP versions [0xbad00] role subscriber -> SERVER_SETUP),
//    SUBSCRIBE id 0 "" TRACK (default ".catalog") -> SUBSCRIBE_OK, then the
//    first incoming uni stream: OBJECT header (varints + i32) and the payload
//    to FIN, returned as hex.

import https from 'node:https';
import { inChromium } from './harness.mjs';

const [url, expectedFingerprint, track = '.catalog'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node moq_subscribe.mjs URL [FINGERPRINT] [TRACK]');
  process.exit(2);
}

function fetchFingerprint(relayUrl) {
  const { hostname, port } = new URL(relayUrl);
  return new Promise((resolve, reject) => {
    const req = https.get(
      { hostname, port, path: '/fingerprint', rejectUnauthorized: false, timeout: 10000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () =>
          resolve({ status: res.statusCode, cors: res.headers['access-control-allow-origin'], body }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout fetching /fingerprint')));
    req.on('error', reject);
  });
}

const fetched = await fetchFingerprint(url);
const out = { fingerprintStatus: fetched.status, cors: fetched.cors, fingerprint: fetched.body };
if (fetched.status !== 200 || !/^[0-9a-f]{64}$/.test(fetched.body)) {
  console.log(JSON.stringify(out));
  process.exit(1);
}
if (expectedFingerprint && expectedFingerprint !== fetched.body) {
  out.error = 'fingerprint differs from the relay stdout';
  console.log(JSON.stringify(out));
  process.exit(1);
}

const seen = await inChromium(
  async ({ url, fingerprint, track }) => {
    const result = { step: 'connect' };
    // QUIC varints (RFC 9000 §16); numbers here stay far below 2^53.
    const varint = (v) => {
      if (v < 0x40) return [v];
      if (v < 0x4000) return [0x40 | (v >> 8), v & 0xff];
      if (v < 0x40000000) return [0x80 | (v >>> 24), (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
      throw new Error('varint too large for this test');
    };
    const string = (s) => {
      const b = new TextEncoder().encode(s);
      return [...varint(b.length), ...b];
    };
    // Incremental reader over a ReadableStream of Uint8Array chunks.
    const byteReader = (readable) => {
      const reader = readable.getReader();
      let buf = new Uint8Array(0);
      let done = false;
      const more = async () => {
        const { value, done: d } = await reader.read();
        if (d) {
          done = true;
          return false;
        }
        const next = new Uint8Array(buf.length + value.length);
        next.set(buf);
        next.set(value, buf.length);
        buf = next;
        return true;
      };
      const need = async (n) => {
        while (buf.length < n) if (!(await more())) throw new Error('stream ended early');
      };
      const take = (n) => {
        const b = buf.slice(0, n);
        buf = buf.slice(n);
        return b;
      };
      return {
        async varint() {
          await need(1);
          const len = 1 << (buf[0] >> 6);
          await need(len);
          const b = take(len);
          let v = b[0] & 0x3f;
          for (let i = 1; i < len; i++) v = v * 256 + b[i];
          return v;
        },
        async i32() {
          await need(4);
          return new DataView(take(4).buffer).getInt32(0);
        },
        async string() {
          const n = await this.varint();
          await need(n);
          return new TextDecoder().decode(take(n));
        },
        async rest() {
          while (await more());
          return take(buf.length);
        },
        get done() {
          return done;
        },
      };
    };

    try {
      const hash = new Uint8Array(fingerprint.match(/../g).map((h) => parseInt(h, 16)));
      const wt = new WebTransport(url, {
        serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }],
      });
      await wt.ready;
      // Incoming object streams may arrive before SUBSCRIBE_OK: listen now.
      const firstObject = (async () => {
        const { value: stream } = await wt.incomingUnidirectionalStreams.getReader().read();
        const r = byteReader(stream);
        const type = await r.varint();
        const trackId = await r.varint();
        const sequence = await r.varint();
        const priority = await r.i32();
        const expires = await r.varint();
        const payload = await r.rest();
        const hex = [...payload].map((b) => b.toString(16).padStart(2, '0')).join('');
        return { type, trackId, sequence, priority, expires, payloadHex: hex };
      })();

      result.step = 'setup';
      const control = await wt.createBidirectionalStream();
      const w = control.writable.getWriter();
      const r = byteReader(control.readable);
      // CLIENT_SETUP: type 1, 1 version (0xbad00), role subscriber (1).
      await w.write(new Uint8Array([...varint(1), ...varint(1), ...varint(0xbad00), ...varint(1)]));
      const setupType = await r.varint();
      result.serverSetup = { type: setupType, version: await r.varint(), role: await r.varint() };

      result.step = 'subscribe';
      // SUBSCRIBE: type 3, id 0, namespace "", name.
      await w.write(new Uint8Array([...varint(3), ...varint(0), ...string(''), ...string(track)]));
      const replyType = await r.varint();
      if (replyType === 4) {
        result.subscribeOk = { id: await r.varint() };
      } else if (replyType === 5) {
        result.subscribeReset = { id: await r.varint(), code: await r.varint(), reason: await r.string() };
        return result;
      } else {
        result.unexpected = replyType;
        return result;
      }

      result.step = 'object';
      result.object = await firstObject;
      result.step = 'done';
      wt.close({ closeCode: 0, reason: 'done' });
    } catch (e) {
      result.error = String(e);
    }
    return result;
  },
  { url, fingerprint: fetched.body, track },
);

Object.assign(out, seen);
console.log(JSON.stringify(out));
const ok =
  out.step === 'done' &&
  out.cors === '*' &&
  out.serverSetup?.type === 2 &&
  out.serverSetup?.version === 0xbad00 &&
  out.serverSetup?.role === 0 &&
  out.subscribeOk?.id === 0 &&
  out.object?.type === 0 &&
  out.object?.trackId === 0;
process.exit(ok ? 0 : 1);
