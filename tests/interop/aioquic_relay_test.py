#!/usr/bin/env python3
"""moq-relay against a QUIC / HTTP/3 / WebTransport stack we did not write.

aioquic (PyPI, installed into the project's test venv by dev/setup) plays a
browser-like WebTransport client: its own QUIC, TLS, QPACK, SETTINGS and
extended CONNECT. The test starts a real moq-relay and a real publisher
(`moq-bench pub`) on loopback, then checks:

  1. watch: a KIXEL_00 subscriber over aioquic gets SERVER_SETUP,
     SUBSCRIBE_OK and whole objects (header + payload, FIN) of the live
     track, in datagrams larger than QUIC's minimum (Path MTU Discovery
     towards a peer that is not ours);
  2. hostile: a second aioquic session that sends an unknown control message
     is closed, and only it: the first session keeps receiving objects and
     the relay keeps running;
  3. refused: a CONNECT without a broadcast name gets an error status, not a
     session.

Exit status 0 when every check passed; each failure is printed.
"""

import argparse
import asyncio
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamReset

KIXEL_00 = 0xBAD00
ROLE_SUBSCRIBER = 1


def varint(v: int) -> bytes:
    if v < 1 << 6:
        return v.to_bytes(1, "big")
    if v < 1 << 14:
        return (v | 0x4000).to_bytes(2, "big")
    if v < 1 << 30:
        return (v | 0x80000000).to_bytes(4, "big")
    return (v | 0xC000000000000000).to_bytes(8, "big")


def read_varint(data: bytes, pos: int):
    """(value, next position), or None when `data` is too short."""
    if pos >= len(data):
        return None
    length = 1 << (data[pos] >> 6)
    if pos + length > len(data):
        return None
    value = data[pos] & 0x3F
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, pos + length


def string(s: str) -> bytes:
    raw = s.encode()
    return varint(len(raw)) + raw


def client_setup() -> bytes:
    return varint(0x01) + varint(1) + varint(KIXEL_00) + varint(ROLE_SUBSCRIBER)


def subscribe(sub_id: int, name: str) -> bytes:
    return varint(0x03) + varint(sub_id) + string("") + string(name)


