// Runs a function inside a page of headless Chromium (Debian's package) and
// returns its result. The page is served from a throwaway HTTP server on
// localhost, which browsers treat as a secure context, so WebTransport is
// available. QUIC is left enabled: WebTransport needs it.

import http from 'node:http';
import { chromium } from 'playwright-core';

// Headless Chromium (Debian's, or $CHROMIUM) with QUIC left on; `extraArgs`
// add flags (autoplay, fake media devices).
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

export async function inChromium(fn, arg, { timeoutMs = 30000 } = {}) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>moq test</title>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  try {
    for (let attempt = 1; ; attempt++) {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        page.on('console', (m) => console.error(`[page] ${m.text()}`));
        await page.goto(`http://localhost:${port}/`);
        page.setDefaultTimeout(timeoutMs);
        return await page.evaluate(fn, arg);
      } catch (e) {
        // Chromium's renderer process dying (seen once in a CI run, not
        // reproducible) says nothing about the server under test: once more.
        if (attempt > 1 || !String(e?.message).includes('Target crashed')) throw e;
        console.error(`harness: Chromium's page crashed (${e.message}); running it once more`);
      } finally {
        await browser.close();
      }
    }
  } finally {
    server.close();
  }
}

export function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

// The checks of a scenario test: each failed one is collected, and the test
// ends with them all (report()), so one run shows every problem.
export class Checks {
  constructor() {
    this.failures = [];
  }
  check(ok, what) {
    if (!ok) this.failures.push(what);
    return ok;
  }
  // Prints FAIL with every failure (exit 1) or PASS.
  report() {
    if (this.failures.length) {
      console.log(`FAIL: ${this.failures.join('; ')}`);
      process.exit(1);
    }
    console.log('PASS');
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One JSON line per step of a scenario.
export const logStep = (step, data) => console.log(JSON.stringify({ step, ...data }));

// Polls `fn` until it returns something truthy or `limitMs` passed; returns
// its last value.
export async function until(fn, limitMs, everyMs = 100) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await fn();
    if (value || Date.now() > deadline) return value;
    await sleep(everyMs);
  }
}
