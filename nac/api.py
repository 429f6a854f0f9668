"""Audio <-> .nac bytes with a NAC model, chunk by chunk with exact seams.

Each chunk is encoded (and decoded) from a window that extends `model.context_frames` frames
beyond it on both sides, which covers the whole receptive field of the encoder (decoder); the
codes (audio) of the chunk are therefore the same as coding the whole signal at once, while
memory stays bounded by the chunk size (the seam clicks of naive chunking cannot happen).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import numpy as np

from .checkpoint import TRAINING_ONLY_SUFFIXES, float_state, inference_weights
from .codec.model import CodecConfig, NacCodec
from .codec.streaming import StreamingDecoder, StreamingEncoder, StreamingResampler
from .container.bitstream import (
    ModelMismatchError,
    NacReader,
    NacWriter,
    model_rate_samples,
)
from .registry import DEFAULT_CODEC, REGISTRY, load_checkpoint

FRAMES_PER_CHUNK = 250  # 5 s at 50 Hz: ~0.3 % container overhead at 6 kbps
# Every decoded block also decodes `context_frames` (53, mostly Griffin-Lim's reach) on each
# side: 20-s blocks keep that to +10 % of the work (5-s blocks: +42 %) in a few MB of memory.
DECODE_BLOCK_FRAMES = 1000


@dataclass
class LoadedModel:
    model: NacCodec
    name: str
    sha256: str
    code_statistics: dict | None = None  # for entropy coding (`nac/entropy.py`), in the checkpoint

    def code_model(self):
        """The entropy coder of this model's codes, or None if it ships no code statistics."""
        if self.code_statistics is None:
            return None
        if "_code_model" not in self.__dict__:
            from .container.entropy import CodeModel, CodeStatistics

            self._code_model = CodeModel(CodeStatistics.from_dict(self.code_statistics))
        return self._code_model


_CACHE: dict[str, LoadedModel] = {}


def load_model(name: str = DEFAULT_CODEC) -> NacCodec:
    """A codec from the registry (or a checkpoint path), in eval mode, float32."""
    return load_loaded(name).model


def load_loaded(name: str) -> LoadedModel:
    if name not in _CACHE:
        ckpt, digest = load_checkpoint(name)
        model = NacCodec(CodecConfig(**ckpt["config"]), inference=True)
        state = {k: v for k, v in float_state(inference_weights(ckpt)).items()
                 if not k.endswith(TRAINING_ONLY_SUFFIXES)}
        model.load_state_dict(state)  # strict: every inference tensor must be in the file
        model.eval()
        _CACHE[name] = LoadedModel(model, ckpt.get("name", name), digest, ckpt.get("code_statistics"))
    return _CACHE[name]


def encode_codes(model: NacCodec, audio: np.ndarray, kbps: float,
                 frames_per_chunk: int = FRAMES_PER_CHUNK, rate_cost: np.ndarray | None = None
                 ) -> Iterator[np.ndarray]:
    """(C, T) audio at the model rate -> chunks of (frames, C, n_q) codes (`rate_cost`: codes
    chosen for an entropy coder, `CodeModel.rate_cost`)."""
    encoder = StreamingEncoder(model, kbps, frames_per_chunk, rate_cost)
    yield from encoder.push(audio)
    yield from encoder.flush()


