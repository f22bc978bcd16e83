// Runs a function inside a page of headless Chromium (Debian's package) and
// returns its result. The page is served from a throwaway HTTP server on
// localhost, which browsers treat as a secure context, so WebTransport is
// available. QUIC is left enabled: WebTransport needs it.

import http from 'node:http';
import { chromium } from 'playwright-core';

export async function inChromium(fn, arg, { timeoutMs = 30000 } = {}) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>moq test</title>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.error(`[page] ${m.text()}`));
    await page.goto(`http://localhost:${port}/`);
    page.setDefaultTimeout(timeoutMs);
    return await page.evaluate(fn, arg);
  } finally {
    await browser.close();
    server.close();
  }
}

export function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}
