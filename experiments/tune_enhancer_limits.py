#!/usr/bin/env python3
"""Pick the enhancer's inference limits (max cut, extension offset, dry/wet mix) on the dev set.

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
    print("| max cut dB | ext offset dB | mix | " + " | ".join(dict.fromkeys(c for _, c, _, _ in dev.items)) + " |")
    for cut, ext, mix in itertools.product((60, 20, 12), (0, -10, -80), (1.0, 0.7)):
        model = Enhancer(EnhancerConfig(**{**base, "max_cut_db": cut, "ext_offset_db": ext, "mix": mix}))
        model.load_state_dict(checkpoint.float_state(ck.get("model"))).__class__  # noqa: B018
        model.eval()
        per = {}
        for name, cond, clean, deg in dev.items:
            out = enhance_file(model, deg[None])[0]
            per.setdefault(cond, []).append(pesq(16000, clean, out, "wb") - inputs[(name, cond)])
        print(f"| {cut} | {ext} | {mix} | " + " | ".join(f"{np.mean(v):+.3f}" for v in per.values()) + " |", flush=True)


if __name__ == "__main__":
    main()
