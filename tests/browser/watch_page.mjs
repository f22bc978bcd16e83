// The relay's own pages in headless Chromium, against live broadcasts from
// ffmpeg | moq-pub (issue 11):
//   node watch_page.mjs BIN_DIR PAGES_URL RELAY_URL FINGERPRINT SCREENSHOT.png
// PAGES_URL is what the relay printed as "pages:" (http://localhost:PORT/).
//
// 1. A watch page opened before the publisher starts says it waits, and
//    plays once the publisher starts.
// 2. The index lists the broadcast with its tracks.
// 3. A second watch page joining the running broadcast: first frame within
//    1 s, then >= 5 s of video (150 frames at 30 fps), audio decoded, no
//    freeze over 500 ms; a moq-sub alongside gets video and audio too.
//    Screenshot (stats overlay open) written and not blank.
// 4. The publisher stops: the index drops the broadcast, the pages say so;
//    it restarts under the same name: the first page plays again.
// Prints one JSON line per step; exit 0 when every check passed.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Checks, launchChromium, logStep, sleep, until } from './harness.mjs';

const [bin, pagesUrl, relayUrl, fingerprint, screenshotPath] = process.argv.slice(2);
if (!bin || !pagesUrl || !relayUrl || !fingerprint || !screenshotPath) {
  console.error('usage: node watch_page.mjs BIN_DIR PAGES_URL RELAY_URL FINGERPRINT SCREENSHOT.png');
  process.exit(2);
}
const name = `watch-test-${process.pid}`;
// Issue 11's bound; a sanitizer build of the relay (MOQ_SLOW_BUILD, set by
// CTest there) is several times slower and gets 3 s.
const FIRST_FRAME_JOINING_MS = process.env.MOQ_SLOW_BUILD ? 3000 : 1000;
const WATCH_SECONDS = 6;
const MIN_FRAMES = 150; // 5 s at 30 fps
// Issue 11's bound for the optimised build; the sanitizer build's relay (a
// 525 ms freeze seen once there, with the ASan suite starting beside it) gets
// twice that.
const MAX_STALL_MS = process.env.MOQ_SLOW_BUILD ? 1000 : 500;

const checks = new Checks();
const check = (ok, what) => checks.check(ok, what);
const failures = checks.failures;
const log = logStep;

