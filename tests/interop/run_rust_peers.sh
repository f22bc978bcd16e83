#!/usr/bin/env bash
# Issue 12: the Rust MoQ tools (crates.io moq-relay 0.17.10 and moq-cli
# 0.14.10, built by dev/rust-peers into ~/.cache/moq-peers) with ours, all on
# loopback:
#  1. ffmpeg | moq-pub --protocol moq-lite-05 -> moq-relay 0.17.10 ->
#     moq-sub --protocol moq-lite-05: ffprobe shows h264 + aac, it decodes.
#  2. ffmpeg | moq import fmp4 (moq-cli, moq-lite) -> our relay -> moq-sub
#     (KIXEL_00, through the relay's KIXEL view): h264 + aac, it decodes;
#     and the relay's watch page plays it (headless Chromium).
#  3. Clustering: moq-relay 0.17.10 --cluster-connect dials our relay (one
#     cluster link, moq-lite-05, the certificate pinned by its fingerprint),
#     and broadcasts cross that one link both ways:
#       a: moq-pub -> our relay -> link -> Rust relay -> moq-sub;
#       b: moq import fmp4 -> Rust relay -> link -> our relay -> moq-sub
#          (moq-lite-05) and moq-sub --protocol kixel-00 (the 2023 dialect
#          served a broadcast that came over the link).
#     Each recording is h264 + aac and decodes; our relay's log shows the
#     link as one moq-lite-05 session, 'b' published by the Rust relay's
#     address (it came over the link, not from moq-cli directly), and 'a'
#     never published back to us by the Rust relay (no loop).
#  4. IETF draft-14 (moq-cli --connect-version moq-transport-14) with our
#     relay: moq import fmp4 -> our relay -> moq-sub (KIXEL_00, moq-lite-05);
#     moq-pub -> our relay -> moq export fmp4 (draft-14) of 'd.hang'.
#  5. Our draft-14 client side: moq-pub and moq-sub --protocol
#     moq-transport-14 through moq-relay 0.17.10 --listen-version
#     moq-transport-14.
#  6. Tokens: with a key from `moq auth generate`, our relay --auth-key
#     takes moq-cli publishing with a `moq auth sign` token in ?jwt=, serves
#     moq-sub with a subscribe-only token, refuses moq-sub without one.
# Exit 77 (skipped) when the Rust binaries are not built, unless
# MOQ_REQUIRE_RUST_PEERS=1 (CI sets it): then missing binaries fail the test.
# Usage: run_rust_peers.sh BIN_DIR
set -euo pipefail
bin=$1
peers="${MOQ_PEERS_DIR:-$HOME/.cache/moq-peers}/bin"
if ! [ -x "$peers/moq-relay" ] || ! [ -x "$peers/moq" ]; then
  if [ "${MOQ_REQUIRE_RUST_PEERS:-0}" = 1 ]; then
    echo "FAIL: MOQ_REQUIRE_RUST_PEERS=1 but moq-relay / moq are not in $peers (run dev/rust-peers)"
    exit 1
  fi
  echo "skipped: run dev/rust-peers first"
  exit 77
fi
export NO_COLOR=1  # the Rust tools' logs (shown on failure) without ANSI colours
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
wait_for() {  # TENTHS COMMAND...: run COMMAND every 0.1 s until it succeeds, at most TENTHS times
  local n=$1
  shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}
packets() {  # FILE
  ffprobe -v error -count_packets -show_entries stream=codec_name,nb_read_packets -of csv=p=0 "$1" | tr '\n' ' '
}
test_pattern() {  # SECONDS
  ffmpeg -hide_banner -loglevel error -nostdin -re -f lavfi -i "testsrc2=size=640x360:rate=30" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$1" -c:v libx264 -preset veryfast \
    -tune zerolatency -g 30 -pix_fmt yuv420p -b:v 1M -c:a aac -b:a 128k -f mp4 \
    -movflags cmaf+separate_moof+delay_moov+skip_trailer+frag_every_frame -
}

echo "== 1. moq-pub -> moq-relay 0.17.10 -> moq-sub (moq-lite-05)"
rport=$(free_port)
"$peers/moq-relay" --listen "[::]:$rport" --listen-tls-generate localhost \
  --web-http-listen "[::]:$rport" --auth-public '**' > "$work/rust-relay.log" 2>&1 &
