"""Residual VQ: EMA codebooks, k-means init, dead-code replacement, quantizer dropout.

Training goes through `vector_quantize_pytorch.ResidualVQ` (its EMA and code expiry are what
keep codebooks alive, and it all-reduces codebook statistics across DDP ranks itself). Inference
uses the same codebooks with a plain nearest-neighbour loop that stops after `n_q` levels, so a
6 kbps encode does not pay for 24 levels; an inference-only quantizer (`inference=True`) holds
just the codebooks, under the same state-dict names, and never imports vector-quantize-pytorch
(~1.5 s of every `nac` command's start-up).
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor  # (B, D, N)
    codes: torch.Tensor  # (B, n_q, N) int64, -1 where a level was dropped out
    commit_loss: torch.Tensor


def _argmin_rows(x: torch.Tensor) -> torch.Tensor:
    """First index of each row's minimum. On the CPU through NumPy: torch's CPU argmin took ~20x
    longer on these (frames, 1024) distances and was half of a 6 kbps encode."""
    if x.device.type == "cpu" and not x.requires_grad:
        return torch.from_numpy(x.numpy().argmin(-1))
    return x.argmin(-1)


class _Codebook(nn.Module):
    def __init__(self, codebook_size: int, dim: int):
        super().__init__()
        self.register_buffer("embed", torch.zeros(1, codebook_size, dim))


class _Level(nn.Module):
    def __init__(self, codebook_size: int, dim: int):
        super().__init__()
        self._codebook = _Codebook(codebook_size, dim)


class FrozenResidualVQ(nn.Module):
    """A trained ResidualVQ's codebooks under its state-dict names (`layers.i._codebook.embed`)."""

    def __init__(self, n_q: int, codebook_size: int, dim: int):
        super().__init__()
        self.layers = nn.ModuleList(_Level(codebook_size, dim) for _ in range(n_q))

    @property
    def codebooks(self) -> torch.Tensor:
        return torch.stack([level._codebook.embed[0] for level in self.layers])


