#!/usr/bin/env python3
"""The shipped enhancer through onnxruntime, fp32 and int8, against torch on the dev set.

    python experiments/probe_enhancer_onnx.py [--files 12]

Exports `enhance-speech-16k` (`nac/backends/onnx_enhancer.py`), runs the dev conditions of
`nac/train/enhance_dev.py` through torch, ONNX fp32 and ONNX int8 (each in its stream), and
prints the largest sample difference from torch, mean PESQ-WB per backend and real-time factors
on one thread (reports/restore_training.md, session 15).
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac.backends.onnx_enhancer import export, onnx_enhancer  # noqa: E402
from nac.restore.restorer import load_restorer  # noqa: E402
from nac.restore.stream import enhance_file  # noqa: E402
from nac.train.enhance_dev import DevSet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    from pesq import pesq

    torch.set_num_threads(1)
    model = load_restorer("enhance-speech-16k")
    paths = export(model, tempfile.mkdtemp(), int8=True)
    backends = {"torch": model, "onnx fp32": onnx_enhancer(model, paths["enhancer"]),
                "onnx int8": onnx_enhancer(model, paths["enhancer_int8"])}
    dev = DevSet(args.data, 16000, args.files)
    scores = {k: [] for k in backends}
    diffs = {k: 0.0 for k in backends}
    seconds = {k: 0.0 for k in backends}
    audio_s = 0.0
    for _, _, clean, degraded in dev.items:
        reference = None
        audio_s += len(degraded) / 16000
        for name, m in backends.items():
            t = time.perf_counter()
            out = enhance_file(m, degraded[None])[0]
            seconds[name] += time.perf_counter() - t
            reference = out if reference is None else reference
            diffs[name] = max(diffs[name], float(np.abs(out - reference).max()))
            scores[name].append(pesq(16000, clean, out, "wb"))
    print("| backend | max abs difference from torch | PESQ-WB (mean, all conditions) | PESQ − torch (paired) | × real time |")
    print("|---|---|---|---|---|")
    for name in backends:
        d = np.array(scores[name]) - np.array(scores["torch"])
        print(f"| {name} | {diffs[name]:.1e} | {np.mean(scores[name]):.3f} | {d.mean():+.4f} ± "
              f"{1.96 * d.std(ddof=1) / np.sqrt(len(d)):.4f} | {audio_s / seconds[name]:.0f} |")


if __name__ == "__main__":
    main()
