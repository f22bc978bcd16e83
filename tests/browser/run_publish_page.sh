#!/usr/bin/env bash
# The relay's publish page (publish_page.mjs) publishes the test pattern, then
# the fake camera + microphone, to that relay; moq-sub and the relay's watch
# page check what arrives.
# Usage: run_publish_page.sh BIN_DIR [SCREENSHOT_DIR]
# PUBLISH_SOURCES=pattern (or camera) runs one case only.
set -euo pipefail
bin=$1
here="$(cd "$(dirname "$0")" && pwd)"
[ -d "$here/node_modules/playwright-core" ] || { echo "tests/browser/node_modules missing: run dev/setup"; exit 1; }
command -v ffprobe > /dev/null || { echo "ffmpeg/ffprobe are needed"; exit 1; }

# The publisher half of moq.js and the MP4 writer alone first (Node, no browser).
node --test "$here/moq_publisher_test.mjs" "$here/mp4_writer_test.mjs"

work=$(mktemp -d)
screenshots=${2:-}
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

[ -z "$screenshots" ] || mkdir -p "$screenshots"
status=0
timeout 150 node "$here/publish_page.mjs" "$bin" "$pages" "https://localhost:$port" "$fingerprint" $screenshots || status=$?
if [ "$status" -ne 0 ]; then
  echo "relay log:"; tail -n 40 "$work/relay.log"
fi
exit "$status"
