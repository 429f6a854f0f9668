"""Where audio comes from: a NAC bitstream or any third-party file, behind one interface.

    decoded = open_source("voice.opus")     # or "speech.nac"
    decoded.audio, decoded.sample_rate, decoded.info.codec, decoded.info.kbps, decoded.info.bandwidth_hz

The restoration post-filter and the writer come after this and do not care which it was.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..container.bitstream import MAGIC
from .audio import AudioError, read_audio


@dataclass
class SourceInfo:
    """What is known about how the audio was degraded."""

    codec: str  # "nac", "opus", "mp3", "aac", "vorbis", "pcm", "flac", ...
    kbps: float | None  # the file's rate: `container.bitstream.file_kbps` (size / duration / channels)
    bandwidth_hz: float  # measured: highest frequency with real content


@dataclass
class Decoded:
    audio: np.ndarray  # (C, T) float32
    sample_rate: int
    info: SourceInfo


def measure_bandwidth(audio: np.ndarray, sr: int, floor_db: float = 60.0) -> float:
    """Highest frequency whose long-term level is within `floor_db` of the loudest band."""
    x = np.asarray(audio, dtype=np.float64)
    x = x.mean(0) if x.ndim == 2 else x
    n_fft = 1024
    if len(x) < n_fft:
        return sr / 2
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[:: n_fft // 2]
    psd = np.mean(np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2, axis=0)
    db = 10 * np.log10(np.convolve(psd, np.ones(5) / 5, mode="same") + 1e-20)
    above = np.nonzero(db > db.max() - floor_db)[0]
    return float(above[-1] * sr / n_fft) if len(above) else 0.0


def open_source(path: str | Path, model: str | None = None) -> Decoded:
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(3)
    if head == MAGIC:
        return _nac_source(path, model)
    return _file_source(path)


def _nac_source(path: Path, model: str | None) -> Decoded:
    from ..api import decompress_from_file

    from ..container.bitstream import file_kbps

    with open(path, "rb") as f:
        audio, sr = decompress_from_file(f, model)
    kbps = round(file_kbps(path.stat().st_size, audio.shape[1] / sr, audio.shape[0]), 2)
    return Decoded(audio, sr, SourceInfo("nac", kbps, measure_bandwidth(audio, sr)))


def _file_source(path: Path) -> Decoded:
    audio, sr = read_audio(path)
    codec, kbps = probe(path, audio.shape[1] / sr, audio.shape[0])
    return Decoded(audio, sr, SourceInfo(codec, kbps, measure_bandwidth(audio, sr)))


def probe(path: Path, seconds: float, channels: int) -> tuple[str, float | None]:
    """Codec name and the file's rate (`file_kbps`: all its bytes, container pages and headers
    included, the way the UI and `nac info` measure NAC files; a 1-s Ogg Opus file pays ~3 kbps
    of headers that way, a 10-s one ~0.3)."""
    from ..container.bitstream import file_kbps

    try:
        import av

        with av.open(str(path)) as container:
            codec = container.streams.audio[0].codec_context.name
    except Exception:
        codec = path.suffix.lstrip(".").lower() or "unknown"
    if codec.startswith("pcm_"):
        codec = "pcm"
    codec = {"libopus": "opus", "mp3float": "mp3", "libvorbis": "vorbis"}.get(codec, codec)
    kbps = file_kbps(path.stat().st_size, seconds, channels) if seconds > 0 else None
    return codec, round(kbps, 2) if kbps else None
