#!/usr/bin/env python3
"""Probe: entropy-constrained code choice. Instead of the nearest code, each level picks
argmin |r - c|^2 + lambda_l * bits(c), bits from the model's code statistics, so frequent codes
win near-ties: the codes get cheaper to entropy-code, at some cost in distortion.

    python scripts/probe_rate_bias.py [--model nac-16k] [--files 14] [--alphas 0,0.05,0.1,0.2]

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

from nac.audio import read_audio, resample  # noqa: E402
from nac.compress import load_loaded  # noqa: E402
from nac.data import list_audio  # noqa: E402
from nac.entropy import CodeModel, CodeStatistics  # noqa: E402
from nac.evaluate import mean_ci  # noqa: E402
from nac.metrics import pesq_wb  # noqa: E402


def biased_encode(books: torch.Tensor, z: torch.Tensor, n_q: int, penalty: list[torch.Tensor]) -> tuple:
    """(N, D) latents -> (N, n_q) codes and each level's mean squared error left."""
    residual, codes, errors = z, [], []
    for level in range(n_q):
        dist = torch.cdist(residual, books[level]).square() + penalty[level]
        idx = dist.argmin(-1)
        residual = residual - books[level][idx]
        codes.append(idx)
        errors.append(residual.square().sum(-1).mean().item())
    return torch.stack(codes, 1), errors


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
    model, coder = loaded.model, loaded.code_model()
    n_q, books, sr = model.n_q_for(args.kbps), model.quantizer.codebooks, model.sample_rate
    bits = [torch.from_numpy(-np.log2(w / w.sum())).float() for w in coder.unigram_weights]
    files = read(list_audio(args.dev)[:: args.stride], sr, args.files, args.min_seconds)
    train = read(list_audio(args.train)[::7], sr, args.refit, 2.5) if args.refit else []
    with torch.no_grad():
        latents = [latent(model, x) for x in files]
        train_latents = [latent(model, x) for x in train]
        _, base_err = biased_encode(books, torch.cat(latents), n_q, [0.0] * n_q)
        if train_latents:  # start from the statistics of nearest codes, as fit_code_statistics.py does
            nearest = CodeModel(CodeStatistics.fit([biased_encode(books, z, n_q, [0.0] * n_q)[0].numpy()
                                                    for z in train_latents], model.quantizer.codebook_size))
            bits = [torch.from_numpy(-np.log2(w / w.sum())).float() for w in nearest.unigram_weights]
    raw_bytes = sum(len(z) for z in latents) * n_q * 10 / 8
    base = None
    for alpha in (float(a) for a in args.alphas.split(",")):
        scale = [alpha * base_err[level] / 10 if level >= args.first_level else 0.0 for level in range(n_q)]
        penalty = [scale[level] * bits[level] for level in range(n_q)]
        if train_latents:  # one Lloyd-style step: statistics of the biased codes, then re-bias
            with torch.no_grad():
                stats = CodeStatistics.fit([biased_encode(books, z, n_q, penalty)[0].numpy() for z in train_latents],
                                           model.quantizer.codebook_size)
            coder = CodeModel(stats)
            refit = [torch.from_numpy(-np.log2(w / w.sum())).float() for w in coder.unigram_weights]
            penalty = [scale[level] * refit[level] for level in range(n_q)]
        coded, scores = 0, []
        for x, z in zip(files, latents):
            with torch.no_grad():
                codes, _ = biased_encode(books, z, n_q, penalty)
                y = model.decode(codes.T[None])[0].numpy()[: len(x)]
            coded += len(coder.encode(codes.numpy()[:, None, :]))
            scores.append(pesq_wb(x, y, sr))
        base = base or scores
        diff, ci = mean_ci([s - b for s, b in zip(scores, base)])
        print(f"alpha {alpha:5.2f}: {1 - coded / raw_bytes:6.1%} smaller than bit-packed, "
              f"PESQ {np.mean(scores):.3f} ({diff:+.3f} ± {ci:.3f})", flush=True)


def read(paths, sr: int, limit: int, min_seconds: float) -> list[np.ndarray]:
    out = []
    for path in paths:
        x, file_sr = read_audio(path)
        x = resample(x.mean(0, keepdims=True), file_sr, sr)[0].astype(np.float32)
        if len(x) >= min_seconds * sr:
            out.append(x)
        if len(out) == limit:
            break
    return out


def latent(model, x: np.ndarray) -> torch.Tensor:
    return model._latents(model._pad(torch.from_numpy(x)[None]))[0].T


if __name__ == "__main__":
    main()
