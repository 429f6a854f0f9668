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

from .audio import fit_length, resample
from .checkpoint import float_state
from .chunking import context_windows
from .modules import ConvNeXtStack, ISTFTHead, STFTFeatures


@dataclass
class RestoreConfig:
    sample_rate: int = 16000
    hop: int = 160
    n_fft: int = 640
    dim: int = 256
    depth: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


class Restorer(nn.Module):
    def __init__(self, cfg: RestoreConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or RestoreConfig()
        self.features = STFTFeatures(cfg.n_fft, cfg.hop)
        self.proj_in = nn.Conv1d(self.features.channels, cfg.dim, 1)
        self.blocks = ConvNeXtStack(cfg.dim, cfg.depth)
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = ISTFTHead(cfg.dim, cfg.n_fft, cfg.hop)
        nn.init.zeros_(self.head.proj.weight)
        with torch.no_grad():  # log-magnitude starts very negative: the correction starts at ~0
            self.head.proj.bias.zero_()
            self.head.proj.bias[: self.head.bins] = -12.0
        self.receptive_field = self.blocks.receptive_field + math.ceil(cfg.n_fft / cfg.hop)  # STFT frames

    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T); T is padded to a multiple of hop internally."""
        n = wav.shape[-1]
        pad = (-n) % self.cfg.hop
        x = torch.nn.functional.pad(wav, (0, pad))
        h = self.blocks(self.proj_in(self.features(x)))
        correction = self.head(self.norm(h.transpose(1, 2)).transpose(1, 2))
        return (x + correction)[..., :n]

    @torch.no_grad()
    def restore(self, audio: np.ndarray, chunk_seconds: float = 10.0) -> np.ndarray:
        """(C, T) audio at `sample_rate` -> restored (C, T), in overlapped chunks.

        Each chunk is processed with `receptive_field` frames of real context on both sides and
        only its centre is kept, so the result matches whole-file processing (no seams).
        """
        hop = self.cfg.hop
        ctx = self.receptive_field * hop
        chunk = max(hop, int(chunk_seconds * self.sample_rate) // hop * hop)
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        total = x.shape[-1]
        padded_total = total + (-total) % hop
        x = torch.nn.functional.pad(x, (0, padded_total - total))
        out = [self(x[:, w0:w1])[:, c0 - w0:c1 - w0] for w0, w1, c0, c1 in context_windows(padded_total, chunk, ctx)]
        return torch.cat(out, -1)[:, :total].numpy()


_CACHE: dict[str, Restorer] = {}


def load_restorer(name: str) -> Restorer:
    """A restoration model from the registry (or a checkpoint path), eval mode, float32."""
    from .registry import load_checkpoint

    if name not in _CACHE:
        ckpt, _ = load_checkpoint(name)
        if ckpt.get("kind") != "restore":
            raise ValueError(f"{name} is not a restoration model")
        model = Restorer(RestoreConfig(**ckpt["config"]))
        model.load_state_dict(float_state(ckpt["model"]))
        _CACHE[name] = model.eval()
    return _CACHE[name]


def pick_restorer(audio: np.ndarray, sr: int, content: str = "auto", model: str | None = None) -> Restorer:
    """The explicit `model`, else the default model for `content` (auto: guessed from the audio)."""
    from .content import is_speech
    from .registry import DEFAULT_RESTORE

    if model is None:
        if content == "auto":
            content = "speech" if is_speech(audio, sr) else "music"
        model = DEFAULT_RESTORE[content]
    return load_restorer(model)


def postfilter(audio: np.ndarray, sr: int, model: Restorer, out_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Restore (C, T) audio at any rate; returns (audio, rate).

    The default output rate is the higher of the input's and the model's. Content the input has
    above the model's band (a 48 kHz file through a 16 kHz model) is passed through unchanged,
    so restoring never narrows the bandwidth.
    """
    out_rate = out_rate or max(sr, model.sample_rate)
    at_model = resample(audio, sr, model.sample_rate)
    restored = resample(model.restore(at_model), model.sample_rate, out_rate)
    n_out = round(audio.shape[1] * out_rate / sr)
    restored = fit_length(restored, n_out)
    if sr > model.sample_rate:
        above = audio - fit_length(resample(at_model, model.sample_rate, sr), audio.shape[1])
        restored = restored + fit_length(resample(above, sr, out_rate), n_out)
    return restored.astype(np.float32), out_rate


def restore_audio(audio: np.ndarray, sr: int, content: str = "auto", model: str | None = None,
                  out_rate: int | None = None) -> tuple[np.ndarray, int]:
    """What `nac restore` does to (C, T) audio: pick the model, then `postfilter`."""
    return postfilter(audio, sr, pick_restorer(audio, sr, content, model), out_rate)
