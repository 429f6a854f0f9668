#!/usr/bin/env python3
"""Fit dev PESQ against log(steps) and say how many steps the same recipe would need for a target.

    python experiments/fit_learning_curve.py reports/training_dev.csv --from 12250 --target 2.27 \
        --plot reports/learning_curve_fit.png

Dev PESQ in training is measured on 16 dev files (first 4 s each), so single points are noisy
(±0.05); the fit uses every evaluation from `--from` on (the steps of the current recipe) and the
plot shows a 4-point running mean. A log-linear curve is what the curves so far look like; it is
an estimate of the order of magnitude, not a promise: a new recipe changes the curve.
"""
import argparse
import csv
import math

import numpy as np


def read_curve(path: str, start: int) -> tuple[np.ndarray, np.ndarray]:
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r.get("dev_pesq") and int(r["step"]) >= start]
    if len(rows) < 3:
        raise SystemExit(f"error: fewer than 3 dev evaluations from step {start} in {path}")
    return np.array([int(r["step"]) for r in rows]), np.array([float(r["dev_pesq"]) for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--from", dest="start", type=int, default=0, help="first step of the fit")
    ap.add_argument("--target", type=float, required=True, help="dev PESQ to reach")
    ap.add_argument("--plot", help="write a PNG of the curve and the fit")
    args = ap.parse_args()

    steps, pesq = read_curve(args.csv, args.start)
    slope, intercept = np.polyfit(np.log(steps), pesq, 1)
    resid = pesq - (intercept + slope * np.log(steps))
    print(f"fit over {len(steps)} evaluations, steps {steps[0]}-{steps[-1]}: "
          f"PESQ = {intercept:.3f} + {slope:.3f} ln(step)  (residual sd {resid.std():.3f}); "
          f"+{slope * math.log(2):.3f} per doubling of steps")
    if slope <= 0:
        print("the curve is not rising: no extrapolation")
        return
    needed = math.exp((args.target - intercept) / slope)
    print(f"PESQ {args.target} at ~{needed:,.0f} steps ({needed / steps[-1]:.1f}x the last step)")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        smooth = np.convolve(pesq, np.ones(4) / 4, mode="valid")
        grid = np.geomspace(steps[0], max(needed, steps[-1]) * 1.2, 200)
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        ax.plot(steps, pesq, ".", color="C0", alpha=0.4, label="dev PESQ (16 files, 6 kbps)")
        ax.plot(steps[3:], smooth, "-", color="C0", label="4-point running mean")
        ax.plot(grid, intercept + slope * np.log(grid), "--", color="C3",
                label=f"fit: {slope:+.3f} ln(step)")
        ax.axhline(args.target, color="grey", ls=":", label=f"target {args.target}")
        ax.set_xscale("log")
        ax.set_xlabel("training step (16 × 1 s crops each)")
        ax.set_ylabel("PESQ-WB")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
