#!/usr/bin/env python3
"""Pick the enhancer's inference limits (max cut, extension offset) and per-class strength on dev.

    python experiments/tune_enhancer_limits.py runs/campaign-enhancer/latest.pt [--files 12]

Scores PESQ-WB change (output - input) per dev condition (`nac/train/enhance_dev.py`) for a
small grid and prints a table; reports/restore_training.md names the choice.
"""
import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac import checkpoint  # noqa: E402
from nac.restore.enhancer import Enhancer, EnhancerConfig  # noqa: E402
from nac.restore.stream import enhance_file  # noqa: E402
from nac.train.enhance_dev import DevSet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    from pesq import pesq

    torch.set_num_threads(1)
    ck = checkpoint.load(args.ckpt)
    dev = DevSet(args.data, 16000, args.files)
    base = {k: tuple(v) if isinstance(v, list) else v for k, v in ck["config"].items()}
    inputs = {(n, c): pesq(16000, clean, deg, "wb") for n, c, clean, deg in dev.items}
    print(f"step {ck['step']}")
    mixes = (1.0, 0.7, 0.5, 0.3)
    conditions = list(dict.fromkeys(c for _, c, _, _ in dev.items))
    print("| max cut dB | ext offset dB | mix | " + " | ".join(conditions) + " |")
    print("|---|---|---|" + "---|" * len(conditions))
    for cut, ext in itertools.product((60, 20, 12), (0, -10, -20)):
        model = Enhancer(EnhancerConfig(**{**base, "max_cut_db": cut, "ext_offset_db": ext}))
        model.load_state_dict(checkpoint.float_state(checkpoint.inference_weights(ck)))
        model.eval()
        per = {mix: {} for mix in mixes}
        for name, cond, clean, deg in dev.items:
            out = enhance_file(model, deg[None])[0]
            for mix in mixes:  # the plan's per-class strength: input + mix * (output - input)
                y = deg + mix * (out - deg)
                per[mix].setdefault(cond, []).append(pesq(16000, clean, y, "wb") - inputs[(name, cond)])
        for mix in mixes:
            print(f"| {cut} | {ext} | {mix} | " + " | ".join(f"{np.mean(per[mix][c]):+.3f}" for c in conditions)
                  + " |", flush=True)


if __name__ == "__main__":
    main()
