"""Audio <-> .nac bytes with a NAC model, chunk by chunk with exact seams.

Each chunk is encoded (and decoded) from a window that extends `model.context_frames` frames
beyond it on both sides, which covers the whole receptive field of the encoder (decoder); the
codes (audio) of the chunk are therefore the same as coding the whole signal at once, while
memory stays bounded by the chunk size (the seam clicks of naive chunking cannot happen).
"""
from __future__ import annotations

import io
from pathlib import Path
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

import numpy as np
import torch

from .audio import fit_length, resample
from .bitstream import ModelMismatchError, NacReader, NacWriter, model_rate_samples
from .chunking import context_windows
from .model import CodecConfig, NacCodec
from .checkpoint import float_state
from .registry import DEFAULT_CODEC, REGISTRY, load_checkpoint

FRAMES_PER_CHUNK = 250  # 5 s at 50 Hz: ~0.3 % container overhead at 6 kbps


@dataclass
class LoadedModel:
    model: NacCodec
    name: str
    sha256: str


_CACHE: dict[str, LoadedModel] = {}


def load_model(name: str = DEFAULT_CODEC) -> NacCodec:
    """A codec from the registry (or a checkpoint path), in eval mode, float32."""
    return load_loaded(name).model


def load_loaded(name: str) -> LoadedModel:
    if name not in _CACHE:
        ckpt, digest = load_checkpoint(name)
        model = NacCodec(CodecConfig(**ckpt["config"]))
        model.load_state_dict(float_state(ckpt["model"]), strict=False)
        model.eval()
        _CACHE[name] = LoadedModel(model, ckpt.get("name", name), digest)
    return _CACHE[name]


def encode_codes(model: NacCodec, audio: np.ndarray, kbps: float,
                 frames_per_chunk: int = FRAMES_PER_CHUNK) -> Iterator[np.ndarray]:
    """(C, T) audio at the model rate -> chunks of (frames, C, n_q) codes."""
    hop = model.hop
    total = -(-audio.shape[1] // hop)
    padded = torch.from_numpy(fit_length(audio, total * hop))
    for w0, w1, c0, c1 in context_windows(total, frames_per_chunk, model.context_frames):
        codes = model.encode(padded[:, w0 * hop:w1 * hop], kbps)  # (C, n_q, frames)
        yield codes[:, :, c0 - w0:c1 - w0].permute(2, 0, 1).numpy()


def decode_codes(model: NacCodec, chunks: Iterable[np.ndarray],
                 frames_per_chunk: int = FRAMES_PER_CHUNK) -> Iterator[np.ndarray]:
    """Chunks of (frames, C, n_q) codes -> blocks of (C, frames * hop) audio at the model rate.

    Holds at most one block plus `context_frames` on each side, whatever the chunk sizes.
    """
    ctx, hop = model.context_frames, model.hop
    buf, buf_start, done = None, 0, 0  # buf holds frames [buf_start, buf_start + len)
    phase = None  # a pitch-aware model's oscillator phase at buf_start (absolute, see NacCodec.decode)
    for incoming in chunks:
        incoming = torch.from_numpy(np.ascontiguousarray(incoming)).permute(1, 2, 0)  # (C, n_q, F)
        buf = incoming if buf is None else torch.cat([buf, incoming], -1)
        while buf_start + buf.shape[-1] - done >= frames_per_chunk + ctx:
            yield _decode_block(model, buf, buf_start, done, done + frames_per_chunk, hop, phase)
            done += frames_per_chunk
            keep_from = max(0, done - ctx) - buf_start
            phase = _advance(model, phase, buf[..., :keep_from])
            buf, buf_start = buf[..., keep_from:], buf_start + keep_from
    while buf is not None and done < buf_start + buf.shape[-1]:
        end = min(done + frames_per_chunk, buf_start + buf.shape[-1])
        yield _decode_block(model, buf, buf_start, done, end, hop, phase)
        done = end


def _advance(model: NacCodec, phase: torch.Tensor | None, codes: torch.Tensor) -> torch.Tensor | None:
    gained = model.oscillator_phase_before(codes)
    if gained is None:
        return None
    return gained if phase is None else torch.remainder(phase + gained, 2 * np.pi)


def _decode_block(model: NacCodec, buf: torch.Tensor, buf_start: int, start: int, end: int,
                  hop: int, phase: torch.Tensor | None = None) -> np.ndarray:
    """Audio for frames [start, end), decoded with up to `context_frames` either side."""
    ctx = model.context_frames
    w0 = max(buf_start, start - ctx) - buf_start
    w1 = min(buf.shape[-1], end - buf_start + ctx)
    audio = model.decode(buf[..., w0:w1], _advance(model, phase, buf[..., :w0]))
    left = start - buf_start - w0
    return audio[:, left * hop:(left + end - start) * hop].numpy()


def compress_to_file(audio: np.ndarray, sr: int, f: BinaryIO, kbps: float = 6.0,
                     model: str = DEFAULT_CODEC, frames_per_chunk: int = FRAMES_PER_CHUNK) -> None:
    """Encode (C, T) float audio at rate `sr` into the open binary file `f`."""
    loaded = load_loaded(model)
    codec = loaded.model
    frames_per_chunk = max(frames_per_chunk, codec.context_frames)
    n_q = codec.n_q_for(kbps)
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    metadata = {
        "format_version": 2, "model": model if model in REGISTRY else _file_name(loaded.name), "model_sha256": loaded.sha256[:16],
        "sample_rate": codec.sample_rate, "original_sample_rate": int(sr),
        "channels": int(audio.shape[0]), "num_samples": int(audio.shape[1]),
        "frame_rate": codec.frame_rate, "hop": codec.hop, "n_q": n_q,
        "bits_per_code": codec.cfg.bits_per_code, "frames_per_chunk": frames_per_chunk, "kbps": kbps,
    }
    if codec.pitch_levels:
        from .pitch import describe

        metadata["pitch"] = describe()
    writer = NacWriter(f, metadata, kbps)
    for chunk in encode_codes(codec, resample(audio, sr, codec.sample_rate), kbps, frames_per_chunk):
        writer.write_chunk(chunk)


def decompress_from_file(f: BinaryIO, model: str | None = None, sample_rate: int | None = None
                         ) -> tuple[np.ndarray, int]:
    """Decode a .nac stream to ((C, T) float32 audio, rate); T is exact for the original rate."""
    reader = NacReader(f)
    m = reader.metadata
    if model is None and m["model"] not in REGISTRY:
        # a file names a model; it never gets to name a path to load
        raise ModelMismatchError(f"this file needs model {m['model']!r}, which is not installed "
                                 f"(known: {', '.join(sorted(REGISTRY))}; or pass --model PATH)")
    loaded = load_loaded(model or m["model"])
    if m.get("model_sha256") and not loaded.sha256.startswith(m["model_sha256"]):
        raise ModelMismatchError(f"this file was encoded with {m['model']} ({m['model_sha256']}), "
                                 f"but the model loaded has sha256 {loaded.sha256[:16]}")
    check_stream(reader, loaded.model)
    # the decoder's block size is ours to choose: a file's frames_per_chunk of 1 must not make
    # decoding a hundred times slower (every block pays the context on both sides)
    pieces = list(decode_codes(loaded.model, reader.chunks()))
    audio = np.concatenate(pieces, axis=1) if pieces else np.zeros((reader.channels, 0), np.float32)
    n_model = model_rate_samples(reader.num_samples, reader.original_sample_rate, reader.sample_rate)
    audio = fit_length(audio, n_model)
    out_rate = sample_rate or reader.original_sample_rate
    out = resample(audio, reader.sample_rate, out_rate)
    length = reader.num_samples if out_rate == reader.original_sample_rate else \
        model_rate_samples(reader.num_samples, reader.original_sample_rate, out_rate)
    return fit_length(out, length), out_rate


def _file_name(name: str) -> str:
    """A checkpoint's name as a .nac file may carry it (decoding then needs --model PATH)."""
    import re

    return re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(name).name)[:128] or "unnamed"


