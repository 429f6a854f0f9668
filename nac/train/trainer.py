"""Codec training: `nac train --config CONFIG --data DIR [--data DIR ...] --out RUN_DIR`.

Single process or `torchrun --nproc_per_node N -m nac train ...` (DDP over gloo on CPU).
Codebook EMA statistics are all-reduced by vector-quantize-pytorch itself, so DDP must not also
broadcast buffers from rank 0 (that double sync is what hangs other projects).
"""
from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import random
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from ..codec.model import CodecConfig, NacCodec
from ..codec.quantization import QuantizerOutput
from ..io.audio import atomic_output
from . import run_state
from .adversary import Adversary
from .data import CropSampler, PitchTracks, load_corpus
from .dev_set import DevSet
from .discriminators import build_discriminator
from .ema import WeightEMA
from .losses import MagnitudeLoss, MultiResolutionSTFTLoss, phase_derivative_loss, waveform_l1
from .precision import use_bf16


@dataclass
class OptimConfig:
    """Optimiser, schedule and reconstruction-loss settings shared by every NAC model."""

    steps: int = 20000
    batch_size: int = 16
    segment_seconds: float = 1.0
    lr: float = 1e-3
    lr_min: float = 1e-4
    warmup_steps: int = 300
    weight_decay: float = 1e-2
    grad_clip: float = 1.0
    ema_decay: float = 0.0  # > 0: evaluate and ship an exponential moving average of the weights
    mel_weight: float = 2.0
    logmag_weight: float = 1.0
    complex_weight: float = 2.0
    wave_weight: float = 5.0
    compressed_weight: float = 0.0  # |X|^0.3 magnitude L1 (Griffin-Lim decoder only)
    phase_weight: float = 0.0  # phase-derivative loss (instantaneous frequency + group delay)
    seed: int = 0
    log_every: int = 50
    ckpt_every: int = 500
    threads: int = 0  # torch threads per process; 0 = torch's default


@dataclass
class TrainConfig(OptimConfig):
    commit_weight: float = 1.0
    gan_start_step: int | None = None  # None: no adversarial training
    adv_weight: float = 1.0
    fm_weight: float = 2.0
    data_weights: list[float] = field(default_factory=list)  # one per --data folder; default equal
    eval_every: int = 1000
    dev_files: int = 16
    device: str = "auto"  # "cpu", "cuda", "cuda:1", ...; auto: the GPU when torch sees one
    # "auto": magnitudes for a Griffin-Lim decoder, else multi-scale STFT; "mpd+msstft" adds
    # HiFi-GAN's multi-period discriminator (`discriminators.build_discriminator`)
    discriminators: str = "auto"
    freeze_encoder: bool = False  # decoder-only training in the shipped model's latent space
    bf16: bool = False  # autocast matmuls/convs to bfloat16 (CPU AMX, GPU tensor cores)
    dev_kbps: list[float] = field(default_factory=lambda: [6.0])


def reconstruction_loss(loss_fn: MultiResolutionSTFTLoss, pred: torch.Tensor, target: torch.Tensor,
                        cfg: OptimConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum of log-mel, log-magnitude, compressed complex STFT and waveform L1."""
    losses = loss_fn(pred, target)
    losses["wave"] = waveform_l1(pred, target)
    total = (cfg.mel_weight * losses["mel"] + cfg.logmag_weight * losses["logmag"]
             + cfg.complex_weight * losses["complex"] + cfg.wave_weight * losses["wave"])
    if cfg.phase_weight:
        losses.update(phase_derivative_loss(pred, target))
        total = total + cfg.phase_weight * (losses["iaf"] + losses["gd"])
    return total, losses


def magnitude_loss(loss_fn: MagnitudeLoss, pred: torch.Tensor, target: torch.Tensor,
                   cfg: OptimConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum for the Griffin-Lim decoder, trained on STFT magnitudes only (`pred`, `target`):
    log-mel, log-magnitude, spectral convergence (logged as "complex") and compressed magnitude."""
    losses = loss_fn(pred, target)
    total = (cfg.mel_weight * losses["mel"] + cfg.logmag_weight * losses["logmag"]
             + cfg.complex_weight * losses["complex"] + cfg.compressed_weight * losses["compressed"])
    return total, losses


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The training device: "auto" takes CUDA when available; under torchrun each process takes
    the GPU of its local rank."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r}: expected cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: this torch build or machine has no CUDA")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def load_config(path: str | os.PathLike | None) -> tuple[CodecConfig, TrainConfig]:
    raw = json.loads(Path(path).read_text()) if path else {}
    unknown = set(raw) - {"model", "train"}
    if unknown:
        raise ValueError(f"{path}: unknown config sections {sorted(unknown)}")
    return _build(CodecConfig, raw.get("model", {}), path), _build(TrainConfig, raw.get("train", {}), path)


