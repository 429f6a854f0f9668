"""Shipped models: name -> weights file under nac/pretrained/ with its sha256.

Loading never touches the network; a weights file whose hash does not match is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import checkpoint

PRETRAINED_DIR = Path(__file__).parent / "pretrained"


@dataclass(frozen=True)
class ModelCard:
    name: str
    kind: str  # "codec", "enhancer" (speech restoration) or "restore" (the music post-filter)
    filename: str
    sha256: str
    description: str
    # Restoration models: the input classes (`restore.plan.input_class`) on which dev measured
    # the model worse (reports/restore.md): `nac restore` passes those through.
    skips: tuple[str, ...] = ()
    # ... and how much of the model's change to apply per input class where dev measured a
    # partial mix better than all of it ((class, strength) pairs; other classes: 1.0)
    class_strength: tuple[tuple[str, float], ...] = ()


REGISTRY: dict[str, ModelCard] = {
    card.name: card
    for card in [
        ModelCard("nac-16k", "codec", "nac-16k.pt",
                  "4840ff1d27b6fa8e662352a5263a94397ec5b9d481e8858d085b166fb39c0cd0",
                  "16 kHz speech+music codec, 50 Hz x 10-bit codes, 1.5-12 kbps"),
        ModelCard("nac-16k-bg", "codec", "nac-16k-bg.pt",
                  "1dc469611abfcf3c68b22c7db576a8a1efd84dd7a34e30f5d25f5911d5589474",
                  "nac-16k + band-gain layer: from 3 kbps up, part of each bitrate codes the decoder's "
                  "band-level errors (reports/band_gain.md); no entropy coding, no stateful streaming"),
        ModelCard("nac-16k-pitch", "codec", "nac-16k-pitch.pt",
                  "8d12d3d8b9123ffcbfa8bb1cbddad6d91481f50b5e0883bb82803706a4884a86",
                  "experimental: nac-16k + pitch side channel (1 level of every bitrate = f0), 46 000 steps; "
                  "A/B in reports/training.md"),
        ModelCard("enhance-speech-16k", "enhancer", "enhance-speech-16k.pt",
                  "b274716f60cbcc145109696a436585e37d4b4196c1e9f7061071876f23d5ccdd",
                  "speech enhancer: band gains that cut and boost, a deep filter below 3.2 kHz, band extension "
                  "above the input's cutoff; causal, 20 ms latency (nac/restore/enhancer.py, reports/restore.md)",
                  # per-class strengths from dev (experiments/tune_enhancer_limits.py ->
                  # reports/enhancer_limits.md; 12 files, PESQ change): little-to-repair
                  # full-band PCM at 0.3 (clean -0.008 instead of -0.186), band-limited PCM and
                  # low-rate Opus at 0.5 (8 kHz +0.27, Opus 6 +0.11 instead of +0.11 / +0.03),
                  # NAC's output at 0.7 (+0.11 instead of +0.10); noisy full-band speech at 1.
                  # Little-to-repair full-band PCM passes through untouched: at 0.3 the
                  # benchmark still measured ViSQOL -0.07 +- 0.03 and LSD +0.05 on clean files >= 2.5 s
                  skips=("fullband-clean",),
                  class_strength=(("fullband-clean", 0.3), ("narrowband", 0.5), ("opus-low", 0.5), ("nac", 0.7),
                                  ("opus", 0.3), ("mp3", 0.3), ("aac", 0.3))),
        ModelCard("restore-music-24k", "restore", "restore-music-24k.pt",
                  "75c09cd3aa2812d8408224aced27a7fac5a144adcf371162147ca86ca55280a1",
                  "music restoration / bandwidth extension to 24 kHz"),
    ]
}
DEFAULT_CODEC = "nac-16k-bg"  # passed the ship rule against nac-16k at 3, 6 and 12 kbps (reports/band_gain.md)
DEFAULT_RESTORE = {"speech": "enhance-speech-16k", "music": "restore-music-24k"}


class ModelNotFoundError(Exception):
    pass


def resolve(name_or_path: str) -> tuple[Path, str | None]:
    """(weights path, expected sha256 or None for a user's own file)."""
    card = REGISTRY.get(name_or_path)
    if card is not None:
        return PRETRAINED_DIR / card.filename, card.sha256
    path = Path(name_or_path)
    if path.is_file():
        return path, None
    known = ", ".join(sorted(REGISTRY))
    raise ModelNotFoundError(f"unknown model {name_or_path!r} (known: {known}; or pass a checkpoint path with --model)")


def load_checkpoint(name_or_path: str) -> tuple[dict, str]:
    """Load and verify a checkpoint; returns (checkpoint dict, its sha256)."""
    path, expected = resolve(name_or_path)
    if not path.is_file():
        raise ModelNotFoundError(f"weights for {name_or_path!r} are missing ({path})")
    digest = checkpoint.sha256(path)
    if expected is not None and digest != expected:
        raise checkpoint.CheckpointError(
            f"{path}: sha256 {digest[:12]}... does not match the registry's {expected[:12]}...")
    return checkpoint.load(path), digest
