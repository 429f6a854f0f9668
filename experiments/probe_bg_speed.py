#!/usr/bin/env python3
"""Probe: what the band-gain layer costs in speed (reports/band_gain.md).

    python experiments/probe_bg_speed.py [--seconds 60]

Encode and decode x real time through the chunked API (as `nac encode` / `nac decode` run it),
one thread, the campaign paused, for nac-16k and nac-16k-bg at 3 / 6 / 12 kbps. The gain model's
encoder runs the decoder network to measure its error, and its chunk windows take the decoder's
context, so its encode costs more; its decode adds only the gains.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_speed import pause_campaign, speech, timed  # noqa: E402

from nac.api import decode_codes, encode_codes, load_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = speech(args.seconds)[None]
    paused = pause_campaign()
    try:
        print("| model | kbps | encode × | decode × | encode + decode × |\n|---|---|---|---|---|")
        for name in ("nac-16k", "nac-16k-bg"):
            model = load_model(name)
            for kbps in (3.0, 6.0, 12.0):
                with torch.no_grad():
                    enc = timed(lambda: list(encode_codes(model, x, kbps)), 2)
                    chunks = list(encode_codes(model, x, kbps))
                    dec = timed(lambda: list(decode_codes(model, chunks)), 2)
                s = args.seconds
                print(f"| {name} | {kbps:g} | {s / enc:.0f} | {s / dec:.0f} | {s / (enc + dec):.0f} |", flush=True)
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)


if __name__ == "__main__":
    main()
