# Sourced by the browser tests' run_*.sh. Makes `work`, a scratch directory
# that goes, with the relay, when the script exits. start_dev_relay starts
# `moq-relay --dev` on a free port and sets `port`, `relay` (its pid),
# `fingerprint` and `pages` (the base URL it printed); its stdout/stderr go
# to WORK_DIR/relay.out and relay.log.
# Usage: start_dev_relay BIN_DIR WORK_DIR
start_dev_relay() {
  local bin=$1 dir=$2
  port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 0)); print(s.getsockname()[1])')
  "$bin/moq-relay" --dev --listen "[::]:$port" > "$dir/relay.out" 2> "$dir/relay.log" &
  relay=$!
  for _ in $(seq 100); do
    grep -q '^pages:' "$dir/relay.out" && break
    sleep 0.1
  done
  fingerprint=$(awk '/^fingerprint:/ {print $2; exit}' "$dir/relay.out")
  pages=$(awk '/^pages:/ {print $2; exit}' "$dir/relay.out")
  [ -n "$pages" ] || { echo "moq-relay did not start:"; cat "$dir/relay.out" "$dir/relay.log"; return 1; }
}

stop_dev_relay() {
  [ -z "${relay:-}" ] || { kill "$relay" 2>/dev/null || true; wait "$relay" 2>/dev/null || true; }
}

work=$(mktemp -d)
relay=""
trap 'stop_dev_relay; rm -rf "$work"' EXIT
