"""Named systems for evaluation: `nac:6`, `opus:6`, `mp3:32`, `aac:24`, `identity`.

Each turns a mono clip into its coded version at the same rate and length, and reports the
bitrate it really spent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class System:
    spec: str  # as written on the command line
    kind: str  # nac | opus | mp3 | aac | identity
    kbps: float | None
    model: str | None = None

    @property
    def family(self) -> str:
        return self.kind


def parse_system(spec: str, model: str | None = None) -> System:
    parts = spec.split(":")
    kind = parts[0].lower()
    if kind == "identity" and len(parts) == 1:
        return System(spec, kind, None)
    if kind not in {"nac", "opus", "mp3", "aac"} or len(parts) != 2:
        raise ValueError(f"unknown system {spec!r} (use nac:KBPS, opus:KBPS, mp3:KBPS, aac:KBPS or identity)")
    try:
        kbps = float(parts[1])
    except ValueError:
        raise ValueError(f"system {spec!r}: {parts[1]!r} is not a bitrate") from None
    return System(spec, kind, kbps, model if kind == "nac" else None)


def run_system(system: System, audio: np.ndarray, sr: int) -> tuple[np.ndarray, float | None]:
    """Mono (T,) audio -> (coded audio (T,), real kbps)."""
    if system.kind == "identity":
        return audio, None
    if system.kind == "nac":
        from .compress import compress, decompress
        from .registry import DEFAULT_CODEC

        data = compress(audio[None], sr, system.kbps, system.model or DEFAULT_CODEC)
        out, _ = decompress(data, system.model)
        return out[0], len(data) * 8 / (len(audio) / sr) / 1000
    from .thirdparty import roundtrip

    return roundtrip(audio, sr, system.kind, system.kbps)
