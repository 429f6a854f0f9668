#!/usr/bin/env bash
# Install NAC and round-trip the shipped samples through the default model at 6 kbps.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements.txt
python3 -m pip install -q -e .
mkdir -p out
for f in data/samples/speech.wav data/samples/music.flac; do
  name=$(basename "${f%.*}")
  echo "== $f"
  nac encode "$f" "out/$name.nac" --kbps 6 --force
  nac decode "out/$name.nac" "out/$name.decoded.wav" --force
  echo "   CRC check: $(nac info "out/$name.nac" | sed -n 's/^ *integrity: //p')"
done
# restoration: the speech sample as 8-kHz telephone audio with noise, then `nac restore`
python3 - <<'PY'
import numpy as np, soundfile as sf, soxr
x, sr = sf.read("data/samples/speech.wav", dtype="float32")
phone = soxr.resample(x, sr, 8000) + 0.01 * np.random.default_rng(0).standard_normal(len(x) // 2)
sf.write("out/speech.phone8k.wav", phone.astype(np.float32), 8000)
PY
echo "== out/speech.phone8k.wav"
nac restore out/speech.phone8k.wav out/speech.phone8k.restored.wav --explain --force
echo "decoded and restored audio in out/"
