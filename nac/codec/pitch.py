"""Pitch as a coded side channel: f0 tracking, its 10-bit code, and the harmonic comb it implies.

A pitch-aware NAC model spends one of its code levels on f0: per code frame, code 0 means
unvoiced and codes 1..1023 are log-spaced between `F0_MIN` and `F0_MAX` (steps of 0.047 semitone, 0.27 %).
The decoder turns the decoded f0 into the comb of harmonics that the STFT analysis window would
see, so it no longer has to recover the harmonic fine structure from the latent codes, which is
where the codec lost quality (`experiments/diagnose_harmonics.py`, `reports/training.md`).

Tracking uses WORLD's DIO + StoneMask (`pyworld`): deterministic, no weights to download, ~100x
real time on one thread. Frames are 10 ms apart starting at sample 0, so code frame `i` (samples
`[i * 320, (i + 1) * 320)` at 16 kHz, centred on `i * 320 + 160`) is DIO frame `2 * i + 1`.
"""
from __future__ import annotations

import math

import numpy as np
import torch

F0_MIN, F0_MAX = 50.0, 800.0
PITCH_BITS = 10
_STEPS = (1 << PITCH_BITS) - 2  # codes 1..1023 span [F0_MIN, F0_MAX]
_OCTAVES = math.log2(F0_MAX / F0_MIN)


def describe() -> dict:
    """What the pitch code level means, for a .nac file's metadata."""
    return {"level": "last", "bits": PITCH_BITS, "unvoiced": 0, "f0_min": F0_MIN, "f0_max": F0_MAX,
            "scale": "log2", "tracker": "pyworld-dio-stonemask"}


def track(wav: np.ndarray, sample_rate: int, frame_period_ms: float = 10.0) -> np.ndarray:
    """f0 in Hz (0 = unvoiced) every `frame_period_ms`, frame k centred on sample k * period."""
    import pyworld

    x = np.ascontiguousarray(wav, dtype=np.float64)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x)
    f0, times = pyworld.dio(x, sample_rate, f0_floor=F0_MIN, f0_ceil=F0_MAX, frame_period=frame_period_ms)
    return pyworld.stonemask(x, f0, times, sample_rate)


