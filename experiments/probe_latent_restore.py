#!/usr/bin/env python3
"""Which conditions does the latent restorer help, and should it keep the input's low band?

    python experiments/probe_latent_restore.py runs/campaign-restore-latent/latest.pt [--stride 4]
        [--baseline nac/pretrained/restore-speech-latent.pt]

For each degradation of dev speech (DC removed): the degraded input, the full rendering through
the codec (`render`), and the rendering with the input kept below its measured bandwidth
(`render(..., keep_below_hz=...)`); PESQ-WB, ViSQOL (files >= 2.5 s), DNSMOS OVRL and
log-spectral distance against the clean file, paired changes with 95 % CIs. With --baseline (a
second restorer, e.g. the shipped one), each variant is also paired against the baseline's
same variant: the ship decision between two checkpoints.
Answered in reports/restore_training.md, "Session 7: restoration into the codec's latent space".
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

from nac import checkpoint  # noqa: E402
from nac.api import load_model  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import dnsmos, lsd, pesq_wb, visqol  # noqa: E402
from nac.io.sources import measure_bandwidth  # noqa: E402
from nac.restore.latent import load_latent_restorer, render  # noqa: E402
from nac.train import degrade  # noqa: E402

CONDITIONS = {
    "opus6": lambda x, rng: degrade.opus(x, 16000, 6),
    "opus9": lambda x, rng: degrade.opus(x, 16000, 9),
    "opus12": lambda x, rng: degrade.opus(x, 16000, 12),
    "mp3_32": lambda x, rng: degrade.mp3(x, 16000, 32),
    "bw8000": lambda x, rng: degrade.bandlimit(x, 16000, 8000),
    "phone": lambda x, rng: degrade.phone(x, 16000, rng),
    "clean": lambda x, rng: x,
}


def scores(x: np.ndarray, y: np.ndarray) -> dict:
    out = {"pesq": pesq_wb(x, y, 16000), "dnsmos": dnsmos(y, 16000), "lsd": lsd(x, y, 16000)}
    out["visqol"] = visqol(x, y, 16000, "speech") if len(x) >= 2.5 * 16000 else None
    return out


def paired(after: list[dict], before: list[dict], metric: str) -> tuple[float, float]:
    """Mean and 95 % CI of `after` - `before` over the files both scored."""
    return mean_ci([a[metric] - b[metric] for a, b in zip(after, before)
                    if a[metric] is not None and b[metric] is not None])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("restorer")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--conditions", nargs="*", default=list(CONDITIONS))
    ap.add_argument("--baseline", help="a second restorer checkpoint to pair each variant against")
    ap.add_argument("--variants", nargs="*", default=["render", "render+keep"], choices=["render", "render+keep"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    restorer = load_latent_restorer(checkpoint.load(args.restorer))
    codec = load_model(restorer.cfg.codec)
    baseline = load_latent_restorer(checkpoint.load(args.baseline)) if args.baseline else None
    files = dev_clips(args.dev, 0.0, stride=args.stride)
    print(f"{len(files)} dev speech files (DC removed), restorer step {checkpoint.load(args.restorer)['step']}")
    for name in args.conditions:
        rng = np.random.default_rng(0)
        rows = {"input": [], **{v: [] for v in args.variants}, **{"base " + v: [] for v in args.variants}}
        for _, x in files:
            d = CONDITIONS[name](x, rng).astype(np.float32)
            cutoff = measure_bandwidth(d[None], 16000)
            rows["input"].append(scores(x, d))
            for variant in args.variants:
                keep = {"keep_below_hz": cutoff} if variant == "render+keep" else {}
                rows[variant].append(scores(x, render(d[None], restorer, codec, **keep)[0]))
                if baseline is not None:
                    rows["base " + variant].append(scores(x, render(d[None], baseline, codec, **keep)[0]))
        line = [f"{name:>7}"]
        for metric in ("pesq", "visqol", "dnsmos", "lsd"):
            base = rows["input"]
            cells = [f"{metric} {np.mean([r[metric] for r in base if r[metric] is not None]):.3f}"]
            for variant in args.variants:
                m, ci = paired(rows[variant], base, metric)
                cells.append(f"{variant} {m:+.3f}±{ci:.3f}")
                if baseline is not None:
                    m, ci = paired(rows[variant], rows["base " + variant], metric)
                    cells.append(f"(vs baseline {m:+.3f}±{ci:.3f})")
            line.append(" ".join(cells))
        print(" | ".join(line), flush=True)


if __name__ == "__main__":
    main()
