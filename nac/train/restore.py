"""Restoration training: `nac train-restore --config CONFIG --data DIR ... --out RUN_DIR`.

Pairs are made once at start-up: `pairs_seconds` of random excerpts from the data, each passed
through one randomly drawn real degradation (libopus, LAME, AAC, band limits, phone simulation,
clean), sample-aligned. Encoding with real codecs on every step would cost more than the model's
own step on a 2-core machine. Training then draws random aligned crops from those pairs.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import checkpoint
from ..io.sources import measure_bandwidth
from ..restore.restorer import RestoreConfig, Restorer
from .data import load_corpus
from .degrade import training_mix
from .losses import MultiResolutionSTFTLoss
from .trainer import OptimConfig, _csv_appender, lr_at, reconstruction_loss


@dataclass
class RestoreTrainConfig(OptimConfig):
    steps: int = 3000
    warmup_steps: int = 200
    ckpt_every: int = 250
    pairs_seconds: float = 1200.0  # total duration of degraded excerpts made at start-up
    excerpt_seconds: float = 4.0
    with_nac: bool = False  # also learn to clean NAC's own decoded output (needs nac-16k)


def load_restore_config(path) -> tuple[RestoreConfig, RestoreTrainConfig]:
    raw = json.loads(Path(path).read_text()) if path else {}
    model = raw.get("model", {})
    train = raw.get("train", {})
    for cls, values in ((RestoreConfig, model), (RestoreTrainConfig, train)):
        bad = set(values) - {f.name for f in fields(cls)}
        if bad:
            raise ValueError(f"{path}: unknown {cls.__name__} keys {sorted(bad)}")
    return RestoreConfig(**model), RestoreTrainConfig(**train)


def make_pairs(corpora: list[list[np.ndarray]], sr: int, cfg: RestoreTrainConfig, noise: list[np.ndarray],
               progress: bool = True) -> list[tuple[np.ndarray, np.ndarray, str, float]]:
    rng = np.random.default_rng(cfg.seed)
    mix = training_mix(sr, noise, with_nac=cfg.with_nac)
    n = max(1, int(cfg.pairs_seconds / cfg.excerpt_seconds))
    length = int(cfg.excerpt_seconds * sr)
    clips = [c for corpus in corpora for c in corpus]
    if not clips:
        raise ValueError("no training audio found in the --data folders")
    pairs = []
    for _ in tqdm(range(n), desc="degrading", disable=not progress, leave=False):
        clip = clips[rng.integers(len(clips))]
        start = rng.integers(0, max(1, len(clip) - length + 1))
        clean = np.pad(clip[start:start + length], (0, max(0, length - len(clip[start:]))))
        clean = (clean / max(np.abs(clean).max(), 1e-4) * 10 ** (rng.uniform(-12, -1) / 20)).astype(np.float32)
        deg = mix[rng.integers(len(mix))]
        degraded = deg.apply(clean, sr, rng).astype(np.float32)
        # the bandwidth that `nac restore` will measure on such input, for bounded models
        pairs.append((degraded, clean, deg.name, measure_bandwidth(degraded, sr)))
    return pairs


def open_run(out: str, resume: bool, cfg: OptimConfig) -> tuple[Path, Path]:
    """The run folder and its latest.pt (which must not be overwritten without --resume); threads
    and seed set from `cfg`."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    latest = out_dir / "latest.pt"
    if latest.exists() and not resume:
        raise FileExistsError(f"{out_dir} already holds a checkpoint: pass --resume to continue it")
    torch.manual_seed(cfg.seed)
    return out_dir, latest


def train_restore(config: str | None, data: list[str], out: str, noise: str | None = None,
                  resume: bool = False, progress: bool = True) -> Path:
    model_cfg, cfg = load_restore_config(config)
    out_dir, latest = open_run(out, resume, cfg)
    model = Restorer(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.8, 0.99), weight_decay=cfg.weight_decay)
    step = 0
    if latest.exists():
        ckpt = checkpoint.load(latest)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
    sr = model_cfg.sample_rate
    corpora = [load_corpus(d, sr, progress=progress) for d in data]
    noise_clips = load_corpus(noise, sr, progress=progress) if noise else []
    pairs = make_pairs(corpora, sr, cfg, noise_clips, progress)
    loss_fn = MultiResolutionSTFTLoss(sr)
    rng = np.random.default_rng(cfg.seed + step)
    seg = int(cfg.segment_seconds * sr)
    log_path = out_dir / "metrics.csv"
    writer, log_file = None, None
    bar = tqdm(total=cfg.steps, initial=step, desc="train-restore", disable=not progress)
    t0, s0 = time.time(), step
    while step < cfg.steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        idx = rng.integers(len(pairs), size=cfg.batch_size)
        starts = [rng.integers(0, len(pairs[i][1]) - seg + 1) for i in idx]
        deg = torch.from_numpy(np.stack([pairs[i][0][s:s + seg] for i, s in zip(idx, starts)]))
        clean = torch.from_numpy(np.stack([pairs[i][1][s:s + seg] for i, s in zip(idx, starts)]))
        cutoff = torch.tensor([pairs[i][3] for i in idx], dtype=torch.float32)
        model.train()
        total, losses = reconstruction_loss(loss_fn, model(deg, cutoff), clean, cfg)
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0:
            row = {k: float(v.detach()) for k, v in losses.items()}
            row.update(step=step, total=float(total.detach()), lr=lr_at(step, cfg),
                       steps_per_s=(step - s0) / (time.time() - t0))
            if writer is None:
                writer, log_file = _csv_appender(log_path, list(row))
            writer.writerow(row)
            log_file.flush()
            bar.set_postfix(mel=f"{row['mel']:.3f}")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            checkpoint.save(latest, {"kind": "restore", "config": model_cfg.to_dict(), "train_config": asdict(cfg),
                                     "step": step, "model": model.state_dict(), "optimizer": opt.state_dict()})
    bar.close()
    if log_file:
        log_file.close()
    return latest
