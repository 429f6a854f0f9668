#!/usr/bin/env python3
"""Compare codec checkpoints on held-out speech at one bitrate, file by file (paired).

    python scripts/ab_eval.py runs/campaign-baseline/latest.pt runs/campaign-pitch/latest.pt \
        [--kbps 6] [--visqol] [--set oscillator_phase=false] [--csv out.csv]
    python scripts/ab_eval.py nac-16k nac-16k@griffin_lim_iters=32   # one model, two configs

Each MODEL is a registry name or a checkpoint (training or exported), optionally followed by
@KEY=VALUE[,KEY=VALUE] config overrides of its own (after the --set ones). Files: dev speech of at
least --min-seconds (ViSQOL misleads on short clips). Prints mean and 95 % CI of PESQ-WB,
harmonic correlation, mel distance (and ViSQOL), and the paired difference of each model from
the first, whose CI says whether a gap is real.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac.checkpoint import float_state, inference_weights  # noqa: E402
from nac.codec.model import CodecConfig, NacCodec  # noqa: E402
from nac.api import decode_codes, encode_codes  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import harmonic_correlation, mel_distance, pesq_wb, visqol  # noqa: E402
from nac.io.audio import (  # noqa: E402
    list_audio,  # noqa: E402
    read_audio,
    resample,
)
from nac.registry import load_checkpoint  # noqa: E402


def load(spec: str, overrides: dict) -> NacCodec:
    ckpt, _ = load_checkpoint(spec)
    model = NacCodec(CodecConfig(**{**ckpt["config"], **overrides}))
    state = {k: v for k, v in float_state(inference_weights(ckpt)).items() if k in model.state_dict()}
    model.load_state_dict(state, strict=False)
    return model.eval()


def dev_clips(folder: Path, min_seconds: float = 2.5, stride: int = 1, limit: int | None = None,
              sr: int = 16000) -> list[tuple[str, np.ndarray]]:
    """(name, mono float32 audio at `sr`) of every `stride`-th file of `folder` at least
    `min_seconds` long, at most `limit` of them."""
    out = []
    for path in list_audio(folder)[::stride]:
        x, file_sr = read_audio(path)
        x = resample(x.mean(0, keepdims=True), file_sr, sr)[0].astype(np.float32)
        if len(x) >= min_seconds * sr:
            out.append((path.name, x))
        if limit is not None and len(out) == limit:
            break
    return out


def code(model: NacCodec, x: np.ndarray, kbps: float) -> np.ndarray:
    chunks = list(encode_codes(model, x[None], kbps))
    return np.concatenate(list(decode_codes(model, chunks)), axis=1)[0, : len(x)]


def parse_value(text: str):
    """A --set value: JSON (true, 16, 1.1, "x") or else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: list[str]) -> dict:
    return {k: parse_value(v) for k, v in (s.split("=", 1) for s in items)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--min-seconds", type=float, default=2.5)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--visqol", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE override of the model config")
    ap.add_argument("--csv", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    overrides = parse_overrides(args.set)
    files = dev_clips(args.dev, args.min_seconds)[:: args.stride]
    results = {}
    for spec in args.models:
        name, _, own = spec.partition("@")
        model = load(name, {**overrides, **parse_overrides(own.split(",") if own else [])})
        rows = []
        for name, x in files:
            y = code(model, x, args.kbps)
            row = {"file": name, "pesq": pesq_wb(x, y, 16000), "harmonic": harmonic_correlation(x, y, 16000),
                   "mel": mel_distance(x, y, 16000)}
            if args.visqol:
                row["visqol"] = visqol(x, y, 16000, "speech")
            rows.append(row)
        results[spec] = rows
    metrics = [m for m in ("pesq", "visqol", "harmonic", "mel") if m in results[args.models[0]][0]]
    print(f"{len(files)} dev speech files >= {args.min_seconds:g} s, {args.kbps:g} kbps"
          + (f", overrides {overrides}" if overrides else ""))
    first = results[args.models[0]]
    for spec, rows in results.items():
        cells = []
        for m in metrics:
            mean, ci = mean_ci([r[m] for r in rows])
            cell = f"{m} {mean:.3f} ± {ci:.3f}"
            if rows is not first:
                d_mean, d_ci = mean_ci([r[m] - f[m] for r, f in zip(rows, first)])
                cell += f" (Δ {d_mean:+.3f} ± {d_ci:.3f})"
            cells.append(cell)
        print(f"{spec}: " + "; ".join(cells))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["model", "file"] + metrics)
            for spec, rows in results.items():
                for r in rows:
                    w.writerow([spec, r["file"]] + [f"{r[m]:.4f}" for m in metrics])


if __name__ == "__main__":
    main()
