"""The held-out clips a codec training run scores itself on, and the scores (its dev.csv)."""
from __future__ import annotations

import numpy as np
import torch

from ..io.audio import list_audio
from .data import load_corpus


class DevSet:
    """`count` clips spread evenly over a sorted folder (its first files are often one corpus,
    e.g. 1.5-s digits), at most 4 s each, at the codec's rate."""

    def __init__(self, folder: str, sample_rate: int, count: int):
        files = list_audio(folder)
        step = max(1, len(files) // max(1, count))
        clips = []
        for path in files[::step][:count]:
            clips.extend(load_corpus(path, sample_rate, progress=False))
        self.sample_rate = sample_rate
        self.clips = [torch.from_numpy(c[: 4 * sample_rate]) for c in clips]

    def __len__(self) -> int:
        return len(self.clips)

    @torch.no_grad()
    def score(self, model, kbps: float, device: torch.device) -> dict:
        """Mean log-mel distance, harmonic correlation (and PESQ-WB if installed) of `model`
        coding every clip at `kbps`."""
        from ..eval.metrics import (
            MissingMetricError,
            harmonic_correlation,
            mel_distance,
            pesq_wb,
        )

        model.eval()
        mel, harmonic, pesq_scores = [], [], []
        for clip in self.clips:
            rec = model.decode(model.encode(clip.to(device), kbps))[0, : len(clip)]
            ref, deg = clip.numpy(), rec.cpu().numpy()
            mel.append(mel_distance(ref, deg, self.sample_rate))
            harmonic.append(harmonic_correlation(ref, deg, self.sample_rate))
            try:
                score = pesq_wb(ref, deg, self.sample_rate)
            except MissingMetricError:  # a training machine without the [eval] extra: mel only
                score = None
            if score is not None:
                pesq_scores.append(score)
        out = {"dev_mel": float(np.mean(mel)), "dev_harmonic": float(np.mean(harmonic))}
        if pesq_scores:
            out["dev_pesq"] = float(np.mean(pesq_scores))
        return out

    def score_rates(self, model, rates: list[float], device: torch.device) -> dict:
        """`score` at each rate, as dev.csv columns: 6 kbps keeps the unsuffixed names of earlier
        runs, other rates get `_{kbps}`."""
        out = {}
        for kbps in rates:
            suffix = "" if kbps == 6 else f"_{kbps:g}"
            out.update({k + suffix: v for k, v in self.score(model, kbps, device).items()})
        return out
