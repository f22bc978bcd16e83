// The relay's publish page (web/publish.html, embedded in moq-relay) in
// headless Chromium, publishing to that relay:
//   node publish_page.mjs BIN_DIR PAGES_URL RELAY_URL FINGERPRINT [SCREENSHOT_DIR]
// PAGES_URL is what the relay printed as "pages:" (http://localhost:PORT/).
//
// For each source, the test pattern and then camera + microphone (Chromium's
// fake devices):
// 1. The page autostarts and goes live: frames encoded and sent, objects out.
// 2. A track the broadcast does not have is refused with 404.
// 3. moq-sub records ~8 s: ffprobe counts video and audio packets, ffmpeg
//    decodes the file without an error.
// 4. The relay's watch page (in a second browser: a background tab renders
//    at 1 fps) plays it: frames rendered keep growing, audio is decoded.
// 5. Stop: the page says stopped, the watch page notices the end.
// Prints one JSON line per step; exit 0 when every check passed.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Checks, launchChromium, logStep, sleep, until } from './harness.mjs';

const [bin, pagesUrl, relayUrl, fingerprint, screenshotDir] = process.argv.slice(2);
if (!bin || !pagesUrl || !relayUrl || !fingerprint) {
  console.error('usage: node publish_page.mjs BIN_DIR PAGES_URL RELAY_URL FINGERPRINT [SCREENSHOT_DIR]');
  process.exit(2);
}
const RECORD_SECONDS = 8;
const WATCH_SECONDS = 4;
// Two busy cores encode, decode and relay at once here: ask for a steady
// picture, not for every one of the 30 frames a second.
const MIN_FRAMES_WATCHED = WATCH_SECONDS * 15;
const MIN_VIDEO_PACKETS = RECORD_SECONDS * 15;
const MIN_AUDIO_PACKETS = RECORD_SECONDS * 25; // 20 ms Opus packets: 50 a second

const checks = new Checks();
const check = (ok, what) => checks.check(ok, what);
const failures = checks.failures;
const log = logStep;


const statsOf = (page, global) => page.evaluate((g) => window[g]?.stats && { ...window[g].stats }, global);

const launch = () =>
  launchChromium([
    '--autoplay-policy=no-user-gesture-required',
    // The camera case: a generated picture and tone, no permission prompt.
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
  ]);

async function newPage(browser, label, pageErrors) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.error(`[${label} ${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e}`));
  return page;
}

