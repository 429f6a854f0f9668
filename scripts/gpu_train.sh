#!/usr/bin/env bash
# One call on a lent GPU: decoder v2 with the multi-period discriminator alone (the session-10 A/B)
# and the phase-derivative loss (session 12): configs/nac-16k-v2-gpu.json, arm v2-mpd-phase, from
# the campaign's committed state; a 100-step smoke test first, then training for MINUTES, the
# state back in $OUT.
#
#   here:   python scripts/gpu_pack.py                     # .gpu/: wheels + as much data as fits
#   there:  device run, carry [".gpu"], command: MINUTES=8 bash scripts/gpu_train.sh
#   here:   cp the returned files into campaign/v2-mpd-phase/ and commit; bash scripts/campaign.sh continues
#
# $OUT gets campaign/$ARM's files (<= 15 MiB each), train.log and metrics.csv. DEVICE=cpu runs the
# same path on a CPU (what the tests of this script do here, with tiny step counts).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
MINUTES=${MINUTES:-8}
SMOKE=${SMOKE:-100}
OUT=${OUT:-out/gpu}
mkdir -p "$OUT" runs
if [ -d .gpu/wheels ] && ! python3 -c "import soundfile, soxr, constriction" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/wheels/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$(pwd):${PYTHONPATH:-} PYTHONUNBUFFERED=1
DATA=${DATA:-.gpu/data}
ARM=${ARM:-v2-mpd-phase}
RUN=runs/campaign-$ARM
[ -f "$RUN/latest.pt" ] || { [ -f "campaign/$ARM/state.json" ] && python3 scripts/campaign_state.py load "$ARM"; } || true
ARGS=(--config configs/nac-16k-v2-gpu.json --data "$DATA/speech" --data "$DATA/music" --dev "$DATA/dev"
      --data-weights 3,1 --out "$RUN" --device "$DEVICE" --resume --init nac/pretrained/nac-16k.pt)
step() { python3 -c "import torch; print(torch.load('$RUN/latest.pt', map_location='cpu', weights_only=False)['step'])" 2>/dev/null || echo 56000; }
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/train.log"
START=$(step)
# smoke test: SMOKE steps, timed, so the main run's length can be set from the measured speed
T0=$(date +%s)
python3 -m nac train "${ARGS[@]}" --until $((START + SMOKE)) 2>&1 | tr '\r' '\n' | grep -v "it/s\]$" >> "$OUT/train.log"
T1=$(date +%s)
PER_STEP=$(python3 -c "print(max(1e-3, ($T1 - $T0) / $SMOKE))")
UNTIL=$(python3 -c "print(int($START + $SMOKE + $MINUTES * 60 / $PER_STEP))")
echo "smoke: $SMOKE steps in $((T1 - T0)) s (incl. start-up); training to step $UNTIL" | tee -a "$OUT/train.log"
python3 -m nac train "${ARGS[@]}" --until "$UNTIL" 2>&1 | tr '\r' '\n' | grep -v "it/s\]$" >> "$OUT/train.log" || true
python3 scripts/campaign_state.py save "$ARM" | tee -a "$OUT/train.log"
cp "campaign/$ARM"/* "$OUT/"
for f in metrics.csv dev.csv; do [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT/"; done
echo "done: $(step) ($OUT)"
