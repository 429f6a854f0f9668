#!/usr/bin/env python3
"""Plot a training run's metrics.csv (losses, dev metrics, dead codes) to a PNG."""
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src: str, dst: str, *marks: str) -> None:
    """Plot; `marks` are steps to draw a dotted line at (e.g. a change of recipe)."""
    marks = [int(m) for m in marks]
    rows = list(csv.DictReader(open(src)))
    step = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for key in ("mel", "logmag", "total"):
        axes[0].plot(step, [float(r[key]) if r[key] else float("nan") for r in rows], label=key)
    axes[0].set_yscale("log")
    axes[0].set_title("training losses")
    dev_path = Path(src).with_name(Path(src).name.replace("metrics", "dev"))
    dev = [(int(r["step"]), r) for r in csv.DictReader(open(dev_path))] if dev_path.exists() else []
    if dev:
        axes[1].plot([s for s, _ in dev], [float(r["dev_mel"]) for _, r in dev], "o-", label="dev mel distance ↓")
        if dev[0][1].get("dev_pesq"):
            ax2 = axes[1].twinx()
            ax2.plot([s for s, _ in dev], [float(r["dev_pesq"]) for _, r in dev], "s-", color="C3", label="dev PESQ ↑")
            ax2.set_ylabel("PESQ-WB (6 kbps)")
            ax2.legend(loc="upper right", fontsize=8)
    axes[1].set_title("dev, 6 kbps")
    axes[2].plot(step, [float(r["dead_max"]) for r in rows], label="worst level")
    axes[2].plot(step, [float(r["dead_mean"]) for r in rows], label="mean over levels")
    axes[2].set_title("unused codes per 50-step window")
    for ax in axes:
        for step_mark in marks:
            ax.axvline(step_mark, color="grey", ls=":", lw=1)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print(dst)


if __name__ == "__main__":
    main(*sys.argv[1:])
