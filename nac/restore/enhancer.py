"""The speech enhancer: a causal network that edits its input's own short-time spectrum.

What it keeps, repairs and makes (the RNNoise / DeepFilterNet family, our own code):
- **band gains** per ERB band that cut *and* boost (-60 ... +20 dB): noise, room tails, EQ and
  band-pass colouration, the input's phase kept;
- a **deep filter** over the lowest `df_bins` bins (0-3.2 kHz, where the harmonics are): a short
  complex filter over the last `df_order` frames of the gained spectrum, which can rebuild
  harmonic structure between the harmonics that band gains cannot reach; it starts as the
  identity;
- **band extension**: the enhanced spectrum translated up by `shift_hz` (an excitation with the
  low band's harmonic fine structure and its phase), shaped by a second set of band gains
  (-80 ... +10 dB, starting at -50 dB); where the input has its own high band, those gains learn
  to stay closed.

The network sees band levels relative to their running mean (level-independent) and the low
band's complex spectrum normalised by its running power, like DeepFilterNet's features. Every
step is causal: frame t uses frames <= t, so latency is the front end's 20 ms.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .dsp import SpectralFrontEnd, db, exponential_mean, seconds_to_alpha


@dataclass
class EnhancerConfig:
    sample_rate: int = 16000
    n_fft: int = 320
    hop: int = 160
    n_bands: int = 32
    hidden: int = 128
    gru_layers: int = 2
    df_bins: int = 64  # 0 ... 3.2 kHz at 16 kHz
    df_order: int = 3  # frames t-2 ... t
    shift_hz: float = 4000.0  # band extension: the excitation is the spectrum moved up by this
    norm_seconds: float = 1.0  # time constant of the feature normalisation
    gain_db: tuple[float, float] = (-60.0, 20.0)
    ext_gain_db: tuple[float, float] = (-80.0, 10.0)
    # inference limits, chosen on dev after training and shipped in the checkpoint's config
    # (defaults: none); like DeepFilterNet's attenuation limit, they trade depth of repair for
    # naturalness: band gains never cut more than `max_cut_db`, the generated band is moved by
    # `ext_offset_db` (how much of the change to apply is the plan's per-class strength)
    max_cut_db: float = 60.0
    ext_offset_db: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def bounded_db(x: torch.Tensor, low_high: tuple[float, float]) -> torch.Tensor:
    low, high = low_high
    return low + (high - low) * torch.sigmoid(x)


def db_to_amplitude(gain_db: torch.Tensor) -> torch.Tensor:
    return torch.pow(10.0, gain_db / 20.0)


class EnhancerNet(nn.Module):
    """Features (B, N, F) and recurrent state -> band gains, extension gains, deep-filter taps
    (real and imaginary parts in the last dimension: the ONNX graph has no complex type)."""

    def __init__(self, cfg: EnhancerConfig):
        super().__init__()
        self.cfg = cfg
        n_in = 2 * cfg.n_bands + 2 * cfg.df_bins
        self.proj = nn.Sequential(nn.Linear(n_in, cfg.hidden), nn.ReLU())
        self.gru = nn.GRU(cfg.hidden, cfg.hidden, cfg.gru_layers, batch_first=True)
        self.gain = nn.Linear(cfg.hidden, cfg.n_bands)
        self.ext_gain = nn.Linear(cfg.hidden, cfg.n_bands)
        self.df = nn.Linear(cfg.hidden, cfg.df_bins * cfg.df_order * 2)
        with torch.no_grad():  # start as the identity: 0 dB, extension at -50 dB, filter = 1
            for head, (low, high), at in ((self.gain, cfg.gain_db, 0.0), (self.ext_gain, cfg.ext_gain_db, -50.0)):
                head.weight.mul_(0.1)
                frac = (at - low) / (high - low)
                head.bias.fill_(float(torch.logit(torch.tensor(frac))))
            self.df.weight.mul_(0.01)
            bias = torch.zeros(cfg.df_bins, cfg.df_order, 2)
            bias[:, -1, 0] = 1.0  # the newest frame's tap, real part
            self.df.bias.copy_(bias.flatten())

    def forward(self, features: torch.Tensor, state: torch.Tensor | None = None):
        h, state = self.gru(self.proj(features), state)
        cfg = self.cfg
        # .float(): under bf16 autocast (training) the spectrum is still edited in fp32
        taps = self.df(h).float().unflatten(-1, (cfg.df_bins, cfg.df_order, 2))
        return (bounded_db(self.gain(h).float(), cfg.gain_db), bounded_db(self.ext_gain(h).float(), cfg.ext_gain_db),
                taps, state)


class Enhancer(nn.Module):
    def __init__(self, cfg: EnhancerConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or EnhancerConfig()
        self.front = SpectralFrontEnd(cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.n_bands)
        self.net = EnhancerNet(cfg)
        self.alpha = seconds_to_alpha(cfg.norm_seconds, cfg.hop, cfg.sample_rate)
        self.shift = round(cfg.shift_hz / (cfg.sample_rate / cfg.n_fft))

    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    def restore(self, audio, cutoff_hz: float | None = None):
        """(C, T) numpy audio at `sample_rate` -> enhanced (C, T): the `Restorer` interface of
        `restorer.postfilter` (the enhancer finds the input's band edge itself)."""
        from .stream import enhance_file

        return enhance_file(self, audio)

    def initial_state(self, spec: torch.Tensor) -> dict:
        """A stream's state before its first frame, seeded from that frame's levels."""
        b, cfg = spec.shape[0], self.cfg
        first = spec[:, :1]
        return {"level": db(self.front.band_power(first))[:, 0],
                "power": (first[..., :cfg.df_bins].abs() ** 2)[:, 0] + 1e-8,
                "gru": None,
                "past": torch.zeros(b, cfg.df_order - 1, cfg.df_bins, dtype=spec.dtype)}

    def features(self, spec: torch.Tensor, state: dict) -> torch.Tensor:
        cfg = self.cfg
        level = db(self.front.band_power(spec))
        mean, state["level"] = exponential_mean(level, self.alpha, state["level"])
        low = spec[..., :cfg.df_bins]
        power, state["power"] = exponential_mean(low.abs() ** 2, self.alpha, state["power"])
        unit = low / torch.sqrt(power + 1e-8)
        return torch.cat([(level - mean) / 10.0, (level - mean.mean(-1, keepdim=True)) / 20.0,
                          unit.real, unit.imag], -1)

    def forward(self, spec: torch.Tensor, state: dict | None = None) -> tuple[torch.Tensor, dict]:
        """Complex spectra (B, N, bins) -> enhanced spectra, carrying `state` across calls."""
        state = self.initial_state(spec) if state is None else state
        gain_db, ext_db, taps, state["gru"] = self.net(self.features(spec, state), state["gru"])
        return self.apply(spec, gain_db, ext_db, taps, state), state

    def apply(self, spec, gain_db, ext_db, taps, state) -> torch.Tensor:
        """What the network's outputs do to the spectrum (shared with the ONNX runtime)."""
        cfg, front = self.cfg, self.front
        gain_db = gain_db.clamp(min=-cfg.max_cut_db)
        ext_db = ext_db + cfg.ext_offset_db
        gained = spec * front.to_bins(db_to_amplitude(gain_db))
        low = gained[..., :cfg.df_bins]
        history = torch.cat([state["past"], low], 1)  # (B, order - 1 + N, df_bins)
        state["past"] = history[:, history.shape[1] - (cfg.df_order - 1):]
        windows = history.unfold(1, cfg.df_order, 1)  # (B, N, df_bins, order): oldest first
        filtered = (windows * torch.complex(taps[..., 0], taps[..., 1])).sum(-1)
        out = torch.cat([filtered, gained[..., cfg.df_bins:]], -1)
        source = torch.nn.functional.pad(out[..., :out.shape[-1] - self.shift], (self.shift, 0))
        return out + source * front.to_bins(db_to_amplitude(ext_db))
