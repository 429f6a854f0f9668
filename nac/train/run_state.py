"""A training run's state on disk: resume a run, warm-start a new one, save its checkpoint.

`latest.pt` carries everything a resume needs (weights, optimisers, the discriminator, the EMA,
the step and where the current optimiser started); exported inference checkpoints carry weights
only, which is all a warm start takes.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from .. import checkpoint
from .adversary import Adversary
from .ema import WeightEMA


def resume(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
           adversary: Adversary | None, ema_decay: float) -> tuple[int, int, WeightEMA | None, bool]:
    """Load `path` into the run: (step, start step, EMA or None, whether the discriminator resumed)."""
    ckpt = checkpoint.load(path)
    model.load_state_dict(ckpt["model"])
    start_step = ckpt.get("start_step", 0)
    if ckpt.get("fresh_optimizer"):  # state carried across sessions without its moments
        start_step = ckpt["step"]  # (scripts/campaign_state.py): a new warm-up from here
    else:
        opt.load_state_dict(ckpt["optimizer"])
    disc_resumed = adversary.load_state_dict(ckpt) if adversary is not None else False
    ema = None
    if ema_decay:
        ema = WeightEMA(model, ema_decay)
        ema.load_state_dict(checkpoint.inference_weights(ckpt))
    return ckpt["step"], start_step, ema, disc_resumed


def warm_start(path: str, model: torch.nn.Module) -> tuple[int, list[str]]:
    """Start from an exported (inference-only) or training checkpoint: its weights and codebooks,
    a fresh optimiser. Returns (its step, the names of tensors this model adds, left at their init).

    Exported files drop the codebooks' EMA statistics; each code restarts as a cluster of one use
    per step centred on itself, which keeps it alive (above the dead-code threshold) and lets the
    EMA take over from there. This is how training continues across machines from the <= 20 MB
    file committed in the repository.
    """
    ckpt = checkpoint.load(path)
    state = checkpoint.float_state(checkpoint.inference_weights(ckpt))
    for key in [k for k in state if k.endswith("._codebook.embed")]:
        prefix = key[: -len("embed")]
        state.setdefault(prefix + "embed_avg", state[key].clone())
        state.setdefault(prefix + "cluster_size", torch.ones(state[key].shape[:2]))
        state.setdefault(prefix + "initted", torch.tensor(True))
    # A model that adds layers (pitch conditioning: zero-initialised) or drops a code level
    # (the one a pitch-aware model spends on f0) starts from what the two share.
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in state and not k.endswith(checkpoint.TRAINING_ONLY_SUFFIXES)]
    if any(".pitch." not in k for k in missing):
        raise ValueError(f"{path} does not fit this model: missing {missing[:3]}")
    model.load_state_dict(state, strict=False)
    return int(ckpt.get("step") or 0), missing


def save(path: Path, trainer) -> None:
    payload = {"kind": "codec", "config": trainer.model_cfg.to_dict(), "train_config": asdict(trainer.cfg),
               "step": trainer.step, "start_step": trainer.start_step, "model": trainer.model.state_dict(),
               "optimizer": trainer.opt.state_dict()}
    if trainer.adversary is not None:
        payload.update(trainer.adversary.state_dict())
    if trainer.ema is not None:
        payload["ema"] = trainer.ema.state_dict()
    checkpoint.save(path, payload)
