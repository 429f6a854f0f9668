"""What the UI's tabs do, as plain functions on uploaded bytes (no web framework here).

Each returns a `Result`: named files (wav, .nac, spectrogram PNGs) and a JSON-able summary.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..container.bitstream import file_kbps
from ..io.audio import AudioError, read_audio, resample

MAX_SECONDS = 600.0  # longer uploads are refused: the page is for listening, `nac` for batches


@dataclass
class Result:
    summary: dict
    files: dict[str, bytes] = field(default_factory=dict)  # name -> content


UPLOAD_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".nac"}


def display_name(filename: str | None) -> str:
    """The upload's name as messages show it: its last path part, printable, at most 80 chars."""
    name = Path(filename or "upload").name
    name = "".join(c if c.isprintable() else "?" for c in name)[:80]
    return name or "upload"


@contextlib.contextmanager
def upload_file(data: bytes, filename: str):
    """The upload as a temporary file. Nothing of the upload's name reaches the file system but a
    known audio suffix (readers sniff the content; the suffix only helps PyAV guess); errors raised
    inside name the user's file, not the server's temporary path."""
    if not data:
        raise AudioError(f"{display_name(filename)}: the uploaded file is empty")
    suffix = Path(filename or "").suffix.lower()
    suffix = suffix if suffix in UPLOAD_SUFFIXES else ".bin"
    with tempfile.NamedTemporaryFile(prefix="nac-upload-", suffix=suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            yield tmp.name
        except Exception as exc:
            if tmp.name not in str(exc):
                raise
            message = str(exc).replace(tmp.name, display_name(filename))
            try:
                renamed = type(exc)(message)
            except Exception:
                renamed = AudioError(message)
            raise renamed from None


def check_length(audio: np.ndarray, sr: int) -> None:
    if audio.shape[1] / sr > MAX_SECONDS:
        raise AudioError(f"the upload is {audio.shape[1] / sr:.0f} s long; the page takes up to {MAX_SECONDS:.0f} s")


def load_upload(data: bytes, filename: str) -> tuple[np.ndarray, int]:
    """Uploaded bytes -> (C, T) float32 audio; any format `nac` reads."""
    with upload_file(data, filename) as path:
        audio, sr = read_audio(path)
    check_length(audio, sr)
    return audio, sr


def wav_bytes(audio: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1, 1).T, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def spectrogram_png(audio: np.ndarray, sr: int, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = audio.mean(0)
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.specgram(x + 1e-9, NFFT=512, Fs=sr, noverlap=384, cmap="magma", vmin=-120)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("Hz")
    ax.set_xlabel("s")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def codec_compare(data: bytes, filename: str, kbps: float, model: str | None = None,
                  postfilter: bool = False) -> Result:
    """Original vs NAC vs Opus at the same bitrate: players, real sizes, spectrograms, the .nac."""
    from ..api import compress, decompress
    from ..io.thirdparty import roundtrip
    from ..registry import DEFAULT_CODEC

    audio, sr = load_upload(data, filename)
    seconds = audio.shape[1] / sr
    model = model or DEFAULT_CODEC
    nac_data = compress(audio, sr, kbps, model)
    nac_audio, _ = decompress(nac_data, model)
    if postfilter:
        from ..restore.plan import restore_audio

        nac_audio = restore_audio(nac_audio, sr, "auto", None, sr, codec="nac", kbps=kbps)[0]
    opus_audio, opus_kbps = roundtrip(audio.mean(0), sr, "opus", kbps)  # aligned: the codec delay removed
    opus_bytes = round(opus_kbps * seconds * 1000 / 8)
    items = {"original": (audio, len(data)), "nac": (nac_audio, len(nac_data)), "opus": (opus_audio[None], opus_bytes)}  # opus: the mono mix
    result = Result({"seconds": round(seconds, 2), "sample_rate": sr, "kbps": kbps, "items": {}})
    for name, (x, size) in items.items():
        result.files[f"{name}.wav"] = wav_bytes(x, sr)
        result.files[f"{name}.png"] = spectrogram_png(x, sr, name if name == "original" else f"{name} {kbps:g} kbps")
        result.summary["items"][name] = {"bytes": size, "file_kbps": round(file_kbps(size, seconds, x.shape[0]), 2)}
    result.files["encoded.nac"] = nac_data
    return result


def restore_upload(data: bytes, filename: str, reference: bytes | None = None,
                   reference_name: str = "reference.wav", strength: float = 1.0) -> Result:
    """Detect what the upload is, restore it (or pass it through), and score it against an
    optional clean reference."""
    from ..io.sources import open_source
    from ..restore.plan import apply_plan, plan_restore

    with upload_file(data, filename) as path:
        decoded = open_source(path)
    audio, sr, info = decoded.audio, decoded.sample_rate, decoded.info
    check_length(audio, sr)
    plan = plan_restore(audio, sr, "auto", None, strength, False, info.codec, info.kbps, info.bandwidth_hz)
    restored, out_sr = apply_plan(audio, sr, plan)
    result = Result({"detected": {"codec": info.codec, "file_kbps": info.kbps, "bandwidth_hz": round(plan.bandwidth_hz),
                                  "content": plan.content}, "explain": plan.explain(), "action": plan.action})
    result.files["input.wav"] = wav_bytes(audio, sr)
    result.files["input.png"] = spectrogram_png(audio, sr, "input")
    result.files["restored.wav"] = wav_bytes(restored, out_sr)
    result.files["restored.png"] = spectrogram_png(restored, out_sr, f"restored ({plan.action})")
    if reference:
        result.summary["metrics"] = _scores(*load_upload(reference, reference_name), audio, sr, restored, out_sr)
    return result


def _scores(ref: np.ndarray, ref_sr: int, before: np.ndarray, sr: int, after: np.ndarray, after_sr: int) -> dict:
    """PESQ / ViSQOL / mel distance of input and restored output against the reference (16 kHz mono)."""
    from ..eval.metrics import MissingMetricError, align, mel_distance, pesq_wb, visqol

    def at16(x, rate):
        return resample(x.mean(0, keepdims=True), rate, 16000)[0]

    def soft(metric, *args):  # the [ui] extra alone has no PESQ/ViSQOL: the page shows a dash
        try:
            return metric(*args)
        except MissingMetricError:
            return None

    r = at16(ref, ref_sr)
    out = {}
    for label, x in (("before", at16(before, sr)), ("after", at16(after, after_sr))):
        a, b = align(r, x, 16000, max_delay_s=0.1)
        out[label] = {"pesq": soft(pesq_wb, a, b, 16000), "visqol": soft(visqol, a, b, 16000, "speech"),
                      "mel": mel_distance(a, b, 16000)}
    return out


def inspect_nac(data: bytes) -> Result:
    """What `nac info` shows for an uploaded .nac file."""
    from ..container.bitstream import inspect

    return Result(inspect(io.BytesIO(data), len(data)))
