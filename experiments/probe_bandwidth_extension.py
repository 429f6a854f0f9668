#!/usr/bin/env python3
"""Probe: what the missing high band of Opus 6 kbps speech is worth, and what a rule gets of it.

    python experiments/probe_bandwidth_extension.py [--files 12]

Opus at 6 kbps keeps ~4.7-5.1 kHz of a 16 kHz signal. On dev speech files >= 2.5 s, PESQ-WB and
ViSQOL (paired, against the Opus decode) of
- the oracle: the clean signal's own STFT above the measured cutoff pasted onto the decode
  (the ceiling of any bandwidth extension);
- spectral translation: the 2 kHz below the cutoff copied upwards, attenuated by A dB plus S dB
  per kHz (a classic blind rule).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # ab_eval, plot_training

from ab_eval import dev_clips  # noqa: E402

from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import pesq_wb, visqol  # noqa: E402
from nac.io.audio import fit_length  # noqa: E402
from nac.io.sources import measure_bandwidth  # noqa: E402
from nac.train import degrade  # noqa: E402

SR = 16000
STFT = dict(fs=SR, nperseg=512, noverlap=384)


def oracle(clean: np.ndarray, decoded: np.ndarray, cutoff: float) -> np.ndarray:
    f, _, x = signal.stft(clean, **STFT)
    _, _, y = signal.stft(decoded, **STFT)
    return signal.istft(np.where((f >= cutoff)[:, None], x, y), **STFT)[1][: len(clean)]


def translate(decoded: np.ndarray, cutoff: float, atten_db: float, slope_db_per_khz: float,
              width_hz: float = 2000.0) -> np.ndarray:
    f, _, y = signal.stft(decoded, **STFT)
    kc = int(np.searchsorted(f, cutoff - 100))
    width = int(width_hz / (f[1] - f[0]))
    out = y.copy()
    for k in range(kc, len(f)):
        gain_db = atten_db + slope_db_per_khz * (f[k] - f[kc]) / 1000
        out[k] = y[kc - width + (k - kc) % width] * 10 ** (-gain_db / 20)
    return signal.istft(out, **STFT)[1][: len(decoded)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--files", type=int, default=12)
    args = ap.parse_args()
    systems = {"oracle high band": lambda x, y, c: oracle(x, y, c)}
    for atten, slope in ((6, 2), (12, 2), (18, 2), (12, 4)):
        systems[f"translation {atten} dB + {slope} dB/kHz"] = \
            lambda x, y, c, a=atten, s=slope: translate(y, c, a, s)
    gains = {name: ([], []) for name in systems}
    cutoffs = []
    for _, x in dev_clips(args.dev, 2.5, 2, args.files, SR):
        y = fit_length(np.atleast_2d(degrade.opus(x, SR, 6)), len(x))[0]
        cutoff = measure_bandwidth(y[None], SR)
        cutoffs.append(cutoff)
        base = pesq_wb(x, y, SR), visqol(x, y, SR, "speech")
        for name, make in systems.items():
            z = make(x, y, cutoff)
            gains[name][0].append(pesq_wb(x, z, SR) - base[0])
            gains[name][1].append(visqol(x, z, SR, "speech") - base[1])
    print(f"{len(cutoffs)} files, Opus 6 kbps cutoff {min(cutoffs):.0f}-{max(cutoffs):.0f} Hz")
    for name, (p, v) in gains.items():
        print(f"{name:34s} PESQ {mean_ci(p)[0]:+.3f} ± {mean_ci(p)[1]:.3f}   "
              f"ViSQOL {mean_ci(v)[0]:+.3f} ± {mean_ci(v)[1]:.3f}")


if __name__ == "__main__":
    main()
