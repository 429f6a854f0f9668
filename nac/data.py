"""Training data: whole corpora held in memory at the model rate, random crops with gain.

153 min of 16 kHz speech is ~0.6 GB as float32, so preloading is simpler and much faster than
decoding FLAC on every step on a 2-core machine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .audio import AudioError, read_audio, resample

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac"}


def list_audio(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def load_corpus(folder: str | Path, sample_rate: int, min_seconds: float = 0.25,
                progress: bool = True) -> list[np.ndarray]:
    """All files under `folder` as mono float32 at `sample_rate` (unreadable files skipped)."""
    clips = []
    for path in tqdm(list_audio(folder), desc=f"loading {folder}", disable=not progress, leave=False):
        try:
            audio, sr = read_audio(path)
        except AudioError:
            continue
        mono = resample(audio.mean(0, keepdims=True), sr, sample_rate)[0]
        if len(mono) >= min_seconds * sample_rate:
            clips.append(mono)
    return clips


class CropSampler:
    """Random fixed-length crops from weighted corpora, with random gain (seeded)."""

    def __init__(self, corpora: list[list[np.ndarray]], weights: list[float], segment: int,
                 seed: int = 0, gain_db: tuple[float, float] = (-18.0, 0.0)):
        self.corpora = [c for c in corpora if c]
        if not self.corpora:
            raise ValueError("no training audio found")
        w = np.array([wt for c, wt in zip(corpora, weights) if c], dtype=np.float64)
        self.weights = w / w.sum()
        # within a corpus, pick files in proportion to their length (each second equally likely)
        self.file_p = [np.array([len(x) for x in c], dtype=np.float64) for c in self.corpora]
        self.file_p = [p / p.sum() for p in self.file_p]
        self.segment, self.gain_db = segment, gain_db
        self.rng = np.random.default_rng(seed)

    def crop(self) -> np.ndarray:
        k = self.rng.choice(len(self.corpora), p=self.weights)
        clip = self.corpora[k][self.rng.choice(len(self.corpora[k]), p=self.file_p[k])]
        if len(clip) <= self.segment:
            clip = np.pad(clip, (0, self.segment - len(clip)))
        start = self.rng.integers(0, len(clip) - self.segment + 1)
        x = clip[start:start + self.segment]
        peak = np.abs(x).max()
        # normalise the crop's peak, then apply a random level: the codec must work at all levels
        gain = 10 ** (self.rng.uniform(*self.gain_db) / 20) / max(peak, 1e-4)
        return (x * min(gain, 100.0)).astype(np.float32)

    def batch(self, size: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.crop() for _ in range(size)]))
