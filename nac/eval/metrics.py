"""Objective audio quality metrics on mono numpy signals.

Every metric takes (reference, degraded, sample_rate), resamples to its native rate, aligns the
two signals (removing a constant codec delay if one is found) and trims them to equal length.
A metric whose package is not installed raises `MissingMetricError`, which names the package and
the extra that installs it (`pip install -e '.[eval]'`): a score silently missing from a report
reads like a score that was never asked for. None means the metric has no answer for this input
(silence, too short).
"""
from __future__ import annotations

import functools
import importlib.metadata
import importlib.util

import numpy as np

from ..codec.mel import mel_filterbank_np
from ..io.audio import estimate_delay, resample

EPS = 1e-10
# metric -> (module it imports, the PyPI distribution that provides it)
METRIC_PACKAGES = {"pesq": ("pesq", "pesq"), "stoi": ("pystoi", "pystoi"),
                   "visqol": ("visqol", "visqol-python"), "dnsmos": ("speechmos", "speechmos")}


class MissingMetricError(ImportError):
    pass


def _missing(metric: str) -> MissingMetricError:
    return MissingMetricError(f"{metric} needs the {METRIC_PACKAGES[metric][1]!r} package, which is not "
                              "installed: pip install -e '.[eval]'")


def require(metric: str) -> None:
    """Raise `MissingMetricError` now if `metric` could not be computed (its package is missing)."""
    if metric in METRIC_PACKAGES and importlib.util.find_spec(METRIC_PACKAGES[metric][0]) is None:
        raise _missing(metric)


def package_versions() -> str:
    """The installed metric packages and their versions: part of every cached score's key, so a
    score computed by another version (or another environment) is never served."""
    out = []
    for _, dist in METRIC_PACKAGES.values():
        try:
            out.append(f"{dist}={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist}=-")
    return ",".join(out)


def _mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0) if x.ndim == 2 else x


