// What the relay's pages share: where the relay is, which broadcast, and a
// few small timing helpers.

// The page's configuration. The relay puts it in the page as
// <script id="moq-config" type="application/json">{"url", "fingerprint",
// "name"}</script>; a page served some other way (tests, a plain file
// server) takes ?relay=https://host:port&fingerprint=HEX&name=NAME instead.
// `kind` is the page's path prefix ("watch", "publish"): /kind/NAME also
// names the broadcast.
export function readPageConfig(kind) {
  const params = new URLSearchParams(location.search);
  let relay = null;
  let fingerprint = null;
  let configuredName = null;
  const element = document.getElementById('moq-config');
  if (element) {
    const json = JSON.parse(element.textContent);
    relay = json.url;
    fingerprint = json.fingerprint || null;
    configuredName = json.name || null;
  } else {
    relay = params.get('relay');
    fingerprint = params.get('fingerprint');
  }
  const segments = location.pathname.split('/').filter(Boolean);
  const fromPath = segments.length >= 2 && segments.at(-2) === kind ? decodeURIComponent(segments.at(-1)) : null;
  const name = params.get('name') || configuredName || fromPath;
  if (!relay) throw new Error('no relay configured (expected the moq-config element, or ?relay=https://host:port)');
  if (!name) throw new Error(`no broadcast name (expected /${kind}/NAME, or ?name=NAME)`);
  return { relay: relay.replace(/\/+$/, ''), fingerprint, name, params, fromElement: Boolean(element) };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Amount per second over a sliding window (frames, bytes). Until a whole
// window has passed, the rate is over the time seen so far (at least 250 ms).
export class RateMeter {
  constructor(windowMs = 2000) {
    this.windowMs = windowMs;
    this.events = []; // [time, amount]
  }
  add(amount = 1, now = performance.now()) {
    this.events.push([now, amount]);
  }
  perSecond(now = performance.now()) {
    while (this.events.length && this.events[0][0] < now - this.windowMs) this.events.shift();
    if (!this.events.length) return 0;
    const span = Math.min(this.windowMs, Math.max(now - this.events[0][0], 250));
    return (this.events.reduce((s, e) => s + e[1], 0) * 1000) / span;
  }
}
