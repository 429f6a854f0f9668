#!/usr/bin/env bash
# Reproduce the shipped nac-16k codec from ../shared/data (see reports/training.md).
#   bash scripts/train_default.sh        # train (or continue), export, register the sha256
# On this 2-core machine: ~2.7 steps/s; stage 1 (7000 steps) ~45 min, stage 2 (to 10000) ~18 min,
# stage 3 (to 23000) ~90 min, stage 4 (to 41000) ~2 h, plus ~1.5 min of data loading per stage. Every stage resumes
# (--resume) if a session ends in the middle of it.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUN=${RUN:-runs/nac-16k}
BASE=configs/nac-16k.json
DATA_ARGS=(--data "$DATA/train/speech" --data "$DATA/train/music" --dev "$DATA/dev/speech")
# stage 1: 7000 steps, cosine schedule
nac train --config $BASE "${DATA_ARGS[@]}" --out "$RUN" --resume
nac export "$RUN/latest.pt" "$RUN/stage1.pt" --name nac-16k
# stage 2: warm start (fresh optimiser) to 10000 steps, as a later session continues a shipped model
nac train --config $BASE "${DATA_ARGS[@]}" --out "$RUN-b" --init "$RUN/stage1.pt" --steps 10000 --resume
nac export "$RUN-b/latest.pt" "$RUN-b/stage2.pt" --name nac-16k
# stage 3 (session 2): warm start again (lr warms up again to 7e-4 over 300 steps) ...
nac train --config $BASE "${DATA_ARGS[@]}" --out "$RUN-c" --init "$RUN-b/stage2.pt" --steps 26000 --until 12250 --resume
# ... then, from step 12250, add the compressed-magnitude loss; cosine to 1e-4 at step 24000
# (session 2 stopped at 23000 for time, where the learning rate is already 1.04e-4)
nac train --config configs/nac-16k-compressed.json "${DATA_ARGS[@]}" --out "$RUN-c" --until 23000 --resume
nac export "$RUN-c/latest.pt" "$RUN-c/stage3.pt" --name nac-16k
# stage 4 (session 3): warm start from stage 3 (new 300-step warm-up to 4.6e-4, where the cosine
# of a 41000-step schedule stands), same losses, cosine to 1e-4 at step 41000
nac train --config configs/nac-16k-compressed.json "${DATA_ARGS[@]}" --out "$RUN-d" --init "$RUN-c/stage3.pt" --steps 41000 --resume
python scripts/plot_training.py reports/training_curves.png "$RUN" "$RUN-b" "$RUN-c" "$RUN-d"
nac export "$RUN-d/latest.pt" nac/pretrained/nac-16k.pt --name nac-16k
python scripts/register_model.py nac-16k