def frame_f0(wav: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """f0 (Hz) per code frame of `hop` samples (frame i centred on i * hop + hop / 2)."""
    n_frames = -(-len(wav) // hop)
    half = hop // 2
    period_ms = 1000.0 * half / sample_rate
    f0 = track(wav, sample_rate, period_ms)
    idx = np.minimum(2 * np.arange(n_frames) + 1, len(f0) - 1)
    return f0[idx]


def quantize(f0: np.ndarray | torch.Tensor) -> np.ndarray:
    """Hz -> codes (0 unvoiced, 1..1023 log-spaced)."""
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = f0 >= F0_MIN * 0.99
    pos = np.log2(np.clip(f0, F0_MIN, F0_MAX) / F0_MIN) / _OCTAVES * _STEPS
    return np.where(voiced, np.rint(pos).astype(np.int64) + 1, 0)


def dequantize(codes: torch.Tensor) -> torch.Tensor:
    """Codes -> f0 in Hz (0 where unvoiced); works on any shape."""
    codes = codes.long()
    f0 = F0_MIN * torch.exp2((codes - 1).clamp_min(0).float() / _STEPS * _OCTAVES)
    return torch.where(codes > 0, f0, torch.zeros_like(f0))


def encode(wav: torch.Tensor, sample_rate: int, hop: int) -> torch.Tensor:
    """(B, T) audio -> (B, ceil(T / hop)) pitch codes."""
    rows = [quantize(frame_f0(w.detach().cpu().numpy(), sample_rate, hop)) for w in wav]
    return torch.from_numpy(np.stack(rows)).to(wav.device)


def upsample(f0: torch.Tensor) -> torch.Tensor:
    """f0 per code frame (B, N) -> per STFT frame (B, 2N), STFT frame j centred a quarter code
    frame before (j even) or after (j odd) its code frame's centre: log-linear interpolation
    between voiced neighbours, unvoiced where the nearer code frame is unvoiced."""
    voiced = f0 > 0
    log_f0 = torch.log2(f0.clamp_min(F0_MIN))
    # fill unvoiced frames with the nearest voiced neighbour's value, so interpolation near a
    # voicing boundary does not drift towards F0_MIN
    prev_f = torch.cat([log_f0[:, :1], log_f0[:, :-1]], 1)
    next_f = torch.cat([log_f0[:, 1:], log_f0[:, -1:]], 1)
    prev_v = torch.cat([voiced[:, :1], voiced[:, :-1]], 1)
    next_v = torch.cat([voiced[:, 1:], voiced[:, -1:]], 1)
    left = torch.where(prev_v, prev_f, log_f0)
    right = torch.where(next_v, next_f, log_f0)
    even = torch.where(voiced, 0.75 * log_f0 + 0.25 * left, log_f0)
    odd = torch.where(voiced, 0.75 * log_f0 + 0.25 * right, log_f0)
    log_up = torch.stack([even, odd], -1).flatten(1)
    v_up = voiced.repeat_interleave(2, dim=1)
    return torch.where(v_up, torch.exp2(log_up), torch.zeros_like(log_up))


def harmonic_template(f0: torch.Tensor, n_fft: int, sample_rate: int) -> torch.Tensor:
    """(B, M) f0 per STFT frame -> (B, n_fft // 2 + 1, M) comb in [0, 1]: the main lobe of the
    Hann window's spectrum at every harmonic below Nyquist, i.e. the magnitude pattern a periodic
    signal with that f0 leaves on the STFT grid. Zero in unvoiced frames."""
    bins = n_fft // 2 + 1
    bin_hz = sample_rate / n_fft
    freqs = torch.arange(bins, device=f0.device, dtype=torch.float32)[None, :, None] * bin_hz
    f = f0[:, None, :].clamp_min(1.0)
    k = torch.round(freqs / f).clamp_min(1.0)
    d = (freqs - k * f) / bin_hz  # distance to the nearest harmonic, in bins
    # |Hann DTFT| / its peak: sinc(d) / (1 - d^2), 0.5 at d = +-1, main lobe |d| < 2
    lobe = (torch.sinc(d) / (1 - d.square()).masked_fill((d.abs() - 1).abs() < 1e-4, 1.0)).abs()
    lobe = torch.where((d.abs() - 1).abs() < 1e-4, torch.full_like(lobe, 0.5), lobe)
    lobe = torch.where(d.abs() < 2, lobe, torch.zeros_like(lobe))
    below_nyquist = k * f < sample_rate / 2
    return lobe * (below_nyquist & (f0[:, None, :] > 0)).float()


def features(f0: torch.Tensor, n: int = 8) -> torch.Tensor:
    """(B, N) f0 -> (B, 2 + 2n, N): voicing, normalised log f0, and Fourier features of it, so a
    linear layer can respond to pitch non-linearly."""
    voiced = (f0 > 0).float()
    pos = torch.log2(f0.clamp_min(F0_MIN) / F0_MIN) / _OCTAVES  # 0..1
    angles = math.pi * pos[:, None, :] * torch.arange(1, n + 1, device=f0.device, dtype=torch.float32)[None, :, None]
    fourier = torch.cat([torch.sin(angles), torch.cos(angles)], 1) * voiced[:, None]
    return torch.cat([voiced[:, None], (pos * voiced)[:, None], fourier], 1)


def phase_advance(f0: torch.Tensor, hop: int, sample_rate: int) -> torch.Tensor:
    """Oscillator phase gained over each code frame (B, N), radians, float64."""
    return 2 * math.pi * f0.double() * hop / sample_rate


def oscillator(f0: torch.Tensor, phase0: torch.Tensor, hop: int, sample_rate: int) -> torch.Tensor:
    """(B, N) f0 per code frame -> (B, N * hop) harmonic excitation: all harmonics below Nyquist
    at equal amplitude (a band-limited pulse train), silent where unvoiced.

    The phase is continuous and absolute: `phase0` (B,) is the phase at the first frame, so a
    window cut out of a longer signal gets exactly the samples the whole signal would have,
    which keeps chunked decoding equal to whole-file decoding.
    """
    f0 = f0.double()
    b, n = f0.shape
    start = phase0.double()[:, None] + torch.cumsum(phase_advance(f0, hop, sample_rate), 1) - phase_advance(f0, hop, sample_rate)
    within = torch.arange(hop, dtype=torch.float64, device=f0.device) / sample_rate
    phase = torch.remainder(start[:, :, None] + 2 * math.pi * f0[:, :, None] * within, 2 * math.pi)
    harmonics = torch.floor(sample_rate / 2 / f0.clamp_min(1.0))[:, :, None]
    # Dirichlet kernel: sum_{k=1..K} cos(k x) = sin((K + 1/2) x) / (2 sin(x / 2)) - 1/2
    half = torch.sin(phase / 2)
    near_zero = half.abs() < 1e-9
    value = torch.sin((harmonics + 0.5) * phase) / (2 * torch.where(near_zero, torch.ones_like(half), half)) - 0.5
    value = torch.where(near_zero, harmonics, value)
    value = value * (f0 > 0)[:, :, None]
    return value.reshape(b, n * hop).float()
