"""Realistic degradations for restoration training and benchmarks, sample-aligned with the input.

Every function maps mono float32 audio (T,) at `sr` to a degraded version of the same length and
alignment, so (degraded, clean) pairs can be used sample for sample.

libopus below 6 kbps: asked for less (3 kbps, say), libopus 1.6 clamps to its floor and the
files come out at ~6 kbps; we therefore degrade with 6/9/12/16 kbps only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import signal

from ..io.audio import fit_length, resample
from ..io.thirdparty import roundtrip


def opus(x: np.ndarray, sr: int, kbps: float = 6, complexity: int = 10) -> np.ndarray:
    return roundtrip(x, sr, "opus", kbps, complexity)[0]


def mp3(x: np.ndarray, sr: int, kbps: float = 32) -> np.ndarray:
    return roundtrip(x, sr, "mp3", kbps)[0]


def aac(x: np.ndarray, sr: int, kbps: float = 24) -> np.ndarray:
    return roundtrip(x, sr, "aac", kbps)[0]


def bandlimit(x: np.ndarray, sr: int, rate: int = 8000) -> np.ndarray:
    """Resample down to `rate` and back: everything above rate / 2 is gone (e.g. telephone)."""
    low = resample(x[None], sr, rate)
    return fit_length(resample(low, rate, sr), len(x))[0]


def phone(x: np.ndarray, sr: int, rng: np.random.Generator, noise: list[np.ndarray] | None = None,
          snr_db: tuple[float, float] = (5, 30)) -> np.ndarray:
    """Phone-microphone recording: band-pass, EQ tilt, small-room reverb, noise, soft clipping."""
    lo, hi = rng.uniform(150, 400), min(rng.uniform(3400, 7000), 0.45 * sr)
    sos = signal.butter(4, [lo, hi], "bandpass", fs=sr, output="sos")
    y = signal.sosfiltfilt(sos, x)  # zero phase: the pair stays sample-aligned
    tilt = rng.uniform(-0.5, 0.5)  # first-order EQ tilt: brighter (>0) or duller (<0)
    y = y + tilt * np.concatenate([[0.0], np.diff(y)])
    rt60 = rng.uniform(0.15, 0.5)
    n = int(rt60 * sr)
    # near-field phone: the direct path carries most of the energy (positive direct-to-reverb ratio)
    ir = rng.uniform(0.03, 0.1) * rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir[0] = 1.0
    y = signal.fftconvolve(y, ir)[: len(x)]
    if noise:
        nz = noise[rng.integers(len(noise))]
        if len(nz) < len(x):
            nz = np.resize(nz, len(x))
        start = rng.integers(0, len(nz) - len(x) + 1)
        nz = nz[start:start + len(x)]
        p_sig, p_noise = np.mean(y**2) + 1e-12, np.mean(nz**2) + 1e-12
        y = y + nz * np.sqrt(p_sig / p_noise / 10 ** (rng.uniform(*snr_db) / 10))
    drive = rng.uniform(1.0, 4.0)
    y = np.tanh(drive * y) / drive
    return y.astype(np.float32)


def nac(x: np.ndarray, sr: int, kbps: float = 6, model: str = "nac-16k") -> np.ndarray:
    from ..api import compress, decompress

    return fit_length(decompress(compress(x[None], sr, kbps, model))[0], len(x))[0]


@dataclass(frozen=True)
class Degradation:
    name: str
    apply: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def training_mix(sr: int, noise: list[np.ndarray] | None = None, with_nac: bool = False) -> list[Degradation]:
    """The degradations the restoration models are trained on (drawn uniformly)."""
    mix = [Degradation(f"opus{k}", lambda x, sr, rng, k=k: opus(x, sr, k, int(rng.integers(5, 11))))
           for k in (6, 9, 12, 16)]
    mix += [Degradation(f"mp3_{k}", lambda x, sr, rng, k=k: mp3(x, sr, k)) for k in (16, 24, 32, 64)]
    mix += [Degradation("aac24", lambda x, sr, rng: aac(x, sr, 24))]
    mix += [Degradation(f"bw{r}", lambda x, sr, rng, r=r: bandlimit(x, sr, r)) for r in (8000, 11025, 16000) if r < sr]
    mix += [Degradation("phone", lambda x, sr, rng: phone(x, sr, rng, noise))]
    mix += [Degradation("clean", lambda x, sr, rng: x)]  # restoring clean input must not damage it
    if with_nac:
        mix += [Degradation(f"nac{k}", lambda x, sr, rng, k=k: nac(x, sr, k)) for k in (1.5, 3, 6, 12)]
    return mix
