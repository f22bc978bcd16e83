// Today's real MoQ player, @moq/watch (npm, version pinned in package.json),
// in headless Chromium, playing a broadcast from a relay:
//   node moq_watch.mjs RELAY_URL BROADCAST [SECONDS] [SCREENSHOT] [--capture FILE] [--protocols P1,P2]
// RELAY_URL: http://localhost:PORT/[root] as the MoQ tools use it (the
// player fetches /certificate.sha256 over HTTP on that TCP port, then dials
// WebTransport https://localhost:PORT/[root] pinning that hash); an https://
// URL is dialed directly (needs a certificate Chromium trusts).
// BROADCAST: the broadcast's path relative to that root (e.g. `bbb.hang`).
//
// Waits up to 20 s (MOQ_FIRST_FRAME_MS) for the first decoded video frame,
// then watches SECONDS (default 8) and checks: video frames decoded (counted
// at WebCodecs' VideoDecoder output), audio decoded (AudioDecoder outputs),
// no stall (longest gap between decoded video frames < 1 s), the canvas the
// player paints changing and not blank.
// Prints one JSON line (the summary: protocol, catalog, counts); exit 0 if
// every check passed, 1 with the reasons otherwise. The page console goes to
// stderr. --capture FILE writes everything seen (catalog, WebTransport
// sessions, the first bytes of every stream in hex) as JSON.
// --protocols P1,P2: offer these WebTransport protocols instead of the
// client's own list (e.g. moq-lite-04, or moql for IETF draft-14), to
// check one dialect.

import fs from 'node:fs';
import { launchChromium, sleep, until } from './harness.mjs';
import { bundlePage, checkRelayUrl, collect, INSTRUMENT, logConsole, servePage, summarizeCatalog, takeOption } from './moq_js.mjs';

const args = process.argv.slice(2);
const capture = takeOption(args, '--capture');
const protocols = takeOption(args, '--protocols')?.split(',') ?? null;
const [relayArg, broadcast, secondsArg, screenshot] = args;
if (!relayArg || !broadcast) {
  console.error('usage: node moq_watch.mjs RELAY_URL BROADCAST [SECONDS] [SCREENSHOT] [--capture FILE] [--protocols P1,P2]');
  process.exit(2);
}
const relayUrl = checkRelayUrl(relayArg);
const seconds = Number(secondsArg || 8);
const FIRST_FRAME_MS = Number(process.env.MOQ_FIRST_FRAME_MS || 20000);
const MAX_STALL_MS = 1000;
const MIN_FPS = 10; // decoded video frames a second, averaged over the window

const html = `<!doctype html>
<title>@moq/watch</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; background: #222 } canvas { width: 960px; height: 540px; display: block }</style>
<moq-watch visible="always"><canvas></canvas></moq-watch>
<script type="module" src="/js/app.js"></script>`;

// The element, configured once the bundle is loaded; the page's samples of
// the canvas (a hash of a grid of pixels and its luma variance) every 250 ms.
const entry = `
import "@moq/watch/element";
const el = document.querySelector("moq-watch");
const params = new URLSearchParams(location.search);
el.setAttribute("name", params.get("name"));
el.setAttribute("url", params.get("url"));
window.moqWatch = el;
window.canvasSamples = [];
// A 160x90 copy of the player's canvas, read back (its own 2d context:
// the player's is not for frequent readback).
const probe = document.createElement("canvas");
probe.width = 160; probe.height = 90;
const pg = probe.getContext("2d", { willReadFrequently: true });
setInterval(() => {
  const c = el.querySelector("canvas");
  if (!c.width || !c.height) return;
  pg.drawImage(c, 0, 0, probe.width, probe.height);
  const data = pg.getImageData(0, 0, probe.width, probe.height).data;
  let h = 0, n = 0, sum = 0, sumSq = 0;
  for (let i = 0; i < data.length; i += 4 * 7) {
    h = (h * 31 + data[i] + 7 * data[i + 1] + 13 * data[i + 2]) >>> 0;
    const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    sum += y; sumSq += y * y; n++;
  }
  const mean = sum / n;
  window.canvasSamples.push({ t: performance.now(), hash: h, variance: sumSq / n - mean * mean, w: c.width, h: c.height });
}, 250);
`;

