"""Blind restoration post-filter: degraded audio in, cleaner audio out, at the model's rate.

The network sees the STFT of its input and predicts a correction that is *added* to the input
waveform (zero-initialised output layer): an untouched input starts out untouched, and the model
only has to learn what the codec or the band limit took away, including the missing high band.
Runs at the STFT frame rate (100 Hz), so it is cheap on a CPU.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..checkpoint import float_state
from ..codec.modules import ConvNeXtStack, ISTFTHead, STFTFeatures
from ..container.chunking import context_windows
from ..io.audio import fit_length, resample


@dataclass
class RestoreConfig:
    sample_rate: int = 16000
    hop: int = 160
    n_fft: int = 640
    dim: int = 256
    depth: int = 8
    # "residual": the network's spectrum is added to the input (first models; can damage the
    # input anywhere). "bounded": below the input's measured bandwidth the output is the input's
    # own STFT times a gain limited to +-max_gain_db (its phase kept); above it, over a
    # `crossfade_hz` ramp, the network's generated spectrum. It starts as the identity.
    mode: str = "residual"
    max_gain_db: float = 6.0
    crossfade_hz: float = 400.0

    def to_dict(self) -> dict:
        return asdict(self)


class Restorer(nn.Module):
    def __init__(self, cfg: RestoreConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or RestoreConfig()
        if cfg.mode not in ("residual", "bounded"):
            raise ValueError(f"unknown restorer mode {cfg.mode!r}")
        self.bounded = cfg.mode == "bounded"
        self.features = STFTFeatures(cfg.n_fft, cfg.hop)
        # a bounded model also sees where the input's band ends (one channel, cutoff / Nyquist)
        self.proj_in = nn.Conv1d(self.features.channels + self.bounded, cfg.dim, 1)
        self.blocks = ConvNeXtStack(cfg.dim, cfg.depth)
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = ISTFTHead(cfg.dim, cfg.n_fft, cfg.hop)
        nn.init.zeros_(self.head.proj.weight)
        with torch.no_grad():  # log-magnitude starts very negative: the correction starts at ~0
            self.head.proj.bias.zero_()
            self.head.proj.bias[: self.head.bins] = -12.0
        if self.bounded:
            self.gain = nn.Linear(cfg.dim, self.head.bins)  # per-bin gain in the reliable band
            nn.init.zeros_(self.gain.weight)
            nn.init.zeros_(self.gain.bias)
            self.register_buffer("bin_hz", torch.arange(self.head.bins) * (cfg.sample_rate / cfg.n_fft),
                                 persistent=False)
        self.receptive_field = self.blocks.receptive_field + math.ceil(cfg.n_fft / cfg.hop)  # STFT frames

    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    def forward(self, wav: torch.Tensor, cutoff_hz: torch.Tensor | float | None = None) -> torch.Tensor:
        """(B, T) -> (B, T); T is padded to a multiple of hop internally. `cutoff_hz` (scalar or
        (B,)): the input's measured bandwidth, used by bounded models (default: Nyquist)."""
        n = wav.shape[-1]
        pad = (-n) % self.cfg.hop
        x = torch.nn.functional.pad(wav, (0, pad))
        feats = self.features(x)
        if not self.bounded:
            h = self.blocks(self.proj_in(feats))
            correction = self.head(self.norm(h.transpose(1, 2)).transpose(1, 2))
            return (x + correction)[..., :n]
        nyquist = self.sample_rate / 2
        cutoff = torch.as_tensor(nyquist if cutoff_hz is None else cutoff_hz, dtype=x.dtype, device=x.device)
        cutoff = cutoff.reshape(-1, 1, 1).expand(x.shape[0], 1, 1)
        band = (cutoff / nyquist).expand(-1, 1, feats.shape[-1])
        h = self.blocks(self.proj_in(torch.cat([feats, band], 1)))
        h = self.norm(h.transpose(1, 2))
        gain_db = self.cfg.max_gain_db * torch.tanh(self.gain(h)).transpose(1, 2)  # (B, bins, N)
        mag, phase = self.head.spectrum(h.transpose(1, 2))
        # 0 in the reliable band, 1 where the input has nothing: crossfade above the cutoff
        generated = ((self.bin_hz[None, :, None] - cutoff) / self.cfg.crossfade_hz).clamp(0, 1)
        spec_in = self.head.stft(x)
        spec = (1 - generated) * spec_in * torch.pow(10.0, gain_db / 20) + generated * mag * phase
        return self.head.istft(spec)[..., :n]

    @torch.no_grad()
    def restore(self, audio: np.ndarray, chunk_seconds: float = 10.0, cutoff_hz: float | None = None) -> np.ndarray:
        """(C, T) audio at `sample_rate` -> restored (C, T), in overlapped chunks.

        Each chunk is processed with `receptive_field` frames of real context on both sides and
        only its centre is kept, so the result matches whole-file processing (no seams). A
        bounded model's cutoff is measured once on the whole input unless given.
        """
        from ..io.sources import measure_bandwidth

        if self.bounded and cutoff_hz is None:
            cutoff_hz = measure_bandwidth(audio, self.sample_rate)
        hop = self.cfg.hop
        ctx = self.receptive_field * hop
        chunk = max(hop, int(chunk_seconds * self.sample_rate) // hop * hop)
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        total = x.shape[-1]
        padded_total = total + (-total) % hop
        x = torch.nn.functional.pad(x, (0, padded_total - total))
        out = [self(x[:, w0:w1], cutoff_hz)[:, c0 - w0:c1 - w0]
               for w0, w1, c0, c1 in context_windows(padded_total, chunk, ctx)]
        return torch.cat(out, -1)[:, :total].numpy()


_CACHE: dict[str, object] = {}


def load_restorer(name: str):
    """A restoration model from the registry (or a checkpoint path), eval mode, float32: the
    speech enhancer (`enhancer.Enhancer`, kind "enhancer") or a post-filter (`Restorer`, kind
    "restore"). Both have `sample_rate` and `restore(audio, cutoff_hz)`."""
    from ..registry import load_checkpoint

    if name not in _CACHE:
        ckpt, _ = load_checkpoint(name)
        if ckpt.get("kind") == "enhancer":
            from .enhancer import Enhancer, EnhancerConfig

            cfg = EnhancerConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()})
            model = Enhancer(cfg)
        elif ckpt.get("kind") == "restore":
            model = Restorer(RestoreConfig(**ckpt["config"]))
        else:
            raise ValueError(f"{name} is not a restoration model")
        model.load_state_dict(float_state(ckpt["model"]))
        _CACHE[name] = model.eval()
    return _CACHE[name]


