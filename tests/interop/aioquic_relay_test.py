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
     session;
  4. dialects: today's dialects picked through `wt-available-protocols`, each
     in its own session and connection: draft-14 (`moq-00`) and moq-lite-05
     are chosen and answered; draft-14 CLIENT_SETUP without draft-14 and an
     unknown control message close that session alone (codes 0x15 and 0x3);
     an unknown moq-lite stream type resets that stream alone, and the
     session goes on (ANNOUNCE_REQUEST answered);
  5. after all that, a new KIXEL_00 session still gets objects and the
     first one never stopped.

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
DRAFT_14 = 0xFF00000E  # IETF moq-transport draft-14 (docs/dialects.md §3)
# WebTransport application error codes in HTTP/3 (draft-ietf-webtrans-http3
# §4.3): code + code / 0x1e above this base (src/webtransport/error.h).
WT_FIRST_MAPPED = 0x52E4A40FA8DB
WT_LAST_MAPPED = 0x52E5AC983162


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


def wt_code(h3_code: int):
    """The WebTransport application code an HTTP/3 stream error code
    carries, or None if it is not one of the mapped codes."""
    if not WT_FIRST_MAPPED <= h3_code <= WT_LAST_MAPPED:
        return None
    d = h3_code - WT_FIRST_MAPPED
    return d - d // 0x1F


# IETF draft-14 control messages: type (i), length (u16), payload (§3.1).
def ietf_message(kind: int, payload: bytes) -> bytes:
    return varint(kind) + len(payload).to_bytes(2, "big") + payload


def ietf_client_setup(versions) -> bytes:
    """CLIENT_SETUP (0x20) with MAX_REQUEST_ID (param 0x2) = 100."""
    payload = varint(len(versions)) + b"".join(varint(v) for v in versions)
    payload += varint(1) + varint(0x2) + varint(100)
    return ietf_message(0x20, payload)


def ietf_messages(data: bytes):
    """The whole control messages in `data`: [(type, payload)]."""
    out, pos = [], 0
    while True:
        kind = read_varint(data, pos)
        if not kind or kind[1] + 2 > len(data):
            return out
        length = int.from_bytes(data[kind[1] : kind[1] + 2], "big")
        end = kind[1] + 2 + length
        if end > len(data):
            return out
        out.append((kind[0], bytes(data[kind[1] + 2 : end])))
        pos = end


def ietf_setup_params(data: bytes, pos: int):
    """{id: value or bytes} of a SETUP parameter list at `pos`, or None."""
    n = read_varint(data, pos)
    if not n:
        return None
    params, pos = {}, n[1]
    for _ in range(n[0]):
        key = read_varint(data, pos)
        if not key:
            return None
        if key[0] % 2 == 0:
            value = read_varint(data, key[1])
            if not value:
                return None
            params[key[0]], pos = value[0], value[1]
        else:
            length = read_varint(data, key[1])
            if not length or length[1] + length[0] > len(data):
                return None
            params[key[0]] = data[length[1] : length[1] + length[0]]
            pos = length[1] + length[0]
    return params


def ietf_namespace(data: bytes, pos: int):
    """(tuple of strings, next position) of a draft-14 namespace, or None."""
    n = read_varint(data, pos)
    if not n:
        return None
    parts, pos = [], n[1]
    for _ in range(n[0]):
        length = read_varint(data, pos)
        if not length or length[1] + length[0] > len(data):
            return None
        parts.append(bytes(data[length[1] : length[1] + length[0]]).decode(errors="replace"))
        pos = length[1] + length[0]
    return tuple(parts), pos


# moq-lite: a message is its byte size (i), then its body (§2.1).
def lite_message(body: bytes) -> bytes:
    return varint(len(body)) + body


def lite_messages(data: bytes):
    """The whole size-prefixed messages in `data`: [body]."""
    out, pos = [], 0
    while True:
        size = read_varint(data, pos)
        if not size or size[1] + size[0] > len(data):
            return out
        out.append(bytes(data[size[1] : size[1] + size[0]]))
        pos = size[1] + size[0]


