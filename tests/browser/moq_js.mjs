// Shared by moq_watch.mjs and moq_publish.mjs: today's MoQ browser clients
// (@moq/watch, @moq/publish from npm, pinned in package.json) in headless
// Chromium.
//
// - bundlePage(): the npm packages are ESM with bare imports and nested,
//   mutually incompatible versions of @moq/net/@moq/hang, so a page is
//   bundled with esbuild (pinned devDependency) at test start, in memory,
//   offline (everything comes from node_modules after `npm ci`).
// - servePage(): a throwaway HTTP server on localhost (a secure context, so
//   WebTransport and WebCodecs are available) serving the page and bundle.
// - INSTRUMENT: an init script (runs before any page script) wrapping
//   WebCodecs (VideoDecoder/AudioDecoder/VideoEncoder/AudioEncoder output
//   callbacks) and WebTransport (negotiated protocol, first bytes written
//   and read on every stream, hex). Independent of the players' internals;
//   results in window.__moq, read with collect().

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// Bundles `source` (an ES module importing npm packages) into one ESM file.
export async function bundlePage(source) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir: here, sourcefile: 'page-entry.js', loader: 'js' },
    bundle: true,
    format: 'esm',
    target: 'chrome120',
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].text;
}

// Serves `html` at / and `js` at /js/app.js on 127.0.0.1; the page's URL is
// http://localhost:PORT/. Other /js/ files come from libav.js's dist (the
// WebCodecs polyfill loads them next to the bundle, should it ever be used).
export async function servePage(html, js) {
  const libav = path.join(here, 'node_modules/@libav.js/variant-opus-af/dist');
  const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(html);
    }
    if (url.pathname === '/js/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(js);
    }
    const name = url.pathname.startsWith('/js/') ? path.basename(url.pathname) : '';
    const file = path.join(libav, name);
    if (name && fs.existsSync(file)) {
      res.writeHead(200, { 'content-type': types[path.extname(name)] || 'application/octet-stream' });
      return fs.createReadStream(file).pipe(res);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${server.address().port}/` };
}

// The init script. Keeps, in window.__moq:
//   sessions: [{ url, protocols offered, protocol negotiated, state }]
//   totals:   per kind-opener ("uni-local", "bidi-remote"...): { streams,
//             txBytes, rxBytes } over every stream
//   streams:  the first maxStreams streams: { session, id, kind (bidi|uni),
//             opener (local|remote), tx, rx (hex of the first HEX_BYTES
//             written / read), txBytes, rxBytes, t (ms since page start) }
//   video/audio decoders, video/audio encoders: { configs: [codec...],
//             outputs, first, last (ms), maxGap (ms, between outputs),
//             bytes (encoders) }
//   With `protocols` (a list), every WebTransport offers those instead of
//   the client's own list (to steer the dialect: the server picks the
//   first it supports).
export function INSTRUMENT({ hexBytes = 64, maxStreams = 400, protocols = null } = {}) {
  const M = (window.__moq = { sessions: [], streams: [], streamCount: 0, codecs: {} });
  const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');
  const bytesOf = (chunk) => {
    if (chunk instanceof Uint8Array) return chunk;
    if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
    return new Uint8Array(0);
  };

  // --- WebCodecs: count outputs of every codec instance, per kind.
  function stat(kind) {
    return (M.codecs[kind] ||= { instances: 0, configs: [], outputs: 0, first: null, last: null, maxGap: 0, bytes: 0, errors: [] });
  }
  function wrapCodec(name, isEncoder) {
    const Orig = window[name];
    if (!Orig) return;
    const Wrapped = class extends Orig {
      constructor(init) {
        const s = stat(name);
        s.instances++;
        const output = init.output;
        super({
          ...init,
          output(item, meta) {
            const now = performance.now();
            if (s.last !== null) s.maxGap = Math.max(s.maxGap, now - s.last);
            if (s.first === null) s.first = now;
            s.last = now;
            s.outputs++;
            if (isEncoder) s.bytes += item.byteLength || 0;
            return output.call(this, item, meta);
          },
          error(e) {
            s.errors.push(String(e));
            return init.error?.call(this, e);
          },
        });
      }
      configure(config) {
        const s = stat(name);
        if (s.configs.length < 20) s.configs.push(config?.codec);
        return super.configure(config);
      }
    };
    Object.defineProperty(Wrapped, 'name', { value: name });
    window[name] = Wrapped;
  }
  wrapCodec('VideoDecoder', false);
  wrapCodec('AudioDecoder', false);
  wrapCodec('VideoEncoder', true);
  wrapCodec('AudioEncoder', true);

  // --- WebTransport: protocol and the first bytes of every stream.
  const OrigWT = window.WebTransport;
  if (!OrigWT) return;
  const t0 = performance.now();
  // Every stream counts in M.totals["uni-local"] etc. ({ streams, txBytes,
  // rxBytes }); the first maxStreams are also listed, with their bytes.
  M.totals = {};
  function record(session, kind, opener) {
    M.streamCount++;
    const total = (M.totals[`${kind}-${opener}`] ||= { streams: 0, txBytes: 0, rxBytes: 0 });
    total.streams++;
    const r = { session, id: M.streamCount - 1, kind, opener, t: Math.round(performance.now() - t0), tx: '', rx: '', txBytes: 0, rxBytes: 0 };
    Object.defineProperty(r, 'total', { value: total, enumerable: false });
    if (M.streams.length < maxStreams) M.streams.push(r);
    return r;
  }
  function tapWritable(w, r) {
    const getWriter = w.getWriter;
    w.getWriter = function () {
      const writer = getWriter.call(this);
      const write = writer.write;
      writer.write = function (chunk) {
        const b = bytesOf(chunk);
        const need = hexBytes - r.tx.length / 2;
        if (need > 0) r.tx += hex(b.subarray(0, need));
        r.txBytes += b.byteLength;
        r.total.txBytes += b.byteLength;
        return write.call(this, chunk);
      };
      return writer;
    };
    return w;
  }
  function tapReadable(rs, r) {
    const getReader = rs.getReader;
    rs.getReader = function (...args) {
      const reader = getReader.apply(this, args);
      const read = reader.read;
      reader.read = async function (...a) {
        const res = await read.apply(this, a);
        if (!res.done && res.value) {
          const b = bytesOf(res.value);
          const need = hexBytes - r.rx.length / 2;
          if (need > 0) r.rx += hex(b.subarray(0, need));
          r.rxBytes += b.byteLength;
          r.total.rxBytes += b.byteLength;
        }
        return res;
      };
      return reader;
    };
    return rs;
  }
  const tapBidi = (s, session, opener) => {
    const r = record(session, 'bidi', opener);
    tapWritable(s.writable, r);
    tapReadable(s.readable, r);
    return s;
  };
  // A ReadableStream of incoming streams: tap each stream it yields.
  function tapIncoming(rs, tap) {
    if (rs.__moqTapped) return rs;
    rs.__moqTapped = true;
    const getReader = rs.getReader;
    rs.getReader = function (...args) {
      const reader = getReader.apply(this, args);
      const read = reader.read;
      reader.read = async function (...a) {
        const res = await read.apply(this, a);
        if (!res.done && res.value) tap(res.value);
        return res;
      };
      return reader;
    };
    return rs;
  }
  class WT extends OrigWT {
    constructor(url, options) {
      if (protocols) options = { ...options, protocols };
      super(url, options);
      const info = { url: String(url), offered: options?.protocols || [], protocol: null, state: 'connecting', t: Math.round(performance.now() - t0) };
      this.__moqSession = M.sessions.length;
      M.sessions.push(info);
      this.ready.then(
        () => {
          info.state = 'ready';
          info.protocol = this.protocol ?? '(no .protocol)';
          console.log(`[moq-instrument] WebTransport ready ${info.url} protocol=${JSON.stringify(info.protocol)}`);
        },
        (e) => {
          info.state = `failed: ${e}`;
        },
      );
      this.closed.then(
        (c) => {
          info.closed = c;
        },
        (e) => {
          info.closed = String(e);
        },
      );
    }
    async createBidirectionalStream(...args) {
      return tapBidi(await super.createBidirectionalStream(...args), this.__moqSession, 'local');
    }
    async createUnidirectionalStream(...args) {
      const w = await super.createUnidirectionalStream(...args);
      return tapWritable(w, record(this.__moqSession, 'uni', 'local'));
    }
    get incomingBidirectionalStreams() {
      return tapIncoming(super.incomingBidirectionalStreams, (s) => tapBidi(s, this.__moqSession, 'remote'));
    }
    get incomingUnidirectionalStreams() {
      return tapIncoming(super.incomingUnidirectionalStreams, (s) => tapReadable(s, record(this.__moqSession, 'uni', 'remote')));
    }
  }
  window.WebTransport = WT;
}

// The init script's results (a copy).
export const collect = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.__moq ?? null)));

// A short description of a hang catalog: track → codec, container kind, size.
export function summarizeCatalog(catalog) {
  if (!catalog || typeof catalog !== 'object') return null;
  const out = {};
  for (const kind of ['video', 'audio']) {
    const renditions = catalog[kind]?.renditions;
    if (!renditions) continue;
    out[kind] = Object.fromEntries(
      Object.entries(renditions).map(([track, c]) => [
        track,
        {
          codec: c.codec,
          container: c.container?.kind,
          ...(c.codedWidth ? { size: `${c.codedWidth}x${c.codedHeight}` } : {}),
          ...(c.sampleRate ? { sampleRate: c.sampleRate, channels: c.numberOfChannels } : {}),
        },
      ]),
    );
  }
  const other = Object.keys(catalog).filter((k) => k !== 'video' && k !== 'audio');
  if (other.length) out.otherKeys = other;
  return out;
}

// Prints the page's console (and errors) to stderr with a label.
export function logConsole(page, label) {
  page.on('console', (m) => console.error(`[${label} ${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => console.error(`[${label} pageerror] ${e?.stack || e}`));
}

// Takes `--name VALUE` out of args; returns VALUE or null.
export function takeOption(args, name) {
  const i = args.indexOf(name);
  if (i < 0) return null;
  const [, value] = args.splice(i, 2);
  return value;
}

// Where the relay's URL points: `moq_watch.mjs`/`moq_publish.mjs` take an
// http://host:port/path URL, as the clients do (fetch /certificate.sha256
// over HTTP, then WebTransport to https://host:port/path pinning it).
export function checkRelayUrl(url) {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return u.toString();
  } catch (e) {
    console.error(`bad RELAY_URL ${url}: ${e.message}`);
    process.exit(2);
  }
}
