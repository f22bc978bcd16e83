#!/usr/bin/env bash
# Issue 12: today's MoQ browser clients (npm @moq/watch 0.4.6, @moq/publish
# 0.2.17, in headless Chromium) and our 2023-dialect tools through one relay.
#  1. ffmpeg | moq-pub (default flags) -> relay -> @moq/watch plays it
#     (frames and audio decoded, no stall), while moq-sub (KIXEL_00) takes
#     the same broadcast: one cache, both dialects.
#  2. @moq/publish (test pattern) -> relay -> moq-sub (KIXEL_00: the relay's
#     KIXEL view of a hang broadcast) -> ffprobe shows video and audio and
#     ffmpeg decodes it without an error; meanwhile our watch page (the
#     relay's, on the same KIXEL view) plays it (watch_broadcast.mjs: frames
#     rendered, audio decoded, no freeze over 1 s, a picture); then
#     @moq/watch plays it too. One browser beside the publishing one at a
#     time.
# Usage: run_moq_clients.sh BIN_DIR [ARTIFACT_DIR]
set -euo pipefail
bin=$1
artifacts=${2:-}
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/dev_relay.sh"
[ -d "$here/node_modules/@moq/watch" ] || { echo "tests/browser/node_modules missing: run dev/setup"; exit 1; }
command -v ffmpeg > /dev/null || { echo "ffmpeg is needed"; exit 1; }
start_dev_relay "$bin" "$work"
url="http://localhost:$port/"
fail() { echo "FAIL: $*"; echo "relay log:"; tail -n 40 "$work/relay.log"; exit 1; }

echo "== 1. ffmpeg | moq-pub -> @moq/watch and moq-sub"
ffmpeg -hide_banner -loglevel error -nostdin -re -f lavfi -i "testsrc2=size=640x360:rate=30" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 30 \
  -c:v libx264 -preset veryfast -tune zerolatency -g 30 -pix_fmt yuv420p -b:v 1M \
  -c:a aac -b:a 128k -f mp4 -movflags cmaf+separate_moof+delay_moov+skip_trailer+frag_every_frame - 2> "$work/ffmpeg.log" |
  "$bin/moq-pub" "https://localhost:$port/bbb" --fingerprint "$fingerprint" --log-level info \
    2> "$work/pub.log" &
pub=$!
for _ in $(seq 100); do grep -q "connected to" "$work/pub.log" && break; sleep 0.1; done
grep -q "connected to" "$work/pub.log" || fail "moq-pub did not connect: $(cat "$work/pub.log")"
timeout 20 "$bin/moq-sub" "https://localhost:$port/bbb" --fingerprint "$fingerprint" \
  --protocol kixel-00 > "$work/bbb.mp4" 2> "$work/sub.log" &
sub=$!
shot=()
[ -n "$artifacts" ] && shot=("$artifacts/moq-watch.png")
timeout 90 node "$here/moq_watch.mjs" "$url" bbb 8 "${shot[@]}" ||
  fail "@moq/watch did not play the moq-pub broadcast"
wait "$sub" || true  # stopped by its timeout
kill "$pub" 2>/dev/null || true
wait "$pub" 2>/dev/null || true
streams=$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$work/bbb.mp4" | sort | tr '\n' ' ')
[ "$streams" = "aac h264 " ] || fail "moq-sub beside @moq/watch got streams '$streams'"
echo "moq-sub (KIXEL_00) beside it: $streams"

echo "== 2. @moq/publish -> moq-sub, our watch page and @moq/watch"
timeout 90 node "$here/moq_publish.mjs" "$url" cam 30 > "$work/publish.out" 2> "$work/publish.err" &
publisher=$!
for _ in $(seq 150); do
  curl -s "http://localhost:$port/api/broadcasts" | grep -q '"cam"' && break
  sleep 0.1
done
sleep 2
# Our watch page on it (under the name it was published as, `cam`: the
# relay's KIXEL view, as for moq-sub) while moq-sub records.
shot=()
[ -n "$artifacts" ] && shot=("$artifacts/watch-page-moq-publish.png")
timeout 60 node "$here/watch_broadcast.mjs" "$pages" cam 6 "${shot[@]}" > "$work/watch-page.out" 2> "$work/watch-page.err" &
watcher=$!
timeout 8 "$bin/moq-sub" "https://localhost:$port/cam" --fingerprint "$fingerprint" \
  --protocol kixel-00 > "$work/cam.mp4" 2> "$work/cam-sub.log" || true
wait "$watcher" || fail "our watch page did not play the @moq/publish broadcast: $(cat "$work/watch-page.out"; tail -5 "$work/watch-page.err")"
echo "our watch page on @moq/publish: $(grep '"step"' "$work/watch-page.out")"
streams=$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$work/cam.mp4" | sort | tr '\n' ' ')
[ "$streams" = "audio video " ] || fail "moq-sub of the @moq/publish broadcast got '$streams': $(tail -3 "$work/cam-sub.log")"
errors=$(ffmpeg -v error -i "$work/cam.mp4" -f null - 2>&1 | grep -v "non monotonically increasing dts" || true)
[ -z "$errors" ] || fail "the @moq/publish broadcast does not decode: $errors"
packets=$(ffprobe -v error -count_packets -show_entries stream=codec_type,nb_read_packets -of csv=p=0 "$work/cam.mp4" | tr '\n' ' ')
echo "moq-sub of @moq/publish: $packets"
timeout 60 node "$here/moq_watch.mjs" "$url" cam 6 || fail "@moq/watch did not play the @moq/publish broadcast"
wait "$publisher" || fail "@moq/publish failed: $(tail -5 "$work/publish.err")"
echo "ok"