def _build(cls, values: dict, path):
    names = {f.name for f in fields(cls)}
    bad = set(values) - names
    if bad:
        raise ValueError(f"{path}: unknown {cls.__name__} keys {sorted(bad)}")
    return cls(**values)


def lr_at(step: int, cfg: OptimConfig, start: int = 0) -> float:
    """Linear warm-up over the first `warmup_steps` after `start`, then cosine to `lr_min` at `steps`.

    `start` is where a fresh optimiser began: 0, or the step of a warm start. Adam's first
    updates are full-size (no second-moment history yet), so a warm-started model gets the
    warm-up again instead of a jolt at the schedule's current learning rate.
    """
    if step < start + cfg.warmup_steps:
        return lr_at(start + cfg.warmup_steps, cfg) * (step - start + 1) / cfg.warmup_steps
    t = min(1.0, max(0, step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))


class Trainer:
    """The training loop. Its collaborators: `Adversary` (discriminator and its updates),
    `run_state` (resume, warm start, save), `DevSet` (the dev scores in dev.csv)."""

    def __init__(self, model_cfg: CodecConfig, cfg: TrainConfig, data: list[str], out: str | Path,
                 dev: str | None = None, progress: bool = True, resume: bool = True,
                 init: str | None = None):
        self.device = resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
        self.rank, self.world = _init_distributed(self.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.model_cfg, self.cfg, self.out = model_cfg, cfg, Path(out)
        self.is_main = self.rank == 0
        self.progress = progress and self.is_main
        seed = cfg.seed + 1000 * self.rank
        torch.manual_seed(cfg.seed)  # same initial weights on every rank
        random.seed(seed)
        self.out.mkdir(parents=True, exist_ok=True)

        # modules move before the optimisers exist, so optimiser state (and a resumed one) lives there too
        self.model = NacCodec(model_cfg).to(self.device)
        if cfg.freeze_encoder:
            # decoder-only training: the latent space (encoder + codebooks) stays the shipped
            # model's, so .nac files, code statistics and restorers trained into it stay valid
            self.model.encoder.requires_grad_(False)
            self.model.quantizer.requires_grad_(False)
        self.loss_fn = MultiResolutionSTFTLoss(model_cfg.sample_rate).to(self.device)
        self.mag_loss = MagnitudeLoss(model_cfg.sample_rate, model_cfg.n_fft).to(self.device)
        self.bf16 = use_bf16(cfg.bf16, self.device)
        self.opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=cfg.lr,
                                     betas=(0.8, 0.99), weight_decay=cfg.weight_decay)
        self.adversary = (Adversary(build_discriminator(cfg.discriminators, bool(model_cfg.griffin_lim_iters)),
                                    cfg.lr, self.device, self._wrap)
                          if cfg.gan_start_step is not None else None)
        self.step = self.start_step = 0  # start_step: where the current optimiser started
        self.ema = None
        latest = self.out / "latest.pt"
        if latest.exists() and not resume:
            raise FileExistsError(f"{self.out} already holds a checkpoint: pass --resume to continue it "
                                  "or choose another --out")
        if latest.exists():
            self.step, self.start_step, self.ema, _ = run_state.resume(latest, self.model, self.opt,
                                                                       self.adversary, cfg.ema_decay)
            self._say(f"resumed from {latest} at step {self.step}")
        elif init:
            self.step, added = run_state.warm_start(init, self.model)
            self.start_step = self.step
            self._say(f"warm start from {init} (step {self.step}, fresh optimiser"
                      + (f", {len(added)} new tensors start at zero)" if added else ")"))
        if cfg.ema_decay and self.ema is None:
            self.ema = WeightEMA(self.model, cfg.ema_decay)  # starts from the weights just loaded
        self.ddp = self._wrap(self.model)
        self.sampler, self.pitch_tracks = _sampler(model_cfg, cfg, data, self.out, self.step, seed, self.progress)
        self.dev = DevSet(dev, model_cfg.sample_rate, cfg.dev_files) if dev and self.is_main else None

    def _wrap(self, module):
        return _ddp(module, self.world, self.device)

    def _say(self, text: str) -> None:
        if self.is_main:
            print(text, flush=True)

    # --- loop ------------------------------------------------------------------------------
    def train(self, until: int | None = None) -> None:
        """Train to `cfg.steps`, or stop early at step `until` (a session's share of the schedule)."""
        cfg = self.cfg
        stop = min(cfg.steps, until) if until is not None else cfg.steps
        writer, log_file = None, None
        usage = torch.zeros(self.model.quantizer.n_q, self.model_cfg.codebook_size)  # VQ levels (pitch has none)
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, desc="train")
        t0, s0 = time.time(), self.step
        while self.step < stop:
            stats, codes = self.train_step()
            _count_codes(usage, codes)
            self.step += 1
            bar.update(1)
            if self.is_main and self.step % cfg.log_every == 0:
                dead = (usage == 0).float().mean(1)
                stats.update(step=self.step, lr=lr_at(self.step, cfg, self.start_step),
                             steps_per_s=(self.step - s0) / (time.time() - t0),
                             dead_max=dead.max().item(), dead_mean=dead.mean().item())
                if self.step % cfg.eval_every == 0 and self.dev:
                    _append_dev(self.out / "dev.csv", self.step, self.evaluate())
                if writer is None:
                    writer, log_file = _csv_appender(self.out / "metrics.csv", list(stats))
                writer.writerow(stats)
                log_file.flush()
                bar.set_postfix(mel=f"{stats['mel']:.3f}", dead=f"{stats['dead_max']:.2f}")
                usage.zero_()
            if self.is_main and (self.step % cfg.ckpt_every == 0 or self.step == stop):
                run_state.save(self.out / "latest.pt", self)
        bar.close()
        if log_file:
            log_file.close()
        if self.world > 1:
            dist.barrier()

    def train_step(self) -> tuple[dict, torch.Tensor]:
        cfg = self.cfg
        lr = lr_at(self.step, cfg, self.start_step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.model.train()
        wav = self.sampler.batch(cfg.batch_size).to(self.device, non_blocking=True)
        # bf16 autocast: matmuls and convolutions in bfloat16 (AMX on this CPU), the spectra,
        # losses and optimiser in fp32
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            pred, q = self._autoencode(wav)
            target = wav
            if self.model_cfg.griffin_lim_iters:
                with torch.no_grad():
                    target = self.model.decoder.head.stft(self.model._pad(wav)).abs()
                total, losses = magnitude_loss(self.mag_loss, pred.float(), target, cfg)
            else:
                total, losses = reconstruction_loss(self.loss_fn, pred.float(), wav, cfg)
            losses["commit"] = q.commit_loss
            total = total + cfg.commit_weight * q.commit_loss
            if self.adversary is not None and self.step >= cfg.gan_start_step:
                adv = self.adversary.losses(target, pred, lr)
                losses.update(adv)
                total = total + cfg.adv_weight * adv["adv"] + cfg.fm_weight * adv["fm"]
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        if self.ema is not None:
            self.ema.update()
        stats = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in losses.items()}
        stats["total"] = float(total.detach())
        return stats, q.codes.detach().cpu()  # for the codebook-usage counts, kept on the CPU

    def _autoencode(self, wav: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput]:
        if self.cfg.freeze_encoder:
            return decoder_only_forward(self.model, self.ddp, wav)
        if self.pitch_tracks is not None:
            frames = -(-wav.shape[-1] // self.model_cfg.hop)
            pitch_codes = self.pitch_tracks.codes(self.sampler.last_locations, frames).to(self.device)
            return self.ddp(wav, pitch_codes)
        return self.ddp(wav)

    def evaluate(self) -> dict:
        """Dev metrics of the weights that would ship (the EMA's when there is one), at each of
        `cfg.dev_kbps`; 6 kbps keeps the unsuffixed column names of earlier runs."""
        with self.ema.averaged() if self.ema is not None else contextlib.nullcontext():
            return self.dev.score_rates(self.model, self.cfg.dev_kbps, self.device)


def decoder_only_forward(model: NacCodec, decoder_call, wav: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput]:
    """Frozen encoder and codebooks: latents and codes without gradients, quantizer dropout over
    the model's bitrates (each as likely), and the decoder trained on what it will be given."""
    length = wav.shape[-1]
    with torch.no_grad():
        z = model.encoder(model._pad(wav)).float()
        n_q = model.n_q_for(random.choice(model.bitrates())) - model.pitch_levels
        with torch.autocast(wav.device.type, enabled=False):  # code choice in fp32, as at inference
            codes = model.quantizer.encode(z, n_q)
            quantized = model.quantizer.decode(codes)
    pred = model.decoder(quantized)[..., :length]
    dropped = codes.new_full((codes.shape[0], model.quantizer.n_q - n_q, codes.shape[2]), -1)
    return pred, QuantizerOutput(quantized, torch.cat([codes, dropped], 1), torch.zeros((), device=wav.device))


def _append_dev(path: Path, step: int, result: dict) -> None:
    row = {"step": step, **result}
    writer, f = _csv_appender(path, list(row))
    with f:
        writer.writerow(row)
    print(f"step {step}: " + ", ".join(f"{k}={v:.3f}" for k, v in result.items()), flush=True)


def _ddp(module, world: int, device: torch.device):
    if world == 1:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)


