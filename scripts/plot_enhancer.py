#!/usr/bin/env python3
"""Learning curves of enhancer runs: training loss and dev PESQ change per condition.

    python scripts/plot_enhancer.py reports/restore_curves.png NAME=runs/campaign-enhancer [NAME=DIR ...]

Each run folder holds metrics.csv (loss every 50 steps) and dev.csv (PESQ-WB of the dev
conditions, input and output, every `dev_every` steps; `nac/train/enhance_dev.py`).
"""
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def smooth(values: list[float], n: int = 20) -> list[float]:
    return [sum(values[max(0, i - n + 1):i + 1]) / len(values[max(0, i - n + 1):i + 1]) for i in range(len(values))]


def main(out: str, runs: list[str]) -> None:
    runs = [r.split("=", 1) for r in runs]
    dev_rows = {name: list(csv.DictReader(open(Path(d) / "dev.csv"))) if (Path(d) / "dev.csv").exists() else []
                for name, d in runs}
    conditions = sorted({r["condition"] for rows in dev_rows.values() for r in rows})
    fig, axes = plt.subplots(1, 1 + len(conditions), figsize=(3.2 * (1 + len(conditions)), 3.2), squeeze=False)
    axes = axes[0]
    for name, folder in runs:
        rows = list(csv.DictReader(open(Path(folder) / "metrics.csv")))
        axes[0].plot([int(r["step"]) for r in rows], smooth([float(r["loss"]) for r in rows]), label=name)
        for ax, cond in zip(axes[1:], conditions):
            pts = [(int(r["step"]), float(r["pesq_out"]) - float(r["pesq_in"])) for r in dev_rows[name]
                   if r["condition"] == cond]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=name)
    axes[0].set(title="training loss (smoothed)", xlabel="step", yscale="log")
    for ax, cond in zip(axes[1:], conditions):
        ax.axhline(0, color="k", lw=0.5)
        ax.set(title=f"dev {cond}: PESQ change", xlabel="step")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