// ffmpeg's test pattern + tone through moq-pub, bounded to 60 s of media; a
// process group of its own, so that stopping it stops both.
function startPublisher() {
  const script = `ffmpeg -hide_banner -loglevel error -nostdin -re \
    -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -t 60 -c:v libx264 -preset veryfast -tune zerolatency -g 30 -pix_fmt yuv420p -b:v 1500k \
    -c:a aac -b:a 128k -f mp4 -movflags empty_moov+frag_every_frame+separate_moof+omit_tfhd_offset - |
    "${bin}/moq-pub" "${relayUrl}/${name}" --fingerprint ${fingerprint} --log-level warn`;
  return spawn('bash', ['-c', script], { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
}
function stopPublisher(child) {
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}


const playerStats = (page) => page.evaluate(() => window.moqPlayer?.stats && { ...window.moqPlayer.stats });

async function listedTracks(page) {
  return page.evaluate((broadcast) => {
    for (const row of document.querySelectorAll('#broadcasts tbody tr')) {
      if (row.querySelector('a')?.textContent === broadcast) return row.textContent;
    }
    return null;
  }, name);
}

// Two viewers are two browsers (a page behind another tab of the same
// browser renders at 1 fps, as in every browser).
const launch = () => launchChromium(['--autoplay-policy=no-user-gesture-required']);
const browser = await launch();
const secondBrowser = await launch();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'watch-page-'));
let publisher = null;
const pageErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const secondContext = await secondBrowser.newContext({ viewport: { width: 1280, height: 900 } });
  for (const c of [context, secondContext]) {
    c.on('page', (page) => {
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') console.error(`[page ${m.type()}] ${m.text()}`);
      });
      page.on('pageerror', (e) => pageErrors.push(String(e)));
    });
  }
  const watchUrl = new URL(`watch/${encodeURIComponent(name)}`, pagesUrl).href;

  // 1. Opened before the publisher: it waits, then plays.
  const early = await context.newPage();
  await early.goto(watchUrl);
  await sleep(1500);
  let stats = await playerStats(early);
  check(stats && stats.firstFrameMs == null && stats.state !== 'playing', `before the publisher: state ${stats?.state}`);
  log('before publisher', { state: stats?.state });
  publisher = startPublisher();
  stats = await until(async () => {
    const s = await playerStats(early);
    return s?.videoFramesRendered > 30 ? s : null;
  }, 15000);
  check(stats, 'the page opened before the publisher did not play once it started');
  log('opened before publisher, plays', { stats });

  // 2. The index lists it with its tracks.
  const index = await secondContext.newPage();
  await index.goto(pagesUrl);
  const row = await until(async () => {
    const text = await listedTracks(index);
    return text && text.includes('avc1') && text.includes('mp4a') ? text : null;
  }, 10000);
  check(row, 'the index does not list the broadcast with its video and audio tracks');
  log('index lists it', { row });

  // 3. A second page joins the running broadcast; a moq-sub alongside.
  const sub = spawn(
    'timeout',
    ['8', `${bin}/moq-sub`, `${relayUrl}/${name}`, '--fingerprint', fingerprint, '--log-level', 'warn'],
    { stdio: ['ignore', fs.openSync(path.join(work, 'sub.mp4'), 'w'), 'inherit'] },
  );
  const subDone = new Promise((resolve) => sub.on('exit', resolve));
  const joining = await secondContext.newPage();
  await joining.goto(watchUrl);
  const first = await until(async () => {
    const s = await playerStats(joining);
    return s?.firstFrameMs != null ? s : null;
  }, 8000);
  check(first, 'the joining page showed no frame');
  check(first && first.firstFrameMs <= FIRST_FRAME_JOINING_MS,
    `first frame ${first?.firstFrameMs} ms after joining (limit ${FIRST_FRAME_JOINING_MS})`);
  await sleep(WATCH_SECONDS * 1000);
  await joining.keyboard.press('s'); // the stats overlay, as a viewer opens it
  await sleep(400);
  const result = await joining.evaluate(() => {
    const canvas = document.getElementById('video');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    // Luma variance over a grid of pixels: a blank canvas gives about 0.
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < data.length; i += 4 * 97) {
      const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      sum += y;
      sumSq += y * y;
      n++;
    }
    const mean = sum / n;
    return {
      stats: { ...window.moqPlayer.stats },
      lumaVariance: sumSq / n - mean * mean,
      statsPanel: document.getElementById('stats').textContent,
    };
  });
  await joining.screenshot({ path: screenshotPath });
  stats = result.stats;
  check(stats.videoFramesRendered >= MIN_FRAMES, `joining page: ${stats.videoFramesRendered} frames (want >= ${MIN_FRAMES})`);
  check(stats.audioFramesDecoded > 0, 'joining page: no audio decoded');
  check(stats.maxStallMs <= MAX_STALL_MS, `joining page: a freeze of ${stats.maxStallMs} ms`);
  check(result.lumaVariance > 100, `joining page: the picture looks blank (variance ${result.lumaVariance})`);
  check(result.statsPanel.includes('latency'), 'the stats overlay did not open');
  check(fs.existsSync(screenshotPath) && fs.statSync(screenshotPath).size > 10000, 'screenshot missing');
  log('joining page', { stats, lumaVariance: result.lumaVariance });
  const earlyNow = await playerStats(early);
  log('first page meanwhile', { stats: earlyNow });
  check(earlyNow.maxStallMs <= MAX_STALL_MS, `first page: a freeze of ${earlyNow.maxStallMs} ms while two watched`);
  await subDone;
  const probe = execFileSync('ffprobe', ['-v', 'error', '-count_packets', '-show_entries',
    'stream=codec_type,nb_read_packets', '-of', 'csv=p=0', path.join(work, 'sub.mp4')]).toString();
  const packets = Object.fromEntries(probe.trim().split('\n').map((l) => l.split(',')));
  check(Number(packets.video) >= 150 && Number(packets.audio) > 100, `moq-sub alongside got ${probe.trim()}`);
  log('moq-sub alongside', { packets });

  // 4. The publisher stops: gone from the index, the pages say so; it comes
  // back under the same name: the first page plays again.
  stopPublisher(publisher);
  publisher = null;
  const gone = await until(async () => (await listedTracks(index)) === null, 8000);
  check(gone, 'the index still lists the broadcast after its publisher stopped');
  const ended = await until(async () => {
    const s = await playerStats(early);
    return s && s.state !== 'playing' && s.state !== 'buffering' ? s : null;
  }, 8000);
  check(ended, 'the first page did not notice the end of the broadcast');
  log('publisher stopped', { index: gone ? 'dropped' : 'still listed', state: ended?.state });
  const framesBefore = (await playerStats(early)).videoFramesRendered;
  publisher = startPublisher();
  const again = await until(async () => {
    const s = await playerStats(early);
    return s?.videoFramesRendered >= framesBefore + 60 ? s : null;
  }, 20000);
  check(again, 'the first page did not play again when the broadcast came back');
  log('publisher restarted, plays again', { reconnects: again?.reconnects, frames: again?.videoFramesRendered });
  check(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
} catch (e) {
  failures.push(String(e?.stack || e));
} finally {
  if (publisher) stopPublisher(publisher);
  await browser.close();
  await secondBrowser.close();
  fs.rmSync(work, { recursive: true, force: true });
}

checks.report();
