#!/usr/bin/env python3
"""Trainer dev curves of campaign arms side by side, at equal adversarial steps.

    python experiments/plot_dev_ab.py OUT.png "LABEL=reports/arm_dev.csv" ... [--start 56000] \
        [--reference "nac-16k=2.176,2.218,2.195"]

Each CSV holds `step,dev_pesq_3,dev_pesq,dev_pesq_12` (the trainer's dev PESQ-WB: 16 dev clips,
4 s, EMA weights), steps counted from the shared warm start `--start`. Session 10's
discriminator-set A/B: `reports/ab_disc.png` from `reports/ab_frozen_dev.csv` (MPD + MS-STFT,
arm v2) and `reports/ab_mpd_dev.csv` (MPD alone, arm v2-mpd); answered in reports/training.md,
"Session 10". The whole decoder-v2 campaign against the shipped model (`--reference`, its dev
PESQ on the same clips): `reports/campaign_v2.png`, "Session 13".
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path: str) -> dict[str, list[float]]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in ("step", "dev_pesq_3", "dev_pesq", "dev_pesq_12")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("arms", nargs="+", metavar="LABEL=CSV")
    ap.add_argument("--start", type=int, default=56000, help="the warm start's step")
    ap.add_argument("--reference", metavar="LABEL=P3,P6,P12",
                    help="a model's dev PESQ at 3, 6, 12 kbps, drawn as a dashed line (the shipped one)")
    args = ap.parse_args()
    arms = {label: read(path) for label, path in (a.split("=", 1) for a in args.arms)}
    reference = None
    if args.reference:
        ref_label, values = args.reference.split("=", 1)
        reference = [float(v) for v in values.split(",")]
    marker = "o" if max(len(a["step"]) for a in arms.values()) < 30 else None  # long curves read better bare
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
    columns = [("dev_pesq_3", 3), ("dev_pesq", 6), ("dev_pesq_12", 12)]
    for i, (ax, (col, kbps)) in enumerate(zip(axes, columns)):
        for label, arm in arms.items():
            ax.plot([s - args.start for s in arm["step"]], arm[col], marker=marker, label=label)
        if reference:
            ax.axhline(reference[i], color="k", ls="--", lw=1, label=ref_label)
        ax.set_title(f"{kbps} kbps")
        ax.set_xlabel(f"steps after step {args.start}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("dev PESQ-WB (trainer, 16 clips)")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