const failures = [];
const fail = (why) => failures.push(why);
let summary = { relay: relayUrl, broadcast };
let details = null;
const browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
let server = null;
try {
  const js = await bundlePage(entry);
  ({ server } = await servePage(html, js));
  const context = await browser.newContext({ viewport: { width: 1000, height: 600 } });
  await context.addInitScript(INSTRUMENT, { protocols });
  const page = await context.newPage();
  logConsole(page, 'watch');
  const pageUrl = new URL(`http://localhost:${server.address().port}/`);
  pageUrl.searchParams.set('url', relayUrl);
  pageUrl.searchParams.set('name', broadcast);
  const started = Date.now();
  await page.goto(pageUrl.href);

  const videoOut = () => page.evaluate(() => window.__moq?.codecs?.VideoDecoder?.outputs ?? 0);
  const firstFrame = await until(async () => (await videoOut()) > 0, FIRST_FRAME_MS, 100);
  summary.firstFrameMs = firstFrame ? Date.now() - started : null;
  if (!firstFrame) {
    const seen = await page.evaluate(() => ({ catalog: !!window.moqWatch?.catalog, configs: window.__moq?.codecs?.VideoDecoder?.configs ?? [] }));
    fail(`no video frame decoded within ${FIRST_FRAME_MS} ms (${seen.catalog ? `catalog received, video decoder configured: ${JSON.stringify(seen.configs)}` : 'no catalog received: is the broadcast announced under that name?'})`);
  }
  else {
    const before = await collect(page);
    const v0 = before.codecs.VideoDecoder.outputs;
    const a0 = before.codecs.AudioDecoder?.outputs ?? 0;
    const windowStart = await page.evaluate(() => performance.now());
    // Track the longest gap inside the window (the init script's maxGap
    // counts from the first frame on, which is what is wanted too).
    await sleep(seconds * 1000);
    const after = await collect(page);
    const now = await page.evaluate(() => performance.now());
    const v = after.codecs.VideoDecoder;
    const a = after.codecs.AudioDecoder;
    const videoFrames = v.outputs - v0;
    const audioFrames = (a?.outputs ?? 0) - a0;
    // A stall still going on at the end counts too.
    const maxGapMs = Math.round(Math.max(v.maxGap, now - v.last));
    const samples = await page.evaluate((t) => window.canvasSamples.filter((s) => s.t >= t), windowStart);
    const hashes = new Set(samples.map((s) => s.hash));
    const maxVariance = Math.max(0, ...samples.map((s) => s.variance));
    Object.assign(summary, {
      seconds,
      videoFrames,
      fps: Math.round((videoFrames / seconds) * 10) / 10,
      audioFrames,
      maxVideoGapMs: maxGapMs,
      videoCodecs: v.configs,
      audioCodecs: a?.configs ?? [],
      canvas: samples.length ? `${samples.at(-1).w}x${samples.at(-1).h}` : null,
      distinctCanvasSamples: hashes.size,
      canvasSamples: samples.length,
    });
    if (videoFrames < seconds * MIN_FPS) fail(`${videoFrames} video frames decoded in ${seconds} s (want >= ${seconds * MIN_FPS})`);
    if (audioFrames <= 0) fail('no audio decoded');
    if (maxGapMs >= MAX_STALL_MS) fail(`video stalled: ${maxGapMs} ms between decoded frames (limit ${MAX_STALL_MS})`);
    if (hashes.size < 3) fail(`the canvas did not change (${hashes.size} distinct of ${samples.length} samples)`);
    if (maxVariance < 50) fail(`the canvas looks blank (luma variance ${Math.round(maxVariance)})`);
    const errors = [...(v.errors || []), ...(a?.errors || [])];
    if (errors.length) fail(`decoder errors: ${errors.join('; ')}`);
  }
  details = await collect(page);
  const catalog = await page.evaluate(() => {
    try {
      return JSON.parse(JSON.stringify(window.moqWatch.catalog ?? null));
    } catch {
      return null;
    }
  });
  const sessions = details?.sessions ?? [];
  summary.webtransport = sessions.map((s) => ({ protocol: s.protocol, state: s.state }));
  summary.protocol = sessions.find((s) => s.state === 'ready')?.protocol ?? null;
  summary.catalog = summarizeCatalog(catalog);
  if (!sessions.some((s) => s.state === 'ready')) fail('no WebTransport session came up (WebSocket fallback, or no connection)');
  if (screenshot) await page.screenshot({ path: screenshot });
  if (capture) {
    fs.writeFileSync(capture, JSON.stringify({ summary, catalog, ...details }, null, 1));
  }
} catch (e) {
  fail(String(e?.stack || e));
} finally {
  await browser.close();
  server?.close();
}
summary.ok = failures.length === 0;
if (failures.length) summary.failures = failures;
console.log(JSON.stringify(summary));
if (failures.length) {
  console.error(`FAIL: ${failures.join('; ')}`);
  process.exit(1);
}
