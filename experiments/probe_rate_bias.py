#!/usr/bin/env python3
"""Probe: entropy-constrained code choice. Instead of the nearest code, each level picks
argmin |r - c|^2 + lambda_l * bits(c), bits from the model's code statistics, so frequent codes
win near-ties: the codes get cheaper to entropy-code, at some cost in distortion.

    python experiments/probe_rate_bias.py [--model nac-16k] [--files 14] [--alphas 0,0.05,0.1,0.2]

lambda_l = alpha * (mean squared error left after level l with plain nearest-neighbour codes) /
bits: the same relative exchange rate at every level. Prints, per alpha, the range-coded size
vs bit-packed (the coder `nac encode --entropy on` uses) and PESQ-WB against alpha = 0.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import dev_clips  # noqa: E402
from fit_code_statistics import residual_energy  # noqa: E402

from nac.api import load_loaded  # noqa: E402
from nac.container.entropy import CodeModel, CodeStatistics  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import pesq_wb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--files", type=int, default=14)
    ap.add_argument("--stride", type=int, default=3)
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--alphas", default="0,0.05,0.1,0.2,0.4")
    ap.add_argument("--refit", type=int, default=0,
                    help="refit the code statistics on the biased codes of this many train files per alpha")
    ap.add_argument("--first-level", type=int, default=0, help="bias only levels from this one on")
    ap.add_argument("--min-seconds", type=float, default=2.5)
    ap.add_argument("--train", type=Path, default=ROOT.parent / "shared" / "data" / "train" / "speech")
    args = ap.parse_args()
    torch.set_num_threads(1)
    loaded = load_loaded(args.model)
    model, size = loaded.model, loaded.model.quantizer.codebook_size
    n_q, sr = model.n_q_for(args.kbps), model.sample_rate
    files = [x for _, x in dev_clips(args.dev, args.min_seconds, args.stride, args.files, sr)]
    train = [x for _, x in dev_clips(args.train, 2.5, 7, args.refit, sr)] if args.refit else []
    with torch.no_grad():
        dev_z = [model._latents(model._pad(torch.from_numpy(x)[None])) for x in files]
        train_z = [model._latents(model._pad(torch.from_numpy(x)[None])) for x in train]
    base_err = residual_energy(model, dev_z, n_q)

    def codes_of(z, cost) -> np.ndarray:  # (N, n_q): what an entropy-coding encoder picks
        return model.quantizer.encode(z, n_q, None if cost is None else torch.from_numpy(cost))[0].T.numpy()

    # start from the statistics of nearest codes, as fit_code_statistics.py does
    stats = (CodeStatistics.fit([codes_of(z, None) for z in train_z], size) if train_z
             else CodeStatistics.from_dict(loaded.code_statistics))
    raw_bytes = sum(z.shape[-1] for z in dev_z) * n_q * 10 / 8
    base = None
    for alpha in (float(a) for a in args.alphas.split(",")):
        scale = np.array([alpha * base_err[level] / 10 if level >= args.first_level else 0.0 for level in range(n_q)])
        coder = CodeModel(CodeStatistics(stats.unigram, stats.transitions, scale))
        if train_z:  # one Lloyd-style step: statistics of the biased codes, then re-bias
            coder = CodeModel(CodeStatistics.fit([codes_of(z, coder.rate_cost(n_q)) for z in train_z], size, scale))
        coded, scores = 0, []
        for x, z in zip(files, dev_z):
            codes = codes_of(z, coder.rate_cost(n_q))
            y = model.decode(torch.from_numpy(codes.T[None]))[0].numpy()[: len(x)]
            coded += len(coder.encode(codes[:, None, :]))
            scores.append(pesq_wb(x, y, sr))
        base = base or scores
        diff, ci = mean_ci([s - b for s, b in zip(scores, base)])
        print(f"alpha {alpha:5.2f}: {1 - coded / raw_bytes:6.1%} smaller than bit-packed, "
              f"PESQ {np.mean(scores):.3f} ({diff:+.3f} ± {ci:.3f})", flush=True)


if __name__ == "__main__":
    main()
