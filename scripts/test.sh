#!/usr/bin/env bash
# Install NAC with its test extras and run the test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements.txt          # CPU torch first: nothing may pull a CUDA build
python3 -m pip install -q -e ".[test]"
python3 -m pytest -q tests "$@"