def _count_codes(usage: torch.Tensor, codes: torch.Tensor) -> None:
    for level in range(codes.shape[1]):
        c = codes[:, level].reshape(-1)
        c = c[c >= 0]
        usage[level] += torch.bincount(c, minlength=usage.shape[1]).float()


def _sampler(model_cfg: CodecConfig, cfg: TrainConfig, data: list[str], out: Path, step: int, seed: int,
             progress: bool) -> tuple[CropSampler, PitchTracks | None]:
    weights = cfg.data_weights or [1.0] * len(data)
    if len(weights) != len(data):
        raise ValueError(f"{len(weights)} data weights for {len(data)} --data folders")
    corpora = [load_corpus(d, model_cfg.sample_rate, progress=progress) for d in data]
    segment = int(cfg.segment_seconds * model_cfg.sample_rate)
    align = model_cfg.hop // 2 if model_cfg.pitch else 1
    sampler = CropSampler(corpora, weights, segment, seed=seed + step, align=align)
    pitch_tracks = (PitchTracks(corpora, model_cfg.sample_rate, model_cfg.hop, out / "pitch_tracks.pt",
                                progress=progress) if model_cfg.pitch else None)
    return sampler, pitch_tracks


def _csv_appender(path: Path, fields: list[str]):
    """Append rows to a CSV. A resumed run keeps the file's rows; columns it did not have yet (a
    loss term switched on in a later stage) are added to the header, earlier rows leave them empty."""
    columns = list(fields)
    if path.exists() and path.stat().st_size:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            old_columns, rows = list(reader.fieldnames or []), list(reader)
        columns = old_columns + [c for c in fields if c not in old_columns]
        if columns != old_columns:
            with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns, restval="")
                writer.writeheader()
                writer.writerows(rows)
    new = not (path.exists() and path.stat().st_size)
    log_file = open(path, "a", newline="")
    writer = csv.DictWriter(log_file, fieldnames=columns, extrasaction="ignore", restval="")
    if new:
        writer.writeheader()
    return writer, log_file


def _init_distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def run(config: str | None, data: list[str], out: str, dev: str | None = None,
        steps: int | None = None, resume: bool = True, init: str | None = None,
        until: int | None = None, device: str | None = None,
        data_weights: list[float] | None = None) -> Path:
    model_cfg, cfg = load_config(config)
    if data_weights is not None:
        cfg.data_weights = data_weights
    if steps is not None:
        cfg.steps = steps
    if device is not None:
        cfg.device = device
    Trainer(model_cfg, cfg, data, out, dev=dev, resume=resume, init=init).train(until)
    return Path(out) / "latest.pt"