class WtClient(QuicConnectionProtocol):
    """One QUIC connection, HTTP/3 with WebTransport, events in a queue."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic, enable_webtransport=True)
        self.headers = {}  # stream id -> {name: value}
        self.control = bytearray()  # bytes of our control stream from the relay
        self.control_id = None
        self.bidi = {}  # other bidi streams we opened -> bytes from the relay
        self.bidi_ended = set()  # ... that the relay finished
        self.objects = {}  # uni stream id -> bytearray
        self.finished = []  # complete objects (bytes)
        self.opened = {}  # stream the relay opened -> its first bytes
        self.resets = []
        self.ended = set()  # request streams (sessions) the relay finished
        self.session_data = {}  # request stream id -> DATA frame payloads (capsules)
        self.terminated = None
        self.ended_before_close = set()  # sessions ended before the connection
        self.max_datagram = 0
        self.changed = asyncio.Event()

    def datagram_received(self, data, addr):
        self.max_datagram = max(self.max_datagram, len(data))
        super().datagram_received(data, addr)

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            self.terminated = event
            self.ended_before_close = set(self.ended)
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
                elif e.stream_id in self.bidi:
                    self.bidi[e.stream_id] += e.data
                    if e.stream_ended:
                        self.bidi_ended.add(e.stream_id)
                else:
                    first = self.opened.setdefault(e.stream_id, bytearray())
                    first += e.data[: max(0, 64 - len(first))]
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

    async def open_session(self, path: str, timeout: float = 5.0, protocols=None):
        """Extended CONNECT as a browser sends it, offering `protocols` in
        wt-available-protocols (an RFC 8941 list of strings) when given;
        returns (stream id, headers)."""
        sid = self._quic.get_next_available_stream_id()
        headers = [
            (b":method", b"CONNECT"),
            (b":protocol", b"webtransport"),
            (b":scheme", b"https"),
            (b":authority", b"localhost"),
            (b":path", path.encode()),
            (b"origin", b"https://localhost"),
            (b"sec-webtransport-http3-draft02", b"1"),
        ]
        if protocols:
            offered = ", ".join('"' + p + '"' for p in protocols)
            headers.append((b"wt-available-protocols", offered.encode()))
        self.h3.send_headers(sid, headers)
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

    def _open_bidi(self, session_id: int, first_bytes: bytes) -> int:
        sid = self.h3.create_webtransport_stream(session_id, is_unidirectional=False)
        # aioquic writes the stream's WEBTRANSPORT_STREAM signal but does not
        # remember it for a stream it opened itself: without this it parses
        # the relay's answer as HTTP/3 frames of a request stream and closes
        # the connection (H3_FRAME_UNEXPECTED on SERVER_SETUP's type 0x02).
        with self.h3._get_or_create_stream(sid) as stream:  # noqa: SLF001
            stream.frame_type = FrameType.WEBTRANSPORT_STREAM
            stream.session_id = session_id
        self._quic.send_stream_data(sid, first_bytes, end_stream=False)
        self.transmit()
        return sid

    def open_control(self, session_id: int, first_bytes: bytes):
        self.control_id = self._open_bidi(session_id, first_bytes)

    def open_bidi(self, session_id: int, first_bytes: bytes) -> int:
        """A bidi stream besides the control stream: its replies collect in
        self.bidi[id]."""
        sid = self._open_bidi(session_id, first_bytes)
        self.bidi[sid] = bytearray()  # no event can arrive before this
        return sid

    def open_uni(self, session_id: int, data: bytes):
        sid = self.h3.create_webtransport_stream(session_id, is_unidirectional=True)
        self._quic.send_stream_data(sid, data, end_stream=True)
        self.transmit()

    def reset_code(self, stream_id: int):
        """The WebTransport code of the relay's RESET_STREAM on a stream, or
        None if it was not reset (or not with a mapped code)."""
        raw = self.raw_reset(stream_id)
        return None if raw is None else wt_code(raw)

    def raw_reset(self, stream_id: int):
        """The HTTP/3 error code of the relay's RESET_STREAM on a stream."""
        for sid, code in self.resets:
            if sid == stream_id:
                return code
        return None

    def session_open(self, session_id: int) -> bool:
        """Neither the session nor its connection ended."""
        return (
            self.terminated is None
            and session_id not in self.ended
            and self.close_code(session_id) is None
        )

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


