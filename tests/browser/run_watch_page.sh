#!/usr/bin/env bash
# The relay's pages in headless Chromium (watch_page.mjs): a watch page opened
# before the publisher, the index, a second watch page and a moq-sub joining
# the running broadcast, then the publisher stopping and coming back.
# Usage: run_watch_page.sh BIN_DIR [SCREENSHOT.png]
set -euo pipefail
bin=$1
here="$(cd "$(dirname "$0")" && pwd)"
[ -d "$here/node_modules/playwright-core" ] || { echo "tests/browser/node_modules missing: run dev/setup"; exit 1; }
command -v ffmpeg > /dev/null || { echo "ffmpeg is needed"; exit 1; }

work=$(mktemp -d)
screenshot=${2:-$work/watch.png}
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 0)); print(s.getsockname()[1])')
relay=""
cleanup() {
  [ -z "$relay" ] || { kill "$relay" 2>/dev/null || true; wait "$relay" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/moq-relay" --dev --listen "[::]:$port" > "$work/relay.out" 2> "$work/relay.log" &
relay=$!
for _ in $(seq 100); do
  grep -q '^pages:' "$work/relay.out" && break
  sleep 0.1
done
fingerprint=$(awk '/^fingerprint:/ {print $2; exit}' "$work/relay.out")
pages=$(awk '/^pages:/ {print $2; exit}' "$work/relay.out")
[ -n "$pages" ] || { echo "moq-relay did not start:"; cat "$work/relay.out" "$work/relay.log"; exit 1; }

status=0
timeout 110 node "$here/watch_page.mjs" "$bin" "$pages" "https://localhost:$port" "$fingerprint" "$screenshot" || status=$?
if [ "$status" -ne 0 ]; then
  echo "relay log:"; tail -n 40 "$work/relay.log"
fi
exit "$status"
