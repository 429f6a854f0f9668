"""Multi-scale STFT discriminator (EnCodec) with hinge losses and feature matching.

Adversarial training is a config switch (`TrainConfig.gan_start_step`): it sharpens fine
structure once the reconstruction losses have done the coarse work, at roughly 2x the step cost.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


class STFTDiscriminator(nn.Module):
    def __init__(self, n_fft: int, channels: int = 32):
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        c = channels
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(2, c, (3, 9), padding=(1, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), dilation=(1, 1), padding=(1, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), dilation=(2, 1), padding=(2, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), dilation=(4, 1), padding=(4, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(wav, self.n_fft, self.n_fft // 4, window=self.window, return_complex=True)
        x = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # (B, 2, frames, bins)
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
            feats.append(x)
        return self.out(x), feats


class MultiScaleSTFTDiscriminator(nn.Module):
    def __init__(self, n_ffts=(512, 1024, 256), channels: int = 32):
        super().__init__()
        self.discs = nn.ModuleList([STFTDiscriminator(n, channels) for n in n_ffts])

    def forward(self, wav: torch.Tensor):
        return [d(wav) for d in self.discs]


def discriminator_loss(real_out, fake_out) -> torch.Tensor:
    loss = 0.0
    for (r, _), (f, _) in zip(real_out, fake_out):
        loss = loss + F.relu(1 - r).mean() + F.relu(1 + f).mean()
    return loss / len(real_out)


def generator_losses(real_out, fake_out) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial hinge loss, feature-matching L1 relative to the real features' scale)."""
    adv, fm, n = 0.0, 0.0, 0
    for (_, rf), (f, ff) in zip(real_out, fake_out):
        adv = adv + F.relu(1 - f).mean()
        for a, b in zip(rf, ff):
            fm = fm + F.l1_loss(b, a.detach()) / (a.detach().abs().mean() + 1e-5)
            n += 1
    return adv / len(fake_out), fm / max(n, 1)
