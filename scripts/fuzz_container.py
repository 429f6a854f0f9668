#!/usr/bin/env python3
"""Fuzz the .nac reader and decoder with structured mutations; write reports/fuzz.md.

    python scripts/fuzz_container.py --cases 100000          # the real nac-16k, one thread

Every case must end in a `NacFormatError` or a valid decode, in under --limit seconds; peak RSS
is measured for the whole run. The mutation strategies are in `nac/fuzzing.py`.
"""
from __future__ import annotations

import argparse
import collections
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac.api import compress, decompress  # noqa: E402
from nac.eval import fuzzing  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=float, default=2.0, help="seconds per case")
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--report", default=str(ROOT / "reports" / "fuzz.md"))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    rng_audio = np.random.default_rng(args.seed)
    t = np.arange(int(0.4 * 16000)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.02 * rng_audio.standard_normal(len(t))).astype(np.float32)
    seeds = {"mono 6 kbps, 0.4 s, 4 chunks, bit-packed": compress(audio[None], 16000, 6, args.model,
                                                                   frames_per_chunk=5, entropy="off"),
             "mono 6 kbps, 4 chunks, entropy-coded": compress(audio[None], 16000, 6, args.model,
                                                              frames_per_chunk=5, entropy="auto"),
             "stereo 44.1 kHz 1.5 kbps, entropy-coded": compress(np.stack([audio, audio[::-1]]), 44100, 1.5,
                                                                 args.model, frames_per_chunk=5, entropy="auto")}
    for data in seeds.values():
        decompress(data)  # warm: the model is loaded once, outside the timed cases

    rng = random.Random(args.seed)
    counts = collections.Counter()
    by_strategy = collections.defaultdict(collections.Counter)
    failures, slowest, max_cpu = [], [], 0.0
    start = time.time()
    seed_list = list(seeds.values())
    for _ in tqdm(range(args.cases), desc="fuzz", mininterval=5):
        strategy, data = fuzzing.mutate(rng.choice(seed_list), rng)
        out = fuzzing.run_case(strategy, data, decompress, args.limit)
        if out.result == "decoded" and data in seed_list:
            out.result = "unaltered"  # e.g. a chunk swapped with itself: not a mutation at all
        counts[out.result] += 1
        by_strategy[strategy][out.result] += 1
        if out.result not in ("format_error", "decoded", "unaltered"):
            failures.append(out)
        slowest = sorted(slowest + [out], key=lambda o: -o.seconds)[:5]
        max_cpu = max(max_cpu, out.cpu_seconds)
    wall = time.time() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    ok = len(failures) == 0
    lines = [
        "# Fuzzing the .nac container", "",
        f"`python scripts/fuzz_container.py --cases {args.cases}` (model `{args.model}`, one thread, "
        f"seed {args.seed}): {args.cases} structured mutations of two valid v2 files "
        f"({', '.join(seeds)}), strategies in `nac/fuzzing.py`.", "",
        f"**{'PASS' if ok else 'FAIL'}**: {counts['format_error']} clean `NacFormatError`s, "
        f"{counts['decoded']} valid decodes of rewritten files whose CRCs the mutation recomputed "
        f"(valid files), {counts['unaltered']} decodes of mutations that changed nothing, "
        f"{counts['timeout']} over {args.limit:g} s, {len(failures)} other outcomes; "
        f"longest case {max(o.seconds for o in slowest):.2f} s wall clock, {max_cpu:.2f} s CPU; "
        f"peak RSS {peak_mb:.0f} MB (model included); {wall:.0f} s in all.", "",
        "| strategy | cases | NacFormatError | valid decode (rewritten file) | unaltered | other |",
        "|---|---|---|---|---|---|",
    ]
    for strategy, c in sorted(by_strategy.items()):
        other = sum(v for k, v in c.items() if k not in ("format_error", "decoded", "unaltered"))
        lines.append(f"| {strategy} | {sum(c.values())} | {c['format_error']} | {c['decoded']} | "
                     f"{c['unaltered']} | {other} |")
    lines += ["", "Slowest cases:", "", "| strategy | outcome | seconds | CPU seconds | message |", "|---|---|---|---|---|"]
    for o in slowest:
        lines.append(f"| {o.strategy} | {o.result} | {o.seconds:.3f} | {o.cpu_seconds:.3f} | {o.message[:80]} |")
    if failures:
        lines += ["", "Failures (first 20):", ""]
        lines += [f"- {o.strategy}: {o.result} {o.message[:150]}" for o in failures[:20]]
    Path(args.report).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:5]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
