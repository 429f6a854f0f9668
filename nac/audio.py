"""Audio file I/O: read anything soundfile or PyAV can open, resample with soxr, write atomically.

Arrays are float32 shaped (channels, samples) throughout.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

MIN_RATE, MAX_RATE = 8000, 192000


class AudioError(Exception):
    """An input that cannot be read as audio (one-line, user-facing message)."""


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Return (audio (C, T) float32, sample_rate). soundfile first, PyAV for everything else."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        audio = data.T
    except Exception:
        audio, sr = _read_with_av(path)
    if audio.shape[1] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if not MIN_RATE <= sr <= MAX_RATE:
        raise AudioError(f"{path}: sample rate {sr} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    return np.ascontiguousarray(audio, dtype=np.float32), int(sr)


def _read_with_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: no audio stream")
            stream = container.streams.audio[0]
            sr = stream.codec_context.sample_rate or stream.rate
            channels = stream.codec_context.channels
            resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=sr)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1, channels).T)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1, channels).T)
    except AudioError:
        raise
    except Exception as exc:  # PyAV raises many types; the user needs one line
        raise AudioError(f"{path}: not a readable audio file ({type(exc).__name__}: {exc})") from None
    if not chunks:
        raise AudioError(f"{path}: contains no audio samples")
    return np.concatenate(chunks, axis=1).astype(np.float32), int(sr)


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """(C, T) -> (C, T'), T' = round(T * sr_out / sr_in), via soxr (high quality)."""
    if sr_in == sr_out:
        return audio
    out = soxr.resample(audio.T, sr_in, sr_out, quality="HQ")
    return np.ascontiguousarray(out.T if out.ndim == 2 else out[None], dtype=np.float32)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad the last axis to exactly `length` samples."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])])


WRITE_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}


def write_audio(path: str | os.PathLike, audio: np.ndarray, sr: int, subtype: str | None = None) -> None:
    """Write (C, T) audio to .wav or .flac atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(f"{path}: can only write {', '.join(WRITE_FORMATS)} files")
    audio = np.clip(audio, -1.0, 1.0)
    with atomic_output(path) as tmp:
        sf.write(tmp, audio.T, sr, format=fmt[0], subtype=subtype or fmt[1])


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temp path beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise AudioError(f"{path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the result should look like any new file
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
