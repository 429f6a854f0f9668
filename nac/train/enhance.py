"""Enhancer training: `nac train-enhancer --config C --data DATA --out RUN [--resume]`.

DATA is the shared data folder (train/speech, train/music, noise, dev/speech). A data worker
process draws a damage chain per excerpt (`damage.py`) while the main process trains: on two
cores the two run side by side. The loss is DeepFilterNet's: compressed magnitudes (|X|^0.3)
and compressed complex spectra, in the enhancer's own STFT. Every `dev_every` steps the dev
set (`enhance_dev.py`) is scored with PESQ, with the weights' moving average (what ships), and
written to dev.csv; latest.pt resumes the run.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .. import checkpoint
from ..restore.enhancer import Enhancer, EnhancerConfig
from .ema import WeightEMA
from .precision import use_bf16
from .trainer import _csv_appender


@dataclass
class EnhanceTrainConfig:
    steps: int = 100000
    batch_size: int = 16
    segment_seconds: float = 2.0
    lr: float = 1e-3
    min_lr: float = 5e-5
    warmup_steps: int = 500
    grad_clip: float = 1.0
    weight_decay: float = 1e-4
    complex_weight: float = 0.3
    log_every: int = 50
    ckpt_every: int = 500
    dev_every: int = 2000
    dev_files: int = 12
    rirs: int = 150
    nac_pool_clips: int = 100
    threads: int = 1
    seed: int = 0
    bf16: bool = True
    # weight averaging: the live weights swing with the still-large learning rate; dev and
    # export use the average of the last ~1 / (1 - decay) steps (0: off)
    ema_decay: float = 0.999


def load_config(path) -> tuple[EnhancerConfig, EnhanceTrainConfig]:
    raw = json.loads(Path(path).read_text()) if path else {}
    parts = []
    for cls, values in ((EnhancerConfig, raw.get("model", {})), (EnhanceTrainConfig, raw.get("train", {}))):
        bad = set(values) - {f.name for f in fields(cls)}
        if bad:
            raise ValueError(f"{path}: unknown {cls.__name__} keys {sorted(bad)}")
        parts.append(cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}))
    return parts[0], parts[1]


def lr_at(step: int, cfg: EnhanceTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + np.cos(np.pi * frac))


def spectral_loss(out: torch.Tensor, target: torch.Tensor, complex_weight: float, c: float = 0.3):
    """Compressed magnitude + compressed complex MSE (DeepFilterNet's loss): quiet bins count."""
    mag_o, mag_t = out.abs().clamp_min(1e-8), target.abs().clamp_min(1e-8)
    comp_o, comp_t = mag_o ** c, mag_t ** c
    magnitude = torch.mean((comp_o - comp_t) ** 2)
    cplx = torch.mean(torch.abs(out * (comp_o / mag_o) - target * (comp_t / mag_t)) ** 2)
    return magnitude + complex_weight * cplx, {"magnitude": float(magnitude.detach()), "complex": float(cplx.detach())}


def train_enhancer(config: str | None, data: str, out: str, resume: bool = False, progress: bool = True) -> Path:
    from .enhance_data import DamagedSpeech, build_nac_pool
    from .enhance_dev import DevSet

    from .restore import open_run

    model_cfg, cfg = load_config(config)
    out_dir, latest = open_run(out, resume, cfg)
    model = Enhancer(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    if latest.exists():
        ckpt = checkpoint.load(latest)
        model.load_state_dict(ckpt["model"])
        if "optimizer" in ckpt:
            opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
    ema = WeightEMA(model, cfg.ema_decay) if cfg.ema_decay else None
    if ema is not None and latest.exists() and "ema" in ckpt:
        ema.load_state_dict(ckpt["ema"])  # (a run from before averaging starts it from its weights)
    bf16 = use_bf16(cfg.bf16)
    print(f"enhancer: {sum(p.numel() for p in model.parameters())} parameters, step {step}, "
          f"{'bf16 autocast' if bf16 else 'fp32'}", flush=True)
    pool = build_nac_pool(Path(data), model_cfg.sample_rate, cfg.nac_pool_clips, out_dir / "nac_pool.pt")
    dataset = DamagedSpeech(Path(data), model_cfg.sample_rate, cfg, pool, seed=cfg.seed + step)
    batches = iter(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=1, prefetch_factor=4))
    dev = DevSet(Path(data), model_cfg.sample_rate, cfg.dev_files)
    writer = log_file = dev_writer = dev_file = None
    t0, s0 = time.time(), step
    while step < cfg.steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        degraded, clean = next(batches)
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            spec_in = model.front.frames(degraded)
            enhanced, _ = model(spec_in)
        loss, parts = spectral_loss(enhanced.to(torch.complex64), model.front.frames(clean), cfg.complex_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if ema is not None:
            ema.update()
        step += 1
        if step % cfg.log_every == 0:
            row = {"step": step, "loss": float(loss), **parts, "lr": lr_at(step, cfg),
                   "steps_per_s": (step - s0) / (time.time() - t0)}
            if writer is None:
                writer, log_file = _csv_appender(out_dir / "metrics.csv", list(row))
            writer.writerow(row)
            log_file.flush()
            if progress:
                print(" ".join(f"{k}={v:.4g}" for k, v in row.items()), flush=True)
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            payload = {"kind": "enhancer", "config": model_cfg.to_dict(), "train_config": asdict(cfg),
                       "step": step, "model": model.state_dict(), "optimizer": opt.state_dict()}
            if ema is not None:
                payload["ema"] = ema.state_dict()
            checkpoint.save(latest, payload)
        if step % cfg.dev_every == 0 or step == cfg.steps:
            with (ema.averaged() if ema is not None else contextlib.nullcontext(model)) as evaluated:
                rows = dev.score(evaluated.eval(), step)
            if dev_writer is None:
                dev_writer, dev_file = _csv_appender(out_dir / "dev.csv", list(rows[0]))
            for row in rows:
                dev_writer.writerow(row)
            dev_file.flush()
            print("dev " + " ".join(f"{r['condition']}={r['pesq_out'] - r['pesq_in']:+.3f}" for r in rows), flush=True)
    return latest
