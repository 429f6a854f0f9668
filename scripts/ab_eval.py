#!/usr/bin/env python3
"""Compare codec checkpoints on held-out speech at one bitrate, file by file (paired).

    python scripts/ab_eval.py runs/campaign-baseline/latest.pt runs/campaign-pitch/latest.pt \
        [--kbps 6] [--visqol] [--set oscillator_phase=false] [--csv out.csv]
    python scripts/ab_eval.py nac-16k nac-16k@griffin_lim_iters=32   # one model, two configs

Each MODEL is a registry name or a checkpoint (training or exported), optionally followed by
@KEY=VALUE[,KEY=VALUE] config overrides of its own (after the --set ones). Files: dev speech of at
least --min-seconds, DC removed (21 dev files carry an offset); ViSQOL only on files of at least
--visqol-min-seconds (it misleads on short clips). Prints mean and 95 % CI of PESQ-WB, harmonic
correlation, mel distance (and ViSQOL, STOI, DNSMOS), the paired difference of each model from
the first, whose CI says whether a gap is real, and with --ship-rule the generator ship rule:
PESQ and ViSQOL both not lower beyond their CI, one higher with its CI above zero, DNSMOS not lower.
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

from nac.api import decode_codes, encode_codes  # noqa: E402
from nac.checkpoint import float_state, inference_weights  # noqa: E402
from nac.codec.model import CodecConfig, NacCodec  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import (  # noqa: E402
    dnsmos,
    harmonic_correlation,
    mel_distance,
    pesq_wb,
    stoi,
    visqol,
)
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
              sr: int = 16000, remove_dc: bool = True) -> list[tuple[str, np.ndarray]]:
    """(name, mono float32 audio at `sr`) of every `stride`-th file of `folder` at least
    `min_seconds` long, at most `limit` of them; with `remove_dc`, each clip's mean removed."""
    out = []
    for path in list_audio(folder)[::stride]:
        x, file_sr = read_audio(path)
        x = resample(x.mean(0, keepdims=True), file_sr, sr)[0].astype(np.float32)
        if remove_dc:
            x = x - x.mean()
        if len(x) >= min_seconds * sr:
            out.append((path.name, x))
        if limit is not None and len(out) == limit:
            break
    return out


def code(model: NacCodec, x: np.ndarray, kbps: float) -> np.ndarray:
    chunks = list(encode_codes(model, x[None], kbps))
    return np.concatenate(list(decode_codes(model, chunks)), axis=1)[0, : len(x)]


def ship_verdict(deltas: dict[str, tuple[float, float]]) -> str:
    """The generator ship rule on paired (mean, 95 % CI) differences against the shipped model."""
    not_lower = all(deltas[m][0] + deltas[m][1] >= 0 for m in ("pesq", "visqol"))
    higher = any(deltas[m][0] - deltas[m][1] > 0 for m in ("pesq", "visqol"))
    dnsmos_ok = deltas["dnsmos"][0] + deltas["dnsmos"][1] >= 0
    verdict = "SHIP" if not_lower and higher and dnsmos_ok else "do not ship"
    return (f"{verdict} (PESQ and ViSQOL not lower beyond CI: {not_lower}; one higher with CI above zero: "
            f"{higher}; DNSMOS not lower: {dnsmos_ok})")


def parse_value(text: str):
    """A --set value: JSON (true, 16, 1.1, "x") or else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: list[str]) -> dict:
    return {k: parse_value(v) for k, v in (s.split("=", 1) for s in items)}


def load_spec(spec: str, overrides: dict | None = None) -> NacCodec:
    """"name-or-checkpoint[@KEY=VALUE,...]": its own overrides applied after `overrides`."""
    name, _, own = spec.partition("@")
    return load(name, {**(overrides or {}), **parse_overrides(own.split(",") if own else [])})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--min-seconds", type=float, default=2.5)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--visqol", action="store_true")
    ap.add_argument("--visqol-min-seconds", type=float, default=2.5)
    ap.add_argument("--stoi", action="store_true")
    ap.add_argument("--dnsmos", action="store_true")
    ap.add_argument("--ship-rule", action="store_true", help="Judge each model against the first (implies "
                    "--visqol --dnsmos --stoi)")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE override of the model config")
    ap.add_argument("--csv", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.ship_rule:
        args.visqol = args.dnsmos = args.stoi = True
    overrides = parse_overrides(args.set)
    files = dev_clips(args.dev, args.min_seconds)[:: args.stride]
    results = {}
    for spec in args.models:
        model = load_spec(spec, overrides)
        rows = []
        for name, x in files:
            y = code(model, x, args.kbps)
            row = {"file": name, "pesq": pesq_wb(x, y, 16000), "harmonic": harmonic_correlation(x, y, 16000),
                   "mel": mel_distance(x, y, 16000)}
            if args.visqol:
                row["visqol"] = visqol(x, y, 16000, "speech") if len(x) >= args.visqol_min_seconds * 16000 else None
            if args.stoi:
                row["stoi"] = stoi(x, y, 16000)
            if args.dnsmos:
                row["dnsmos"] = dnsmos(y, 16000)
            rows.append(row)
        results[spec] = rows
    metrics = [m for m in ("pesq", "visqol", "stoi", "dnsmos", "harmonic", "mel") if m in results[args.models[0]][0]]
    print(f"{len(files)} dev speech files >= {args.min_seconds:g} s (DC removed), {args.kbps:g} kbps"
          + (f"; ViSQOL on the {sum(len(x) >= args.visqol_min_seconds * 16000 for _, x in files)} >= "
             f"{args.visqol_min_seconds:g} s" if args.visqol else "")
          + (f", overrides {overrides}" if overrides else ""))
    first = results[args.models[0]]
    for spec, rows in results.items():
        cells, deltas = [], {}
        for m in metrics:
            pairs = [(r[m], f[m]) for r, f in zip(rows, first) if r[m] is not None and f[m] is not None]
            mean, ci = mean_ci([a for a, _ in pairs])
            cell = f"{m} {mean:.3f} ± {ci:.3f}"
            if rows is not first:
                deltas[m] = mean_ci([a - b for a, b in pairs])
                cell += f" (Δ {deltas[m][0]:+.3f} ± {deltas[m][1]:.3f})"
            cells.append(cell)
        print(f"{spec}: " + "; ".join(cells))
        if args.ship_rule and rows is not first:
            print(f"  ship rule vs {args.models[0]}: {ship_verdict(deltas)}")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["model", "file"] + metrics)
            for spec, rows in results.items():
                for r in rows:
                    w.writerow([spec, r["file"]] + ["" if r[m] is None else f"{r[m]:.4f}" for m in metrics])


if __name__ == "__main__":
    main()