rust_relay=$!
rust_cluster=""
rust_ietf=""
pubs=""  # case 3's publishers, still running at the end
trap 'kill $pubs $rust_relay $rust_cluster $rust_ietf 2>/dev/null || true; stop_dev_relay; rm -rf "$work"' EXIT
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
echo "ok: $(packets "$work/ours.mp4")"

echo "== 2. moq import fmp4 (moq-cli) -> our relay -> moq-sub (KIXEL_00) and our watch page"
start_dev_relay "$bin" "$work"
test_pattern 20 2> "$work/ffmpeg2.log" |
  "$peers/moq" --log-level info --connect "http://localhost:$port/" --broadcast cli \
    import fmp4 > "$work/moq-cli.log" 2>&1 &
for _ in $(seq 100); do
  curl -s "http://localhost:$port/api/broadcasts" | grep -q '"cli"' && break
  sleep 0.1
done
sleep 2
# The relay's watch page on it too (the KIXEL view, as for moq-sub), in
# headless Chromium, while moq-sub records.
timeout 60 node "$here/../browser/watch_broadcast.mjs" "$pages" cli 6 \
  > "$work/watch-page.out" 2> "$work/watch-page.log" &
watcher=$!
timeout 6 "$bin/moq-sub" "https://localhost:$port/cli" --fingerprint "$fingerprint" \
  --protocol kixel-00 > "$work/cli.mp4" 2> "$work/sub2.log" || true
check_media "$work/cli.mp4"
echo "ok: $(packets "$work/cli.mp4")"
wait "$watcher" || fail "our watch page did not play the moq-cli broadcast: $(cat "$work/watch-page.out")"
echo "ok: our watch page on it: $(grep '"step"' "$work/watch-page.out" || cat "$work/watch-page.out")"

echo "== 3. clustering: moq-relay 0.17.10 dials our relay, broadcasts cross both ways"
# moq-relay 0.17.10 clusters by dialing (--cluster-connect); our relay takes
# the link like any moq-lite session. Its certificate is pinned by the
# fingerprint our relay printed (--connect-tls-fingerprint, hex), not
# --connect-tls-insecure. --connect-bind fixes the link's local port, so our
# relay's log names the Rust relay as [...]:$cport.
rport2=$(free_port)
cport=$(free_port)
while [ "$cport" = "$rport2" ]; do cport=$(free_port); done
"$peers/moq-relay" --listen "[::]:$rport2" --listen-tls-generate localhost \
  --web-http-listen "[::]:$rport2" --auth-public '**' \
  --cluster-connect "https://localhost:$port/" --connect-tls-fingerprint "$fingerprint" \
  --connect-bind "[::]:$cport" > "$work/rust-cluster.log" 2>&1 &
rust_cluster=$!
rfp2=""
for _ in $(seq 100); do
  rfp2=$(curl -s "http://localhost:$rport2/certificate.sha256" || true)
  [ -n "$rfp2" ] && break
  sleep 0.1
done
[ -n "$rfp2" ] || fail "moq-relay 0.17.10 (cluster) did not start"
link="session start: peer [^ ]*:$cport path '[^']*' protocol "
wait_for 100 grep -q "$link" "$work/relay.log" || fail "moq-relay 0.17.10 did not dial our relay"
grep -q "${link}moq-lite-05 " "$work/relay.log" || fail "the cluster link is not moq-lite-05: $(grep "$link" "$work/relay.log")"

# a: ours -> link -> Rust; b: Rust -> link -> ours.
test_pattern 14 2> "$work/ffmpeg3a.log" |
  "$bin/moq-pub" "https://localhost:$port/a" --fingerprint "$fingerprint" \
    --log-level info 2> "$work/pub3a.log" &
pubs="$pubs $!"
test_pattern 14 2> "$work/ffmpeg3b.log" |
  "$peers/moq" --log-level info --connect "http://localhost:$rport2/" --broadcast b \
    import fmp4 > "$work/moq-cli3.log" 2>&1 &
pubs="$pubs $!"
from_rust="broadcast 'b' published by [^ ]*:$cport ("
wait_for 100 grep -q "broadcast 'a' published by" "$work/relay.log" || fail "moq-pub did not publish 'a' to our relay"
wait_for 100 grep -q "$from_rust" "$work/relay.log" || fail "'b' did not come to our relay over the cluster link"
sleep 2
timeout 6 "$bin/moq-sub" "https://localhost:$rport2/a" --fingerprint "$rfp2" \
  > "$work/a.mp4" 2> "$work/sub3a.log" &
sub_a=$!
timeout 6 "$bin/moq-sub" "https://localhost:$port/b" --fingerprint "$fingerprint" \
  > "$work/b.mp4" 2> "$work/sub3b.log" &
