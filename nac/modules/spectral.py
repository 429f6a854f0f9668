"""STFT analysis for the encoder and an iSTFT synthesis head for the decoder.

Both use "same" framing: with hop `h`, a signal of `n * h` samples has exactly `n` frames and
frame `i` is centred on sample `i * h + h / 2`. That makes lengths exact (no trailing frame, no
trimming guesswork) and lets chunked processing line up frame for frame.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class STFTFeatures(nn.Module):
    """Waveform (B, T) -> power-law compressed complex STFT as channels (B, 2 * bins, T / hop).

    Compressing the magnitude (|X|^0.3) keeps quiet partials visible to the network while
    keeping the phase (real/imaginary parts), which the decoder must reproduce for PESQ/SI-SDR.
    """

    def __init__(self, n_fft: int, hop: int, power: float = 0.3):
        super().__init__()
        self.n_fft, self.hop, self.power = n_fft, hop, power
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @property
    def channels(self) -> int:
        return 2 * (self.n_fft // 2 + 1)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        pad = (self.n_fft - self.hop) // 2
        wav = F.pad(wav, (pad, pad))
        spec = torch.stft(wav, self.n_fft, self.hop, window=self.window, center=False, return_complex=True)
        mag = spec.abs().clamp_min(1e-7)
        spec = spec * mag.pow(self.power - 1.0)
        return torch.cat([spec.real, spec.imag], dim=1)


class ISTFTHead(nn.Module):
    """Frame features (B, C, N) -> magnitude and phase per bin -> waveform (B, N * hop).

    Predicting the spectrum and inverting it with one iFFT per frame (Vocos) replaces a stack of
    sample-rate transposed convolutions, which is where most of a SEANet decoder's time goes.
    """

    def __init__(self, dim: int, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.bins = n_fft // 2 + 1
        self.proj = nn.Linear(dim, 3 * self.bins)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def spectrum(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(magnitude (B, bins, N), unit phasor (B, bins, N) complex)."""
        log_mag, re, im = self.proj(x.transpose(1, 2)).transpose(1, 2).chunk(3, dim=1)
        mag = torch.exp(log_mag.clamp(max=8.0))
        # Phase as an unnormalised 2-D vector: smooth to learn, no wrap-around at +-pi.
        norm = torch.sqrt(re.square() + im.square() + 1e-9)
        return mag, torch.complex(re / norm, im / norm)

    def forward(self, x: torch.Tensor, griffin_lim_iters: int = 0) -> torch.Tensor:
        mag, phase = self.spectrum(x)
        if griffin_lim_iters:
            phase = self.griffin_lim(mag, phase, griffin_lim_iters)
        return self.istft(mag * phase)

    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        """The analysis that matches `istft` frame for frame ("same" framing)."""
        pad = (self.n_fft - self.hop) // 2
        return torch.stft(torch.nn.functional.pad(wav, (pad, pad)), self.n_fft, self.hop,
                          window=self.window, center=False, return_complex=True)

    def griffin_lim(self, mag: torch.Tensor, phase: torch.Tensor, iters: int, momentum: float = 0.99
                    ) -> torch.Tensor:
        """Fast Griffin-Lim (Perraudin et al. 2013) started from `phase`: a phase whose frames
        overlap-add coherently, so the magnitudes survive synthesis. Each iteration couples a
        frame to its n_fft / hop - 1 neighbours on each side (see `Decoder.receptive_field`)."""
        previous = torch.zeros_like(phase)
        for _ in range(iters):
            rebuilt = self.stft(self.istft(mag * phase))
            phase = rebuilt - previous * (momentum / (1 + momentum))
            phase = phase / (phase.abs() + 1e-8)
            previous = rebuilt
        return phase

    def istft(self, spec: torch.Tensor) -> torch.Tensor:
        # frames time-major (B, N, n_fft): the inverse FFTs run on contiguous rows (3.5x faster
        # than along dim 1, same values); Griffin-Lim calls this on every iteration
        frames = torch.fft.irfft(spec.transpose(1, 2), self.n_fft, dim=-1) * self.window
        n = spec.shape[-1]
        pad = (self.n_fft - self.hop) // 2
        wav = self._overlap_add(frames)[:, pad:pad + n * self.hop]
        return wav / self._envelope(n, frames.dtype)[pad:pad + n * self.hop]

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, N, n_fft) windowed frames -> (B, (N - 1) * hop + n_fft) samples.

        With n_fft a multiple of hop this is n_fft / hop shifted additions of hop-long slices
        (~4x faster than F.fold)."""
        b, n, _ = frames.shape
        if self.n_fft % self.hop:
            out_len = (n - 1) * self.hop + self.n_fft
            return F.fold(frames.transpose(1, 2), (1, out_len), (1, self.n_fft), stride=(1, self.hop))[:, 0, 0]
        k = self.n_fft // self.hop
        parts = frames.reshape(b, n, k, self.hop)
        out = frames.new_zeros(b, n + k - 1, self.hop)
        for i in range(k):
            out[:, i:i + n] += parts[:, :, i]
        return out.reshape(b, -1)

    def _envelope(self, n: int, dtype: torch.dtype) -> torch.Tensor:
        """Summed squared windows of n frames (the overlap-add normalisation), clamped."""
        squares = self.window.square().to(dtype)[None, None, :].expand(1, n, -1)
        return self._overlap_add(squares)[0].clamp_min(1e-8)
