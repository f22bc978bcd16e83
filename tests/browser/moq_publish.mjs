// Today's real MoQ publisher, @moq/publish (npm, version pinned in
// package.json), in headless Chromium, publishing to a relay:
//   node moq_publish.mjs RELAY_URL BROADCAST SECONDS [--camera] [--capture FILE] [--protocols P1,P2]
// RELAY_URL: http://localhost:PORT/[root] (see moq_watch.mjs). BROADCAST: the
// broadcast's path under that root (e.g. `bbb.hang`).
//
// Source: @moq/publish has no test pattern of its own, so by default the page
// draws one (a 1280x720 canvas, moving bars and a frame counter, 30 fps,
// canvas.captureStream) plus a 440 Hz tone (WebAudio), handed to the
// publisher as its video and audio sources. --camera uses the package's own
// camera + microphone source on Chromium's fake devices instead.
//
// @moq/publish encodes only while the relay subscribes (someone watches), so
// run a viewer (moq_watch.mjs, moq-cli) alongside. Checks over SECONDS: a
// WebTransport session came up, a catalog was built, something subscribed;
// while subscribed, video and audio frames kept being encoded and bytes kept
// going out on the group streams (no gap >= 1 s; time between two
// subscriptions does not count). The summary gives `subscribedMs` and, per
// kind, the span published and the idle time at the end.
// Prints one JSON line (protocol, catalog, counts); exit 0 if every check
// passed, 1 with the reasons. --capture FILE: everything seen (catalog,
// sessions, first bytes of every stream in hex) as JSON.
// --protocols P1,P2: offer these WebTransport protocols instead of the
// client's own list (e.g. moq-lite-03), to check one dialect.

import fs from 'node:fs';
import { launchChromium, sleep } from './harness.mjs';
import { bundlePage, checkRelayUrl, collect, INSTRUMENT, logConsole, servePage, summarizeCatalog, takeOption } from './moq_js.mjs';

const args = process.argv.slice(2);
const capture = takeOption(args, '--capture');
const protocols = takeOption(args, '--protocols')?.split(',') ?? null;
const camera = args.includes('--camera');
const [relayArg, broadcast, secondsArg] = args.filter((a) => a !== '--camera');
if (!relayArg || !broadcast || !secondsArg) {
  console.error('usage: node moq_publish.mjs RELAY_URL BROADCAST SECONDS [--camera] [--capture FILE] [--protocols P1,P2]');
  process.exit(2);
}
const relayUrl = checkRelayUrl(relayArg);
const seconds = Number(secondsArg);
const MAX_GAP_MS = 1000;

const html = `<!doctype html>
<title>@moq/publish</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; background: #222 } video { width: 640px }</style>
<moq-publish><video muted autoplay></video></moq-publish>
<canvas id="pattern" width="1280" height="720" style="display:none"></canvas>
<script type="module" src="/js/app.js"></script>`;

const entry = `
import "@moq/publish/element";
const el = document.querySelector("moq-publish");
const params = new URLSearchParams(location.search);
window.moqPublish = el;
if (params.get("source") === "camera") {
  el.setAttribute("source", "camera");
} else {
  // The test pattern: moving colour bars, a frame counter, a 440 Hz tone.
  const canvas = document.getElementById("pattern");
  const g = canvas.getContext("2d");
  const colours = ["#fff", "#ff0", "#0ff", "#0f0", "#f0f", "#f00", "#00f", "#000"];
  let n = 0;
  const draw = () => {
    const w = canvas.width / colours.length;
    colours.forEach((c, i) => { g.fillStyle = c; g.fillRect(((i * w + n * 4) % canvas.width), 0, w + 1, canvas.height); });
    g.fillStyle = "#000"; g.fillRect(440, 300, 400, 120);
    g.fillStyle = "#fff"; g.font = "96px monospace"; g.fillText(String(n).padStart(6, "0"), 460, 395);
    n++;
  };
  draw();
  setInterval(draw, 1000 / 30);
  const [video] = canvas.captureStream(30).getVideoTracks();
  const ctx = new AudioContext({ sampleRate: 48000 });
  const osc = new OscillatorNode(ctx, { frequency: 440 });
  const gain = new GainNode(ctx, { gain: 0.2 });
  const dest = new MediaStreamAudioDestinationNode(ctx, { channelCount: 2 });
  osc.connect(gain).connect(dest);
  osc.start();
  const [audio] = dest.stream.getAudioTracks();
  el.broadcast.video.source.set(video);
  el.broadcast.audio.source.set(audio);
}
el.setAttribute("name", params.get("name"));
el.setAttribute("url", params.get("url"));
`;

