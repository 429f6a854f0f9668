"""Band-gain enhancement layer: bits that correct the decoder's magnitudes, sent beside the codes.

Why (reports/training.md, session 14): Griffin-Lim renders the *true* STFT magnitude at PESQ ~4.2,
the shipped decoder's magnitude at ~2.2, and more residual-VQ levels do not close the gap: the
frozen latent space is the ceiling, so NAC 12 kbps scored like NAC 3. What the decoder gets wrong
can be measured at the encoder, which has the input: per 10-ms STFT frame, the level error of
each of `bands` mel-spaced bands, g = 10 log10(E_true / E_decoded) dB. Sent exactly, 32 bands
alone lift PESQ from 2.15 to 2.91 on dev speech (experiments/probe_mag_residual.py).

The gains of one code frame (its two STFT frames x `bands`, in dB) form one vector, coded by a
residual VQ of `levels` codebooks fitted by k-means on training speech (nac/train/band_gain_fit.py):
each level is one more 10-bit code per 20-ms frame (0.5 kbps), the same unit as the latent
codes, so gain levels ride in the same code tensor and container. The decoder turns the gains
into a per-bin factor (linear interpolation in dB between band centres) on its magnitude before
Griffin-Lim. Nothing here is recurrent: gains only scale, so encoder and decoder never drift.
"""
from __future__ import annotations

import math

import torch
from torch import nn

# Gains are clipped to this range (dB) before coding: beyond it is silence against noise floor.
GAIN_LIMIT_DB = 30.0
# Band energy floor (per bin, linear power): below ~-90 dBFS a band counts as silent on both sides.
POWER_FLOOR = 1e-9


def mel_band_edges(bins: int, bands: int, sample_rate: int, n_fft: int) -> list[int]:
    """Band edges (bin indices, ascending, first 0, last `bins`), equally spaced in mel, at
    least one bin per band."""
    def mel(f: float) -> float:
        return 2595 * math.log10(1 + f / 700)
    top = mel(sample_rate / 2)
    edges = [0]
    for i in range(1, bands):
        hz = 700 * (10 ** (top * i / bands / 2595) - 1)
        edges.append(max(edges[-1] + 1, round(hz / sample_rate * n_fft)))
    edges.append(bins)
    if edges[-2] >= bins:
        raise ValueError(f"{bands} bands do not fit {bins} bins")
    return edges


