"""Checkpoint files: a version, the model's dataclass config and its weights, in one torch file.

Training checkpoints also carry optimiser state; shipped checkpoints (see `export`) are stripped
to inference weights in fp16, which halves the size and loses nothing audible.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from .io.audio import atomic_output

CHECKPOINT_VERSION = 1
# EMA statistics only matter while training the codebooks.
TRAINING_ONLY_SUFFIXES = ("embed_avg", "cluster_size", "initted", "batch_mean", "batch_variance")


class CheckpointError(Exception):
    pass


def save(path: str | os.PathLike, payload: dict) -> None:
    with atomic_output(path) as tmp:
        torch.save({"version": CHECKPOINT_VERSION, **payload}, tmp)


def load(path: str | os.PathLike) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a NAC checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint version {ckpt.get('version') if isinstance(ckpt, dict) else '?'}")
    return ckpt


def inference_weights(ckpt: dict) -> dict[str, torch.Tensor]:
    """The weights to decode with: a training checkpoint's averaged weights (`ema`, what dev
    measured) when it has them, else its live ones; exported files hold only those."""
    return ckpt.get("ema", ckpt["model"])


def inference_state(state: dict[str, torch.Tensor], half: bool = True) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        if key.endswith(TRAINING_ONLY_SUFFIXES):
            continue
        out[key] = value.half() if half and value.is_floating_point() else value
    return out


def float_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Stored (possibly fp16) weights as float32 for inference or further training."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export(src: str | os.PathLike, dst: str | os.PathLike, name: str) -> str:
    """Write an inference-only fp16 checkpoint; return its sha256 (for the registry)."""
    ckpt = load(src)
    extra = {k: ckpt[k] for k in ("codec_config",) if k in ckpt}  # a latent restorer's codec architecture
    save(dst, {"name": name, "kind": ckpt.get("kind", "codec"), "config": ckpt["config"], **extra,
               "step": ckpt.get("step"), "model": inference_state(inference_weights(ckpt))})
    return sha256(Path(dst))