const failures = [];
const fail = (why) => failures.push(why);
const summary = { relay: relayUrl, broadcast, source: camera ? 'camera' : 'pattern' };
const browser = await launchChromium([
  '--autoplay-policy=no-user-gesture-required',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
]);
let server = null;
try {
  const js = await bundlePage(entry);
  ({ server } = await servePage(html, js));
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  await context.addInitScript(INSTRUMENT, { protocols });
  const page = await context.newPage();
  logConsole(page, 'publish');
  const pageUrl = new URL(`http://localhost:${server.address().port}/`);
  pageUrl.searchParams.set('url', relayUrl);
  pageUrl.searchParams.set('name', broadcast);
  if (camera) pageUrl.searchParams.set('source', 'camera');
  await page.goto(pageUrl.href);

  // Every 250 ms: encoder outputs and bytes sent on the streams we opened
  // (moq-lite group streams are the publisher's uni streams).
  const samples = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const s = await page.evaluate(() => {
      const m = window.__moq;
      const b = window.moqPublish.broadcast;
      return {
        t: performance.now(),
        // true while the relay subscribes the track (the encoder runs then)
        subscribed: !!(b.video.hd.active.peek() || b.audio.active.peek()),
        video: m.codecs.VideoEncoder?.outputs ?? 0,
        audio: m.codecs.AudioEncoder?.outputs ?? 0,
        sent: m.totals?.['uni-local']?.txBytes ?? 0,
        uniStreams: m.totals?.['uni-local']?.streams ?? 0,
        streamCount: m.streamCount,
      };
    });
    samples.push(s);
    await sleep(250);
  }
  // Longest time without progress in `key` while subscribed: from the first
  // progress after a subscription starts to the last one before it ends (a
  // viewer leaving ends the subscription, and with it the encoding; the idle
  // time after the last progress is reported, not failed).
  const progress = (key) => {
    let first = null;
    let last = null;
    let gap = 0;
    for (let i = 1; i < samples.length; i++) {
      if (!samples[i].subscribed || !samples[i - 1].subscribed) {
        last = null; // a gap between two subscriptions is not a stall
        continue;
      }
      if (samples[i][key] > samples[i - 1][key]) {
        if (last !== null) gap = Math.max(gap, samples[i].t - last);
        if (first === null) first = samples[i].t;
        last = samples[i].t;
      }
    }
    if (first === null) return null;
    const lastProgress = samples.findLast((s, i) => i > 0 && s[key] > samples[i - 1][key]);
    return { maxGapMs: Math.round(gap), spanMs: Math.round(lastProgress.t - first), idleAtEndMs: Math.round(samples.at(-1).t - lastProgress.t) };
  };
  const subscribedMs = Math.round(samples.reduce((a, s, i) => a + (i && s.subscribed && samples[i - 1].subscribed ? s.t - samples[i - 1].t : 0), 0));
  const details = await collect(page);
  const catalog = await page.evaluate(() => {
    try {
      return JSON.parse(JSON.stringify(window.moqPublish.broadcast.catalog.value ?? null));
    } catch (e) {
      return { error: String(e) };
    }
  });
  const first = samples.find((s) => s.video > 0);
  const sessions = details.sessions;
  const v = details.codecs.VideoEncoder;
  const a = details.codecs.AudioEncoder;
  Object.assign(summary, {
    seconds,
    protocol: sessions.find((s) => s.state === 'ready')?.protocol ?? null,
    webtransport: sessions.map((s) => ({ protocol: s.protocol, state: s.state })),
    catalog: summarizeCatalog(catalog),
    firstFrameAfterMs: first ? Math.round(first.t - samples[0].t) : null,
    videoFrames: v?.outputs ?? 0,
    audioFrames: a?.outputs ?? 0,
    videoCodecs: v?.configs ?? [],
    audioCodecs: a?.configs ?? [],
    bytesSent: samples.at(-1)?.sent ?? 0,
    groupStreams: samples.at(-1)?.uniStreams ?? 0,
    streams: details.streamCount,
    subscribedMs,
    progress: { video: progress('video'), audio: progress('audio'), sent: progress('sent') },
  });
  if (!sessions.some((s) => s.state === 'ready')) fail('no WebTransport session came up (WebSocket fallback, or no connection)');
  if (!catalog?.video && !catalog?.audio) fail(`no catalog built (${JSON.stringify(catalog)})`);
  if (!samples.some((s) => s.subscribed)) fail('nothing subscribed to the broadcast (run a viewer alongside)');
  else if (!first) fail('subscribed, but no video frame encoded');
  else {
    for (const key of ['video', 'audio', 'sent']) {
      const p = summary.progress[key];
      if (p === null) fail(`no ${key === 'sent' ? 'bytes sent on group streams' : `${key} frames encoded`}`);
      else if (p.maxGapMs >= MAX_GAP_MS) fail(`${key}: ${p.maxGapMs} ms without progress (limit ${MAX_GAP_MS})`);
    }
  }
  const errors = [...(v?.errors || []), ...(a?.errors || [])];
  if (errors.length) fail(`encoder errors: ${errors.join('; ')}`);
  if (capture) fs.writeFileSync(capture, JSON.stringify({ summary, catalog, ...details }, null, 1));
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
