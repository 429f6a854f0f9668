"""ConvNeXt-1D blocks (as in Vocos): depthwise temporal conv + pointwise MLP.

They run at the codec's frame rate (50-100 Hz), not the sample rate, which is what makes the
codec cheap on a CPU: one second of audio is only 50-100 time steps for these layers.
"""
from __future__ import annotations

import torch
from torch import nn


class ConvNeXtBlock(nn.Module):
    """Residual block: depthwise conv (kernel 7) -> LayerNorm -> MLP (x3) -> layer scale."""

    kernel_size = 7

    def __init__(self, dim: int, mlp_ratio: float = 3.0, layer_scale: float = 1e-2):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, self.kernel_size, padding=self.kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.pw1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(hidden, dim)
        # Small layer scale keeps every block close to identity at init, so deep stacks train
        # stably with a large learning rate (the point of ConvNeXt's recipe).
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, T)
        y = self.dwconv(x).transpose(1, 2)
        y = self.pw2(self.act(self.pw1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class ConvNeXtStack(nn.Sequential):
    """`depth` ConvNeXt blocks; `receptive_field` is one-sided, in frames."""

    def __init__(self, dim: int, depth: int, mlp_ratio: float = 3.0):
        super().__init__(*[ConvNeXtBlock(dim, mlp_ratio) for _ in range(depth)])
        self.receptive_field = depth * (ConvNeXtBlock.kernel_size // 2)
