// The relay's watch page in headless Chromium on a broadcast someone else
// publishes (e.g. @moq/publish, through the relay's KIXEL view of it):
//   node watch_broadcast.mjs PAGES_URL BROADCAST SECONDS [SCREENSHOT.png]
// PAGES_URL is what the relay printed as "pages:" (http://localhost:PORT/).
// Checks, as watch_page.mjs does for a joining viewer: a first frame within
// 10 s; then, from 1 s after it (the page's start: first picture, clocks
// starting, catching up with the live edge, showed gaps of 0.1-0.7 s here,
// in the page's maxStallMs, reported and bounded at 2 s), over
// SECONDS: at least 15 frames a second rendered (two busy cores run the
// publishing browser too), no freeze over 1 s between two rendered frames,
// audio decoded; a picture that is not blank, no page error. Prints one JSON
// line; exit 0 when every check passed.

import { Checks, launchChromium, logStep, sleep, until } from './harness.mjs';

const [pagesUrl, name, secondsArg, screenshotPath] = process.argv.slice(2);
if (!pagesUrl || !name || !secondsArg) {
  console.error('usage: node watch_broadcast.mjs PAGES_URL BROADCAST SECONDS [SCREENSHOT.png]');
  process.exit(2);
}
const seconds = Number(secondsArg);
const FIRST_FRAME_MS = 10000;
const MIN_FPS = 15;
const SETTLE_MS = 1000;
const MAX_STALL_MS = 1000;
const MAX_STARTUP_STALL_MS = 2000;

const checks = new Checks();
const check = (ok, what) => checks.check(ok, what);
const playerStats = (page) => page.evaluate(() => window.moqPlayer?.stats && { ...window.moqPlayer.stats });

const browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
const pageErrors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.error(`[page ${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(new URL(`watch/${encodeURIComponent(name)}`, pagesUrl).href);
  const first = await until(async () => {
    const s = await playerStats(page);
    return s?.firstFrameMs != null || s?.state === 'error' ? s : null;
  }, FIRST_FRAME_MS);
  if (check(first?.firstFrameMs != null, `no frame within ${FIRST_FRAME_MS} ms (${JSON.stringify(first || (await playerStats(page)))})`)) {
    await sleep(SETTLE_MS);
    // The longest time between two rendered frames from here on (watched
    // every animation frame; the page renders in one too).
    const start = await page.evaluate(() => {
      const stats = window.moqPlayer.stats;
      const g = (window.freezeWatch = { frames: stats.videoFramesRendered, last: performance.now(), maxGap: 0 });
      const watch = () => {
        const now = performance.now();
        if (stats.videoFramesRendered !== g.frames) {
          g.maxGap = Math.max(g.maxGap, now - g.last);
          g.frames = stats.videoFramesRendered;
          g.last = now;
        }
        requestAnimationFrame(watch);
      };
      requestAnimationFrame(watch);
      return { ...stats };
    });
    await sleep(seconds * 1000);
    const result = await page.evaluate(() => {
      const g = window.freezeWatch;
      // A freeze still going on counts too.
      const maxGapMs = Math.round(Math.max(g.maxGap, performance.now() - g.last));
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
      return { stats: { ...window.moqPlayer.stats }, maxGapMs, lumaVariance: Math.round(sumSq / n - mean * mean) };
    });
    if (screenshotPath) await page.screenshot({ path: screenshotPath });
    const { stats } = result;
    const frames = stats.videoFramesRendered - start.videoFramesRendered;
    const audio = stats.audioFramesDecoded - start.audioFramesDecoded;
    check(frames >= seconds * MIN_FPS, `${frames} frames rendered in ${seconds} s (want >= ${seconds * MIN_FPS})`);
    check(audio > 0, `no audio decoded in ${seconds} s`);
    check(result.maxGapMs <= MAX_STALL_MS, `a freeze of ${result.maxGapMs} ms (limit ${MAX_STALL_MS})`);
    check(stats.maxStallMs <= MAX_STARTUP_STALL_MS, `a freeze of ${stats.maxStallMs} ms since the first frame (limit ${MAX_STARTUP_STALL_MS})`);
    check(result.lumaVariance > 100, `the picture looks blank (variance ${result.lumaVariance})`);
    check(!stats.error, `player error: ${stats.error}`);
    logStep('watch page', { broadcast: name, seconds, frames, audioFrames: audio, maxGapMs: result.maxGapMs, lumaVariance: result.lumaVariance, stats });
  }
  check(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
} catch (e) {
  checks.failures.push(String(e?.stack || e));
} finally {
  await browser.close();
}
checks.report();
