#!/usr/bin/env bash
# Reproduce the shipped nac-16k codec from ../shared/data (see reports/training.md).
#   bash scripts/train_default.sh            # train (or continue) and export
# On this 2-core machine: ~1.8 steps/s, 7000 steps in about 65 min plus ~2 min of data loading.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUN=${RUN:-runs/nac-16k}
nac train --config configs/nac-16k.json \
  --data "$DATA/train/speech" --data "$DATA/train/music" \
  --dev "$DATA/dev/speech" --out "$RUN" --resume
python scripts/plot_training.py "$RUN/metrics.csv" reports/training_curves.png
nac export "$RUN/latest.pt" nac/pretrained/nac-16k.pt --name nac-16k
python scripts/register_model.py nac-16k
