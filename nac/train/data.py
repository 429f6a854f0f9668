"""Training data: whole corpora held in memory at the model rate, random crops with gain.

153 min of 16 kHz speech is ~0.6 GB as float32, so preloading is simpler and much faster than
decoding FLAC on every step on a 2-core machine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..io.audio import AudioError, list_audio, read_audio, resample


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
                 seed: int = 0, gain_db: tuple[float, float] = (-18.0, 0.0), align: int = 1):
        self.corpora = [c for c in corpora if c]
        if not self.corpora:
            raise ValueError("no training audio found")
        w = np.array([wt for c, wt in zip(corpora, weights) if c], dtype=np.float64)
        self.weights = w / w.sum()
        # within a corpus, pick files in proportion to their length (each second equally likely)
        self.file_p = [np.array([len(x) for x in c], dtype=np.float64) for c in self.corpora]
        self.file_p = [p / p.sum() for p in self.file_p]
        self.segment, self.gain_db = segment, gain_db
        self.align = align  # crops start at multiples of this (a pitch track's frame period)
        self.rng = np.random.default_rng(seed)
        self.last_locations: list[tuple[int, int, int]] = []  # (corpus, clip, start) of the last batch

    def crop(self) -> np.ndarray:
        k = self.rng.choice(len(self.corpora), p=self.weights)
        i = self.rng.choice(len(self.corpora[k]), p=self.file_p[k])
        clip = self.corpora[k][i]
        if len(clip) <= self.segment:
            clip = np.pad(clip, (0, self.segment - len(clip)))
        start = self.rng.integers(0, (len(clip) - self.segment) // self.align + 1) * self.align
        self.last_locations.append((int(k), int(i), int(start)))
        x = clip[start:start + self.segment]
        peak = np.abs(x).max()
        # normalise the crop's peak, then apply a random level: the codec must work at all levels
        gain = 10 ** (self.rng.uniform(*self.gain_db) / 20) / max(peak, 1e-4)
        return (x * min(gain, 100.0)).astype(np.float32)

    def batch(self, size: int) -> torch.Tensor:
        self.last_locations = []
        return torch.from_numpy(np.stack([self.crop() for _ in range(size)]))


class PitchTracks:
    """f0 tracks of every training clip (10-ms frames at 16 kHz), computed once and cached on
    disk: tracking on every step would cost ~40 % of a CPU training step."""

    def __init__(self, corpora: list[list[np.ndarray]], sample_rate: int, hop: int, cache: Path | None = None,
                 progress: bool = True):
        from ..codec.pitch import track

        self.half = hop // 2
        key = [len(c) for c in corpora] + [sum(len(x) for c in corpora for x in c)]
        if cache is not None and cache.exists():
            stored = torch.load(cache, weights_only=False)
            if stored.get("key") == key:
                self.tracks = stored["tracks"]
                return
        period_ms = 1000.0 * self.half / sample_rate
        self.tracks = [[track(x, sample_rate, period_ms).astype(np.float32) for x in c]
                       for c in tqdm(corpora, desc="pitch tracks", disable=not progress, leave=False)]
        if cache is not None:
            torch.save({"key": key, "tracks": self.tracks}, cache)

    def codes(self, locations: list[tuple[int, int, int]], frames: int) -> torch.Tensor:
        """Pitch codes (B, frames) of crops starting at `locations` (starts: multiples of hop / 2)."""
        from ..codec.pitch import quantize

        rows = []
        for k, i, start in locations:
            track = self.tracks[k][i]
            idx = start // self.half + 2 * np.arange(frames) + 1  # code frame j: half-hop frame 2j + 1 of the crop
            f0 = np.where(idx < len(track), track[np.minimum(idx, len(track) - 1)], 0.0)
            rows.append(quantize(f0))
        return torch.from_numpy(np.stack(rows))
