#!/usr/bin/env bash
# Regenerate every report under reports/ from ../shared/data/dev (see reports/README.md).
# Takes ~25 min on 2 cores (ViSQOL dominates); results are cached, so re-runs are fast.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=${DEV:-../shared/data/dev}
python scripts/bench_codec.py --dev "$DEV" --out reports/codec.md --jobs 2 --stride 1
python scripts/bench_restore.py --dev "$DEV" --out reports/restore.md --jobs 2 --stride 4
python scripts/bench_speed.py --out reports/speed.md --pause-campaign
python scripts/bench_entropy.py --out reports/entropy.md
python scripts/fuzz_container.py --cases 100000 --report reports/fuzz.md
python scripts/plot_training.py reports/training_curves.png reports/training_metrics.csv --mark 1000 --mark 3750 --mark 7000 --mark 10000 --mark 12250 --mark 23000
python experiments/fit_learning_curve.py reports/training_dev.csv --from 12250 --target 2.27 --plot reports/learning_curve_fit.png
