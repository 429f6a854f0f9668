#!/usr/bin/env bash
# The standing training campaign: train the speech enhancer (default arm) or a codec arm in the
# background, niced, resumable.
#
#   bash scripts/campaign.sh [ARM]        # ARM: enhancer (nac restore's model, default), causal, causal-d1, causal-d1-own, baseline, anneal, gan, pitch
#                                          (decoder v2 retired in session 15: reports/training.md)
#   bash scripts/campaign.sh status       # last dev evaluations of every arm
#   python scripts/campaign_ship.py ARM   # ship the arm's checkpoint if dev PESQ beats nac-16k
#
# Each arm trains in runs/campaign-ARM (git-ignored). With a checkpoint there it resumes
# (optimiser and all); without one (a fresh machine, a new session) it warm-starts from the
# shipped nac/pretrained/nac-16k.pt, which is how the campaign survives sessions: what a session
# learned reaches the next one only through the committed model (<= 20 MB, sha256 in the registry).
# Env: THREADS (torch threads, default 1), STEPS (end of the cosine schedule, default 100000),
# DATA (default ../shared/data), EXTRA_DATA (more --data folders, e.g. runs/voices/16k: the
# recipe in scripts/add_voices.sh), DATA_WEIGHTS (one per folder; default 3,1 then 2 per extra).
set -euo pipefail
cd "$(dirname "$0")/.."
ARM=${1:-enhancer}
DATA=${DATA:-../shared/data}
if [ "$ARM" = status ]; then
  for dev in runs/campaign-*/dev.csv; do
    [ -f "$dev" ] && { echo "== $dev"; tail -n 3 "$dev"; }
  done
  exit 0
fi
case "$ARM" in
  # the speech enhancer `nac restore` and `nac decode --postfilter` run (nac/restore/enhancer.py,
  # nac/train/enhance.py): its whole resumable state is ~3.5 MB, committed as campaign/enhancer/latest.pt
  enhancer) CONFIG=configs/enhancer-16k.json ;;
  # the enhancer at a 5x lower, constant learning rate: forked from the enhancer arm (seed
  # runs/campaign-enhancer-anneal with a copy of its latest.pt) to ship from (session 15)
  enhancer-anneal) CONFIG=configs/enhancer-16k-anneal.json ;;
  # low latency: a causal student (no look-ahead in any ConvNeXt block) distilled from the
  # shipped nac-16k, its phase made online with 3 frames of look-ahead (nac/train/causal.py)
  causal) CONFIG=configs/nac-16k-causal.json ;;
  # the causal-vs-look-ahead A/B: the same student with its encoder output 1 code frame (20 ms)
  # late, i.e. 20 ms of look-ahead in one place instead of none
  causal-d1) CONFIG=configs/nac-16k-causal-d1.json ;;
  # causal-d1 with half of each batch decoding the student's own codes (the decoder's input in
  # use), forked from causal-d1 at 10 750 (session 11): seed runs/campaign-causal-d1-own with a
  # copy of causal-d1's latest.pt
  causal-d1-own) CONFIG=configs/nac-16k-causal-d1-own.json ;;
  baseline) CONFIG=configs/nac-16k-compressed.json ;;
  # the baseline recipe annealed to a 10x lower learning rate; seed it with a copy of the
  # baseline arm's latest.pt to continue that run (optimiser and all) on the lower floor
  anneal) CONFIG=configs/nac-16k-anneal.json ;;
  # adversarial fine-tuning of the shipped model (magnitude discriminator + feature matching at
  # a low learning rate): the lever against over-smoothed magnitudes (reports/training.md)
  gan) CONFIG=configs/nac-16k-gan-finetune.json ;;
  pitch) CONFIG=configs/nac-16k-pitch.json ;;
  *) echo "campaign.sh: unknown arm '$ARM' (causal, causal-d1, causal-d1-own, baseline, anneal, gan, pitch, enhancer or enhancer-anneal)" >&2; exit 2 ;;
esac
RUN=runs/campaign-$ARM
# a new machine: continue from the state the last session committed (scripts/campaign_state.py)
if [ ! -f "$RUN/latest.pt" ] && [ -f "campaign/$ARM/latest.pt" ]; then
  mkdir -p "$RUN" && cp "campaign/$ARM/latest.pt" "$RUN/latest.pt"
elif [ ! -f "$RUN/latest.pt" ] && [ -f "campaign/$ARM/state.json" ]; then
  python3 scripts/campaign_state.py load "$ARM"
fi
mkdir -p "$RUN"
if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
  echo "campaign $ARM already running (pid $(cat "$RUN/pid")); log: $RUN/train.log"
  exit 0
fi
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
if [[ "$ARM" == enhancer* ]]; then
  CMD=(nac train-enhancer --config "$CONFIG" --data "$DATA" --out "$RUN" --resume)
elif [[ "$ARM" == causal* ]]; then
  CMD=(nac train --config "$CONFIG" --data "$DATA/train/speech" --data "$DATA/train/music"
       --data-weights 3,1 --dev "$DATA/dev/speech" --out "$RUN" --steps "${STEPS:-20000}" --resume)
else
  DATA_ARGS=(--data "$DATA/train/speech" --data "$DATA/train/music" --dev "$DATA/dev/speech")
  WEIGHTS=3,1
  for extra in ${EXTRA_DATA:-}; do DATA_ARGS+=(--data "$extra"); WEIGHTS+=,2; done
  DATA_ARGS+=(--data-weights "${DATA_WEIGHTS:-$WEIGHTS}")
  INIT=nac/pretrained/nac-16k.pt
  # the pitch arm continues from its own committed model (the A/B goes on across sessions)
  [ "$ARM" = pitch ] && [ -f nac/pretrained/nac-16k-pitch.pt ] && INIT=nac/pretrained/nac-16k-pitch.pt
  CMD=(nac train --config "$CONFIG" "${DATA_ARGS[@]}" --out "$RUN"
       --init "$INIT" --steps "${STEPS:-100000}" --resume)
fi
# The run imports a snapshot of the code (nac/ as of now, the shipped weights linked), so that
# work on the tree while it trains cannot break it: a module it imports lazily hours later (the
# dev metrics) is the one it started with.
CODE="$RUN/code"
rm -rf "$CODE" && mkdir -p "$CODE"
tar --exclude=pretrained --exclude=__pycache__ -cf - nac | tar -C "$CODE" -xf -
ln -s "$(pwd)/nac/pretrained" "$CODE/nac/pretrained"
git rev-parse HEAD > "$CODE/COMMIT" 2>/dev/null || true
CMD[0]=python3; CMD=("${CMD[0]}" -m nac "${CMD[@]:1}")
# setsid: the run outlives the shell that started it; nice 19: interactive work comes first
PYTHONPATH="$(pwd)/$CODE" setsid nice -n 19 "${CMD[@]}" >>"$RUN/train.log" 2>&1 < /dev/null &
echo $! > "$RUN/pid"
echo "campaign $ARM started (pid $!, $OMP_NUM_THREADS thread(s)); log: $RUN/train.log"
