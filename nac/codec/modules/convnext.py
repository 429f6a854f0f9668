"""ConvNeXt-1D blocks (as in Vocos): depthwise temporal conv + pointwise MLP.

They run at the codec's frame rate (50-100 Hz), not the sample rate, which is what makes the
codec cheap on a CPU: one second of audio is only 50-100 time steps for these layers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvNeXtBlock(nn.Module):
    """Residual block: depthwise conv (kernel 7) -> LayerNorm -> MLP (x3) -> layer scale.

    `lookahead`: future frames the conv sees (default 3, centred; 0 is causal). The padding is
    explicit, so a streaming runner (`nac/codec/stateful.py`) can apply the same conv to a
    window of real frames instead."""

    kernel_size = 7

    def __init__(self, dim: int, mlp_ratio: float = 3.0, layer_scale: float = 1e-2, lookahead: int | None = None):
        super().__init__()
        self.lookahead = self.kernel_size // 2 if lookahead is None else lookahead
        if not 0 <= self.lookahead < self.kernel_size:
            raise ValueError(f"lookahead {lookahead} outside 0..{self.kernel_size - 1}")
        self.lookbehind = self.kernel_size - 1 - self.lookahead
        self.dwconv = nn.Conv1d(dim, dim, self.kernel_size, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.pw1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(hidden, dim)
        # Small layer scale keeps every block close to identity at init, so deep stacks train
        # stably with a large learning rate (the point of ConvNeXt's recipe).
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, T)
        return x + self.mix(self.dwconv(F.pad(x, (self.lookbehind, self.lookahead))))

    def mix(self, y: torch.Tensor) -> torch.Tensor:
        """The per-frame half of the block (norm, MLP, layer scale) on conv outputs (B, C, T)."""
        y = self.pw2(self.act(self.pw1(self.norm(y.transpose(1, 2)))))
        return (self.gamma * y).transpose(1, 2)


class ConvNeXtStack(nn.Sequential):
    """`depth` ConvNeXt blocks; `receptive_field` is one-sided, in frames."""

    def __init__(self, dim: int, depth: int, mlp_ratio: float = 3.0, lookahead: int | None = None):
        super().__init__(*[ConvNeXtBlock(dim, mlp_ratio, lookahead=lookahead) for _ in range(depth)])
        # one-sided reach in frames: what chunked coding must give each window (either side)
        self.receptive_field = depth * max(self[0].lookahead, self[0].lookbehind) if depth else 0
        self.lookahead_frames = depth * self[0].lookahead if depth else 0
