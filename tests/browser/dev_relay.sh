# Sourced by the browser tests' run_*.sh. Makes `work`, a scratch directory
# that goes, with the relay, when the script exits. start_dev_relay starts
# `moq-relay --dev` on a free port and sets `port`, `relay` (its pid),
# `fingerprint` and `pages` (the base URL it printed); its stdout/stderr go
# to WORK_DIR/relay.out and relay.log.
# free_port prints a port number free for both UDP and TCP on [::].
# Usage: start_dev_relay BIN_DIR WORK_DIR [MORE RELAY FLAGS...]
free_port() {
  python3 -c '
import socket
while True:
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::", 0))
    p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        t.bind(("::", p)); print(p); break
    except OSError:
        pass
'
}

start_dev_relay() {
  local bin=$1 dir=$2 attempt
  local more=("${@:3}")
  # Another test may take the TCP port (the HTTP load tests open thousands)
  # between our check and the relay's bind: a new port, up to five times.
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    "$bin/moq-relay" --dev --listen "[::]:$port" "${more[@]}" > "$dir/relay.out" 2> "$dir/relay.log" &
    relay=$!
    for _ in $(seq 100); do
      grep -q '^pages:' "$dir/relay.out" && break
      kill -0 "$relay" 2>/dev/null || break
      sleep 0.1
    done
    fingerprint=$(awk '/^fingerprint:/ {print $2; exit}' "$dir/relay.out")
    pages=$(awk '/^pages:/ {print $2; exit}' "$dir/relay.out")
    [ -z "$pages" ] || return 0
    echo "moq-relay did not start on port $port (attempt $attempt):"; cat "$dir/relay.out" "$dir/relay.log"
    stop_dev_relay
    relay=""
  done
  return 1
}

stop_dev_relay() {
  [ -z "${relay:-}" ] || { kill "$relay" 2>/dev/null || true; wait "$relay" 2>/dev/null || true; }
}

work=$(mktemp -d)
relay=""
trap 'stop_dev_relay; rm -rf "$work"' EXIT
