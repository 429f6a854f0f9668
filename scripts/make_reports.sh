#!/usr/bin/env bash
# Regenerate every report under reports/ from ../shared/data/dev (see reports/README.md).
# Takes ~25 min on 2 cores (ViSQOL dominates); results are cached, so re-runs are fast.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=${DEV:-../shared/data/dev}
python scripts/bench_codec.py --dev "$DEV" --out reports/codec.md --jobs 2
python scripts/bench_restore.py --dev "$DEV" --out reports/restore.md --jobs 2
[ -f runs/nac-16k/metrics.csv ] && python scripts/plot_training.py runs/nac-16k/metrics.csv reports/training_curves.png || true
