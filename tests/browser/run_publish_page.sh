#!/usr/bin/env bash
# The relay's publish page (publish_page.mjs) publishes the test pattern, then
# the fake camera + microphone, to that relay; moq-sub and the relay's watch
# page check what arrives.
# Usage: run_publish_page.sh BIN_DIR [SCREENSHOT_DIR]
# PUBLISH_SOURCES=pattern (or camera) runs one case only.
set -euo pipefail
bin=$1
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/dev_relay.sh"
[ -d "$here/node_modules/playwright-core" ] || { echo "tests/browser/node_modules missing: run dev/setup"; exit 1; }
command -v ffprobe > /dev/null || { echo "ffmpeg/ffprobe are needed"; exit 1; }

# The publisher half of moq.js and the MP4 writer alone first (Node, no browser).
node --test "$here/moq_publisher_test.mjs" "$here/mp4_writer_test.mjs"

screenshots=${2:-}
start_dev_relay "$bin" "$work"

[ -z "$screenshots" ] || mkdir -p "$screenshots"
status=0
timeout 150 node "$here/publish_page.mjs" "$bin" "$pages" "https://localhost:$port" "$fingerprint" $screenshots || status=$?
if [ "$status" -ne 0 ]; then
  echo "relay log:"; tail -n 40 "$work/relay.log"
fi
exit "$status"
