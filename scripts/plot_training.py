#!/usr/bin/env python3
"""Plot training metrics (losses, dev metrics, dead codes) of one run or of consecutive stages.

    python scripts/plot_training.py OUT.png runs/nac-16k runs/nac-16k-b runs/nac-16k-c [--mark 3750]

Each source is a run folder (metrics.csv + dev.csv) or a metrics.csv; stages are concatenated and
a dotted line marks where each later stage (a warm start) and each --mark step begins.
"""
import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_stages(sources: list[str]) -> tuple[list[dict], list[dict], list[int]]:
    """(metric rows, dev rows, first step of every stage after the first)."""
    rows, dev, starts = [], [], []
    for i, src in enumerate(sources):
        path = Path(src) / "metrics.csv" if Path(src).is_dir() else Path(src)
        stage = list(csv.DictReader(open(path)))
        if i and stage and rows:
            starts.append(int(rows[-1]["step"]))  # a later stage starts where the previous one stopped
        rows += stage
        dev_path = path.with_name(path.name.replace("metrics", "dev"))
        if dev_path.exists():
            dev += list(csv.DictReader(open(dev_path)))
    return rows, dev, starts


def main(dst: str, sources: list[str], marks: list[int]) -> None:
    rows, dev_rows, starts = read_stages(sources)
    marks = sorted(set(marks) | set(starts))
    step = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for key in ("mel", "logmag", "total"):
        axes[0].plot(step, [float(r[key]) if r[key] else float("nan") for r in rows], label=key)
    axes[0].set_yscale("log")
    axes[0].set_title("training losses")
    dev = [(int(r["step"]), r) for r in dev_rows]
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
    finish(fig, axes, dst, marks)


def finish(fig, axes, dst: str, marks: list[int] = (), legend_loc: str = "upper left") -> None:
    """Step axis, grid, legend and stage marks on every panel; save to `dst`."""
    for ax in axes:
        for step_mark in marks:
            ax.axvline(step_mark, color="grey", ls=":", lw=1)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc=legend_loc)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print(dst)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dst")
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--mark", type=int, action="append", default=[], help="step of a recipe change")
    args = parser.parse_args()
    main(args.dst, args.sources, args.mark)
