#!/usr/bin/env python3
"""Decoder v2 with the latent space frozen vs trained too, at equal steps from the same warm start.

    python experiments/plot_unfrozen_ab.py

Reads the trainer's dev PESQ-WB (16 dev clips, 4 s, EMA weights) at 3 / 6 / 12 kbps of the two
arms — `reports/ab_frozen_dev.csv` (campaign arm v2, session 7's table) and
`reports/ab_unfrozen_dev.csv` (arm v2-unfrozen, session 9) — and plots them side by side to
`reports/ab_unfrozen.png`. Answered in reports/training.md, "Session 9".
"""
from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def read(name: str) -> dict[str, list[float]]:
    with open(REPORTS / name) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def main() -> None:
    arms = {"encoder frozen (v2)": read("ab_frozen_dev.csv"), "encoder trained (v2-unfrozen)": read("ab_unfrozen_dev.csv")}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
    for ax, (col, kbps) in zip(axes, [("dev_pesq_3", 3), ("dev_pesq", 6), ("dev_pesq_12", 12)]):
        for label, arm in arms.items():
            ax.plot([s - 56000 for s in arm["step"]], arm[col], marker="o", label=label)
        ax.set_title(f"{kbps} kbps")
        ax.set_xlabel("adversarial steps (from nac-16k at 56 000)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("dev PESQ-WB (trainer, 16 clips)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(REPORTS / "ab_unfrozen.png", dpi=110)
    print(f"wrote {REPORTS / 'ab_unfrozen.png'}")


if __name__ == "__main__":
    main()
