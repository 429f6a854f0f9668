"""Low-latency `nac-16k`: a causal student distilled from the shipped model.

    nac train --config configs/nac-16k-causal.json --data DIR [--data DIR ...] --dev DIR --out RUN
        [--resume]          (or: bash scripts/campaign.sh causal)

The shipped model's ConvNeXt blocks each see 3 future frames: 0.85 s of its 0.90 s streaming
look-ahead before any phase is made (reports/streaming.md). The student has the same layers with
causal kernels (`CodecConfig.lookahead = 0`), starts from the teacher's weights and keeps its
codebooks (frozen: the same bitstream, the same code statistics), and learns by regression:

- its encoder, the teacher's latents before quantization (L1, relative to their mean size), and
  (`output_weight`) the teacher decoder's rendering of its latents against the teacher's own;
- its decoder, the teacher decoder's magnitudes from the teacher's codes at a random bitrate
  (the shipped magnitude losses: log-mel, log-magnitude, spectral convergence, compressed).
`encoder_delay` lets the encoder's output wait a fixed number of code frames (20 ms each).

No discriminator: the teacher itself was regression-trained, so what the student cannot copy
is what the future frames told the teacher. The phase is made at decode time frame by frame
with a few frames of look-ahead (`nac/codec/online_phase.py`) instead of whole-file
Griffin-Lim. Dev scores (dev.csv) decode the student end to end, with that online phase.
"""
from __future__ import annotations

import contextlib
import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm import tqdm

from .. import checkpoint
from ..codec.model import CodecConfig, NacCodec
from ..registry import load_checkpoint
from .data import CropSampler, load_corpus
from .dev_set import DevSet
from .ema import WeightEMA
from .losses import MagnitudeLoss
from .precision import use_bf16
from .trainer import OptimConfig, _append_dev, _build, _csv_appender, lr_at, magnitude_loss


def frozen_codec(name: str) -> tuple[NacCodec, CodecConfig, str]:
    """A shipped codec as a frozen teacher: (model, config, the sha256 it was loaded with)."""
    ckpt, digest = load_checkpoint(name)
    cfg = CodecConfig(**ckpt["config"])
    codec = NacCodec(cfg, inference=True)
    state = checkpoint.float_state(checkpoint.inference_weights(ckpt))
    codec.load_state_dict({k: v for k, v in state.items() if not k.endswith(checkpoint.TRAINING_ONLY_SUFFIXES)})
    return codec.eval().requires_grad_(False), cfg, digest


@dataclass
class CausalDistillConfig(OptimConfig):
    teacher: str = "nac-16k"  # registry name or checkpoint path
    lookahead: int = 0  # future frames per ConvNeXt block in the student (0: causal)
    encoder_delay: int = 0  # code frames the student's encoder output waits for (CodecConfig.encoder_delay)
    online_phase_lookahead: int = 3  # STFT frames of look-ahead for the decode-time phase
    online_phase_iters: int = 8
    latent_weight: float = 10.0
    # the student's latents rendered by the frozen teacher decoder, against the teacher's own
    # rendering: latents that decode well, not only near ones (the teacher quantizes its latents
    # to 0.4 % at 6 kbps, so 5 % of latent error already moves 90 % of the level-0 codes)
    output_weight: float = 1.0
    compressed_weight: float = 20.0  # the shipped recipe's magnitude weights
    # the share of each batch whose decoder input is the student's own codes (its latents,
    # quantized at the same rate) instead of the teacher's; the target stays the teacher's
    # rendering of its own codes. At dev and in use the decoder only ever sees its own codes
    # (session 11: they cost 0.19 PESQ more through it than through the teacher's decoder).
    own_codes: float = 0.0
    data_weights: list[float] = field(default_factory=list)
    bf16: bool = True
    eval_every: int = 500
    dev_files: int = 16
    dev_kbps: list[float] = field(default_factory=lambda: [3.0, 6.0, 12.0])


def load_causal_config(path) -> CausalDistillConfig:
    raw = json.loads(Path(path).read_text()) if path else {}
    unknown = set(raw) - {"kind", "train"}
    if unknown:
        raise ValueError(f"{path}: unknown config sections {sorted(unknown)}")
    return _build(CausalDistillConfig, raw.get("train", {}), path)


