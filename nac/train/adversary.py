"""The adversarial half of a training step: a discriminator, its optimiser and its two updates."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .discriminators import discriminator_loss, generator_losses


class Adversary:
    """Judges real against generated audio (or magnitudes) and hands the generator its losses.

    One forward pass on the real batch serves both the discriminator update and feature
    matching (the real features are targets, detached): a third of the discriminator's cost."""

    def __init__(self, disc: nn.Module, lr: float, device: torch.device,
                 wrap: Callable[[nn.Module], nn.Module] = lambda m: m):
        self.disc = disc.to(device)
        self.opt = torch.optim.AdamW(self.disc.parameters(), lr=lr, betas=(0.8, 0.99))
        self.judge = wrap(self.disc)

    def losses(self, real: torch.Tensor, fake: torch.Tensor, lr: float) -> dict[str, torch.Tensor]:
        """Update the discriminator on (real, fake.detach()), then return the generator's
        adversarial and feature-matching losses on `fake` (gradients flow into the generator)."""
        for group in self.opt.param_groups:
            group["lr"] = lr
        real_out = self.judge(real)
        d_loss = discriminator_loss(real_out, self.judge(fake.detach()))
        self.opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt.step()
        real_out = [(r.detach(), [f.detach() for f in feats]) for r, feats in real_out]
        adv, fm = generator_losses(real_out, self.judge(fake))
        return {"disc": d_loss.detach(), "adv": adv, "fm": fm}

    def state_dict(self) -> dict:
        return {"disc": self.disc.state_dict(), "optimizer_d": self.opt.state_dict()}

    def load_state_dict(self, ckpt: dict) -> bool:
        """Resume from a checkpoint's discriminator if it has one that fits; False if not (a run
        that switches discriminators starts the new one fresh)."""
        try:
            self.disc.load_state_dict(ckpt["disc"])
        except (KeyError, RuntimeError, ValueError):
            return False
        if "optimizer_d" in ckpt:  # absent in state carried across sessions: fresh moments
            self.opt.load_state_dict(ckpt["optimizer_d"])
        return True
