// Chromium against moq-wt-echo: `node wt_echo.mjs URL FINGERPRINT`.
// Prints one JSON line with what the browser saw; exits 0 when every check
// passed.

import { inChromium } from './harness.mjs';

const [url, fingerprint] = process.argv.slice(2);

const result = await inChromium(async ({ url, fingerprint }) => {
  const hash = new Uint8Array(fingerprint.match(/../g).map((h) => parseInt(h, 16)));
  const out = { ready: false };
  const wt = new WebTransport(url, {
    serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }],
  });
  await wt.ready;
  out.ready = true;

  const readAll = async (readable) => {
    const reader = readable.getReader();
    const chunks = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(...value);
    }
    return new TextDecoder().decode(new Uint8Array(chunks));
  };

  // Bidi echo.
  const bidi = await wt.createBidirectionalStream();
  const w = bidi.writable.getWriter();
  await w.write(new TextEncoder().encode('hello from chromium'));
  await w.close();
  out.bidiEcho = await readAll(bidi.readable);

  // A uni stream comes back on a server-opened uni stream.
  const uni = await wt.createUnidirectionalStream();
  const uw = uni.getWriter();
  await uw.write(new TextEncoder().encode('uni payload'));
  await uw.close();
  const incoming = wt.incomingUnidirectionalStreams.getReader();
  const { value: serverUni } = await incoming.read();
  out.uniEcho = await readAll(serverUni);

  // "close" makes the server close the session with 42 "bye".
  // The server may end the session as soon as it sees the FIN, before the
  // browser settles these promises: they may reject, the session's close
  // info is what counts.
  const closer = await wt.createBidirectionalStream();
  const cw = closer.writable.getWriter();
  cw.write(new TextEncoder().encode('close')).catch(() => {});
  cw.close().catch(() => {});
  try {
    const info = await wt.closed;
    out.closeCode = info.closeCode;
    out.closeReason = info.reason;
  } catch (e) {
    out.closedError = String(e);
  }
  return out;
}, { url, fingerprint });

console.log(JSON.stringify(result));
const ok =
  result.ready &&
  result.bidiEcho === 'hello from chromium' &&
  result.uniEcho === 'uni payload' &&
  result.closeCode === 42 &&
  result.closeReason === 'bye';
process.exit(ok ? 0 : 1);
