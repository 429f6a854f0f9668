"""Audio file I/O: read anything soundfile or PyAV can open, resample with soxr, write atomically.

Arrays are float32 shaped (channels, samples) throughout.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from ..container.bitstream import MAX_CHANNELS

MIN_RATE, MAX_RATE = 8000, 192000


class AudioError(Exception):
    """An input that cannot be read as audio (one-line, user-facing message)."""


def read_audio(path: str | os.PathLike, name: str | None = None) -> tuple[np.ndarray, int]:
    """Return (audio (C, T) float32, sample_rate). soundfile first, PyAV for everything else.
    `name`: what error messages call the file (the UI passes the upload's own name)."""
    path = Path(path)
    name = name or str(path)
    if not path.is_file():
        raise AudioError(f"{name}: no such file")
    return _decode(str(path), name)


def _decode(source, name) -> tuple[np.ndarray, int]:
    """A path or file object -> checked (C, T) float32 audio; `name` is what errors call it."""
    try:
        info = sf.info(source)
    except Exception:
        info = None
    if info is not None:  # the header is checked before anything is allocated for it
        if hasattr(source, "seek"):
            source.seek(0)
        check_header(name, info.samplerate, info.channels, info.frames, _size(source), info.format)
        try:
            data, sr = sf.read(source, dtype="float32", always_2d=True)
            audio = data.T
        except Exception:  # a valid header over corrupt data: let FFmpeg try, it may salvage it
            info = None
    if info is None:
        if hasattr(source, "seek"):
            source.seek(0)
        audio, sr = _read_with_av(source, name)
    _check(audio, sr, name)
    return np.ascontiguousarray(audio, dtype=np.float32), int(sr)


def _size(source) -> int | None:
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source)
    if hasattr(source, "getbuffer"):
        return source.getbuffer().nbytes
    return None


# What a header may claim before it is believed. Rates: anything a real file could carry (the
# codec then resamples from MIN_RATE..MAX_RATE). Lengths: uncompressed PCM needs at least one
# byte per sample; FLAC's constant subframes code a few bytes per 4096 samples, so a compressed
# file may hold up to ~1 000 samples per byte, and no more.
HEADER_RATES = (1, 768000)
PCM_FORMATS = {"WAV", "WAVEX", "AIFF", "AU", "RAW", "W64", "RF64", "CAF"}
MAX_SAMPLES_PER_BYTE = 1024


def check_header(name, sr: int, channels: int, frames: int, size: int | None = None,
                 fmt: str | None = None) -> None:
    """Refuse absurd headers (no channels, impossible rates, more frames than the file can hold)
    with a one-line `AudioError`, before any buffer is sized from them."""
    if channels < 1:
        raise AudioError(f"{name}: the header declares {channels} audio channels")
    if channels > MAX_CHANNELS:
        raise AudioError(f"{name}: {channels} channels; a .nac file holds at most {MAX_CHANNELS}")
    if not HEADER_RATES[0] <= sr <= HEADER_RATES[1]:
        raise AudioError(f"{name}: the header's sample rate {sr} Hz is not a real audio rate")
    if frames < 0:
        raise AudioError(f"{name}: the header declares {frames} frames")
    if size is not None:
        per_byte = 1 if fmt in PCM_FORMATS else MAX_SAMPLES_PER_BYTE
        if frames * channels > size * per_byte:
            raise AudioError(f"{name}: the header promises {frames} frames x {channels} channels, "
                             f"more than a {size}-byte file can hold")


def check_finite(audio: np.ndarray, sr: int, name, offset: int = 0) -> None:
    """Non-finite samples (NaN, inf) are an error naming the first one's time and channel:
    a codec fed NaN decodes to a loud buzz, and no silent repair is right for every file."""
    bad = ~np.isfinite(audio)
    if not bad.any():
        return
    channel, sample = min(((c, int(np.argmax(row))) for c, row in enumerate(bad) if row.any()),
                          key=lambda cs: cs[1])
    value = audio[channel, sample]
    raise AudioError(f"{name}: non-finite sample ({value}) at {(offset + sample) / sr:.3f} s, channel "
                     f"{channel + 1} of {audio.shape[0]}")


def _read_with_av(path, name=None) -> tuple[np.ndarray, int]:
    import av

    source = str(path) if isinstance(path, (str, Path)) else path  # a path, or stdin's bytes
    path = name or path  # what error messages call it
    try:
        with av.open(source) as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: no audio stream")
            stream = container.streams.audio[0]
            sr = stream.codec_context.sample_rate or stream.rate or 0
            channels = stream.codec_context.channels
            check_header(path, sr, channels, 0)
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
        raise AudioError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    if not chunks:
        raise AudioError(f"{path}: contains no audio samples")
    return np.concatenate(chunks, axis=1).astype(np.float32), int(sr)