def decode_codes(model: NacCodec, chunks: Iterable[np.ndarray],
                 block_frames: int = DECODE_BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Chunks of (frames, C, n_q) codes -> blocks of (C, frames * hop) audio at the model rate.

    Holds at most one block plus `context_frames` on each side, whatever the chunk sizes.
    """
    decoder = StreamingDecoder(model, block_frames)
    for chunk in chunks:
        yield from decoder.push(chunk)
    yield from decoder.flush()


def compress_to_file(audio: np.ndarray, sr: int, f: BinaryIO, kbps: float = 6.0,
                     model: str = DEFAULT_CODEC, frames_per_chunk: int = FRAMES_PER_CHUNK,
                     entropy: str = "auto") -> None:
    """Encode (C, T) float audio at rate `sr` into the open binary file `f`."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    compress_blocks([audio], sr, audio.shape[0], audio.shape[1], f, kbps, model, frames_per_chunk, entropy)


def compress_blocks(blocks: Iterable[np.ndarray], sr: int, channels: int, num_samples: int, f: BinaryIO,
                    kbps: float = 6.0, model: str = DEFAULT_CODEC, frames_per_chunk: int = FRAMES_PER_CHUNK,
                    entropy: str = "auto") -> None:
    """Encode (C, T) blocks of any size at rate `sr`, `num_samples` in all, in bounded memory:
    blocks are resampled and coded as they come, chunks written as soon as they are ready.

    `entropy`: "on" range-codes the codes with the model's code statistics (an error if it has
    none) and chooses them for that coder (`nac/entropy.py`), "off" bit-packs nearest-neighbour
    codes, "auto" (default) entropy-codes whenever the model can."""
    if entropy not in ("auto", "on", "off"):
        raise ValueError(f"entropy must be auto, on or off, got {entropy!r}")
    kbps = float(kbps)  # the metadata's JSON: `kbps=6` and `--kbps 6` must write the same bytes
    loaded = load_loaded(model)
    codec = loaded.model
    coder = loaded.code_model() if entropy != "off" else None
    if entropy == "on" and coder is None:
        raise ValueError(f"model {loaded.name} ships no code statistics: entropy coding is not available "
                         "(scripts/fit_code_statistics.py adds them)")
    frames_per_chunk = max(frames_per_chunk, codec.context_frames)
    n_q = codec.n_q_for(kbps)
    metadata = {
        "format_version": 3, "model": model if model in REGISTRY else _file_name(loaded.name),
        "model_sha256": loaded.sha256[:16], "sample_rate": codec.sample_rate, "original_sample_rate": int(sr),
        "channels": int(channels), "num_samples": int(num_samples),
        "frame_rate": codec.frame_rate, "hop": codec.hop, "n_q": n_q,
        "bits_per_code": codec.cfg.bits_per_code, "frames_per_chunk": frames_per_chunk, "kbps": kbps,
    }
    if codec.pitch_levels:
        from .codec.pitch import describe

        metadata["pitch"] = describe()
    if codec.cfg.gain_levels_for(n_q):
        metadata["band_gains"] = {"bands": codec.cfg.gain_bands, "levels": codec.cfg.gain_levels_for(n_q)}
    if coder is not None:
        metadata["entropy"] = coder.describe()
    writer = NacWriter(f, metadata, kbps, coder=coder)
    to_model = StreamingResampler(sr, codec.sample_rate, channels,
                                  model_rate_samples(num_samples, sr, codec.sample_rate))
    encoder = StreamingEncoder(codec, kbps, frames_per_chunk, None if coder is None else coder.rate_cost(n_q))
    for block in blocks:
        for chunk in encoder.push(to_model.push(np.atleast_2d(np.asarray(block, dtype=np.float32)))):
            writer.write_chunk(chunk)
    for chunk in encoder.push(to_model.push(np.zeros((channels, 0), np.float32), last=True)) + encoder.flush():
        writer.write_chunk(chunk)


def decompress_blocks(f: BinaryIO, model: str | None = None, sample_rate: int | None = None,
                      onnx_dir: str | None = None, int8: bool = False, bf16: bool = False,
                      postfilter: bool = False) -> tuple[dict, Iterator[np.ndarray]]:
    """Decode a .nac stream block by block in bounded memory.

    Returns (info, blocks): info has `channels`, `sample_rate` (of the output) and `num_samples`
    (exact, known from the header before any decoding); blocks are (C, T) float32 arrays at that
    rate whose lengths add up to `num_samples`. The file is validated up front; a problem found
    later (a CRC mismatch in chunk 7) raises while iterating, before that chunk's audio is made.
    With `onnx_dir` the networks run in onnxruntime (`nac/onnx.py`; `int8`: quantized graphs);
    with `bf16` the decoder network runs in bfloat16 (`nac/bf16.py`); `postfilter` decodes with
    the spectral sharpening post-filter (`NacCodec.with_postfilter`).
    """
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
    if reader.entropy is not None:
        reader.coder = loaded.code_model()
        if reader.coder is None or reader.entropy != reader.coder.describe():
            raise ModelMismatchError(f"this file is entropy-coded with {reader.entropy.get('coder')} and code "
                                     f"statistics {reader.entropy.get('statistics')!s:.16}, which model "
                                     f"{loaded.name} does not have")
    codec = loaded.model
    if onnx_dir:
        from .backends.onnx import OnnxCodec

        codec = OnnxCodec.wrap(codec, onnx_dir, int8)
    elif bf16:
        from .backends.bf16 import Bf16Codec

        codec = Bf16Codec.wrap(codec)
    if postfilter:
        codec = codec.with_postfilter()
    out_rate = sample_rate or reader.original_sample_rate
    length = reader.num_samples if out_rate == reader.original_sample_rate else \
        model_rate_samples(reader.num_samples, reader.original_sample_rate, out_rate)
    n_model = model_rate_samples(reader.num_samples, reader.original_sample_rate, reader.sample_rate)
    info = {"channels": reader.channels, "sample_rate": out_rate, "num_samples": length}

    def blocks() -> Iterator[np.ndarray]:
        # the decoder's block size is ours to choose: a file's frames_per_chunk of 1 must not make
        # decoding a hundred times slower (every block pays the context on both sides)
        model_len = StreamingResampler(reader.sample_rate, reader.sample_rate, reader.channels, n_model)
        to_out = StreamingResampler(reader.sample_rate, out_rate, reader.channels, length)
        for audio in decode_codes(codec, reader.chunks()):
            yield to_out.push(model_len.push(audio))
        yield to_out.push(model_len.push(np.zeros((reader.channels, 0), np.float32), last=True), last=True)

    return info, blocks()


def decompress_from_file(f: BinaryIO, model: str | None = None, sample_rate: int | None = None,
                         postfilter: bool = False) -> tuple[np.ndarray, int]:
    """Decode a .nac stream to ((C, T) float32 audio, rate); T is exact for the original rate."""
    info, blocks = decompress_blocks(f, model, sample_rate, postfilter=postfilter)
    audio = np.concatenate([np.zeros((info["channels"], 0), np.float32), *blocks], axis=1)
    return audio, info["sample_rate"]


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
    stream_gains = (m.get("band_gains") or {}).get("levels", 0)
    if stream_gains != codec.cfg.gain_levels_for(reader.n_q):
        problems.append(f"{stream_gains} band-gain levels (model: {codec.cfg.gain_levels_for(reader.n_q)} at n_q {reader.n_q})")
    if problems:
        raise ModelMismatchError(f"{m['model']} cannot decode this stream: " + "; ".join(problems))


def compress(audio: np.ndarray, sr: int, kbps: float = 6.0, model: str = DEFAULT_CODEC,
             frames_per_chunk: int = FRAMES_PER_CHUNK, entropy: str = "auto") -> bytes:
    buf = io.BytesIO()
    compress_to_file(audio, sr, buf, kbps, model, frames_per_chunk, entropy)
    return buf.getvalue()


def decompress(data: bytes, model: str | None = None, postfilter: bool = False) -> tuple[np.ndarray, int]:
    return decompress_from_file(io.BytesIO(data), model, postfilter=postfilter)