class CausalDistiller:
    """The teacher (frozen), the student (encoder + decoder trained, codebooks frozen), the loop."""

    def __init__(self, cfg: CausalDistillConfig, data: list[str], out: str | Path, dev: str | None = None,
                 resume: bool = True, progress: bool = True):
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.cfg, self.out, self.progress = cfg, Path(out), progress
        self.teacher, teacher_cfg, self.teacher_sha256 = frozen_codec(cfg.teacher)
        self.model_cfg = replace(teacher_cfg, lookahead=cfg.lookahead, encoder_delay=cfg.encoder_delay,
                                 online_phase_lookahead=cfg.online_phase_lookahead,
                                 online_phase_iters=cfg.online_phase_iters)
        self.model = NacCodec(self.model_cfg, inference=True)
        self.model.load_state_dict(self.teacher.state_dict())  # same shapes: only the padding moves
        self.model.quantizer.requires_grad_(False)
        self.mag_loss = MagnitudeLoss(teacher_cfg.sample_rate, teacher_cfg.n_fft)
        self.bf16 = use_bf16(cfg.bf16)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.8, 0.99), weight_decay=cfg.weight_decay)
        self.step = self.start_step = 0  # start_step: where the current optimiser started
        latest = self.out / "latest.pt"
        if latest.exists() and not resume:
            raise FileExistsError(f"{self.out} already holds a checkpoint: pass --resume or choose another --out")
        self.out.mkdir(parents=True, exist_ok=True)
        self.ema = WeightEMA(self.model, cfg.ema_decay) if cfg.ema_decay else None
        if latest.exists():
            ckpt = checkpoint.load(latest)
            # state carried across sessions (scripts/campaign_state.py) has no optimiser moments,
            # and may lack the codebooks (the teacher's, loaded above; `load` puts them back)
            missing, _ = self.model.load_state_dict(ckpt["model"], strict=False)
            if any(not k.startswith("quantizer.") for k in missing):
                raise ValueError(f"{latest} does not fit this student: missing {missing[:3]}")
            self.step = ckpt["step"]
            if ckpt.get("fresh_optimizer"):
                self.start_step = self.step  # a new warm-up from here
            else:
                self.opt.load_state_dict(ckpt["optimizer"])
            if self.ema is not None:
                self.ema.load_state_dict(ckpt["ema"])
            print(f"resumed from {latest} at step {self.step}", flush=True)
        weights = cfg.data_weights or [1.0] * len(data)
        corpora = [load_corpus(d, teacher_cfg.sample_rate, progress=progress) for d in data]
        self.sampler = CropSampler(corpora, weights, int(cfg.segment_seconds * teacher_cfg.sample_rate),
                                   seed=cfg.seed + self.step)
        self.dev = DevSet(dev, teacher_cfg.sample_rate, cfg.dev_files) if dev else None

    def train(self, until: int | None = None) -> None:
        cfg = self.cfg
        stop = min(cfg.steps, until) if until is not None else cfg.steps
        writer = log_file = None
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, desc="distill")
        t0, s0 = time.time(), self.step
        while self.step < stop:
            stats = self.train_step()
            self.step += 1
            bar.update(1)
            if self.step % cfg.log_every == 0:
                stats.update(step=self.step, lr=lr_at(self.step, cfg, self.start_step), steps_per_s=(self.step - s0) / (time.time() - t0))
                if writer is None:
                    writer, log_file = _csv_appender(self.out / "metrics.csv", list(stats))
                writer.writerow(stats)
                log_file.flush()
                bar.set_postfix(latent=f"{stats['latent']:.3f}", mel=f"{stats['mel']:.3f}")
            if self.step % cfg.ckpt_every == 0 or self.step == stop:
                self.save(self.out / "latest.pt")
            if self.dev is not None and self.step % cfg.eval_every == 0:
                _append_dev(self.out / "dev.csv", self.step, self.evaluate())
        bar.close()
        if log_file:
            log_file.close()

    def train_step(self) -> dict:
        cfg, teacher, student = self.cfg, self.teacher, self.model
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.step, cfg, self.start_step)
        student.train()
        wav = teacher._pad(self.sampler.batch(cfg.batch_size))
        with torch.no_grad():
            latents = teacher.encoder(wav)
            n_q = teacher.n_q_for(random.choice(teacher.bitrates()))
            quantized = teacher.quantizer.decode(teacher.quantizer.encode(latents, n_q))
            target = teacher.decoder.magnitude(quantized)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            own_latents = student.encoder(wav)
        decoder_input = quantized
        if cfg.own_codes:
            with torch.no_grad():
                own = teacher.quantizer.decode(teacher.quantizer.encode(own_latents.detach().float(), n_q))
            mine = torch.rand(wav.shape[0], 1, 1) < cfg.own_codes
            decoder_input = torch.where(mine, own, quantized)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            mag = student.decoder.magnitude(decoder_input)
        latent = (own_latents.float() - latents).abs().mean() / latents.abs().mean()
        total, losses = magnitude_loss(self.mag_loss, mag.float(), target, cfg)
        total = total + cfg.latent_weight * latent
        if cfg.output_weight:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                rendered = teacher.decoder.magnitude(own_latents)  # gradients reach the student encoder only
            rendered_total, rendered_losses = magnitude_loss(self.mag_loss, rendered.float(), target, cfg)
            total = total + cfg.output_weight * rendered_total
            losses["encoder_mel"] = rendered_losses["mel"]
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
        self.opt.step()
        if self.ema is not None:
            self.ema.update()
        stats = {k: float(v.detach()) for k, v in losses.items()}
        stats.update(latent=float(latent.detach()), total=float(total.detach()))
        return stats

    def evaluate(self) -> dict:
        with self.ema.averaged() if self.ema is not None else contextlib.nullcontext():
            return self.dev.score_rates(self.model, self.cfg.dev_kbps, torch.device("cpu"))

    def save(self, path: Path) -> None:
        payload = {"kind": "codec", "config": self.model_cfg.to_dict(), "train_config": asdict(self.cfg),
                   "teacher_sha256": self.teacher_sha256, "step": self.step,
                   "model": self.model.state_dict(), "optimizer": self.opt.state_dict()}
        if self.ema is not None:
            payload["ema"] = self.ema.state_dict()
        checkpoint.save(path, payload)


def is_causal_config(path) -> bool:
    return bool(path) and json.loads(Path(path).read_text()).get("kind") == "causal-distill"


def run(config: str, data: list[str], out: str, dev: str | None = None, steps: int | None = None,
        resume: bool = False, until: int | None = None, data_weights: list[float] | None = None) -> Path:
    """`nac train --config CONFIG` for a "causal-distill" config."""
    cfg = load_causal_config(config)
    if steps:
        cfg.steps = steps
    if data_weights:
        cfg.data_weights = data_weights
    CausalDistiller(cfg, data, out, dev=dev, resume=resume).train(until)
    return Path(out) / "latest.pt"
