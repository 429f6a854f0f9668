"""Speech-or-music guess for `nac restore --content auto`: a small network on 32 features.

Features (16 kHz mono): the long-term log-mel spectrum shape (16 bands, mean removed), and the
level dynamics that separate speech from music: how often 20 ms frames dip far below the loud
ones (pauses between syllables), level spread, spectral flux, and syllable-rate (2-8 Hz)
modulation; then the same syllable-rate modulation and level range in four broad bands, which
stationary noise (a kitchen, a cafe) masks in some bands but not all: noisy speech still
fluctuates at the syllable rate where it is above the noise. Weights are fitted by
scripts/train_content_classifier.py on ../shared/data/train, speech and music also damaged.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io.audio import resample

WEIGHTS = Path(__file__).parent.parent / "pretrained" / "content_classifier.json"
SR = 16000


def features(audio: np.ndarray, sr: int) -> np.ndarray:
    from ..codec.mel import mel_filterbank_np

    x = np.asarray(audio, dtype=np.float32)
    x = x.mean(0) if x.ndim == 2 else x
    x = resample(x[None], sr, SR)[0].astype(np.float64)[: 30 * SR]  # 30 s is plenty
    n_fft, hop = 512, 320  # 20 ms frames
    if len(x) < n_fft * 4:
        x = np.pad(x, (0, n_fft * 4 - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2
    mel = np.log10(power @ mel_filterbank_np(SR, n_fft, 16).T + 1e-10)
    level = 10 * np.log10(power.sum(-1) + 1e-10)
    loud = np.percentile(level, 95)
    active = level > loud - 60
    shape = mel[active].mean(0) if active.any() else mel.mean(0)
    shape = shape - shape.mean()
    lv = level[active] if active.sum() > 4 else level
    flux = np.mean(np.abs(np.diff(mel, axis=0))) if len(mel) > 1 else 0.0
    env = lv - lv.mean()
    spec = np.abs(np.fft.rfft(env, 256)) ** 2 if len(env) > 8 else np.ones(129)
    freqs = np.fft.rfftfreq(256, 0.02)
    mod = np.log10(spec[(freqs > 2) & (freqs < 8)].sum() / (spec[freqs > 0.5].sum() + 1e-10) + 1e-6)
    dyn = [np.mean(lv < loud - 25), np.mean(lv < loud - 15), lv.std() / 10, flux, mod,
           np.mean(level < loud - 60), np.percentile(lv, 50) / 10 - loud / 10, 1.0]
    return np.concatenate([shape / 2, dyn, band_modulation(power, n_fft)]).astype(np.float64)


BROAD_BANDS_HZ = ((50, 500), (500, 1500), (1500, 3500), (3500, 8000))


def band_modulation(power: np.ndarray, n_fft: int) -> list[float]:
    """Per broad band: syllable-rate (2-8 Hz) share of the level's modulation, and the level's
    range above its floor (95th - 10th percentile, in 20-dB units)."""
    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    mod_freqs = np.fft.rfftfreq(256, 0.02)
    out_mod, out_range = [], []
    for low, high in BROAD_BANDS_HZ:
        level = 10 * np.log10(power[:, (freqs >= low) & (freqs < high)].sum(-1) + 1e-10)
        env = level - level.mean()
        spec = np.abs(np.fft.rfft(env, 256)) ** 2 if len(env) > 8 else np.ones(129)
        out_mod.append(np.log10(spec[(mod_freqs > 2) & (mod_freqs < 8)].sum() / (spec[mod_freqs > 0.5].sum() + 1e-10) + 1e-6))
        out_range.append((np.percentile(level, 95) - np.percentile(level, 10)) / 20)
    return out_mod + out_range


def network_logit(f: np.ndarray, params: dict) -> np.ndarray:
    """Standardised features (N, F) -> speech logits (N,): one tanh layer, then linear."""
    h = np.tanh(f @ np.asarray(params["w1"]) + np.asarray(params["b1"]))
    return h @ np.asarray(params["w2"]) + float(np.asarray(params["b2"]).reshape(-1)[0])


def probability_speech(audio: np.ndarray, sr: int) -> float:
    params = json.loads(WEIGHTS.read_text())
    f = (features(audio, sr) - np.array(params["mean"])) / np.array(params["std"])
    return float(1 / (1 + np.exp(-network_logit(f[None], params)[0])))


def is_speech(audio: np.ndarray, sr: int) -> bool:
    return probability_speech(audio, sr) >= 0.5