class WtClient(QuicConnectionProtocol):
    """One QUIC connection, HTTP/3 with WebTransport, events in a queue."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic, enable_webtransport=True)
        self.headers = {}  # stream id -> {name: value}
        self.control = bytearray()  # bytes of our control stream from the relay
        self.control_id = None
        self.objects = {}  # uni stream id -> bytearray
        self.finished = []  # complete objects (bytes)
        self.resets = []
        self.ended = set()  # request streams (sessions) the relay finished
        self.session_data = {}  # request stream id -> DATA frame payloads (capsules)
        self.terminated = None
        self.max_datagram = 0
        self.changed = asyncio.Event()

    def datagram_received(self, data, addr):
        self.max_datagram = max(self.max_datagram, len(data))
        super().datagram_received(data, addr)

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            self.terminated = event
        if isinstance(event, StreamReset):
            self.resets.append((event.stream_id, event.error_code))
        for e in self.h3.handle_event(event):
            if isinstance(e, HeadersReceived):
                self.headers[e.stream_id] = {k: v for k, v in e.headers}
                if e.stream_ended:
                    self.ended.add(e.stream_id)
            elif isinstance(e, DataReceived):
                self.session_data[e.stream_id] = self.session_data.get(e.stream_id, b"") + e.data
                if e.stream_ended:
                    self.ended.add(e.stream_id)  # e.g. after CLOSE_WEBTRANSPORT_SESSION
            elif isinstance(e, WebTransportStreamDataReceived):
                if e.stream_id == self.control_id:
                    self.control += e.data
                else:
                    buf = self.objects.setdefault(e.stream_id, bytearray())
                    buf += e.data
                    if e.stream_ended:
                        self.finished.append(bytes(self.objects.pop(e.stream_id)))
        self.changed.set()

    async def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                return predicate()
        return True

    async def open_session(self, path: str, timeout: float = 5.0):
        """Extended CONNECT as a browser sends it; returns (stream id, headers)."""
        sid = self._quic.get_next_available_stream_id()
        self.h3.send_headers(
            sid,
            [
                (b":method", b"CONNECT"),
                (b":protocol", b"webtransport"),
                (b":scheme", b"https"),
                (b":authority", b"localhost"),
                (b":path", path.encode()),
                (b"origin", b"https://localhost"),
                (b"sec-webtransport-http3-draft02", b"1"),
            ],
        )
        self.transmit()
        await self.wait_for(lambda: sid in self.headers or self.terminated, timeout)
        return sid, self.headers.get(sid)

    def close_code(self, session_id: int):
        """The code of the CLOSE_WEBTRANSPORT_SESSION capsule (type 0x2843,
        a 32-bit code and a reason) the relay sent on a session's CONNECT
        stream, or None."""
        capsule = self.session_data.get(session_id, b"")
        kind = read_varint(capsule, 0)
        if not kind or kind[0] != 0x2843:
            return None
        length = read_varint(capsule, kind[1])
        if not length or length[1] + 4 > len(capsule):
            return None
        return int.from_bytes(capsule[length[1] : length[1] + 4], "big")

    def open_control(self, session_id: int, first_bytes: bytes):
        self.control_id = self.h3.create_webtransport_stream(session_id, is_unidirectional=False)
        # aioquic writes the stream's WEBTRANSPORT_STREAM signal but does not
        # remember it for a stream it opened itself: without this it parses
        # the relay's answer as HTTP/3 frames of a request stream and closes
        # the connection (H3_FRAME_UNEXPECTED on SERVER_SETUP's type 0x02).
        with self.h3._get_or_create_stream(self.control_id) as stream:  # noqa: SLF001
            stream.frame_type = FrameType.WEBTRANSPORT_STREAM
            stream.session_id = session_id
        self._quic.send_stream_data(self.control_id, first_bytes, end_stream=False)
        self.transmit()

    def send_control(self, data: bytes):
        self._quic.send_stream_data(self.control_id, data, end_stream=False)
        self.transmit()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def start(cmd, log_path, env=None):
    log = open(log_path, "wb")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_for_line(path: str, pattern: str, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "r", errors="replace") as f:
                m = re.search(pattern, f.read())
                if m:
                    return m
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return None


class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, ok: bool, what: str):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def parse_object_header(obj: bytes):
    """KIXEL_00 OBJECT header: type 0, track, sequence, priority (i32), expires."""
    pos = 0
    fields = []
    first = read_varint(obj, pos)
    if not first or first[0] != 0:
        return None
    pos = first[1]
    for _ in range(2):
        r = read_varint(obj, pos)
        if not r:
            return None
        fields.append(r[0])
        pos = r[1]
    if pos + 4 > len(obj):
        return None
    pos += 4  # priority, a signed 32-bit integer
    r = read_varint(obj, pos)
    if not r:
        return None
    return fields[0], fields[1], len(obj) - r[1]


async def run(args, checks: Checks, relay_port: int, relay: subprocess.Popen):
    config = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, max_datagram_frame_size=65536
    )
    config.verify_mode = ssl.CERT_NONE  # a development certificate
    config.server_name = "localhost"

    async with connect(
        "::1", relay_port, configuration=config, create_protocol=WtClient
    ) as watcher, connect(
        "::1", relay_port, configuration=config, create_protocol=WtClient
    ) as hostile, connect(
        "::1", relay_port, configuration=config, create_protocol=WtClient
    ) as refused:
        # 1. watch
        session, headers = await watcher.open_session("/" + args.broadcast)
        checks.expect(
            headers is not None and headers.get(b":status") == b"200",
            f"CONNECT /{args.broadcast} answered 200 (got {headers and headers.get(b':status')})",
        )
        if headers is None or headers.get(b":status") != b"200":
            return
        watcher.open_control(session, client_setup())
        server_setup = varint(0x02) + varint(KIXEL_00)
        got_setup = await watcher.wait_for(
            lambda: len(watcher.control) >= len(server_setup) + 1, 5
        )
        checks.expect(
            got_setup and bytes(watcher.control[: len(server_setup)]) == server_setup,
            f"SERVER_SETUP with KIXEL_00 (got {bytes(watcher.control).hex()})",
        )
        del watcher.control[: len(server_setup) + 1]
        watcher.send_control(subscribe(0, "0"))
        subscribe_ok = varint(0x04) + varint(0)
        checks.expect(
            await watcher.wait_for(lambda: bytes(watcher.control[:2]) == subscribe_ok, 5),
            f"SUBSCRIBE_OK for track 0 (got {bytes(watcher.control).hex()})",
        )
        checks.expect(
            await watcher.wait_for(lambda: len(watcher.finished) >= 20, 10),
            f"20 whole objects received (got {len(watcher.finished)})",
        )
        headers_ok = [parse_object_header(o) for o in watcher.finished[:20]]
        checks.expect(
            all(h is not None and h[0] == 0 and h[2] >= args.frame_size for h in headers_ok),
            "each object: header for subscription 0 + a payload of at least one frame",
        )
        # One stream per object: they complete in any order (newer objects
        # may be sent first), but each arrives once and none is far off.
        sequences = [h[1] for h in headers_ok if h]
        checks.expect(
            len(set(sequences)) == len(sequences) and max(sequences) - min(sequences) < 40,
            f"object sequences distinct and close together ({sorted(sequences)})",
        )
        checks.expect(
            watcher.max_datagram > 1200,
            f"datagrams above QUIC's 1200-byte minimum reach aioquic "
            f"(largest {watcher.max_datagram})",
        )

        # 2. hostile: an unknown control message type on a second session
        h_session, h_headers = await hostile.open_session("/" + args.broadcast)
        checks.expect(
            h_headers is not None and h_headers.get(b":status") == b"200",
            "the hostile client's CONNECT answered 200",
        )
        hostile.open_control(h_session, client_setup())
        await hostile.wait_for(lambda: len(hostile.control) >= 6, 5)
        hostile.send_control(varint(0x09) + b"\x00\x00\x00")
        ended = await hostile.wait_for(
            lambda: hostile.terminated is not None or hostile.resets or h_session in hostile.ended,
            5,
        )
        code = hostile.close_code(h_session)
        checks.expect(
            ended and code is not None and code != 0,
            f"the relay closed the hostile session with an error code (got {code})",
        )
        checks.expect(hostile.terminated is None, "... and only the session, not its connection")
        before = len(watcher.finished)
        checks.expect(
            await watcher.wait_for(lambda: len(watcher.finished) >= before + 10, 5),
            f"the first session still receives objects ({len(watcher.finished) - before} more)",
        )
        checks.expect(watcher.terminated is None, "the first session's connection is open")

        # 3. refused: no broadcast name. The relay accepts the CONNECT and at
        # once closes the session with CLOSE_WEBTRANSPORT_SESSION (capsule
        # 0x2843) code 400, as the original relay's clients expect.
        r_session, r_headers = await refused.open_session("/")
        await refused.wait_for(lambda: r_session in refused.ended or refused.terminated, 5)
        code = refused.close_code(r_session)
        checks.expect(
            r_session in refused.ended and code == 400,
            f"CONNECT / ends with CLOSE_WEBTRANSPORT_SESSION code 400 (got {code})",
        )

    checks.expect(relay.poll() is None, "moq-relay is still running")
    # aioquic closed its connections with application code 0, which HTTP/3
    # does not define: an unknown code is a clean close (RFC 9114 §8.1), so
    # the watcher's session ends with 0, not as an error.
    checks.expect(
        wait_for_line(args.relay_log, r"role subscriber code 0 reason 'closed'", 5) is not None,
        "the watcher's session ended cleanly when aioquic closed its connection",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="folder with moq-relay and moq-bench")
    parser.add_argument("--broadcast", default="aioquic")
    parser.add_argument("--frame-size", type=int, default=4096)
    args = parser.parse_args()

    checks = Checks()
    tmp = tempfile.mkdtemp(prefix="aioquic-relay-")
    port = free_udp_port()
    relay_log = os.path.join(tmp, "relay.log")
    relay = start(
        [os.path.join(args.bin, "moq-relay"), "--listen", f"[::1]:{port}", "--dev",
         "--log-level", "info"],
        relay_log,
    )
    pub = None
    try:
        if not wait_for_line(relay_log, r"listening", 10):
            checks.expect(False, "moq-relay started")
            return 1
        fingerprint = None
        m = wait_for_line(relay_log, r"([0-9a-f]{64})", 2)
        if m:
            fingerprint = m.group(1)
        pub_log = os.path.join(tmp, "pub.log")
        pub_cmd = [os.path.join(args.bin, "moq-bench"), "pub",
                   f"https://[::1]:{port}/{args.broadcast}", "--stream-per", "frame",
                   "--frame-size", str(args.frame_size), "--duration", "60"]
        if fingerprint:
            pub_cmd += ["--fingerprint", fingerprint]
        pub = start(pub_cmd, pub_log)
        if not checks.expect(wait_for_line(pub_log, r"ready", 10) is not None,
                             "moq-bench pub connected"):
            print(open(pub_log, errors="replace").read()[-2000:])
            return 1
        args.relay_log = relay_log
        asyncio.run(asyncio.wait_for(run(args, checks, port, relay), 60))
    finally:
        for p in (pub, relay):
            if p and p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
    if checks.failures:
        print(f"{len(checks.failures)} check(s) failed; relay log: {relay_log}")
        print(open(relay_log, errors="replace").read()[-3000:])
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
