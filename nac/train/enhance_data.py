"""The enhancer's training excerpts: clean training speech through random damage chains.

Runs in a DataLoader worker (its own process), so damage is made on the second core while the
first trains. Noise files are split by name: every fifth file is kept for the dev set.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..io.audio import list_audio
from .damage import DamageBank, room_impulse_response
from .data import load_corpus

NAC_RATES = (1.5, 3, 6, 12)


def noise_files(data: Path, dev: bool) -> list[Path]:
    files = sorted(list_audio(data / "noise"))
    return [f for i, f in enumerate(files) if (i % 5 == 4) == dev]


def load_files(files: list[Path], sr: int) -> list[np.ndarray]:
    from ..io.audio import read_audio, resample

    return [resample(a.mean(0, keepdims=True), s, sr)[0] for a, s in (read_audio(f) for f in files)]


def build_nac_pool(data: Path, sr: int, clips: int, cache: Path, seconds: float = 4.0) -> list:
    """(decoded, clean) excerpts of training speech through the default NAC model at every rate,
    made once per run (cached): NAC's own output is one of the inputs the enhancer cleans."""
    if cache.exists():
        return torch.load(cache, weights_only=False)
    from ..api import compress, decompress
    from ..io.audio import fit_length

    speech = load_corpus(data / "train" / "speech", sr, progress=False)
    rng = np.random.default_rng(1234)
    n = int(seconds * sr)
    pool = []
    for i in range(clips):
        clip = speech[rng.integers(len(speech))]
        start = rng.integers(0, max(1, len(clip) - n + 1))
        clean = np.pad(clip[start:start + n], (0, max(0, n - len(clip[start:]))))
        clean = (clean / max(np.abs(clean).max(), 1e-4) * 10 ** (rng.uniform(-20, -1) / 20)).astype(np.float32)
        decoded = decompress(compress(clean[None], sr, kbps=NAC_RATES[i % len(NAC_RATES)]))[0]
        pool.append((fit_length(decoded, n)[0].astype(np.float32), clean))
        print(f"nac pool {i + 1}/{clips}", flush=True) if (i + 1) % 20 == 0 else None
    torch.save(pool, cache)
    return pool


class DamagedSpeech(torch.utils.data.IterableDataset):
    def __init__(self, data: Path, sr: int, cfg, nac_pool: list, seed: int = 0):
        self.data, self.sr, self.cfg, self.nac_pool, self.seed = data, sr, cfg, nac_pool, seed

    def _bank(self, rng: np.random.Generator) -> tuple[DamageBank, list[np.ndarray]]:
        speech = load_corpus(self.data / "train" / "speech", self.sr, progress=False)
        music = load_corpus(self.data / "train" / "music", self.sr, progress=False)
        noise = load_files(noise_files(self.data, dev=False), self.sr)
        rirs = [room_impulse_response(rng, self.sr, rng.uniform(0.1, 0.8)) for _ in range(self.cfg.rirs)]
        return DamageBank(self.sr, noise, music, speech, rirs, []), speech

    def __iter__(self):
        torch.set_num_threads(1)
        rng = np.random.default_rng(self.seed)
        bank, speech = self._bank(rng)
        weights = np.array([len(c) for c in speech], np.float64)
        weights /= weights.sum()
        n = int(self.cfg.segment_seconds * self.sr) // 160 * 160
        while True:
            degraded, clean = [], []
            for _ in range(self.cfg.batch_size):
                if self.nac_pool and rng.uniform() < 0.12:
                    dec, src = self.nac_pool[rng.integers(len(self.nac_pool))]
                    s = rng.integers(0, len(src) - n + 1)
                    x, y = src[s:s + n], dec[s:s + n]
                else:
                    clip = speech[rng.choice(len(speech), p=weights)]
                    clip = np.pad(clip, (0, max(0, n - len(clip))))
                    s = rng.integers(0, len(clip) - n + 1)
                    x = clip[s:s + n]
                    x = (x / max(np.abs(x).max(), 1e-4) * 10 ** (rng.uniform(-25, -1) / 20)).astype(np.float32)
                    y, x, _ = bank.damage(x, rng)
                peak = np.abs(y).max()
                scale = 0.99 / peak if peak > 0.99 else 1.0
                degraded.append(y * scale)
                clean.append(x * scale)
            yield torch.from_numpy(np.stack(degraded)).float(), torch.from_numpy(np.stack(clean)).float()