async function publishCase(source, pagesUrl, work) {
  const name = `publish-test-${source}-${process.pid}`;
  const pageErrors = [];
  const publisherBrowser = await launch();
  const viewerBrowser = await launch();
  let sub = null;
  try {
    // 1. Autostart, live.
    const publisher = await newPage(publisherBrowser, `publish ${source}`, pageErrors);
    await publisher.goto(`${pagesUrl}publish/${encodeURIComponent(name)}?autostart=1&source=${source}`);
    let stats = await until(async () => {
      const s = await statsOf(publisher, 'moqPublisher');
      return s && (s.error || (s.state === 'live' && s.videoFramesEncoded > 0 && s.audioFramesEncoded > 0)) ? s : null;
    }, 20000);
    if (!check(stats && !stats.error, `${source}: the publish page did not go live (${JSON.stringify(stats || (await statsOf(publisher, 'moqPublisher')))})`)) return;
    log(`${source}: live`, { stats });

    // 2. Unknown tracks are refused (through the relay, from the publisher).
    const viewer = await newPage(viewerBrowser, `watch ${source}`, pageErrors);
    await viewer.goto(`${pagesUrl}watch/${encodeURIComponent(name)}`);
    const unknown = await viewer.evaluate(
      async ([relay, fp, broadcast]) => {
        const { MoqSession } = await import('/static/moq.js');
        const session = await MoqSession.connect(`${relay}/${broadcast}`, { fingerprint: fp });
        const sub = session.subscribe('no-such-track');
        // The relay may accept at once and pass the publisher's refusal on later.
        const timeout = new Promise((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5000));
        const code = await Promise.race([sub.closed.then((e) => e.code), timeout]);
        session.close();
        return code;
      },
      [relayUrl, fingerprint, encodeURIComponent(name)],
    );
    check(unknown === 404, `${source}: SUBSCRIBE for an unknown track got ${unknown}, not 404`);
    log(`${source}: unknown track`, { code: unknown });

    // 3. moq-sub alongside, for the file checks.
    const recording = path.join(work, `${source}.mp4`);
    sub = spawn('timeout', [String(RECORD_SECONDS), `${bin}/moq-sub`, `${relayUrl}/${name}`, '--fingerprint', fingerprint, '--log-level', 'warn'], {
      stdio: ['ignore', fs.openSync(recording, 'w'), 'inherit'],
    });
    const subDone = new Promise((resolve) => sub.on('exit', resolve));

    // 4. The watch page plays it.
    const first = await until(async () => {
      const s = await statsOf(viewer, 'moqPlayer');
      return s?.videoFramesRendered > 0 ? s : null;
    }, 10000);
    check(first, `${source}: the watch page showed no frame`);
    const before = (await statsOf(viewer, 'moqPlayer')) || {};
    await sleep(WATCH_SECONDS * 1000);
    const after = (await statsOf(viewer, 'moqPlayer')) || {};
    const watched = (after.videoFramesRendered || 0) - (before.videoFramesRendered || 0);
    check(watched >= MIN_FRAMES_WATCHED, `${source}: the watch page rendered ${watched} frames in ${WATCH_SECONDS} s (want >= ${MIN_FRAMES_WATCHED})`);
    check(after.audioFramesDecoded > 0, `${source}: the watch page decoded no audio`);
    log(`${source}: watch page`, { framesIn4s: watched, stats: after });

    await subDone;
    sub = null;
    const probe = execFileSync('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_type,codec_name,nb_read_packets', '-of', 'csv=p=0', recording]).toString();
    const packets = {};
    for (const line of probe.trim().split('\n')) {
      const [codec, kind, count] = line.split(',');
      packets[kind] = { codec, count: Number(count) };
    }
    check(packets.video?.codec === 'h264' && packets.video.count >= MIN_VIDEO_PACKETS, `${source}: moq-sub's file has video ${JSON.stringify(packets.video)}`);
    check(packets.audio?.codec === 'opus' && packets.audio.count >= MIN_AUDIO_PACKETS, `${source}: moq-sub's file has audio ${JSON.stringify(packets.audio)}`);
    const decode = spawnSyncText('ffmpeg', ['-v', 'error', '-i', recording, '-f', 'null', '-']);
    check(decode.trim() === '', `${source}: ffmpeg reports decode errors: ${decode.trim().split('\n').slice(0, 5).join(' | ')}`);
    log(`${source}: moq-sub recording`, { packets, decodeErrors: decode.trim() ? decode.trim().split('\n').length : 0 });

    stats = await statsOf(publisher, 'moqPublisher');
    check(stats.videoFramesSent > 0 && stats.audioFramesSent > 0 && stats.objectsSent > 0 && stats.bytesSent > 0, `${source}: publisher figures ${JSON.stringify(stats)}`);
    check(!stats.error && stats.state === 'live', `${source}: publisher ${stats.state}: ${stats.error}`);
    check(stats.rttMs > 0, `${source}: no round-trip time (${stats.rttMs})`);
    const shown = await publisher.evaluate(() => document.getElementById('figures').textContent);
    check(shown.includes('bitrate sent') && shown.includes('kbit/s'), `${source}: the page does not show its figures`);
    if (screenshotDir) await publisher.screenshot({ path: path.join(screenshotDir, `publish-${source}.png`) });
    log(`${source}: publisher figures`, { stats });

    // 5. Stop: the page and the viewer both notice.
    await publisher.click('#stop');
    const stopped = await until(async () => ((await statsOf(publisher, 'moqPublisher'))?.state === 'stopped' ? true : null), 5000);
    check(stopped, `${source}: the page did not reach state "stopped"`);
    const ended = await until(async () => {
      const s = await statsOf(viewer, 'moqPlayer');
      return s && s.state !== 'playing' && s.state !== 'buffering' ? s : null;
    }, 8000);
    check(ended, `${source}: the watch page did not notice the end of the broadcast`);
    log(`${source}: stopped`, { viewerState: ended?.state });
    check(pageErrors.length === 0, `${source}: page errors: ${pageErrors.join('; ')}`);
  } finally {
    if (sub) sub.kill();
    await publisherBrowser.close();
    await viewerBrowser.close();
  }
}

function spawnSyncText(cmd, args) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString() + '';
  } catch (e) {
    return `${e.stderr || ''}${e.stdout || ''}exit ${e.status}`;
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'publish-page-'));
try {
  const only = process.env.PUBLISH_SOURCES ? process.env.PUBLISH_SOURCES.split(',') : ['pattern', 'camera'];
  for (const source of only) await publishCase(source, pagesUrl, work);
} catch (e) {
  failures.push(String(e?.stack || e));
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

checks.report();