def dial(relay_port: int, config: QuicConfiguration):
    """One more aioquic connection to the relay (one session each)."""
    return connect("::1", relay_port, configuration=config, create_protocol=WtClient)


async def negotiate(client: WtClient, checks: Checks, offered, expected: str):
    """CONNECT / offering `offered`: 200 and wt-protocol `expected` (an SF
    String); returns the session id, or None."""
    session, headers = await client.open_session("/", protocols=offered)
    status = headers.get(b":status") if headers else None
    chosen = headers.get(b"wt-protocol") if headers else None
    offer = ", ".join('"' + p + '"' for p in offered)
    ok = checks.expect(
        status == b"200" and chosen == ('"' + expected + '"').encode(),
        f"CONNECT offering {offer}: 200 and wt-protocol \"{expected}\" "
        f"(got {status}, {chosen})",
    )
    return session if ok else None


def first_message(client: WtClient, kind: int):
    for k, payload in ietf_messages(client.control):
        if k == kind:
            return payload
    return None


async def draft14_refused(relay_port, config, checks, what, versions, after_setup, expected):
    """A draft-14 session that `what` breaks: CLIENT_SETUP offering
    `versions`, then `after_setup` (if any) once SERVER_SETUP came. The relay
    must close that session with CLOSE_WEBTRANSPORT_SESSION code `expected`
    (the draft-14 session close code, as is); the connection goes only after
    that, cleanly."""
    async with dial(relay_port, config) as client:
        session = await negotiate(client, checks, ["moq-00"], "moq-00")
        if session is None:
            return
        client.open_control(session, ietf_client_setup(versions))
        if after_setup is not None:
            checks.expect(
                await client.wait_for(lambda: first_message(client, 0x21) is not None, 5),
                f"{what}: SERVER_SETUP first",
            )
            client.send_control(after_setup)
        ended = await client.wait_for(
            lambda: session in client.ended or client.terminated is not None, 5
        )
        code = client.close_code(session)
        checks.expect(
            ended and session in client.ended and code == expected,
            f"{what}: the relay closed the session with CLOSE_WEBTRANSPORT_SESSION "
            f"code {expected:#x} (got {code if code is None else hex(code)})",
        )
        if after_setup is None:
            checks.expect(
                first_message(client, 0x21) is None,
                f"{what}: no SERVER_SETUP (got {bytes(client.control).hex()})",
            )
        # One session per connection at the relay: once the capsule is
        # acknowledged it closes the connection too, cleanly (H3_NO_ERROR),
        # and only after the session ended.
        await client.wait_for(lambda: client.terminated is not None, 3)
        closed = client.terminated.error_code if client.terminated else None
        checks.expect(
            closed in (None, 0x100)
            and session in (client.ended_before_close if client.terminated else client.ended),
            f"{what}: the session ended first; the connection then closed cleanly "
            f"(CONNECTION_CLOSE {closed if closed is None else hex(closed)}; control stream "
            f"reset {client.raw_reset(client.control_id)})",
        )


