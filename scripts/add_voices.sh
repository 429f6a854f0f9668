#!/usr/bin/env bash
# More voices for codec training (issue: train/dev harmonic gap 0.52 vs 0.39): Debian's voice
# corpora, resampled to 16 kHz mono FLAC under runs/voices/16k (git-ignored), with a manifest.
#   bash scripts/add_voices.sh            # needs root for apt-get; ~10 min
#   EXTRA_DATA=runs/voices/16k bash scripts/campaign.sh pitch
# fillets-ng-data-cs / -nl: ~3.4 h of Czech and Dutch voice acting (Fish Fillets NG);
# ktuberling-data: short spoken words in many languages. Never committed (licences, size).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/voices}
PACKAGES=(fillets-ng-data-cs fillets-ng-data-nl ktuberling-data)
if ! dpkg -s "${PACKAGES[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
fi
mkdir -p "$OUT/16k"
python3 - "$OUT" "${PACKAGES[@]}" <<'PY'
import hashlib, json, subprocess, sys
from pathlib import Path

import numpy as np
import soundfile as sf

from nac.io.audio import AudioError, read_audio, resample

out, packages = Path(sys.argv[1]), sys.argv[2:]
manifest = []
for package in packages:
    files = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True).stdout.split()
    for src in sorted(f for f in files if f.lower().endswith((".ogg", ".wav", ".flac", ".mp3"))):
        try:
            audio, sr = read_audio(src)
        except AudioError:
            continue
        mono = resample(audio.mean(0, keepdims=True), sr, 16000)[0]
        if len(mono) < 8000 or np.abs(mono).max() < 1e-3:  # < 0.5 s or silent
            continue
        name = f"{package}-{hashlib.sha1(src.encode()).hexdigest()[:10]}.flac"
        sf.write(out / "16k" / name, mono, 16000)
        manifest.append({"file": name, "source": src, "package": package, "seconds": round(len(mono) / 16000, 2)})
(out / "manifest.json").write_text(json.dumps(manifest, indent=1))
hours = sum(m["seconds"] for m in manifest) / 3600
print(f"{len(manifest)} files, {hours:.2f} h -> {out}/16k (manifest: {out}/manifest.json)")
PY