def is_enhancer(model) -> bool:
    """The speech enhancer edits any input (noise, rooms, colouration); a post-filter
    (`Restorer`) only fills a missing band."""
    return getattr(model, "front", None) is not None


def postfilter(audio: np.ndarray, sr: int, model, out_rate: int | None = None,
               strength: float = 1.0, cutoff_hz: float | None = None) -> tuple[np.ndarray, int]:
    """Restore (C, T) audio at any rate; returns (audio, rate).

    The default output rate is the higher of the input's and the model's. Content the input has
    above the model's band (a 48 kHz file through a 16 kHz model) is passed through unchanged,
    so restoring never narrows the bandwidth. `strength` in [0, 1] scales the model's change to
    the input (0: the input, resampled if asked); `cutoff_hz` is the input's measured bandwidth.
    """
    out_rate = out_rate or max(sr, model.sample_rate)
    at_model = resample(audio, sr, model.sample_rate)
    restored = model.restore(at_model, cutoff_hz=cutoff_hz)
    if strength != 1.0:
        restored = at_model + strength * (restored - at_model)
    restored = resample(restored, model.sample_rate, out_rate)
    n_out = round(audio.shape[1] * out_rate / sr)
    restored = fit_length(restored, n_out)
    if sr > model.sample_rate:
        above = audio - fit_length(resample(at_model, model.sample_rate, sr), audio.shape[1])
        restored = restored + fit_length(resample(above, sr, out_rate), n_out)
    return restored.astype(np.float32), out_rate