class ResidualQuantizer(nn.Module):
    def __init__(self, dim: int, n_q: int, codebook_size: int, dropout_multiple_of: int = 1,
                 ema_decay: float = 0.99, dead_code_threshold: float = 0.1, dropout_offset: int = 0,
                 inference: bool = False):
        super().__init__()
        self.n_q, self.codebook_size = n_q, codebook_size
        # Quantizer dropout keeps a multiple of `dropout_multiple_of` levels, minus `dropout_offset`:
        # a pitch-aware model spends one level of every bitrate on f0, so it keeps 2, 5, 8, ... VQ levels.
        self.dropout_multiple_of, self.dropout_offset = dropout_multiple_of, dropout_offset
        self.inference = inference
        if inference:
            self.rvq = FrozenResidualVQ(n_q, codebook_size, dim)
            return
        from vector_quantize_pytorch import ResidualVQ

        self.rvq = ResidualVQ(
            dim=dim, num_quantizers=n_q, codebook_size=codebook_size,
            decay=ema_decay, kmeans_init=True, kmeans_iters=10,
            threshold_ema_dead_code=dead_code_threshold,
            quantize_dropout=n_q > 1, quantize_dropout_multiple_of=dropout_multiple_of,
            commitment_weight=1.0, rotation_trick=False,
        )

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        if self.inference:
            raise RuntimeError("an inference-only quantizer cannot train (build NacCodec(cfg) to train)")
        if self.dropout_offset and self.training:
            return self._forward_offset_dropout(z)
        quantized, codes, losses = self.rvq(z.transpose(1, 2))
        return QuantizerOutput(quantized.transpose(1, 2), codes.transpose(1, 2), losses.sum())

    def _forward_offset_dropout(self, z: torch.Tensor) -> QuantizerOutput:
        """ResidualVQ's own loop (straight-through residuals, EMA updates per level), keeping
        k * multiple - offset levels, k drawn uniformly; the dropped levels report code -1."""
        from vector_quantize_pytorch.residual_vq import get_maybe_sync_seed

        m = self.dropout_multiple_of
        choices = [k * m - self.dropout_offset for k in range(1, (self.n_q + self.dropout_offset) // m + 1)]
        kept = random.Random(get_maybe_sync_seed(z.device)).choice([c for c in choices if 1 <= c <= self.n_q])
        residual = z.transpose(1, 2)
        quantized_out = torch.zeros_like(residual)
        codes, loss = [], residual.new_zeros(())
        for vq in self.rvq.layers[:kept]:
            quantized, idx, level_loss = vq(residual)
            residual = residual - quantized.detach()
            quantized_out = quantized_out + quantized
            codes.append(idx)
            loss = loss + level_loss.sum()
        codes += [torch.full_like(codes[0], -1)] * (self.n_q - kept)
        return QuantizerOutput(quantized_out.transpose(1, 2), torch.stack(codes, 1), loss)

    @property
    def codebooks(self) -> torch.Tensor:  # (n_q, codebook_size, dim)
        return self.rvq.codebooks

    def books(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Stacked codebooks (n_q, codebook_size, dim) and their squared norms as they are now:
        what a stream opened on this quantizer codes with (`nac/codec/stateful.py`)."""
        if not self.inference:  # training codebooks change in place (EMA, code expiry)
            books = self.codebooks.detach()
            return books, books.square().sum(-1)
        # An inference quantizer's codebooks change only by load_state_dict, which bumps the
        # tensors' versions: cached, so that a file coded frame by frame does not restack 24
        # codebooks a frame. (vector-quantize-pytorch updates training codebooks through
        # `.data`, which does not bump them: no cache there.)
        key = tuple((id(level._codebook.embed), level._codebook.embed._version) for level in self.rvq.layers)
        cache = getattr(self, "_books_cache", None)
        if cache is None or cache[0] != key:
            with torch.inference_mode(False), torch.no_grad():
                books = self.codebooks
                cache = (key, books, books.square().sum(-1))
            self._books_cache = cache
        return cache[1], cache[2]

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: int, rate_cost: torch.Tensor | None = None,
               books: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """(B, D, N) latents -> (B, n_q, N) codes, greedy residual nearest neighbour; with
        `rate_cost` (>= n_q levels, codebook_size) the code minimising |r - c|^2 + rate_cost[c]
        (what an entropy-coding encoder wants: `nac/entropy.py`). `books`: `self.books()` taken
        earlier (a stream's), else the codebooks as they are now."""
        b, _, n = z.shape
        residual = z.transpose(1, 2).reshape(b * n, -1)
        books, norms = books or self.books()  # norms: (n_q, codebook_size)
        if rate_cost is not None:
            norms = norms[:n_q] + rate_cost[:n_q]
        codes = []
        for level in range(n_q):
            # |r - c|^2 without |r|^2 (the same for every code): one fused |c|^2 - 2 r.c
            dist = torch.addmm(norms[level], residual, books[level].T, alpha=-2.0)
            idx = _argmin_rows(dist)
            residual = residual - books[level][idx]
            codes.append(idx)
        return torch.stack(codes, dim=1).reshape(b, n, n_q).transpose(1, 2)

    def decode(self, codes: torch.Tensor, books: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """(B, n_q, N) codes -> (B, D, N) summed code vectors (`books`: as in `encode`)."""
        books = (books or self.books())[0]
        out = 0
        for level in range(codes.shape[1]):
            out = out + books[level][codes[:, level]]
        return out.transpose(1, 2)

    @torch.no_grad()
    def usage(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per level: fraction of codes used in `codes` and perplexity (effective codebook size)."""
        used, perplexity = [], []
        for level in range(codes.shape[1]):
            c = codes[:, level].reshape(-1)
            c = c[c >= 0]
            counts = torch.bincount(c, minlength=self.codebook_size).float()
            p = counts / counts.sum().clamp_min(1)
            used.append((counts > 0).float().mean())
            perplexity.append(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))
        return torch.stack(used), torch.stack(perplexity)
