#!/usr/bin/env bash
# Today's browser clients through one relay: @moq/publish (moq_publish.mjs)
# publishes its test pattern (or, with --camera, Chromium's fake camera and
# microphone) and @moq/watch (moq_watch.mjs) plays it back from the relay.
# Usage: moq_publish_watch.sh RELAY_URL [SECONDS] [--camera]
#   RELAY_URL  http://localhost:PORT/ROOT of a running relay (the clients fetch
#              /certificate.sha256 there and dial WebTransport on that port)
#   SECONDS    how long the player watches (default 8)
# CAPTURE_DIR=DIR keeps both sides' captures (catalog, protocol, stream
# bytes) as DIR/publish.json and DIR/watch.json.
# Exit 0 when both sides passed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
url=${1:?usage: moq_publish_watch.sh RELAY_URL [SECONDS] [--camera]}
seconds=${2:-8}
camera=${3:-}
[ -d "$here/node_modules/@moq/watch" ] || { echo "tests/browser/node_modules missing: run npm ci in tests/browser"; exit 1; }
name="moq-js-test-$$.hang"
cap_pub=() cap_watch=()
if [ -n "${CAPTURE_DIR:-}" ]; then
  mkdir -p "$CAPTURE_DIR"
  cap_pub=(--capture "$CAPTURE_DIR/publish.json")
  cap_watch=(--capture "$CAPTURE_DIR/watch.json")
fi

# The publisher runs from before the player starts until after it stops.
timeout $((seconds + 60)) node "$here/moq_publish.mjs" "$url" "$name" $((seconds + 14)) $camera "${cap_pub[@]}" &
pub=$!
sleep 3
status=0
timeout $((seconds + 50)) node "$here/moq_watch.mjs" "$url" "$name" "$seconds" "${cap_watch[@]}" || status=$?
wait "$pub" || status=$?
exit "$status"
