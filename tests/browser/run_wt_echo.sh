#!/usr/bin/env bash
# Headless Chromium against moq-wt-echo on a free port: WebTransport session
# with serverCertificateHashes, bidi and uni echo, close code 42 "bye".
# Usage: run_wt_echo.sh BIN_DIR
set -euo pipefail
bin=$1
here="$(cd "$(dirname "$0")" && pwd)"
[ -d "$here/node_modules/playwright-core" ] || { echo "tests/browser/node_modules missing: run dev/setup"; exit 1; }

log=$(mktemp)
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 0)); print(s.getsockname()[1])')
"$bin/moq-wt-echo" --dev --listen "[::]:$port" > "$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 50); do
  grep -q '^fingerprint:' "$log" && break
  sleep 0.1
done
fingerprint=$(awk '/^fingerprint:/ {print $2}' "$log")
[ -n "$fingerprint" ] || { echo "moq-wt-echo did not start:"; cat "$log"; exit 1; }

timeout 60 node "$here/wt_echo.mjs" "https://localhost:$port/echo" "$fingerprint"
echo "server log:"; cat "$log"