sub_b=$!
timeout 6 "$bin/moq-sub" "https://localhost:$port/b" --fingerprint "$fingerprint" \
  --protocol kixel-00 > "$work/b-kixel.mp4" 2> "$work/sub3b-kixel.log" &
sub_bk=$!
wait $sub_a $sub_b $sub_bk || true
check_media "$work/a.mp4"
echo "ok: a, our relay -> moq-relay 0.17.10 -> moq-sub: $(packets "$work/a.mp4")"
check_media "$work/b.mp4"
echo "ok: b, moq-relay 0.17.10 -> our relay -> moq-sub (moq-lite-05): $(packets "$work/b.mp4")"
check_media "$work/b-kixel.mp4"
echo "ok: b, moq-relay 0.17.10 -> our relay -> moq-sub (KIXEL_00): $(packets "$work/b-kixel.mp4")"
grep -q "${from_rust}moq-lite-05)" "$work/relay.log" ||
  fail "'b' did not come over a moq-lite-05 link: $(grep "$from_rust" "$work/relay.log")"
links=$(grep -c "$link" "$work/relay.log" || true)
[ "$links" = 1 ] || fail "$links cluster sessions from moq-relay 0.17.10, expected one: $(grep "$link" "$work/relay.log")"
# A loop would read "broadcast 'a' published by <link>" or, while moq-pub's
# 'a' is live, "broadcast 'a' from moq-lite publisher <link> refused".
if grep -E "broadcast 'a' (published by|from moq-lite publisher) [^ ]*:$cport " "$work/relay.log"; then
  fail "loop: 'a' came back to our relay from moq-relay 0.17.10"
fi
echo "ok: one moq-lite-05 cluster link ($(grep -o "peer [^ ]*:$cport" "$work/relay.log" | head -n 1)), 'b' came over it, 'a' did not come back"

echo "== 4. IETF moq-transport draft-14: moq-cli --connect-version moq-transport-14 with our relay"
# c: moq import fmp4 (draft-14, PUBLISH_NAMESPACE) -> our relay -> moq-sub
#    (KIXEL_00 and moq-lite-05): the relay SUBSCRIBEs to moq-cli on demand.
# d: moq-pub (moq-lite) -> our relay -> moq export fmp4 (draft-14) reading
#    'd.hang' (the hang catalog the relay derives, CMAF frames as objects).
test_pattern 14 2> "$work/ffmpeg4c.log" |
  "$peers/moq" --log-level info --connect-version moq-transport-14 \
    --connect "http://localhost:$port/" --broadcast c import fmp4 > "$work/moq-cli4c.log" 2>&1 &
pubs="$pubs $!"
test_pattern 14 2> "$work/ffmpeg4d.log" |
  "$bin/moq-pub" "https://localhost:$port/d" --fingerprint "$fingerprint" \
    --log-level info 2> "$work/pub4d.log" &
pubs="$pubs $!"
wait_for 100 grep -q "broadcast 'c' published by [^ ]* (moq-00)" "$work/relay.log" ||
  fail "moq-cli did not publish 'c' over moq-transport-14"
wait_for 100 grep -q "broadcast 'd' published by" "$work/relay.log" || fail "moq-pub did not publish 'd'"
sleep 2
timeout 6 "$bin/moq-sub" "https://localhost:$port/c" --fingerprint "$fingerprint" \
  --protocol kixel-00 > "$work/c-kixel.mp4" 2> "$work/sub4c-kixel.log" &
sub_ck=$!
timeout 6 "$bin/moq-sub" "https://localhost:$port/c" --fingerprint "$fingerprint" \
  --protocol moq-lite-05 > "$work/c-lite.mp4" 2> "$work/sub4c-lite.log" &
sub_cl=$!
timeout 6 "$peers/moq" --log-level info --connect-version moq-transport-14 \
  --connect "http://localhost:$port/" --broadcast d.hang export fmp4 \
  > "$work/d.mp4" 2> "$work/moq-cli4d.log" &
sub_d=$!
wait $sub_ck $sub_cl $sub_d || true
check_media "$work/c-kixel.mp4"
echo "ok: c, moq-cli (draft-14) -> our relay -> moq-sub (KIXEL_00): $(packets "$work/c-kixel.mp4")"
check_media "$work/c-lite.mp4"
echo "ok: c, moq-cli (draft-14) -> our relay -> moq-sub (moq-lite-05): $(packets "$work/c-lite.mp4")"
grep -q "connected version=moq-transport-14" "$work/moq-cli4d.log" ||
  fail "moq export did not connect with moq-transport-14"
