"""The enhancer's dev set: dev speech with fixed damage, scored with PESQ-WB during training.

Conditions: clean (must not get worse), the phone chain at 25 and 10 dB SNR (dev noise: every
fifth noise file, never trained on), Opus 6 kbps, 8-kHz telephone band, NAC 6 kbps. The damage
is seeded per file and condition, so every evaluation scores the same inputs. DC is removed from
the references (21 dev files carry an offset).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.audio import list_audio, read_audio, resample
from .damage import phone_recording
from .degrade import bandlimit
from .enhance_data import load_files, noise_files

CONDITIONS = ("clean", "phone25", "phone10", "opus6", "bw8k", "nac6")


def damage_for_dev(x: np.ndarray, sr: int, condition: str, rng: np.random.Generator, noise: list[np.ndarray]):
    from ..io.thirdparty import roundtrip

    if condition == "clean":
        return x.copy()
    if condition.startswith("phone"):
        return phone_recording(x, sr, rng, noise[rng.integers(len(noise))], float(condition[5:]))  # scored vs dry
    if condition == "opus6":
        return roundtrip(x, sr, "opus", 6)[0]
    if condition == "bw8k":
        return bandlimit(x, sr, 8000).astype(np.float32)
    if condition == "nac6":
        from ..api import compress, decompress
        from ..io.audio import fit_length

        return fit_length(decompress(compress(x[None], sr, kbps=6))[0], len(x))[0]
    raise ValueError(condition)


class DevSet:
    def __init__(self, data: Path, sr: int, n_files: int, max_seconds: float = 6.0,
                 conditions: tuple[str, ...] = CONDITIONS):
        files = sorted(list_audio(data / "dev" / "speech"))
        picks = [files[i] for i in np.linspace(0, len(files) - 1, n_files).round().astype(int)]
        noise = load_files(noise_files(data, dev=True), sr)
        self.sr, self.items = sr, []
        for i, path in enumerate(picks):
            audio, rate = read_audio(path)
            x = resample(audio.mean(0, keepdims=True), rate, sr)[0][: int(max_seconds * sr)]
            x = (x - x.mean()).astype(np.float32)
            for j, cond in enumerate(conditions):
                rng = np.random.default_rng(1000 * i + j)
                self.items.append((path.name, cond, x, damage_for_dev(x, sr, cond, rng, noise).astype(np.float32)))

    def score(self, model, step: int) -> list[dict]:
        from pesq import pesq

        from ..restore.stream import enhance_file

        per = {}
        for name, cond, clean, degraded in self.items:
            out = enhance_file(model, degraded[None])[0]
            p_in = pesq(self.sr, clean, degraded, "wb")
            p_out = pesq(self.sr, clean, out, "wb")
            per.setdefault(cond, []).append((p_in, p_out))
        return [{"step": step, "condition": c, "files": len(v), "pesq_in": float(np.mean([a for a, _ in v])),
                 "pesq_out": float(np.mean([b for _, b in v]))} for c, v in per.items()]
