#!/usr/bin/env python3
"""Entropy coding of NAC codes on dev speech -> reports/entropy.md.

    python scripts/bench_entropy.py [--model nac-16k]

Per bitrate: bytes of the bit-packed vs range-coded chunks (250 frames, as `nac encode` writes
them), the saving, and the coder's speed alone (encode / decode, x real time, one thread); both
for the codes `nac encode --entropy on` picks (rate-aware: `nac/entropy.py`) and for the
nearest-neighbour codes of `--entropy off` (what the coder alone saves). At 6 kbps also the
bits per level, the quality the rate-aware choice costs (PESQ-WB, ViSQOL on files >= 2.5 s,
paired), and a check that every file's codes come back exactly.
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

from nac.api import decode_codes, load_loaded  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import pesq_wb, visqol  # noqa: E402

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


def quality_cost(model, dev: Path, rate_aware, nearest) -> list[str]:
    """What choosing codes for the coder costs at 6 kbps: paired PESQ-WB (all files) and ViSQOL
    (files >= 2.5 s) of the decoded audio, rate-aware minus nearest codes."""
    from fit_code_statistics import mono

    from nac.io.audio import list_audio

    pesq, visq = [], []
    for path, a, b in zip(list_audio(dev), rate_aware, nearest):
        x = mono(path, model.sample_rate)[0]
        ya, yb = (np.concatenate(list(decode_codes(model, [c[:, None, :]])), 1)[0, : len(x)] for c in (a, b))
        pesq.append(pesq_wb(x, ya, model.sample_rate) - pesq_wb(x, yb, model.sample_rate))
        if len(x) >= 2.5 * model.sample_rate:
            visq.append(visqol(x, ya, model.sample_rate, "speech") - visqol(x, yb, model.sample_rate, "speech"))
    (p, pc), (v, vc) = mean_ci(pesq), mean_ci(visq)
    return [f"Quality the rate-aware choice costs at 6 kbps (decoded audio, paired against nearest codes): "
            f"PESQ-WB {p:+.3f} ± {pc:.3f} ({len(pesq)} files), ViSQOL {v:+.3f} ± {vc:.3f} "
            f"({len(visq)} files >= 2.5 s)."]


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
             "frame's level-0 code, levels 1+ on their own unigram). Every chunk decoded back exactly. "
             "*Rate-aware* codes are what `nac encode --entropy on` (and `auto`) writes: each level picks "
             "argmin |r − c|² + λ·bits(c) (entropy-constrained VQ; λ and the statistics fitted by "
             "`scripts/fit_code_statistics.py`); *nearest* codes are `--entropy off`'s, coded losslessly "
             "with the same coder for comparison.", "",
             "| kbps | bit-packed bytes | entropy-coded bytes (rate-aware) | smaller by | nearest codes: smaller by "
             "| coder encode | coder decode |",
             "|---|---|---|---|---|---|---|"]
    at6 = None
    for kbps in model.bitrates():
        arrays = file_codes(model, args.dev, kbps, coder.rate_cost(model.n_q_for(kbps)))
        nearest = file_codes(model, args.dev, kbps)
        r, n = measure(coder, arrays, bits, model.frame_rate), measure(coder, nearest, bits, model.frame_rate)
        lines.append(f"| {kbps:g} | {r['raw']} | {r['coded']} | **{100 * r['saving']:.1f} %** | "
                     f"{100 * n['saving']:.1f} % | {r['enc']:.0f}× | {r['dec']:.0f}× |")
        if kbps == 6:
            at6 = arrays, nearest
    if at6 is not None:
        per_level = level_bits(coder, at6[0])
        lines += ["", "Bits per code at 6 kbps (rate-aware codes), by level (10 bits bit-packed):", "",
                  "| level | " + " | ".join(str(i) for i in range(len(per_level))) + " |",
                  "|---|" + "---|" * len(per_level),
                  "| bits | " + " | ".join(f"{b:.2f}" for b in per_level) + " |"]
        lines += ["", *quality_cost(model, args.dev, *at6)]
    # keep the hand-run section from experiments/probe_code_context.py (minutes of CPU training)
    kept = ""
    if args.out.exists() and PROBE_HEADING in args.out.read_text():
        kept = "\n" + args.out.read_text()[args.out.read_text().index(PROBE_HEADING):]
    args.out.write_text("\n".join(lines) + "\n" + kept)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
