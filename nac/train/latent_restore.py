"""Training a restorer into the codec's latent space (`nac/restore/latent.py`):
`nac train-restore --config configs/restore-latent-speech-16k.json --data DIR --noise DIR --out RUN`.

Stage 1: latent regression. The codec (encoder, codebooks, decoder) is frozen; a copy of its
encoder, the restorer, learns to map degraded audio to the latents the frozen encoder gives the
clean audio. No decoder runs, so a step costs two encoder passes.
Stage 2 (`output_weight` > 0): the same, plus the codec's own output losses (log-mel,
log-magnitude, spectral convergence, compressed magnitude against the clean audio's STFT) on what
the frozen decoder renders from the restored latents: the latents that decode best, not only the
ones nearest the clean encoder's (which the decoder, trained on quantized latents, renders as
well as it renders anything).
Pairs are made once at start-up with the real codecs (`restore.make_pairs`), as for the
post-filters.
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import checkpoint
from ..codec.model import CodecConfig, NacCodec
from ..registry import load_checkpoint
from ..restore.latent import LatentRestoreConfig, LatentRestorer
from .data import load_corpus
from .restore import RestoreTrainConfig, make_pairs, open_run
from .losses import MagnitudeLoss
from .precision import use_bf16
from .trainer import _append_dev, _csv_appender, lr_at, magnitude_loss


@dataclass
class LatentTrainConfig(RestoreTrainConfig):
    bf16: bool = True
    dev_pairs_seconds: float = 240.0  # degraded excerpts of the --dev folder, scored per condition
    eval_every: int = 500
    output_weight: float = 0.0  # stage 2: weight of the decoder-output losses (0: latent regression only)


def load_latent_config(path) -> tuple[LatentRestoreConfig, LatentTrainConfig]:
    raw = json.loads(Path(path).read_text())
    values = {"model": raw.get("model", {}), "train": raw.get("train", {})}
    for cls, key in ((LatentRestoreConfig, "model"), (LatentTrainConfig, "train")):
        bad = set(values[key]) - {f.name for f in fields(cls)}
        if bad:
            raise ValueError(f"{path}: unknown {cls.__name__} keys {sorted(bad)}")
    return LatentRestoreConfig(**values["model"]), LatentTrainConfig(**values["train"])


def is_latent_config(path) -> bool:
    return bool(path) and json.loads(Path(path).read_text()).get("kind") == "restore-latent"


def frozen_codec(name: str) -> tuple[NacCodec, CodecConfig, str]:
    ckpt, digest = load_checkpoint(name)
    cfg = CodecConfig(**ckpt["config"])
    codec = NacCodec(cfg, inference=True)
    state = checkpoint.float_state(checkpoint.inference_weights(ckpt))
    codec.load_state_dict({k: v for k, v in state.items() if not k.endswith(checkpoint.TRAINING_ONLY_SUFFIXES)})
    return codec.eval().requires_grad_(False), cfg, digest


def _batch(pairs, idx, starts, seg):
    deg = torch.from_numpy(np.stack([pairs[i][0][s:s + seg] for i, s in zip(idx, starts)]))
    clean = torch.from_numpy(np.stack([pairs[i][1][s:s + seg] for i, s in zip(idx, starts)]))
    return deg, clean


@torch.no_grad()
def dev_losses(restorer: LatentRestorer, codec: NacCodec, pairs) -> dict[str, float]:
    """Latent MSE per condition on the dev pairs (and `identity_*`: the codec's own encoder on
    the degraded input, i.e. what restoring gains over not restoring)."""
    restorer.eval()
    per = defaultdict(list)
    for degraded, clean, name, _ in pairs:
        target = codec.encoder(torch.from_numpy(clean)[None])
        d = torch.from_numpy(degraded)[None]
        per[name].append(float((restorer(d) - target).square().mean()))
        per["identity_" + name].append(float((codec.encoder(d) - target).square().mean()))
    return {f"dev_{k}": float(np.mean(v)) for k, v in sorted(per.items())}


def train_latent_restore(config: str, data: list[str], out: str, noise: str | None = None,
                         dev: str | None = None, resume: bool = False, progress: bool = True) -> Path:
    model_cfg, cfg = load_latent_config(config)
    out_dir, latest = open_run(out, resume, cfg)
    codec, codec_cfg, digest = frozen_codec(model_cfg.codec)
    model_cfg.codec_sha256 = digest
    restorer = LatentRestorer(model_cfg, codec_cfg)
    restorer.encoder.load_state_dict(codec.encoder.state_dict())  # warm start: the clean encoder
    opt = torch.optim.AdamW(restorer.parameters(), lr=cfg.lr, betas=(0.8, 0.99), weight_decay=cfg.weight_decay)
    step = 0
    if latest.exists():
        ckpt = checkpoint.load(latest)
        if ckpt["config"]["codec_sha256"] != digest:
            raise ValueError(f"{latest} was trained against another {model_cfg.codec}: start a new run")
        restorer.load_state_dict(ckpt["model"])
        if not ckpt.get("fresh_optimizer"):  # carried across sessions without its moments
            opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
    sr = codec_cfg.sample_rate
    noise_clips = load_corpus(noise, sr, progress=progress) if noise else []
    pairs = make_pairs([load_corpus(d, sr, progress=progress) for d in data], sr, cfg, noise_clips, progress)
    dev_pairs = (make_pairs([load_corpus(dev, sr, progress=progress)], sr,
                            dataclasses.replace(cfg, pairs_seconds=cfg.dev_pairs_seconds, seed=cfg.seed + 1),
                            noise_clips, progress)
                 if dev else [])
    rng = np.random.default_rng(cfg.seed + step)
    seg = int(cfg.segment_seconds * sr) // codec_cfg.hop * codec_cfg.hop
    mag_loss = MagnitudeLoss(sr, codec_cfg.n_fft)
    bf16 = use_bf16(cfg.bf16)
    writer = log_file = None
    bar = tqdm(total=cfg.steps, initial=step, desc="train-restore (latent)", disable=not progress)
    t0, s0 = time.time(), step
    while step < cfg.steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        idx = rng.integers(len(pairs), size=cfg.batch_size)
        deg, clean = _batch(pairs, idx, [rng.integers(0, len(pairs[i][1]) - seg + 1) for i in idx], seg)
        restorer.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            with torch.no_grad():
                target = codec.encoder(clean).float()
            pred = restorer(deg).float()
            loss = (pred - target).square().mean() + 0.5 * (pred - target).abs().mean()
            if cfg.output_weight:
                with torch.no_grad():
                    clean_mag = codec.decoder.head.stft(clean).abs()
                rendered = codec.decoder.magnitude(pred).float()
                loss = loss + cfg.output_weight * magnitude_loss(mag_loss, rendered, clean_mag, cfg)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(restorer.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0:
            row = {"step": step, "latent": float(loss.detach()), "lr": lr_at(step, cfg),
                   "steps_per_s": (step - s0) / (time.time() - t0)}
            if dev_pairs and step % cfg.eval_every == 0:
                _append_dev(out_dir / "dev.csv", step, dev_losses(restorer, codec, dev_pairs))
            if writer is None:
                writer, log_file = _csv_appender(out_dir / "metrics.csv", list(row))
            writer.writerow(row)
            log_file.flush()
            bar.set_postfix(latent=f"{row['latent']:.4f}")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            checkpoint.save(latest, {"kind": "restore-latent", "config": model_cfg.to_dict(),
                                     "codec_config": codec_cfg.to_dict(), "train_config": asdict(cfg),
                                     "step": step, "model": restorer.state_dict(), "optimizer": opt.state_dict()})
    bar.close()
    if log_file:
        log_file.close()
    return latest
