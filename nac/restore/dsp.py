"""The enhancer's signal processing, shared by training, whole-file inference, the stream and ONNX.

One short-time transform: 20-ms frames every 10 ms with a square-root Hann window on analysis
and synthesis (their product sums to one at 50 % overlap, so an untouched spectrum rebuilds the
input exactly). Frames are *causal*: frame t ends at sample (t + 1) * hop, so an output sample is
final 20 ms after it came in (the algorithmic latency), and a stream that pushes 10-ms blocks
sees the same frames as a whole file.

Bands are ERB-spaced (Glasberg & Moore), at least `min_bins` wide, covering every bin once with
rectangular membership: band gains spread back to bins by indexing, which ONNX and a stream do
exactly as training does.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def erb_band_edges(n_bins: int, sample_rate: int, n_bands: int, min_bins: int = 2) -> list[int]:
    """First bin of each band (+ n_bins at the end): ERB-rate spacing, never narrower than
    `min_bins` (low bands would otherwise hold a fraction of a 50-Hz bin)."""
    def erb(f):
        return 21.4 * np.log10(1 + 0.00437 * f)
    nyquist = sample_rate / 2
    targets = np.linspace(0, erb(nyquist), n_bands + 1)
    freqs = (10 ** (targets / 21.4) - 1) / 0.00437
    edges = [0]
    for f in freqs[1:-1]:
        b = int(round(f / nyquist * (n_bins - 1)))
        edges.append(max(b, edges[-1] + min_bins))
    edges.append(n_bins)
    if edges[-2] >= n_bins:
        raise ValueError(f"{n_bands} bands of >= {min_bins} bins do not fit in {n_bins} bins")
    return edges


class SpectralFrontEnd(torch.nn.Module):
    """Causal STFT / inverse, band pooling and the bin map of band gains."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 320, hop: int = 160, n_bands: int = 32):
        super().__init__()
        if n_fft != 2 * hop:
            raise ValueError("the front end is built for 50 % overlap (n_fft = 2 * hop)")
        self.sample_rate, self.n_fft, self.hop, self.n_bins = sample_rate, n_fft, hop, n_fft // 2 + 1
        window = torch.sqrt(torch.hann_window(n_fft, periodic=True))
        self.register_buffer("window", window, persistent=False)
        edges = erb_band_edges(self.n_bins, sample_rate, n_bands)
        band_of_bin = torch.zeros(self.n_bins, dtype=torch.long)
        for b in range(n_bands):
            band_of_bin[edges[b]:edges[b + 1]] = b
        self.register_buffer("band_of_bin", band_of_bin, persistent=False)
        pool = torch.zeros(n_bands, self.n_bins)
        pool[band_of_bin, torch.arange(self.n_bins)] = 1.0
        self.register_buffer("pool", pool / pool.sum(1, keepdim=True), persistent=False)  # band means
        self.band_edges, self.n_bands = edges, n_bands

    @property
    def latency_seconds(self) -> float:
        return self.n_fft / self.sample_rate

    def frames(self, wav: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) with T a multiple of hop -> complex spectra (B, T // hop, bins). Frame t holds
        samples [(t - 1) * hop, (t + 1) * hop); before the signal, `context` (a stream's last hop
        of input; default zeros)."""
        if context is None:
            context = wav.new_zeros(wav.shape[0], self.hop)
        chunks = torch.cat([context, wav], -1).unfold(-1, self.n_fft, self.hop) * self.window
        return torch.fft.rfft(chunks, dim=-1)

    def overlap_add(self, spec: torch.Tensor, tail: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inverse of `frames`: (B, N, bins) -> (B, N * hop) samples and the new tail (B, hop).
        Block t of the output = frame t's first half + frame t-1's second half (`tail` for the
        first): the samples [(t - 1) * hop, t * hop), i.e. one hop behind the input's frames."""
        chunks = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.window  # (B, N, n_fft)
        first, second = chunks[..., :self.hop], chunks[..., self.hop:]
        if tail is None:
            tail = first.new_zeros(first.shape[0], self.hop)
        previous = torch.cat([tail[:, None], second[:, :-1]], 1)
        return (first + previous).reshape(spec.shape[0], -1), second[:, -1]

    def band_power(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, N, bins) complex -> mean power per band (B, N, bands)."""
        return (spec.real ** 2 + spec.imag ** 2) @ self.pool.T

    def to_bins(self, band_values: torch.Tensor) -> torch.Tensor:
        """(..., bands) -> (..., bins): every bin takes its band's value."""
        return band_values[..., self.band_of_bin]


def exponential_mean(x: torch.Tensor, alpha: float, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal running mean m_t = alpha m_{t-1} + (1 - alpha) x_t over dim 1 of (B, N, F), from
    `state` (B, F). Closed form per chunk of <= 256 frames (a scan with powers of alpha), so a
    whole file costs a few tensor ops, and a stream's frame-by-frame recursion gives the same."""
    out = []
    for start in range(0, x.shape[1], 256):
        seg = x[:, start:start + 256]
        n = seg.shape[1]
        k = torch.arange(n, dtype=x.dtype, device=x.device)
        decay = alpha ** (k + 1)  # weight of the state at frame k
        # m_k = alpha^(k+1) s + (1 - alpha) sum_{j<=k} alpha^(k-j) x_j
        w = torch.tril(alpha ** (k[:, None] - k[None, :]).clamp(min=0)) * (1 - alpha)
        m = torch.einsum("kj,bjf->bkf", w, seg) + decay[None, :, None] * state[:, None, :]
        out.append(m)
        state = m[:, -1]
    return torch.cat(out, 1), state


def db(power: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(power + 1e-10)


def seconds_to_alpha(tau_seconds: float, hop: int, sample_rate: int) -> float:
    return math.exp(-hop / (tau_seconds * sample_rate))