def check_stream(reader: NacReader, codec: NacCodec) -> None:
    """The stream's shape must be one this codec produces; raise `ModelMismatchError` if not."""
    m = reader.metadata
    problems = []
    if reader.sample_rate != codec.sample_rate:
        problems.append(f"sample_rate {reader.sample_rate} (model: {codec.sample_rate})")
    if reader.hop != codec.hop:
        problems.append(f"hop {reader.hop} (model: {codec.hop})")
    if reader.bits != codec.cfg.bits_per_code:
        problems.append(f"bits_per_code {reader.bits} (model: {codec.cfg.bits_per_code})")
    if not codec.pitch_levels < reader.n_q <= codec.cfg.n_q:
        problems.append(f"n_q {reader.n_q} (model: {codec.pitch_levels + 1}..{codec.cfg.n_q})")
    if bool(m.get("pitch")) != bool(codec.pitch_levels):
        problems.append("pitch level " + ("present" if m.get("pitch") else "absent")
                        + " (model: " + ("with" if codec.pitch_levels else "without") + " pitch)")
    if problems:
        raise ModelMismatchError(f"{m['model']} cannot decode this stream: " + "; ".join(problems))


def compress(audio: np.ndarray, sr: int, kbps: float = 6.0, model: str = DEFAULT_CODEC,
             frames_per_chunk: int = FRAMES_PER_CHUNK) -> bytes:
    buf = io.BytesIO()
    compress_to_file(audio, sr, buf, kbps, model, frames_per_chunk)
    return buf.getvalue()


def decompress(data: bytes, model: str | None = None) -> tuple[np.ndarray, int]:
    return decompress_from_file(io.BytesIO(data), model)
