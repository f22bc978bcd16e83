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

seeds = {
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
