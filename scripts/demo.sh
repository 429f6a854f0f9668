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
echo "decoded audio in out/"
