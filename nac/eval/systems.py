"""Named systems for evaluation and benchmarks.

    nac:KBPS            NAC encode + decode
    nacpf:KBPS          NAC + restoration post-filter
    opus:KBPS mp3:KBPS aac:KBPS    third-party codecs (PyAV: libopus, LAME, FFmpeg AAC)
    lyra:KBPS           Lyra v2 at 3.2 / 6 / 9.2 kbps (the anchor's TFLite models, `nac/eval/lyra.py`)
    lace:KBPS nolace:KBPS   Opus decoded with libopus' neural post-filter (`nac/eval/lace.py`)
    bw:RATE             band limit: resample to RATE and back (bw:8000 = telephone band)
    phone               phone-microphone simulation (band-pass, tilt, room, clipping; seeded)
    phone:SNR           the restoration benchmark's phone recording (`train.damage.phone_recording`:
                        band-pass, presence peak, small room, noise at SNR dB, soft clipping); noise
                        from the folder in $NAC_NOISE_DIR (the bench sets the dev noise), else pink
    restore:SYSTEM      SYSTEM followed by `nac restore` (e.g. restore:opus:6, restore:bw:8000)
    dfn3:SYSTEM rnnoise:SYSTEM   SYSTEM followed by DeepFilterNet3 / RNNoise (`enhancers.py`)
    identity

Each turns a mono clip into its processed version at the same rate and length, and reports the
bitrate it really spent (None where there is no bitstream).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CODECS = {"opus", "mp3", "aac"}
ENHANCERS = {"restore", "dfn3", "rnnoise"}  # prefixes: SYSTEM, then an enhancer
ANCHORS = {"lyra", "lace", "nolace"}


@dataclass(frozen=True)
class System:
    spec: str  # as written on the command line
    kind: str  # nac | nacpf | opus | mp3 | aac | lyra | lace | nolace | bw | phone | restore | dfn3 | rnnoise | identity
    value: float | None = None  # kbps, or the band-limit rate
    model: str | None = None  # codec model for nac systems
    inner: "System | None" = None  # what restore:... (dfn3:..., rnnoise:...) restores

    @property
    def kbps(self) -> float | None:
        return self.value if self.kind in CODECS | ANCHORS | {"nac", "nacpf"} else None


def parse_system(spec: str, model: str | None = None) -> System:
    kind, _, rest = spec.partition(":")
    kind = kind.lower()
    if kind in ENHANCERS and rest:
        return System(spec, kind, None, model, parse_system(rest, model))
    if kind == "phone" and rest:
        return System(spec, "phone", float(rest))
    if kind in {"identity", "phone"} and not rest:
        return System(spec, kind)
    if kind in CODECS | ANCHORS | {"nac", "nacpf", "bw"} and rest:
        try:
            value = float(rest)
        except ValueError:
            raise ValueError(f"system {spec!r}: {rest!r} is not a number") from None
        return System(spec, kind, value, model if kind in {"nac", "nacpf"} else None)
    raise ValueError(f"unknown system {spec!r} (use nac:KBPS, nacpf:KBPS, opus:KBPS, mp3:KBPS, aac:KBPS, lyra:KBPS, "
                     "lace:KBPS, nolace:KBPS, bw:RATE, phone, phone:SNR, restore:SYSTEM, dfn3:SYSTEM, rnnoise:SYSTEM "
                     "or identity)")


CODED_SOURCES = {"opus", "mp3", "aac", "nac"}  # inputs whose container names codec and rate


def run_system(system: System, audio: np.ndarray, sr: int, content: str = "auto"
               ) -> tuple[np.ndarray, float | None]:
    """Mono (T,) audio -> (processed audio (T,), real kbps or None).

    `content` picks the restoration model (speech/music); "auto" guesses it from the audio.
    """
    from ..train import degrade

    if system.kind == "identity":
        return audio, None
    if system.kind in {"nac", "nacpf"}:
        from ..api import compress, decompress
        from ..registry import DEFAULT_CODEC

        data = compress(audio[None], sr, system.value, system.model or DEFAULT_CODEC)
        out, _ = decompress(data, system.model, postfilter=system.kind == "nacpf")
        kbps = len(data) * 8 / (len(audio) / sr) / 1000
        if system.kind == "nacpf":
            out = _restore(out[0], sr, content, "nac", kbps)[None]
        return out[0], kbps
    if system.kind == "lyra":
        from . import lyra

        return lyra.roundtrip(audio, sr, system.value)
    if system.kind in {"lace", "nolace"}:
        from . import lace

        return lace.roundtrip(audio, sr, system.value, system.kind)
    if system.kind == "bw":
        return degrade.bandlimit(audio, sr, int(system.value)), None
    if system.kind == "phone" and system.value is not None:
        return phone_recording(audio, sr, system.value), None
    if system.kind == "phone":
        return degrade.phone(audio, sr, np.random.default_rng(0)), None
    if system.kind in {"dfn3", "rnnoise"}:
        from .enhancers import ENHANCERS as THIRD_PARTY

        degraded, kbps = run_system(system.inner, audio, sr, content)
        return THIRD_PARTY[system.kind](degraded, sr), kbps
    if system.kind == "restore":
        degraded, kbps = run_system(system.inner, audio, sr, content)
        # what `nac restore` learns from the file's container: a coded input names its codec and
        # rate (the latent restorer runs on low-rate Opus only); band limits and phone chains are PCM
        codec = system.inner.kind if system.inner.kind in CODED_SOURCES else None
        return _restore(degraded, sr, content, codec, kbps if codec else None), kbps
    from ..io.thirdparty import roundtrip

    return roundtrip(audio, sr, system.kind, system.value)


def _restore(audio: np.ndarray, sr: int, content: str, codec: str | None = None,
             kbps: float | None = None) -> np.ndarray:
    """The `nac restore --content CONTENT` path, at the input's rate and length, for input that
    came out of `codec` at `kbps` (None: PCM, e.g. a WAV file)."""
    from ..restore.plan import restore_audio

    return restore_audio(audio[None].astype(np.float32), sr, content, out_rate=sr, codec=codec, kbps=kbps)[0][0]


def phone_recording(audio: np.ndarray, sr: int, snr_db: float) -> np.ndarray:
    """The benchmark's phone chain, seeded by the clip itself (every run and every system sees
    the same damaged input), noise from $NAC_NOISE_DIR (files drawn by the seed) or pink."""
    import hashlib
    import os

    from ..train.damage import colored_noise
    from ..train.damage import phone_recording as chain

    seed = int(hashlib.sha1(np.ascontiguousarray(audio, np.float32).tobytes()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed + int(snr_db))
    folder = os.environ.get("NAC_NOISE_DIR")
    if folder:
        from ..io.audio import list_audio, read_audio, resample

        files = sorted(list_audio(folder))
        raw, rate = read_audio(files[rng.integers(len(files))])
        noise = resample(raw.mean(0, keepdims=True), rate, sr)[0]
    else:
        noise = colored_noise(len(audio), rng, -1.0)
    return chain(audio.astype(np.float64), sr, rng, noise, snr_db)
