#!/usr/bin/env bash
# Issue 12: the Rust MoQ tools (crates.io moq-relay 0.17.10 and moq-cli
# 0.14.10, built by dev/rust-peers into ~/.cache/moq-peers) with ours:
#  1. ffmpeg | moq-pub --protocol moq-lite-05 -> moq-relay 0.17.10 ->
#     moq-sub --protocol moq-lite-05: ffprobe shows h264 + aac, it decodes.
#  2. ffmpeg | moq import fmp4 (moq-cli, moq-lite) -> our relay -> moq-sub
#     (KIXEL_00, through the relay's KIXEL view): h264 + aac, it decodes.
# Exit 77 (skipped) when the Rust binaries are not built.
# Usage: run_rust_peers.sh BIN_DIR
set -euo pipefail
bin=$1
peers="${MOQ_PEERS_DIR:-$HOME/.cache/moq-peers}/bin"
[ -x "$peers/moq-relay" ] && [ -x "$peers/moq" ] || { echo "skipped: run dev/rust-peers first"; exit 77; }
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../browser/dev_relay.sh"
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "== $f"; tail -n 15 "$f"; done; exit 1; }
check_media() {  # FILE
  local streams errors
  streams=$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$1" | sort | tr '\n' ' ')
  [ "$streams" = "aac h264 " ] || fail "$1 has streams '$streams'"
  errors=$(ffmpeg -v error -i "$1" -f null - 2>&1 | grep -v "non monotonically" || true)
  [ -z "$errors" ] || fail "$1 does not decode: $errors"
}
test_pattern() {  # SECONDS
  ffmpeg -hide_banner -loglevel error -nostdin -re -f lavfi -i "testsrc2=size=640x360:rate=30" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$1" -c:v libx264 -preset veryfast \
    -tune zerolatency -g 30 -pix_fmt yuv420p -b:v 1M -c:a aac -b:a 128k -f mp4 \
    -movflags cmaf+separate_moof+delay_moov+skip_trailer+frag_every_frame -
}

echo "== 1. moq-pub -> moq-relay 0.17.10 -> moq-sub (moq-lite-05)"
rport=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 0)); print(s.getsockname()[1])')
"$peers/moq-relay" --listen "[::]:$rport" --listen-tls-generate localhost \
  --web-http-listen "[::]:$rport" --auth-public '**' > "$work/rust-relay.log" 2>&1 &
rust_relay=$!
trap 'kill $rust_relay 2>/dev/null || true; stop_dev_relay; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  rfp=$(curl -s "http://localhost:$rport/certificate.sha256" || true)
  [ -n "$rfp" ] && break
  sleep 0.1
done
[ -n "$rfp" ] || fail "moq-relay 0.17.10 did not start"
test_pattern 12 2> "$work/ffmpeg1.log" |
  "$bin/moq-pub" "https://localhost:$rport/ours" --fingerprint "$rfp" --protocol moq-lite-05 \
    --log-level info 2> "$work/pub.log" &
for _ in $(seq 100); do grep -q "connected to" "$work/pub.log" && break; sleep 0.1; done
sleep 1
timeout 6 "$bin/moq-sub" "https://localhost:$rport/ours" --fingerprint "$rfp" \
  --protocol moq-lite-05 > "$work/ours.mp4" 2> "$work/sub1.log" || true
check_media "$work/ours.mp4"
echo "ok: $(ffprobe -v error -count_packets -show_entries stream=codec_name,nb_read_packets -of csv=p=0 "$work/ours.mp4" | tr '\n' ' ')"

echo "== 2. moq import fmp4 (moq-cli) -> our relay -> moq-sub (KIXEL_00)"
start_dev_relay "$bin" "$work"
test_pattern 14 2> "$work/ffmpeg2.log" |
  "$peers/moq" --log-level info --connect "http://localhost:$port/" --broadcast cli \
    import fmp4 > "$work/moq-cli.log" 2>&1 &
for _ in $(seq 100); do
  curl -s "http://localhost:$port/api/broadcasts" | grep -q '"cli"' && break
  sleep 0.1
done
sleep 2
timeout 6 "$bin/moq-sub" "https://localhost:$port/cli" --fingerprint "$fingerprint" \
  --protocol kixel-00 > "$work/cli.mp4" 2> "$work/sub2.log" || true
check_media "$work/cli.mp4"
echo "ok: $(ffprobe -v error -count_packets -show_entries stream=codec_name,nb_read_packets -of csv=p=0 "$work/cli.mp4" | tr '\n' ' ')"
