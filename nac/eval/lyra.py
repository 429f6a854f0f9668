"""Lyra v2 (google/lyra 1.3.2, Apache-2.0) as a benchmark anchor: SoundStream encoder, residual
VQ and LyraGAN decoder, run through TFLite exactly as the released C++ calls them.

The models are not shipped with NAC: benchmarks read them from `../shared/anchors/lyra-v2`
(or `$NAC_LYRA_DIR`). 16 kHz mono, one 320-sample hop (20 ms) per packet; the encoder and the
decoder are stateful, so each signal gets fresh interpreters and is fed hop after hop; decoded
hop k lines up with input hop k (no delay to remove). 3.2 / 6 / 9.2 kbps = 16 / 30 / 46
quantizers of 4 bits per packet.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SAMPLE_RATE, HOP = 16000, 320
QUANTIZERS = {3.2: 16, 6.0: 30, 9.2: 46}


def model_dir() -> Path:
    default = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "lyra-v2"
    return Path(os.environ.get("NAC_LYRA_DIR", default))


def available() -> bool:
    return all((model_dir() / f).is_file() for f in ("soundstream_encoder.tflite", "quantizer.tflite",
                                                       "lyragan.tflite"))


def _interpreter(name: str):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(model_dir() / name), num_threads=1)


def roundtrip(audio: np.ndarray, sr: int, kbps: float) -> tuple[np.ndarray, float]:
    """Mono (T,) audio at `sr` -> (Lyra-decoded audio at `sr`, same length; kbps spent)."""
    from ..io.audio import fit_length, resample

    if kbps not in QUANTIZERS:
        raise ValueError(f"Lyra v2 runs at {', '.join(f'{k:g}' for k in QUANTIZERS)} kbps, not {kbps:g}")
    if not available():
        raise FileNotFoundError(f"Lyra v2 models not found in {model_dir()} (set NAC_LYRA_DIR)")
    x = resample(np.asarray(audio, np.float32)[None], sr, SAMPLE_RATE)[0]
    n = len(x)
    x = np.pad(x, (0, (-n) % HOP))
    x = np.round(np.clip(x, -1, 1) * 32767) / 32768  # the C++ feeds int16 samples / 32768
    encoder = _interpreter("soundstream_encoder.tflite").get_signature_runner()
    quantizer = _interpreter("quantizer.tflite")
    encode, decode = quantizer.get_signature_runner("encode"), quantizer.get_signature_runner("decode")
    decoder = _interpreter("lyragan.tflite").get_signature_runner()
    num_q = np.array(QUANTIZERS[kbps], dtype=np.int32)
    out = []
    for start in range(0, len(x), HOP):
        features = encoder(input_audio=x[None, start:start + HOP].astype(np.float32))["output_0"]
        indices = encode(input_frames=features, num_quantizers=num_q)["output_0"]
        latent = decode(encoding_indices=indices.astype(np.int32))["output_0"]
        out.append(decoder(input_audio=latent)["output_0"][0])
    y = np.clip(np.concatenate(out), -1, 1)[:n]
    y = fit_length(resample(y[None].astype(np.float32), SAMPLE_RATE, sr), len(audio))[0]
    return y, QUANTIZERS[kbps] * 4 * SAMPLE_RATE / HOP / 1000
