#!/usr/bin/env bash
# The relay's pages in headless Chromium (watch_page.mjs): a watch page opened
# before the publisher, the index, a second watch page and a moq-sub joining
# the running broadcast, then the publisher stopping and coming back.
# Usage: run_watch_page.sh BIN_DIR [SCREENSHOT.png]
set -euo pipefail
bin=$1
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/dev_relay.sh"
[ -d "$here/node_modules/playwright-core" ] || { echo "tests/browser/node_modules missing: run dev/setup"; exit 1; }
command -v ffmpeg > /dev/null || { echo "ffmpeg is needed"; exit 1; }

screenshot=${2:-$work/watch.png}
start_dev_relay "$bin" "$work"

status=0
timeout 110 node "$here/watch_page.mjs" "$bin" "$pages" "https://localhost:$port" "$fingerprint" "$screenshot" || status=$?
if [ "$status" -ne 0 ]; then
  echo "relay log:"; tail -n 40 "$work/relay.log"
fi
exit "$status"
