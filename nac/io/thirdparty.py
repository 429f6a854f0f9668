"""Third-party codecs through PyAV, in memory: libopus, LAME MP3 and AAC at exact bitrates.

Used as baselines by the benchmarks and `nac eval`, and to make degraded training pairs.
Outputs are returned at the input's rate and length, shifted by the codec's delay so they line
up sample for sample with the input.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

from .audio import estimate_delay, fit_length, resample


@dataclass(frozen=True)
class CodecSpec:
    codec: str  # PyAV encoder name
    container: str
    rates: tuple[int, ...]  # sample rates the encoder accepts, preferred first
    sample_format: str


SPECS = {
    "opus": CodecSpec("libopus", "ogg", (48000, 24000, 16000, 12000, 8000), "s16"),
    "mp3": CodecSpec("libmp3lame", "mp3", (44100, 48000, 32000, 24000, 22050, 16000, 11025, 8000), "s16p"),
    "aac": CodecSpec("aac", "adts", (48000, 44100, 32000, 24000, 22050, 16000), "fltp"),
}


def _pick_rate(spec: CodecSpec, sr: int) -> int:
    return sr if sr in spec.rates else next((r for r in spec.rates if r >= sr), spec.rates[0])


def encode_bytes(audio: np.ndarray, sr: int, codec: str, kbps: float, complexity: int | None = None
                 ) -> tuple[bytes, int]:
    """Mono (T,) float audio -> (encoded file bytes, codec sample rate)."""
    spec = SPECS[codec]
    rate = _pick_rate(spec, sr)
    x = resample(np.asarray(audio, np.float32)[None], sr, rate)[0]
    buf = io.BytesIO()
    with av.open(buf, "w", format=spec.container) as out:
        stream = out.add_stream(spec.codec, rate=rate)
        stream.bit_rate = int(kbps * 1000)
        stream.layout = "mono"
        if complexity is not None and codec == "opus":
            stream.codec_context.options = {"compression_level": str(complexity)}
        pcm = np.clip(x, -1, 1)
        if spec.sample_format.startswith("s16"):
            pcm = (pcm * 32767).astype(np.int16)
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, len(pcm), frame_size):
            frame = av.AudioFrame.from_ndarray(pcm[None, start:start + frame_size], format=spec.sample_format,
                                               layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue(), rate


def decode_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Encoded bytes -> (mono float32 (T,), rate)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        parts = []
        for frame in container.decode(stream):
            parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)).astype(np.float32), rate


def roundtrip(audio: np.ndarray, sr: int, codec: str, kbps: float, complexity: int | None = None
              ) -> tuple[np.ndarray, float]:
    """Encode + decode mono audio; returns (aligned audio at `sr`, real kbps of the file)."""

    audio = np.asarray(audio, np.float32)
    data, _ = encode_bytes(audio, sr, codec, kbps, complexity)
    decoded, rate = decode_bytes(data)
    real_kbps = len(data) * 8 / (len(audio) / sr) / 1000
    return align_decoded(audio, resample(decoded[None], rate, sr)[0], sr), real_kbps


def align_decoded(audio: np.ndarray, decoded: np.ndarray, sr: int) -> np.ndarray:
    """`decoded` shifted to line up with `audio` and cut or padded to its length. Containers do
    not always remove the encoder delay (LAME's 1105 samples, say): find it, within 100 ms."""
    lag = estimate_delay(audio.astype(np.float64), decoded.astype(np.float64), int(0.1 * sr)) if len(decoded) else 0
    decoded = decoded[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, np.float32), decoded])
    return fit_length(decoded[None], len(audio))[0]
