"""Restoration through the codec: degraded audio enters the codec's latent space, its decoder renders.

One latent space, one renderer, many ways in: a restorer here is a second encoder, warm-started
from the codec's own and trained to map degraded audio (Opus, MP3, band limits, phone
recordings, NAC's own low rates) to the latents the codec's frozen encoder gives the clean audio.
The restored latents are then coded at `render_kbps` and decoded by the codec exactly as a
`.nac` file would be (same chunking, same decoder): every decoder upgrade in the same latent
space (decoder v2 keeps the encoder frozen) improves restoration too.

Where the input's low band is reliable (band-limited input from a lossy codec or a lower rate),
`render` keeps it: below the cutoff the output is the input, above it the rendering, crossfaded
over `crossfade_hz` with complementary STFT masks, so that band cannot be damaged by
construction (`tests/test_restore_latent.py` measures the bound).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

from ..codec.model import CodecConfig, Encoder, NacCodec
from ..codec.modules import ISTFTHead


@dataclass
class LatentRestoreConfig:
    codec: str = "nac-16k"  # registry name of the codec whose latent space and decoder it uses
    codec_sha256: str = ""  # of the codec checkpoint it was trained against (checked at load)
    render_kbps: float = 12.0  # the restored latents are coded at this rate before decoding
    crossfade_hz: float = 400.0  # ramp from the kept reliable band to the rendering
    # Griffin-Lim iterations of the rendering when the input's band is kept: the rendering then
    # only fills the band above the cutoff, where 4 iterations score as 32 do (dev, 8 files,
    # 8 kHz and Opus 6 input: PESQ, ViSQOL, DNSMOS within +-0.001) at 1.5x the speed
    band_griffin_lim_iters: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


class LatentRestorer(nn.Module):
    """Degraded audio (B, T) at the codec's rate -> latents (B, latent_dim, frames) in its space."""

    def __init__(self, cfg: LatentRestoreConfig, codec_cfg: CodecConfig):
        super().__init__()
        self.cfg, self.codec_cfg = cfg, codec_cfg
        self.encoder = Encoder(codec_cfg)

    @property
    def sample_rate(self) -> int:
        return self.codec_cfg.sample_rate

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.encoder(wav)

    def codec_view(self, codec: NacCodec) -> NacCodec:
        """The codec with this encoder in place of its own: `encode` now maps degraded audio to
        codes of the clean audio's latent space (all chunking and streaming code applies)."""
        view = NacCodec.sharing(codec)
        encoder = self.encoder
        # A plain function, not the Module itself: nn.Module.__setattr__ would file a Module
        # under the `_modules` dict the view shares with `codec` (adding it to the codec's
        # state) and the class's own `_latents` method would still be the one called.
        view._latents = lambda wav: encoder(wav)
        return view


@torch.no_grad()
def render(audio: np.ndarray, restorer: LatentRestorer, codec: NacCodec,
           keep_below_hz: float | None = None) -> np.ndarray:
    """(C, T) degraded audio at the codec's rate -> (C, T) restored: encode with the restorer,
    code at `render_kbps`, decode with the codec; with `keep_below_hz`, keep the input there."""
    from ..api import decode_codes, encode_codes

    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    view = restorer.codec_view(codec)
    blocks = list(decode_codes(codec, encode_codes(view, audio, restorer.cfg.render_kbps)))
    rendered = np.concatenate(blocks, 1)[:, : audio.shape[1]] if blocks else np.zeros_like(audio)
    if keep_below_hz is None:
        return rendered.astype(np.float32)
    return keep_reliable_band(audio, rendered, restorer.sample_rate, keep_below_hz, restorer.cfg.crossfade_hz)


def keep_reliable_band(original: np.ndarray, rendered: np.ndarray, sr: int, cutoff_hz: float,
                       crossfade_hz: float, n_fft: int = 640, hop: int = 160) -> np.ndarray:
    """`original` below `cutoff_hz - crossfade_hz`, `rendered` above `cutoff_hz`, a linear ramp
    between. The masks are complementary (m and 1 - m on one STFT grid), so where m = 1 the
    output's STFT is the original's and nothing of the rendering leaks in."""
    head = ISTFTHead(1, n_fft, hop)
    x = torch.from_numpy(np.ascontiguousarray(original, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(rendered, dtype=np.float32))
    n = x.shape[-1]
    pad = (-n) % hop
    x, y = torch.nn.functional.pad(x, (0, pad)), torch.nn.functional.pad(y, (0, pad))
    bin_hz = torch.arange(n_fft // 2 + 1) * (sr / n_fft)
    keep = ((cutoff_hz - bin_hz) / max(crossfade_hz, 1e-6)).clamp(0, 1)[None, :, None]
    out = head.istft(keep * head.stft(x) + (1 - keep) * head.stft(y))
    return out[..., :n].numpy().astype(np.float32)


def load_latent_restorer(ckpt: dict) -> LatentRestorer:
    """A latent restorer from its checkpoint (`kind: "restore-latent"`), eval mode, float32."""
    from ..checkpoint import float_state

    model = LatentRestorer(LatentRestoreConfig(**ckpt["config"]), CodecConfig(**ckpt["codec_config"]))
    model.load_state_dict(float_state(ckpt["model"]))
    return model.eval()


class LatentRestoration:
    """A latent restorer with its codec, as `restorer.postfilter` runs restorers: `sample_rate`
    and `restore(audio, cutoff_hz)` (keep the input below `cutoff_hz`; None renders it all)."""

    def __init__(self, restorer: LatentRestorer, codec: NacCodec):
        self.restorer, self.codec = restorer, codec
        self.sample_rate = restorer.sample_rate
        self.band_codec = codec
        iters = restorer.cfg.band_griffin_lim_iters
        if codec.cfg.griffin_lim_iters > iters > 0:
            # the same weights with fewer iterations (and so a shorter chunk context)
            self.band_codec = NacCodec(replace(codec.cfg, griffin_lim_iters=iters), inference=True)
            self.band_codec.load_state_dict(codec.state_dict())
            self.band_codec.eval()

    def restore(self, audio: np.ndarray, cutoff_hz: float | None = None) -> np.ndarray:
        codec = self.codec if cutoff_hz is None else self.band_codec
        return render(audio, self.restorer, codec, keep_below_hz=cutoff_hz)


def load_latent_restoration(ckpt: dict) -> LatentRestoration:
    """The restorer and the codec it was trained against; refuses a codec whose weights changed
    (its latent space may have moved: the campaign retrains the restorer)."""
    from ..api import load_loaded

    restorer = load_latent_restorer(ckpt)
    loaded = load_loaded(restorer.cfg.codec)
    if restorer.cfg.codec_sha256 and loaded.sha256 != restorer.cfg.codec_sha256:
        raise ValueError(f"this restorer was trained against {restorer.cfg.codec} "
                         f"{restorer.cfg.codec_sha256[:12]}, not the installed {loaded.sha256[:12]}: retrain it "
                         "(bash scripts/campaign.sh restore-latent)")
    return LatentRestoration(restorer, loaded.model)
