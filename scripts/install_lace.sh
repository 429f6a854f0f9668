#!/usr/bin/env bash
# Install the Opus + LACE/NoLACE anchor decoder (libopus' neural post-filter, WASM) for the
# benchmarks: npm packages into NAC_LACE_DIR (default ~/.cache/nac/lace). Needs Node >= 20.
# Benchmarks that find it measure `lace:KBPS` / `nolace:KBPS`; without it they skip those rows.
set -euo pipefail
DIR=${NAC_LACE_DIR:-$HOME/.cache/nac/lace}
mkdir -p "$DIR"
npm install --prefix "$DIR" --no-audit --no-fund ogg-opus-decoder@1.7.5 @wasm-audio-decoders/opus-ml@0.0.3
echo "LACE anchor decoder installed in $DIR"
