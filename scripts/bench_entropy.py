#!/usr/bin/env python3
"""Entropy coding of NAC codes on dev speech -> reports/entropy.md.

    python scripts/bench_entropy.py [--model nac-16k]

Per bitrate: bytes of the bit-packed vs range-coded chunks (250 frames, as `nac encode` writes
them), the saving, and the coder's speed alone (encode / decode, x real time, one thread). At
6 kbps also the bits per level, and a check that every file's codes come back exactly.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from fit_code_statistics import file_codes  # noqa: E402
from nac.compress import load_loaded  # noqa: E402

CHUNK = 250
PROBE_HEADING = "## How predictable are the codes"


def measure(coder, arrays, bits: int, frame_rate: float) -> dict:
    raw = coded = frames = 0
    t_enc = t_dec = 0.0
    for codes in arrays:
        for start in range(0, len(codes), CHUNK):
            chunk = codes[start:start + CHUNK, None, :]
            t = time.perf_counter()
            payload = coder.encode(chunk)
            t_enc += time.perf_counter() - t
            t = time.perf_counter()
            back = coder.decode(payload, chunk.shape[0], 1, chunk.shape[2])
            t_dec += time.perf_counter() - t
            if not np.array_equal(back, chunk):
                raise SystemExit("entropy coding did not round-trip exactly")
            raw += (chunk.size * bits + 7) // 8
            coded += len(payload)
            frames += chunk.shape[0]
    seconds = frames / frame_rate
    return {"raw": raw, "coded": coded, "saving": 1 - coded / raw, "enc": seconds / t_enc, "dec": seconds / t_dec}


def level_bits(coder, arrays) -> list[float]:
    """Ideal bits per code of each level under the coder's model (level 0 with its context)."""
    bits = []
    for level in range(arrays[0].shape[1]):
        total = n = 0
        for codes in arrays:
            if level == 0:
                context = np.concatenate([[coder.k], codes[:-1, 0]])
                w = coder.transition[context]
                p = w[np.arange(len(codes)), codes[:, 0]] / w.sum(1)
            else:
                w = coder.unigram_weights[level]
                p = w[codes[:, level]] / w.sum()
            total += -np.log2(p).sum()
            n += len(codes)
        bits.append(total / n)
    return bits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "entropy.md")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    loaded = load_loaded(args.model)
    model, coder = loaded.model, loaded.code_model()
    if coder is None:
        sys.exit(f"{args.model} ships no code statistics (scripts/fit_code_statistics.py)")
    bits = model.cfg.bits_per_code
    lines = ["# Entropy coding of the codes", "",
             f"`python scripts/bench_entropy.py --model {args.model}`: the {len(list(args.dev.iterdir()))} dev speech "
             f"files, {CHUNK}-frame chunks as `nac encode` writes them, one thread. Coder: `nac/entropy.py` "
             f"({coder.describe()['coder']}, statistics {coder.digest}: level 0 conditioned on the previous "
             "frame's level-0 code, levels 1+ on their own unigram). Every chunk decoded back exactly.", "",
             "| kbps | bit-packed bytes | entropy-coded bytes | smaller by | coder encode | coder decode |",
             "|---|---|---|---|---|---|"]
    at6 = None
    for kbps in model.bitrates():
        arrays = file_codes(model, args.dev, kbps)
        r = measure(coder, arrays, bits, model.frame_rate)
        lines.append(f"| {kbps:g} | {r['raw']} | {r['coded']} | **{100 * r['saving']:.1f} %** | "
                     f"{r['enc']:.0f}× | {r['dec']:.0f}× |")
        if kbps == 6:
            at6 = arrays
    if at6 is not None:
        per_level = level_bits(coder, at6)
        lines += ["", "Bits per code at 6 kbps, by level (10 bits bit-packed):", "",
                  "| level | " + " | ".join(str(i) for i in range(len(per_level))) + " |",
                  "|---|" + "---|" * len(per_level),
                  "| bits | " + " | ".join(f"{b:.2f}" for b in per_level) + " |"]
    # keep the hand-run section from scripts/probe_code_context.py (minutes of CPU training)
    kept = ""
    if args.out.exists() and PROBE_HEADING in args.out.read_text():
        kept = "\n" + args.out.read_text()[args.out.read_text().index(PROBE_HEADING):]
    args.out.write_text("\n".join(lines) + "\n" + kept)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
