"""Fitting the band-gain layer's codebooks (nac/codec/band_gain.py): residual k-means on the gain
vectors a codec's decoder leaves on training speech.

The codec's weights stay as they are: what is learned is only how to code its errors, so the
fit takes minutes on a CPU and its data are the training set's (`scripts/fit_band_gains.py`).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from nac.codec.band_gain import BandGains


@torch.no_grad()
def gain_vectors(model, clips: Iterable[np.ndarray], latent_kbps: Sequence[float], gains: BandGains) -> torch.Tensor:
    """(frames, dim) gain vectors (dB) of `model`'s decoder on its own latent codes of each clip,
    the clips taking the rates of `latent_kbps` in turn (kbps of latent codes alone: the rates a
    gain plan decodes under its gains)."""
    out = []
    for i, x in enumerate(clips):
        wav = model._pad(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None])
        levels = round(latent_kbps[i % len(latent_kbps)] / model.cfg.kbps_per_codebook())
        codes = model.quantizer.encode(model._latents(wav), levels)
        mag = model._spectrum(model.quantizer.decode(codes), None)[0]
        out.append(gains.analyse(model.decoder.head.stft(wav)[..., : mag.shape[-1]].abs(), mag)[0].T)
    return torch.cat(out)


def kmeans(x: torch.Tensor, k: int, iters: int = 20, seed: int = 0) -> torch.Tensor:
    """(k, dim) centroids of rows `x` (Lloyd's, k-means++-free: random rows, empty clusters
    re-seeded at the worst-fitted rows)."""
    g = torch.Generator().manual_seed(seed)
    centroids = x[torch.randperm(len(x), generator=g)[:k]].clone()
    sq = x.square().sum(1, keepdim=True)
    for _ in range(iters):
        dist = sq - 2 * x @ centroids.T + centroids.square().sum(1)[None]
        nearest = dist.argmin(1)
        counts = torch.bincount(nearest, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, nearest, x)
        empty = counts == 0
        centroids = torch.where(empty[:, None], centroids, sums / counts.clamp(min=1)[:, None])
        if empty.any():
            worst = dist.gather(1, nearest[:, None])[:, 0].topk(int(empty.sum())).indices
            centroids[empty] = x[worst]
    return centroids


def fit_codebooks(vectors: torch.Tensor, levels: int, codebook_size: int, iters: int = 20) -> torch.Tensor:
    """(levels, codebook_size, dim) residual-VQ codebooks; prints each level's remaining error."""
    residual = vectors.float().clone()
    books = []
    for level in tqdm(range(levels), desc="band-gain codebooks"):
        book = kmeans(residual, codebook_size, iters, seed=level)
        dist = residual.square().sum(1, keepdim=True) - 2 * residual @ book.T + book.square().sum(1)[None]
        residual = residual - book[dist.argmin(1)]
        tqdm.write(f"level {level + 1}: rms gain error {residual.square().mean().sqrt():.2f} dB")
        books.append(book)
    return torch.stack(books)
