#!/usr/bin/env python3
"""Prepare `.gpu/` (git-ignored) for one decoder-v2 training call on a lent GPU (`scripts/gpu_train.sh`).

    python scripts/gpu_pack.py [--budget-mb 64]

A call sends the working tree and the carried paths, 64 MiB in all, to a machine that reaches no
network and has Python 3.12 with CUDA PyTorch but none of NAC's audio packages. This writes:
  .gpu/wheels/   NAC's pure-Python and manylinux dependencies for CPython 3.12 (pip download)
  .gpu/data/     as much of the training speech and music (FLAC, every k-th file so that every
                 corpus is represented) and 16 dev files as the budget leaves after the tree
Carry `.gpu` and run `bash scripts/gpu_train.sh` there; see that script for what comes back.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ["soundfile", "soxr", "construct", "constriction", "einops", "einx", "loguru",
          "torch-einops-utils", "vector-quantize-pytorch", "frozendict"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64", "any"]


def tree_bytes() -> int:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    return sum((ROOT / f).stat().st_size for f in files if (ROOT / f).is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-mb", type=float, default=64.0)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    out = ROOT / ".gpu"
    shutil.rmtree(out, ignore_errors=True)
    (out / "wheels").mkdir(parents=True)
    platform_args = [a for p in PLATFORMS for a in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platform_args,
                    "-d", str(out / "wheels"), *WHEELS], check=True)
    used = tree_bytes() + sum(f.stat().st_size for f in (out / "wheels").iterdir())
    left = int(args.budget_mb * 2 ** 20 * 0.97) - used
    if left <= 0:
        sys.exit(f"gpu_pack: the working tree and wheels already use {used / 2 ** 20:.1f} MiB of "
                 f"{args.budget_mb:g}: move large untravelled files (old checkpoints) out of the tree first")
    dev = sorted((args.data / "dev" / "speech").glob("*.flac"))[::6][:16]
    sets = [("dev", dev)]
    left -= sum(f.stat().st_size for f in dev)
    for name, share in (("speech", 0.8), ("music", 0.2)):
        files = sorted((args.data / "train" / name).rglob("*.flac"))
        total = sum(f.stat().st_size for f in files)
        step = max(1, int(-(-total // max(1, int(left * share)))))
        sets.append((name, files[::step]))
    for name, files in sets:
        (out / "data" / name).mkdir(parents=True)
        for f in files:
            shutil.copy(f, out / "data" / name / f.name)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f".gpu: {size / 2 ** 20:.1f} MiB ({', '.join(f'{n}: {len(f)} files' for n, f in sets)}); "
          f"tree {tree_bytes() / 2 ** 20:.1f} MiB; total {(size + tree_bytes()) / 2 ** 20:.1f} of {args.budget_mb:g} MiB")


if __name__ == "__main__":
    main()