check_media "$work/d.mp4"
echo "ok: d, moq-pub -> our relay -> moq export fmp4 (draft-14): $(packets "$work/d.mp4")"

echo "== 5. our draft-14 client: moq-pub/moq-sub --protocol moq-transport-14 -> moq-relay 0.17.10 (draft-14 only)"
rport3=$(free_port)
"$peers/moq-relay" --listen "[::]:$rport3" --listen-tls-generate localhost \
  --web-http-listen "[::]:$rport3" --auth-public '**' --listen-version moq-transport-14 \
  > "$work/rust-ietf.log" 2>&1 &
rust_ietf=$!
rfp3=""
for _ in $(seq 100); do
  rfp3=$(curl -s "http://localhost:$rport3/certificate.sha256" || true)
  [ -n "$rfp3" ] && break
  sleep 0.1
done
[ -n "$rfp3" ] || fail "moq-relay 0.17.10 (draft-14 only) did not start"
test_pattern 12 2> "$work/ffmpeg5.log" |
  "$bin/moq-pub" "https://localhost:$rport3/e" --fingerprint "$rfp3" --protocol moq-transport-14 \
    --log-level info 2> "$work/pub5.log" &
pubs="$pubs $!"
wait_for 100 grep -q "connected to .*(moq-transport-14)" "$work/pub5.log" ||
  fail "moq-pub did not connect to moq-relay 0.17.10 with moq-transport-14"
sleep 2
timeout 6 "$bin/moq-sub" "https://localhost:$rport3/e" --fingerprint "$rfp3" \
  --protocol moq-transport-14 --log-level info > "$work/e.mp4" 2> "$work/sub5.log" || true
grep -q "connected to .*(moq-transport-14)" "$work/sub5.log" ||
  fail "moq-sub did not connect with moq-transport-14"
check_media "$work/e.mp4"
echo "ok: e, moq-pub (draft-14) -> moq-relay 0.17.10 -> moq-sub (draft-14): $(packets "$work/e.mp4")"

echo "== 6. tokens: a key and tokens from moq-cli (moq auth), our relay with --auth-key"
# The relay of case 2 goes; one that needs ?jwt= tokens signed with a key
# `moq auth generate` made takes its place.
stop_dev_relay
"$peers/moq" auth generate --out "$work/relay.jwk" > /dev/null 2>&1
"$peers/moq" auth sign --key "$work/relay.jwk" --root anon --publish '**' --subscribe '**' \
  > "$work/anon.jwt"
"$peers/moq" auth sign --key "$work/relay.jwk" --root anon --subscribe '**' > "$work/viewer.jwt"
start_dev_relay "$bin" "$work" --auth-key "$work/relay.jwk"
token=$(cat "$work/anon.jwt")
viewer=$(cat "$work/viewer.jwt")
test_pattern 12 2> "$work/ffmpeg6.log" |
  "$peers/moq" --log-level info --connect "http://localhost:$port/anon?jwt=$token" --broadcast t \
    import fmp4 > "$work/moq-cli6.log" 2>&1 &
pubs="$pubs $!"
wait_for 100 grep -q "broadcast 'anon/t' published by" "$work/relay.log" ||
  fail "moq-cli with a token did not publish anon/t"
sleep 2
timeout 6 "$bin/moq-sub" "https://localhost:$port/anon/t?jwt=$viewer" --fingerprint "$fingerprint" \
  --protocol kixel-00 > "$work/t.mp4" 2> "$work/sub6.log" || true
check_media "$work/t.mp4"
echo "ok: moq-cli (token) -> our relay -> moq-sub (a subscribe-only token): $(packets "$work/t.mp4")"
if timeout 5 "$bin/moq-sub" "https://localhost:$port/anon/t" --fingerprint "$fingerprint" \
  > /dev/null 2> "$work/sub6-none.log"; then
  fail "moq-sub without a token was served"
fi
if timeout 5 "$bin/moq-pub" "https://localhost:$port/anon/u?jwt=$viewer" --fingerprint "$fingerprint" \
  < /dev/null > /dev/null 2> "$work/pub6-viewer.log" &&
  grep -q "broadcast 'anon/u' published" "$work/relay.log"; then
  fail "a subscribe-only token published"
fi
echo "ok: no token: refused ($(tail -n 1 "$work/sub6-none.log")); a subscribe-only token cannot publish"
