#!/usr/bin/env python3
"""bf16 autocast against fp32 on decoder v2, step for step: the training losses of the two arms.

    python experiments/plot_bf16_check.py runs/campaign-v2/metrics.csv runs/campaign-v2-fp32/metrics.csv \
        reports/ab_bf16.png

Answered in reports/training.md, "Session 7: decoder v2" (bf16 check).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path: str, last_step: int) -> dict[int, dict]:
    out = {}
    for r in csv.DictReader(open(path)):  # a resumed run repeats steps: the first (same seed) row wins
        if int(r["step"]) <= last_step and int(r["step"]) not in out:
            out[int(r["step"])] = r
    return out


def main(bf16_csv: str, fp32_csv: str, dst: str) -> None:
    fp32 = rows(fp32_csv, 10 ** 9)
    bf16 = rows(bf16_csv, max(fp32))
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    for ax, key in zip(axes, ("mel", "complex", "fm", "disc")):
        for label, run in (("bf16 autocast", bf16), ("fp32", fp32)):
            steps = sorted(run)
            ax.plot(steps, [float(run[s][key]) for s in steps], marker=".", label=label)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    speed = {label: sum(float(r["steps_per_s"]) for r in run.values()) / len(run) for label, run in
             (("bf16", bf16), ("fp32", fp32))}
    fig.suptitle(f"decoder v2, same seed and data: bf16 {speed['bf16']:.2f} steps/s, fp32 {speed['fp32']:.2f} "
                 "steps/s (one thread each, both running)", fontsize=9)
    fig.tight_layout()
    fig.savefig(dst, dpi=90)
    for key in ("mel", "complex", "fm"):
        common = sorted(set(bf16) & set(fp32))
        diffs = [float(bf16[s][key]) - float(fp32[s][key]) for s in common]
        print(f"{key}: mean bf16 - fp32 over {len(common)} logged steps {sum(diffs) / len(diffs):+.4f}")
    print(speed)


if __name__ == "__main__":
    main(*sys.argv[1:4])