def align(ref: np.ndarray, deg: np.ndarray, sr: int, max_delay_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Mono float64 copies, `deg` shifted by its estimated delay (if max_delay_s > 0), same length."""
    ref, deg = _mono(ref), _mono(deg)
    if max_delay_s > 0:
        lag = estimate_delay(ref, deg, int(max_delay_s * sr))
        deg = deg[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), deg])
    n = min(len(ref), len(deg))
    return ref[:n], deg[:n]


def snr(ref, deg, sr: int = 16000) -> float:
    ref, deg = align(ref, deg, sr)
    return float(10 * np.log10(np.sum(ref**2) / (np.sum((ref - deg) ** 2) + EPS) + EPS))


def si_sdr(ref, deg, sr: int = 16000) -> float:
    ref, deg = align(ref, deg, sr)
    ref = ref - ref.mean()
    deg = deg - deg.mean()
    target = np.dot(deg, ref) / (np.dot(ref, ref) + EPS) * ref
    return float(10 * np.log10(np.sum(target**2) / (np.sum((deg - target) ** 2) + EPS) + EPS))


def _power_spec(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2


def mel_distance(ref, deg, sr: int, n_fft: int = 1024, n_mels: int = 80) -> float:
    """Mean absolute difference of log10 mel power spectra (lower is better; 0 = identical)."""
    ref, deg = align(ref, deg, sr)
    fb = mel_filterbank_np(sr, n_fft, n_mels)
    mr = _power_spec(ref, n_fft, n_fft // 4) @ fb.T
    md = _power_spec(deg, n_fft, n_fft // 4) @ fb.T
    return float(np.mean(np.abs(np.log10(mr + 1e-8) - np.log10(md + 1e-8))))


def lsd(ref, deg, sr: int, n_fft: int = 2048) -> float:
    """Log-spectral distance: RMS over bins of the log10 power difference, averaged over frames."""
    ref, deg = align(ref, deg, sr)
    pr = np.log10(_power_spec(ref, n_fft, n_fft // 4) + 1e-8)
    pd = np.log10(_power_spec(deg, n_fft, n_fft // 4) + 1e-8)
    return float(np.mean(np.sqrt(np.mean((pr - pd) ** 2, axis=-1))))


def harmonic_correlation(ref, deg, sr: int, n_fft: int = 1024, band_hz=(80.0, 2000.0)) -> float:
    """How well the harmonic fine structure (pitch) survives: 1 = identical, 0 = none of it.

    Per loud frame of `ref` (top 40 % by energy), the Pearson correlation between the two
    log spectra in `band_hz` after removing their envelopes (a ~250 Hz moving average along
    frequency); the median over frames. Envelope-only reconstructions score ~0.3 here while
    mel distance barely sees the difference.
    """
    ref, deg = align(ref, deg, sr)
    return fine_structure_correlation(_power_spec(ref, n_fft, n_fft // 4), _power_spec(deg, n_fft, n_fft // 4),
                                      sr, n_fft, band_hz)


def fine_structure_correlation(ref_power: np.ndarray, deg_power: np.ndarray, sr: int, n_fft: int,
                               band_hz=(80.0, 2000.0)) -> float:
    """`harmonic_correlation` on two aligned (frames, n_fft // 2 + 1) power spectrograms, so that
    a spectrum that never became a waveform (a decoder's predicted magnitude) can be scored."""
    lr, ld = np.log(ref_power + 1e-8), np.log(deg_power + 1e-8)
    lo, hi = (int(f * n_fft / sr) for f in band_hz)
    width = max(3, int(250 * n_fft / sr) | 1)
    kernel = np.ones(width) / width

    def fine(spec: np.ndarray) -> np.ndarray:
        envelope = np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), 1, spec)
        return (spec - envelope)[:, lo:hi]

    loud = lr.sum(1) >= np.percentile(lr.sum(1), 60)
    fr, fd = fine(lr[loud]), fine(ld[loud])
    fr = fr - fr.mean(1, keepdims=True)
    fd = fd - fd.mean(1, keepdims=True)
    corr = (fr * fd).sum(1) / np.sqrt((fr ** 2).sum(1) * (fd ** 2).sum(1) + EPS)
    return float(np.median(corr))


def pesq_wb(ref, deg, sr: int) -> float | None:
    """Wide-band PESQ (ITU-T P.862.2) at 16 kHz, 1.0-4.64; None if PESQ has no answer (silence)."""
    try:
        from pesq import pesq
    except ImportError:
        raise _missing("pesq") from None
    ref, deg = align(resample(_mono(ref)[None].astype(np.float32), sr, 16000)[0],
                     resample(_mono(deg)[None].astype(np.float32), sr, 16000)[0], 16000)
    try:
        return float(pesq(16000, ref, deg, "wb"))
    except Exception:  # silent or too-short input: PESQ has no answer
        return None


def stoi(ref, deg, sr: int) -> float | None:
    try:
        from pystoi import stoi as _stoi
    except ImportError:
        raise _missing("stoi") from None
    ref, deg = align(ref, deg, sr)
    return float(_stoi(ref, deg, sr, extended=False))


@functools.lru_cache(maxsize=2)
def _visqol_api(mode: str):
    import logging
    import warnings

    from visqol import VisqolApi

    logging.getLogger("visqol").setLevel(logging.ERROR)
    api = VisqolApi()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api.create(mode=mode)
    return api


def visqol(ref, deg, sr: int, mode: str = "speech") -> float | None:
    """ViSQOL MOS-LQO (1-5): speech mode at 16 kHz, audio mode at 48 kHz."""
    try:
        api = _visqol_api(mode)
    except ImportError:
        raise _missing("visqol") from None
    rate = 16000 if mode == "speech" else 48000
    ref = resample(_mono(ref)[None].astype(np.float32), sr, rate)[0]
    deg = resample(_mono(deg)[None].astype(np.float32), sr, rate)[0]
    ref, deg = align(ref, deg, rate)
    try:
        return float(api.measure_from_arrays(ref, deg, rate).moslqo)
    except Exception:
        return None


def dnsmos(deg, sr: int) -> float | None:
    """No-reference DNSMOS OVRL (the P.835 overall quality; speechmos, 16 kHz) of `deg`."""
    parts = dnsmos_parts(deg, sr)
    return parts["ovrl"] if parts else None


def dnsmos_parts(deg, sr: int) -> dict | None:
    """DNSMOS P.835: OVRL (overall), SIG (speech distortion) and BAK (background noise)."""
    try:
        from speechmos import dnsmos as _dnsmos
    except ImportError:
        raise _missing("dnsmos") from None
    x = resample(_mono(deg)[None].astype(np.float32), sr, 16000)[0]
    x = x / max(np.abs(x).max(), 1e-6) * 0.9  # DNSMOS expects [-1, 1]; level-normalised input
    try:
        out = _dnsmos.run(x, 16000, return_df=False)
        return {"ovrl": float(out["ovrl_mos"]), "sig": float(out["sig_mos"]), "bak": float(out["bak_mos"])}
    except Exception:
        return None