def _reason(exc: Exception) -> str:
    """FFmpeg's message without its errno ("[Errno 1094995529] ...") or the path it repeats."""
    text = getattr(exc, "strerror", None) or str(exc)
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(text).strip().splitlines()[0] if str(text).strip() else "")
    return text.rstrip(":' ") or type(exc).__name__


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
    # SIGTERM/SIGHUP (which `nac` turns into an exit that unwinds this block) wait while the
    # file is created, so there is no moment when it exists outside the `try` that removes it
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the result should look like any new file
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- block I/O: bounded memory for long files, pipes for stdin/stdout ------------------------

BLOCK_SECONDS = 10.0


def read_blocks(path: str) -> tuple[int, int, int, Iterator[np.ndarray]]:
    """(rate, channels, total samples, iterator of (C, T) float32 blocks) for a file or "-".

    Files soundfile can seek are read 10 s at a time; stdin and compressed formats that only
    PyAV reads are read whole first (a .nac header needs the length before the first chunk).
    """
    import io
    import sys

    if path == "-":
        data = sys.stdin.buffer.read()
        if not data:
            raise AudioError("stdin: no data")
        audio, sr = _decode(io.BytesIO(data), "stdin")
        return sr, audio.shape[0], audio.shape[1], iter([audio])
    if not Path(path).is_file():
        raise AudioError(f"{path}: no such file")
    try:
        info = sf.info(path)
    except Exception:
        audio, sr = read_audio(path)
        return sr, audio.shape[0], audio.shape[1], iter([audio])
    check_header(path, info.samplerate, info.channels, info.frames, os.path.getsize(path), info.format)
    _check_rate_and_length(info.frames, info.samplerate, path)
    block = int(BLOCK_SECONDS * info.samplerate)

    def blocks():
        offset = 0
        reader = sf.blocks(path, blocksize=block, dtype="float32", always_2d=True)
        while True:
            try:
                b = next(reader, None)
            except Exception as exc:  # libsndfile on corrupt data past a valid header
                raise AudioError(f"{path}: corrupt audio data after {offset / info.samplerate:.2f} s "
                                 f"({_reason(exc)})") from None
            if b is None:
                return
            b = np.ascontiguousarray(b.T)
            check_finite(b, info.samplerate, path, offset)
            offset += b.shape[1]
            yield b

    return int(info.samplerate), int(info.channels), int(info.frames), blocks()


def _check(audio: np.ndarray, sr: int, name) -> None:
    _check_rate_and_length(audio.shape[1], sr, name)
    check_finite(audio, sr, name)


def _check_rate_and_length(frames: int, sr: int, name) -> None:
    if frames == 0:
        raise AudioError(f"{name}: contains no audio samples")
    if not MIN_RATE <= sr <= MAX_RATE:
        raise AudioError(f"{name}: sample rate {sr} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")


def write_blocks(path: str, blocks, sr: int, channels: int, num_samples: int) -> None:
    """Write (C, T) blocks to .wav/.flac atomically, or as a 16-bit WAV stream to stdout ("-")."""
    import sys

    if path == "-":
        out = sys.stdout.buffer
        out.write(wav_header(sr, channels, num_samples))
        for b in blocks:
            out.write((np.clip(b, -1.0, 1.0).T * 32767.0).round().astype("<i2").tobytes())
        out.flush()
        return
    fmt = WRITE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise AudioError(f"{path}: can only write {', '.join(WRITE_FORMATS)} files")
    with atomic_output(path) as tmp:
        with sf.SoundFile(tmp, "w", sr, channels, fmt[1], format=fmt[0]) as f:
            for b in blocks:
                f.write(np.clip(b, -1.0, 1.0).T)


def wav_header(sr: int, channels: int, num_samples: int) -> bytes:
    """A 16-bit PCM WAV header for a stream whose length is known up front (a .nac file's is)."""
    import struct

    data = num_samples * channels * 2
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sr, sr * channels * 2, channels * 2, 16)
            + b"data" + struct.pack("<I", data))


AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac"}


def list_audio(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def estimate_delay(ref: np.ndarray, deg: np.ndarray, max_lag: int) -> int:
    """Lag (samples) by which `deg` trails `ref`, from the cross-correlation peak within max_lag."""
    n = len(ref) + len(deg)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(deg, size) * np.conj(np.fft.rfft(ref, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(xc[lags])])
