#!/usr/bin/env python3
"""Paired check of a speech restorer checkpoint on dev speech, degradation by degradation.

    python experiments/ab_restore.py runs/campaign-restore-speech/latest.pt [--files 20] [--visqol]

For each dev speech file >= 2.5 s (every --stride-th): the degraded input (Opus 6/12 kbps, an
8 kHz band limit) and the restorer's output on it, always applied (no pass-through rule): PESQ-WB
(and ViSQOL) after minus before, mean and 95 % CI. Minutes, not the 45 of bench_restore.py:
what the campaign looks at before shipping a restorer.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # ab_eval, plot_training

from ab_eval import dev_clips  # noqa: E402

from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import pesq_wb, visqol  # noqa: E402
from nac.io.audio import fit_length  # noqa: E402
from nac.restore.restorer import load_restorer, postfilter  # noqa: E402
from nac.train import degrade  # noqa: E402

SR = 16000
DEGRADATIONS = {
    "opus:6": lambda x: degrade.opus(x, SR, 6),
    "opus:12": lambda x: degrade.opus(x, SR, 12),
    "bw:8000": lambda x: degrade.bandlimit(x, SR, 8000),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--visqol", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_restorer(args.model)
    files = [x[None] for _, x in dev_clips(args.dev, 2.5, args.stride, args.files, SR)]
    metrics = {"pesq": lambda r, y: pesq_wb(r, y, SR)}
    if args.visqol:
        metrics["visqol"] = lambda r, y: visqol(r, y, SR, "speech")
    for name, apply in DEGRADATIONS.items():
        gains = {m: [] for m in metrics}
        before_all = {m: [] for m in metrics}
        for x in files:
            degraded = fit_length(np.atleast_2d(apply(x[0])), x.shape[1])
            restored, _ = postfilter(degraded, SR, model)
            for m, score in metrics.items():
                before = score(x[0], degraded[0])
                gains[m].append(score(x[0], restored[0]) - before)
                before_all[m].append(before)
        cells = []
        for m in metrics:
            (g, gc), (b, _) = mean_ci(gains[m]), mean_ci(before_all[m])
            cells.append(f"{m} {b:.3f} -> {b + g:.3f} ({g:+.3f} ± {gc:.3f})")
        print(f"{name:8s} " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
