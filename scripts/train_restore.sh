#!/usr/bin/env bash
# Reproduce the shipped restoration models from ../shared/data (see reports/restore.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
# the speech enhancer: the standing campaign (bash scripts/campaign.sh enhancer), then
#   nac export runs/campaign-enhancer/latest.pt nac/pretrained/enhance-speech-16k.pt --name enhance-speech-16k
#   python scripts/register_model.py enhance-speech-16k
nac train-restore --config configs/restore-music-24k.json --data "$DATA/train/music" \
  --out runs/restore-music-24k --resume
nac export runs/restore-music-24k/latest.pt nac/pretrained/restore-music-24k.pt --name restore-music-24k
python scripts/register_model.py restore-music-24k