async def dialects(args, checks: Checks, relay_port: int, config: QuicConfiguration):
    """Today's dialects, negotiated with wt-available-protocols (docs/dialects.md
    §1-§3): what must work works, what must end ends, and nothing else."""
    async with dial(relay_port, config) as ietf, dial(relay_port, config) as lite:
        # draft-14, chosen over moqt-16 (which the relay does not speak).
        session = await negotiate(ietf, checks, ["moqt-16", "moq-00"], "moq-00")
        if session is None:
            return
        ietf.open_control(session, ietf_client_setup([DRAFT_14]))
        await ietf.wait_for(
            lambda: first_message(ietf, 0x21) is not None or not ietf.session_open(session), 5
        )
        setup = first_message(ietf, 0x21)
        version = read_varint(setup, 0) if setup is not None else None
        params = ietf_setup_params(setup, version[1]) if version else None
        checks.expect(
            ietf_messages(ietf.control)[:1] == [(0x21, setup)]
            and version is not None
            and version[0] == DRAFT_14
            and params is not None
            and isinstance(params.get(0x2), int)
            and params[0x2] > 0,
            f"draft-14: SERVER_SETUP first, version 0xff00000e, MAX_REQUEST_ID > 0 "
            f"(got {bytes(ietf.control[:40]).hex()})",
        )

        # Broken draft-14 sessions, each alone on its connection.
        await draft14_refused(
            relay_port, config, checks, "CLIENT_SETUP offering only 0xff000001",
            [0xFF000001], None, 0x15,
        )
        await draft14_refused(
            relay_port, config, checks, "unknown control message 0x3f after SETUP",
            [DRAFT_14], ietf_message(0x3F, b"\x00"), 0x3,
        )

        # moq-lite-05, chosen over moq-lite-06 (not negotiated, §2.9).
        l_session = await negotiate(lite, checks, ["moq-lite-06", "moq-lite-05"], "moq-lite-05")
        if l_session is not None:
            lite.open_uni(l_session, varint(1) + lite_message(varint(0)))  # our SETUP
            bad = lite.open_bidi(l_session, varint(0x3F) + b"\x01\x02")
            await lite.wait_for(
                lambda: lite.reset_code(bad) is not None
                or bad in lite.bidi_ended
                or not lite.session_open(l_session),
                5,
            )
            checks.expect(
                lite.reset_code(bad) is not None and bad not in lite.bidi_ended,
                f"moq-lite-05: a bidi stream of unknown type 0x3f is reset "
                f"(code {lite.reset_code(bad)}; got {bytes(lite.bidi[bad]).hex()})",
            )
            checks.expect(lite.session_open(l_session), "... that stream only: the session is open")
            # ANNOUNCE_REQUEST prefix "" exclude_hop 0x1234: ANNOUNCE_OK
            # (origin, active count), then that many ANNOUNCEs.
            ann = lite.open_bidi(l_session, varint(1) + lite_message(string("") + varint(0x1234)))

            def announced():
                msgs = lite_messages(lite.bidi[ann])
                if not msgs:
                    return None
                origin = read_varint(msgs[0], 0)
                count = read_varint(msgs[0], origin[1]) if origin else None
                if not count or len(msgs) < 1 + count[0]:
                    return None
                names = []
                for body in msgs[1 : 1 + count[0]]:
                    name = read_varint(body, 1)  # after the status byte
                    if body[:1] != b"\x01" or not name:
                        return None
                    names.append(body[name[1] : name[1] + name[0]].decode(errors="replace"))
                return origin[0], names

            await lite.wait_for(
                lambda: announced() is not None or not lite.session_open(l_session)
                or lite.reset_code(ann) is not None,
                5,
            )
            result = announced()
            checks.expect(
                result is not None and result[0] != 0 and args.broadcast in result[1],
                f"moq-lite-05: ANNOUNCE_REQUEST answered with ANNOUNCE_OK and '{args.broadcast}' "
                f"active (got {result}; {bytes(lite.bidi[ann]).hex()})",
            )
            # Server-initiated uni streams have ids 3 mod 4.
            relay_setup = [
                bytes(b) for i, b in lite.opened.items() if i % 4 == 3 and b[:1] == b"\x01"
            ]
            checks.expect(
                len(relay_setup) == 1 and len(lite_messages(relay_setup[0][1:])) == 1,
                f"moq-lite-05: the relay's SETUP stream came "
                f"(got {[b.hex() for b in relay_setup]})",
            )
            checks.expect(lite.session_open(l_session), "moq-lite-05: the session is still open")

        # The good draft-14 session saw none of it: SUBSCRIBE_NAMESPACE ""
        # (request 0) gets SUBSCRIBE_NAMESPACE_OK, and the KIXEL broadcast
        # comes as PUBLISH_NAMESPACE.
        checks.expect(ietf.session_open(session), "draft-14: the first session is still open")
        asked = first_message(ietf, 0x11)  # the relay's own SUBSCRIBE_NAMESPACE
        if asked is not None and read_varint(asked, 0):
            ietf.send_control(ietf_message(0x12, varint(read_varint(asked, 0)[0])))
        ietf.send_control(ietf_message(0x11, varint(0) + varint(0) + varint(0)))

        def namespaces():
            ok, names = False, []
            for kind, payload in ietf_messages(ietf.control):
                if kind == 0x12 and payload == varint(0):
                    ok = True
                elif kind == 0x06 and read_varint(payload, 0):
                    ns = ietf_namespace(payload, read_varint(payload, 0)[1])
                    if ns:
                        names.append(ns[0])
            return ok, names

        await ietf.wait_for(
            lambda: (namespaces()[0] and (args.broadcast,) in namespaces()[1])
            or not ietf.session_open(session),
            5,
        )
        ok, names = namespaces()
        checks.expect(
            ok and (args.broadcast,) in names and ietf.session_open(session),
            f"draft-14: SUBSCRIBE_NAMESPACE answered, '{args.broadcast}' published (got {names})",
        )
        checks.expect(
            ietf.terminated is None and lite.terminated is None,
            "the draft-14 and moq-lite connections are open",
        )