class BandGains(nn.Module):
    """Band-gain analysis, residual VQ and synthesis for a codec's STFT grid."""

    def __init__(self, bins: int, bands: int, levels: int, codebook_size: int,
                 sample_rate: int, n_fft: int, subframes: int = 2, smoothing: tuple[float, ...] = ()):
        super().__init__()
        self.bands, self.levels, self.subframes = bands, levels, subframes
        # Time filter (taps over STFT frames, centred) on the decoded gains: each frame's VQ error
        # is independent, and left alone that frame-to-frame flutter is heard (DNSMOS -0.18 at
        # 6 kbps; filtered +0.06, reports/band_gain.md)
        taps = torch.tensor([float(t) for t in smoothing] or [1.0])
        if len(taps) % 2 == 0:
            raise ValueError("gain smoothing needs an odd number of taps")
        self.register_buffer("taps", taps / taps.sum(), persistent=False)
        edges = torch.tensor(mel_band_edges(bins, bands, sample_rate, n_fft))
        # (bands, bins) 0/1 band membership: band energies are one matmul
        member = torch.zeros(bands, bins)
        for b in range(bands):
            member[b, edges[b]:edges[b + 1]] = 1.0
        self.register_buffer("member", member, persistent=False)
        # (bins, bands) linear interpolation between band centres (flat beyond the outer ones)
        centres = 0.5 * (edges[:-1] + edges[1:] - 1).float()
        k = torch.arange(bins).float()
        interp = torch.zeros(bins, bands)
        pos = torch.searchsorted(centres, k).clamp(1, bands - 1)
        lo, hi = centres[pos - 1], centres[pos]
        w = ((k - lo) / (hi - lo)).clamp(0, 1)
        interp[torch.arange(bins), pos - 1] = 1 - w
        interp[torch.arange(bins), pos] += w
        self.register_buffer("interp", interp, persistent=False)
        self.register_buffer("codebooks", torch.zeros(levels, codebook_size, bands * subframes))

    @classmethod
    def for_codec(cls, cfg) -> "BandGains":
        """The layer a `CodecConfig` describes, on its STFT grid."""
        return cls(cfg.n_fft // 2 + 1, cfg.gain_bands, cfg.gain_levels, cfg.codebook_size,
                   cfg.sample_rate, cfg.n_fft, smoothing=cfg.gain_smoothing)

    def code(self, true_mag: torch.Tensor, decoded_mag: torch.Tensor, levels: int) -> torch.Tensor:
        """(B, levels, N) gain codes for decoded magnitudes (B, bins, 2N) against the true ones
        (the input's STFT, any length >= 2N frames)."""
        return self.quantize(self.analyse(true_mag[..., : decoded_mag.shape[-1]], decoded_mag), levels)

    def correct(self, decoded_mag: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The decoded magnitude with the gains of `codes` (B, levels, N) applied."""
        return self.apply(decoded_mag, self.dequantize(codes))

    @property
    def dim(self) -> int:
        return self.bands * self.subframes

    def analyse(self, true_mag: torch.Tensor, decoded_mag: torch.Tensor) -> torch.Tensor:
        """Gains (B, dim, N) in dB, one vector per code frame, from magnitudes (B, bins, 2N)."""
        def band_db(mag: torch.Tensor) -> torch.Tensor:
            power = torch.einsum("kf,bft->bkt", self.member, mag.float().square())
            return 10 * torch.log10(power + POWER_FLOOR * self.member.sum(1)[:, None])
        g = (band_db(true_mag) - band_db(decoded_mag)).clamp(-GAIN_LIMIT_DB, GAIN_LIMIT_DB)
        b, k, t = g.shape
        # (B, bands, N, sub) -> (B, sub * bands, N): sub-frame-major, so a vector reads frame by frame
        return g.reshape(b, k, t // self.subframes, self.subframes).permute(0, 3, 1, 2).reshape(b, -1, t // self.subframes)

    @torch.no_grad()
    def quantize(self, gains: torch.Tensor, levels: int) -> torch.Tensor:
        """(B, dim, N) dB -> (B, levels, N) codes: nearest code per level on the residual."""
        if not 0 <= levels <= self.levels:
            raise ValueError(f"this layer has {self.levels} gain levels, not {levels}")
        residual = gains.transpose(1, 2).reshape(-1, self.dim).float()
        codes = []
        for level in range(levels):
            book = self.codebooks[level]
            dist = (residual.square().sum(1, keepdim=True) - 2 * residual @ book.T
                    + book.square().sum(1)[None])
            idx = torch.from_numpy(dist.numpy().argmin(1)) if dist.device.type == "cpu" else dist.argmin(1)
            codes.append(idx)
            residual = residual - book[idx]
        b, _, n = gains.shape
        if not codes:
            return torch.zeros(b, 0, n, dtype=torch.long)
        return torch.stack(codes, 1).reshape(b, n, levels).transpose(1, 2)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, levels, N) codes -> (B, dim, N) dB."""
        b, levels, n = codes.shape
        g = torch.zeros(b, n, self.dim, device=self.codebooks.device)
        for level in range(levels):
            g = g + self.codebooks[level][codes[:, level].long()]
        return g.transpose(1, 2)

    def apply(self, decoded_mag: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
        """The decoded magnitude (B, bins, 2N) scaled by gains (B, dim, N) dB."""
        b, _, n = gains.shape
        g = gains.reshape(b, self.subframes, self.bands, n).permute(0, 2, 3, 1).reshape(b, self.bands, n * self.subframes)
        db = torch.einsum("fk,bkt->bft", self.interp, g)
        if len(self.taps) > 1:
            pad = len(self.taps) // 2
            x = torch.nn.functional.pad(db.reshape(-1, 1, db.shape[-1]), (pad, pad), mode="replicate")
            db = torch.nn.functional.conv1d(x, self.taps[None, None]).reshape(db.shape)
        return decoded_mag * (10 ** (db / 20)).to(decoded_mag.dtype)

    @property
    def reach_frames(self) -> int:
        """STFT frames on each side that one frame's gain reaches (the time filter)."""
        return len(self.taps) // 2
