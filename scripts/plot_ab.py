#!/usr/bin/env python3
"""Plot an A/B of training runs: dev PESQ, harmonic correlation and mel distance against step.

    python scripts/plot_ab.py reports/ab_pitch.png baseline=runs/campaign-baseline pitch=runs/campaign-pitch

Each run is LABEL=FOLDER with a dev.csv (written by `nac train --dev`).
"""
import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plot_training import finish  # noqa: E402

PANELS = [("dev_pesq", "PESQ-WB at 6 kbps ↑"), ("dev_harmonic", "harmonic correlation ↑"),
          ("dev_mel", "mel distance ↓")]


def main(dst: str, runs: list[str]) -> None:
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 3.6))
    for spec in runs:
        label, _, folder = spec.partition("=")
        rows = list(csv.DictReader(open(Path(folder) / "dev.csv")))
        steps = [int(r["step"]) for r in rows]
        for ax, (key, title) in zip(axes, PANELS):
            ax.plot(steps, [float(r[key]) for r in rows], "o-", ms=3, label=label)
            ax.set_title(title)
    fig.suptitle("A/B on the dev subset seen during training (16 clips, 6 kbps)", fontsize=10)
    finish(fig, axes, dst, legend_loc="best")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dst")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    main(args.dst, args.runs)