async def kixel_session_works(args, checks: Checks, relay_port: int, config: QuicConfiguration):
    """A new KIXEL_00 subscriber: SERVER_SETUP, SUBSCRIBE_OK, objects."""
    async with dial(relay_port, config) as client:
        session, headers = await client.open_session("/" + args.broadcast)
        if not checks.expect(
            headers is not None and headers.get(b":status") == b"200",
            "a new KIXEL_00 session: CONNECT answered 200",
        ):
            return
        client.open_control(session, client_setup())
        server_setup = varint(0x02) + varint(KIXEL_00)
        got = await client.wait_for(lambda: len(client.control) >= len(server_setup) + 1, 5)
        checks.expect(
            got and bytes(client.control[: len(server_setup)]) == server_setup,
            f"a new KIXEL_00 session: SERVER_SETUP (got {bytes(client.control).hex()})",
        )
        del client.control[: len(server_setup) + 1]
        client.send_control(subscribe(0, "0"))
        checks.expect(
            await client.wait_for(lambda: bytes(client.control[:2]) == varint(0x04) + varint(0), 5)
            and await client.wait_for(lambda: len(client.finished) >= 5, 5),
            f"a new KIXEL_00 session: SUBSCRIBE_OK and objects "
            f"(got {bytes(client.control).hex()}, {len(client.finished)} objects)",
        )


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
        checks.expect(
            hostile.terminated is None or h_session in hostile.ended_before_close,
            "... and only the session, not its connection",
        )
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

        # 4. today's dialects, then 5. KIXEL_00 as before.
        await dialects(args, checks, relay_port, config)
        checks.expect(relay.poll() is None, "moq-relay is running after the dialect sessions")
        await kixel_session_works(args, checks, relay_port, config)
        before = len(watcher.finished)
        checks.expect(
            await watcher.wait_for(lambda: len(watcher.finished) >= before + 10, 5)
            and watcher.session_open(session),
            f"... and the first KIXEL_00 session never stopped "
            f"({len(watcher.finished) - before} more objects)",
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
