"""Opus with libopus' neural decoder post-filter (LACE / NoLACE, libopus >= 1.5 "OSCE") as a
benchmark anchor.

PyAV's libopus build leaves OSCE out, so the Ogg Opus file PyAV encodes is decoded by the npm
packages `ogg-opus-decoder` + `@wasm-audio-decoders/opus-ml` in Node (`node/decode_ogg_opus.mjs`),
installed by `scripts/install_lace.sh` into `$NAC_LACE_DIR` (default ~/.cache/nac/lace). Not a
NAC dependency: benchmarks skip `lace:` systems where it is missing. OSCE only acts on SILK
wide-band packets (libopus codes 6 kbps speech as narrow band), so it matters at 9 and 12 kbps.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..io.audio import resample
from ..io.thirdparty import align_decoded, encode_bytes

SCRIPT = Path(__file__).with_name("node") / "decode_ogg_opus.mjs"
RATE = 16000  # the decoder's output rate (the post-filter runs on 16 kHz SILK output)


def lace_dir() -> Path:
    return Path(os.environ.get("NAC_LACE_DIR", Path.home() / ".cache" / "nac" / "lace"))


def available() -> bool:
    return shutil.which("node") is not None and (lace_dir() / "node_modules" / "ogg-opus-decoder").is_dir()


def decode_file(data: bytes, enhancement: str = "lace") -> np.ndarray:
    """Ogg Opus bytes -> mono float32 at 16 kHz, decoded with `enhancement` (lace | nolace | none)."""
    if not available():
        raise RuntimeError(f"the LACE decoder is not installed in {lace_dir()} (run scripts/install_lace.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.opus", Path(tmp) / "out.f32"
        src.write_bytes(data)
        done = subprocess.run(["node", str(SCRIPT), str(src), str(dst), enhancement, str(RATE)],
                              env={**os.environ, "NAC_LACE_DIR": str(lace_dir())},
                              capture_output=True, text=True, timeout=600)
        if done.returncode:
            raise RuntimeError(f"LACE decoder failed: {done.stderr.strip().splitlines()[-1:]}")
        return np.fromfile(dst, dtype="<f4")


def roundtrip(audio: np.ndarray, sr: int, kbps: float, enhancement: str = "lace") -> tuple[np.ndarray, float]:
    """libopus encode (PyAV) + LACE decode: (audio aligned to the input at `sr`, real kbps)."""
    audio = np.asarray(audio, np.float32)
    data, _ = encode_bytes(audio, sr, "opus", kbps)
    decoded = resample(decode_file(data, enhancement)[None], RATE, sr)[0]
    return align_decoded(audio, decoded, sr), len(data) * 8 / (len(audio) / sr) / 1000
