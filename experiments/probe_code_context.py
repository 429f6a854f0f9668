#!/usr/bin/env python3
"""How predictable are NAC's codes? Upper-bound estimates for entropy coding -> stdout.

    python experiments/probe_code_context.py [--model nac-16k] [--kbps 6] [--minutes 7]

Encodes train speech and dev speech, then measures held-out (dev) bits per code of
1. each level's unigram;
2. count models: level l given level l-1 of the same frame, and given the same level one frame
   earlier (additive smoothing towards the unigram, best of several strengths);
3. a small neural context model (MLP) trained for `--minutes` on train codes: level l from the
   previous frame's decoded latent, the current frame's partial sum of levels < l and the same
   level's code vector one frame earlier (what a sequential, EnCodec-style LM could use).
`reports/entropy.md` records the result. The shipped coder uses only what is exact and cheap
(level 0 given the previous frame, unigram elsewhere).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from fit_code_statistics import file_codes  # noqa: E402

from nac.api import load_model  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def count_bits(ctx_tr, ctx_dv, sym_tr, sym_dv, prior, n_ctx, k) -> float:
    counts = np.zeros((n_ctx, k))
    np.add.at(counts, (ctx_tr, sym_tr), 1)
    n = counts.sum(1)
    best = np.inf
    for alpha in (3, 10, 30, 100, 300):
        p = (counts[ctx_dv, sym_dv] + alpha * prior[sym_dv]) / (n[ctx_dv] + alpha)
        best = min(best, -np.log2(p).mean())
    return best


def with_previous(arrays, k):
    codes = np.concatenate(arrays).astype(np.int64)
    prev = np.concatenate([np.vstack([np.full((1, a.shape[1]), k), a[:-1]]) for a in arrays]).astype(np.int64)
    return codes, prev


class ContextMLP(torch.nn.Module):
    def __init__(self, books: torch.Tensor, hidden: int = 384):
        super().__init__()
        self.books = books  # (levels, K, D)
        levels, k, d = books.shape
        self.inp = torch.nn.Linear(3 * d, hidden)
        self.level = torch.nn.Embedding(levels, hidden)
        self.body = torch.nn.Sequential(torch.nn.GELU(), torch.nn.Linear(hidden, hidden), torch.nn.GELU(),
                                        torch.nn.Linear(hidden, d))
        self.bias = torch.nn.Parameter(torch.zeros(levels, k))

    def forward(self, partial, prev_latent, prev_same, level):
        q = self.body(self.inp(torch.cat([partial, prev_latent, prev_same], -1)) + self.level(level))
        return torch.einsum("nd,nkd->nk", q, self.books[level]) + self.bias[level]


def neural_bits(books, codes_tr, prev_tr, codes_dv, prev_dv, minutes: float) -> list[float]:
    levels = codes_tr.shape[1]

    def sums(codes):  # (N, levels + 1, D) partial sums of code vectors, -1 (none) -> zero
        out = torch.zeros(codes.shape[0], levels + 1, books.shape[-1])
        for lv in range(levels):
            c = torch.from_numpy(codes[:, lv])
            v = torch.where((c < books.shape[1])[:, None], books[lv][c.clamp(max=books.shape[1] - 1)], 0.0)
            out[:, lv + 1] = out[:, lv] + v
        return out

    def same(prev, lv):
        c = torch.from_numpy(prev[:, lv]) if isinstance(lv, int) else torch.from_numpy(prev)[torch.arange(len(lv)), lv]
        lvt = torch.full_like(c, lv) if isinstance(lv, int) else lv
        return torch.where((c < books.shape[1])[:, None], books[lvt, c.clamp(max=books.shape[1] - 1)], 0.0)

    s_tr, s_dv = sums(codes_tr), sums(codes_dv)
    p_tr, p_dv = sums(prev_tr)[:, levels], sums(prev_dv)[:, levels]
    torch.manual_seed(0)
    net = ContextMLP(books)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    t0 = time.time()
    while time.time() - t0 < 60 * minutes:
        idx = torch.randint(0, len(codes_tr), (512,))
        lv = torch.randint(0, levels, (512,))
        logits = net(s_tr[idx, lv], p_tr[idx], same(prev_tr[idx.numpy()], lv), lv)
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(codes_tr)[idx, lv])
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = []
    with torch.no_grad():
        for lv in range(levels):
            level = torch.full((len(codes_dv),), lv)
            logits = net(s_dv[:, lv], p_dv, same(prev_dv, lv), level)
            out.append(torch.nn.functional.cross_entropy(logits, torch.from_numpy(codes_dv[:, lv])).item() / np.log(2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--minutes", type=float, default=7.0, help="training time of the neural context model")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    k, bits = model.cfg.codebook_size, model.cfg.bits_per_code
    train = file_codes(model, SHARED / "train" / "speech", args.kbps)
    dev = file_codes(model, SHARED / "dev" / "speech", args.kbps)
    codes_tr, prev_tr = with_previous(train, k)
    codes_dv, prev_dv = with_previous(dev, k)
    levels = codes_tr.shape[1]
    rows = {"unigram": [], "given level l-1 (same frame)": [], "given same level, previous frame": []}
    for lv in range(levels):
        prior = (np.bincount(codes_tr[:, lv], minlength=k) + 0.5) / (len(codes_tr) + 0.5 * k)
        rows["unigram"].append(-np.log2(prior[codes_dv[:, lv]]).mean())
        rows["given level l-1 (same frame)"].append(
            count_bits(codes_tr[:, lv - 1], codes_dv[:, lv - 1], codes_tr[:, lv], codes_dv[:, lv], prior, k, k)
            if lv else rows["unigram"][-1])
        rows["given same level, previous frame"].append(
            count_bits(prev_tr[:, lv], prev_dv[:, lv], codes_tr[:, lv], codes_dv[:, lv], prior, k + 1, k))
    books = model.quantizer.codebooks[:levels].detach()
    rows[f"neural context model ({args.minutes:g} min CPU)"] = neural_bits(books, codes_tr, prev_tr, codes_dv,
                                                                           prev_dv, args.minutes)
    print(f"dev speech, {args.kbps:g} kbps, {levels} levels, bits per code (bit-packed: {bits})\n")
    print("| model | " + " | ".join(f"L{i}" for i in range(levels)) + " | bits/frame | smaller by |")
    print("|---|" + "---|" * (levels + 2))
    for name, b in rows.items():
        total = float(np.sum(b))
        print(f"| {name} | " + " | ".join(f"{x:.2f}" for x in b)
              + f" | {total:.1f} | {100 * (1 - total / (bits * levels)):.1f} % |")


if __name__ == "__main__":
    main()
