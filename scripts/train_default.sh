#!/usr/bin/env bash
# Reproduce the shipped nac-16k codec from ../shared/data (see reports/training.md).
#   bash scripts/train_default.sh        # train (or continue), export, register the sha256
# On this 2-core machine: ~2.7 steps/s; stage 1 (7000 steps) ~45 min, stage 2 (to 10000) ~18 min,
# stage 3 (to 26000) ~100 min, plus ~1.5 min of data loading per stage. Every stage resumes
# (--resume) if a session ends in the middle of it.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUN=${RUN:-runs/nac-16k}
COMMON=(--config configs/nac-16k.json --data "$DATA/train/speech" --data "$DATA/train/music" --dev "$DATA/dev/speech")
# stage 1: 7000 steps, cosine schedule
nac train "${COMMON[@]}" --out "$RUN" --resume
nac export "$RUN/latest.pt" "$RUN/stage1.pt" --name nac-16k
# stage 2: warm start (fresh optimiser) to 10000 steps, as a later session continues a shipped model
nac train "${COMMON[@]}" --out "$RUN-b" --init "$RUN/stage1.pt" --steps 10000 --resume
nac export "$RUN-b/latest.pt" "$RUN-b/stage2.pt" --name nac-16k
# stage 3 (session 2): warm start again, cosine over a 26000-step schedule (lr warms up again to 6.4e-4)
nac train "${COMMON[@]}" --out "$RUN-c" --init "$RUN-b/stage2.pt" --steps 26000 --resume
python scripts/plot_training.py reports/training_curves.png "$RUN" "$RUN-b" "$RUN-c"
nac export "$RUN-c/latest.pt" nac/pretrained/nac-16k.pt --name nac-16k
python scripts/register_model.py nac-16k
