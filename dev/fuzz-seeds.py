#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets.

From the spec's vector file (control messages, OBJECT headers), a few
hand-made HTTP/3 records, and the seed files kept under fuzz/*/seeds/<target>.
Usage: fuzz-seeds.py VECTORS_JSON OUT_DIR
"""
import glob
import json
import os
import shutil
import sys

vectors_path, out = sys.argv[1], sys.argv[2]
with open(vectors_path) as f:
    vectors = json.load(f)

control = [bytes.fromhex(m["hex"]) for m in vectors["messages"] if m["message"] != "OBJECT"]
objects = [bytes.fromhex(m["hex"]) + b"payload" for m in vectors["messages"] if m["message"] == "OBJECT"]
bad = [bytes.fromhex(b["hex"]) for b in vectors["bad_input"]]


def record(stream_id, payload, flags=0):
    """One record of fuzz_webtransport: [stream selector][flags][len][bytes]."""
    selector = ((stream_id // 4) << 2) | (stream_id % 4)
    return bytes([selector & 0xFF, flags, len(payload)]) + payload


# An HTTP/3 control stream: type 0, SETTINGS (ENABLE_CONNECT_PROTOCOL, H3_DATAGRAM).
h3_control = bytes.fromhex("00" "04" "04" "0801" "3301")
wt_uni = bytes.fromhex("54" "00") + b"uni payload"

# fuzz_connection scripts (see fuzz/connection/fuzz_connection.cpp): op codes
# 0 bidi, 1 uni, 2 K ARG S canned, 3 S L raw, 4 S fin, 5 S C reset,
# 6 S C stop, 7 pump, 8 other client, 9 C close, 10 K ARG S canned+fin.
OPEN_BIDI, OPEN_UNI, CANNED, RAW, FIN, RESET, STOP, PUMP, SWITCH, CLOSE, CANNED_FIN = range(11)
C_CONTROL, C_QPACK_ENC, C_QPACK_DEC, C_GREASE, C_CONNECT, C_WT_UNI, C_WT_BIDI = range(7)
C_SETUP_PUB, C_SETUP_SUB, C_SUBSCRIBE, C_SUB_STOP, C_SUB_OK, C_SUB_RESET, C_OBJECT = range(7, 14)
C_DATA = 16


def script(*ops):
    return bytes(b for op in ops for b in op)


def session(role, slot_base):
    """Control stream, CONNECT /fuzz, WT bidi stream with CLIENT_SETUP."""
    return [(OPEN_UNI,), (CANNED, C_CONTROL, 0, slot_base), (OPEN_BIDI,),
            (CANNED, C_CONNECT, 1, slot_base + 1), (PUMP,), (OPEN_BIDI,),
            (CANNED, C_WT_BIDI, 0, slot_base + 2), (CANNED, role, 0, slot_base + 2), (PUMP,)]


connection = [
    # issue 9 triggers: the control stream, a QPACK stream ended before CONNECT
    script((OPEN_UNI,), (CANNED, C_CONTROL, 0, 0), (PUMP,), (FIN, 0), (PUMP,)),
    script((OPEN_UNI,), (CANNED, C_CONTROL, 0, 0), (OPEN_UNI,), (CANNED, C_QPACK_ENC, 0, 1),
           (PUMP,), (FIN, 1), (PUMP,)),
    script((OPEN_UNI,), (CANNED, C_CONTROL, 0, 0), (OPEN_UNI,), (CANNED, C_QPACK_DEC, 0, 1),
           (PUMP,), (FIN, 1), (PUMP,)),
    # ... and a GREASE stream with FIN plus DATA on the control stream in one flight
    script((OPEN_UNI,), (CANNED, C_CONTROL, 0, 0), (PUMP,), (OPEN_UNI,),
           (CANNED_FIN, C_GREASE, 2, 1), (CANNED, C_DATA, 7, 0), (PUMP,)),
    # a publisher and a subscriber of /fuzz, an object, resets and closes
    script(*session(C_SETUP_PUB, 0), (SWITCH,), *session(C_SETUP_SUB, 0),
           (CANNED, C_SUBSCRIBE, 1, 2), (PUMP,), (SWITCH,), (OPEN_UNI,),
           (CANNED, C_WT_UNI, 0, 3), (CANNED, C_OBJECT, 1, 3), (RAW, 3, 4, 1, 2, 3, 4), (FIN, 3),
           (PUMP,), (SWITCH,), (CANNED, C_SUB_STOP, 1, 2), (PUMP,), (SWITCH,), (CLOSE, 5), (PUMP,)),
    script(*session(C_SETUP_SUB, 0), (CANNED, C_SUBSCRIBE, 0, 2), (CANNED, C_SUBSCRIBE, 0, 2),
           (PUMP,), (RESET, 2, 9), (STOP, 1, 3), (PUMP,)),
]

seeds = {
    "connection": connection,
    # These targets read a split/role selector byte first.
    "control": [bytes([i % 16]) + m for i, m in enumerate(control + bad + [b"".join(control)])],
    "object": [bytes([i % 8]) + o for i, o in enumerate(objects)],
    "webtransport": [
        b"\x01" + record(2, h3_control) + record(0, bytes.fromhex("0100")) + record(6, wt_uni, 1),
        b"\x00" + record(3, h3_control) + record(1, b"", 2),
    ],
    "origin": [b'{"url": "https://relay.example:4443/demo"}', b'{"url": "http://x"}', b"{"],
}
for name, items in seeds.items():
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, f"seed-{i:03d}"), "wb") as f:
            f.write(data)

# Seed files kept in the tree, e.g. tiny ffmpeg outputs for fuzz_mp4.
here = os.path.dirname(os.path.abspath(__file__))
for target_dir in glob.glob(os.path.join(here, "..", "fuzz", "*", "seeds", "*")):
    d = os.path.join(out, os.path.basename(target_dir))
    os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(target_dir, "*")):
        shutil.copy(f, d)
