#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets from the spec's vector file.

Each seed is one byte choosing how the fuzzer splits its input (see the
targets), followed by the bytes of a vector.
Usage: fuzz-seeds.py VECTORS_JSON OUT_DIR
"""
import json
import os
import sys

vectors_path, out = sys.argv[1], sys.argv[2]
with open(vectors_path) as f:
    vectors = json.load(f)

control = [bytes.fromhex(m["hex"]) for m in vectors["messages"] if m["message"] != "OBJECT"]
objects = [bytes.fromhex(m["hex"]) + b"payload" for m in vectors["messages"] if m["message"] == "OBJECT"]
bad = [bytes.fromhex(b["hex"]) for b in vectors["bad_input"]]

seeds = {
    "control": control + bad + [b"".join(control)],
    "object": objects,
}
for name, items in seeds.items():
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, f"seed-{i:03d}"), "wb") as f:
            f.write(bytes([i % 16]) + data)
