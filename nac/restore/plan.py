"""What `nac restore` decides before it touches the audio, and why (`nac restore --explain`).

A post-filter that damages its input is worse than none, so restoration is planned from
measurements of the input: its bandwidth (the highest frequency with real content), whether it
is speech or music, and what the container says (codec, bitrate). Where the input already fills
the model's band (clean audio, Opus >= 12 kbps, NAC's own output) the model has nothing to add
that it was shown to add without loss, so the input passes through untouched. A shipped model
also runs only on the kind of input where dev measurements showed it helps (`ModelCard.
helps_band_limited`); otherwise the content's model restores it, and a bounded model keeps the
reliable band by construction.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..io.audio import fit_length, resample

FULL_BAND = 0.9  # bandwidth >= this fraction of the model's Nyquist counts as full


@dataclass
class RestorePlan:
    content: str  # "speech" or "music"
    speech_probability: float | None  # None when --content was given
    bandwidth_hz: float  # measured on the input
    full_band_hz: float  # what the chosen model could fill: its Nyquist
    model: str  # the model that would restore this content
    action: str  # "restore" or "pass-through"
    strength: float
    reason: str
    codec: str | None = None  # from the container, when known
    kbps: float | None = None
    keep_band: bool = True  # keep the input below its bandwidth (post-filters: always)
    input_class: str | None = None  # what a latent restorer's measurements are keyed on

    def explain(self) -> str:
        source = f"{self.codec} at {self.kbps:.2f} kbps (file_kbps), " if self.codec and self.kbps else (
            f"{self.codec}, " if self.codec else "")
        guess = f" (p(speech) = {self.speech_probability:.2f})" if self.speech_probability is not None else ""
        return (f"input: {source}{self.content}{guess}, bandwidth {self.bandwidth_hz / 1000:.1f} kHz "
                f"of {self.full_band_hz / 1000:.1f} kHz\n"
                f"action: {self.action}" + (f" with {self.model} at strength {self.strength:g}"
                                            if self.action == "restore" else "") + f" ({self.reason})")

    def to_dict(self) -> dict:
        return asdict(self)


def plan_restore(audio: np.ndarray, sr: int, content: str = "auto", model: str | None = None,
                 strength: float = 1.0, always: bool = False, codec: str | None = None,
                 kbps: float | None = None, bandwidth_hz: float | None = None) -> RestorePlan:
    """Measure (C, T) audio and decide what restoring it means."""
    from ..io.sources import measure_bandwidth
    from ..registry import DEFAULT_RESTORE, REGISTRY
    from .content import probability_speech
    from .restorer import load_restorer

    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength {strength:g}: expected a value in [0, 1]")
    p_speech = None
    if content == "auto":
        p_speech = probability_speech(audio, sr)
        content = "speech" if p_speech >= 0.5 else "music"
    name = model or DEFAULT_RESTORE[content]
    restorer = load_restorer(name)
    bandwidth = measure_bandwidth(audio, sr) if bandwidth_hz is None else bandwidth_hz
    full = restorer.sample_rate / 2  # it can also add band above the input's own Nyquist
    card = REGISTRY.get(name)
    if card is not None and card.kind == "restore-latent" and strength > 0:
        return _latent_plan(card, content, p_speech, bandwidth, full, strength, always, codec, kbps)
    if strength == 0.0:
        action, reason = "pass-through", "strength 0"
    elif always:
        action, reason = "restore", "--always"
    elif bandwidth >= FULL_BAND * full:
        action, reason = "pass-through", "the input already fills the band the model restores"
    elif name in REGISTRY and not REGISTRY[name].helps_band_limited:
        action, reason = "pass-through", (f"{name} lowered PESQ on band-limited dev {content} "
                                          "(reports/restore.md); --always runs it anyway")
    else:
        action, reason = "restore", f"content above {bandwidth / 1000:.1f} kHz is missing"
    return RestorePlan(content, p_speech, bandwidth, full, name, action, strength, reason, codec, kbps)


def input_class(codec: str | None, kbps: float | None, bandwidth_hz: float, full_band_hz: float) -> str:
    """What a latent restorer's dev measurements are keyed on: the source codec and rate when
    the container names them, else whether PCM input fills the band."""
    if codec == "opus":
        return "opus-low" if (kbps or 0) < 9 else "opus"
    if codec in ("mp3", "aac", "nac"):
        return codec
    return "fullband" if bandwidth_hz >= FULL_BAND * full_band_hz else "narrowband"


def _latent_plan(card, content, p_speech, bandwidth, full, strength, always, codec, kbps) -> RestorePlan:
    cls = input_class(codec, kbps, bandwidth, full)
    keep = cls in card.keeps_band
    if always or cls in card.restores:
        how = (f"the codec's decoder renders it, the input kept below {bandwidth / 1000:.1f} kHz" if keep
               else "the codec's decoder renders all of it")
        reason = ("--always" if always and cls not in card.restores else
                  f"{cls} input measured better restored (reports/restore_training.md)") + f"; {how}"
        action = "restore"
    else:
        action, reason = "pass-through", f"no measured gain for {cls} input (reports/restore_training.md); --always runs it"
    return RestorePlan(content, p_speech, bandwidth, full, card.name, action, strength, reason, codec, kbps,
                       keep, cls)


def apply_plan(audio: np.ndarray, sr: int, plan: RestorePlan, out_rate: int | None = None
               ) -> tuple[np.ndarray, int]:
    """Carry out `plan` on (C, T) audio; returns (audio, rate). Pass-through returns the input
    itself (resampled only if another output rate was asked for)."""
    from .restorer import load_restorer, postfilter

    if plan.action == "pass-through":
        rate = out_rate or sr
        if rate == sr:
            return audio.astype(np.float32, copy=False), sr
        return fit_length(resample(audio, sr, rate), round(audio.shape[1] * rate / sr)).astype(np.float32), rate
    return postfilter(audio, sr, load_restorer(plan.model), out_rate, plan.strength,
                      plan.bandwidth_hz if plan.keep_band else None)


def restore_audio(audio: np.ndarray, sr: int, content: str = "auto", model: str | None = None,
                  out_rate: int | None = None, strength: float = 1.0, codec: str | None = None,
                  kbps: float | None = None) -> tuple[np.ndarray, int]:
    """What `nac restore` does to (C, T) audio that came out of `codec` at `kbps` (None: PCM, as
    from a WAV file): plan (detect, decide), then restore or pass through."""
    plan = plan_restore(audio, sr, content, model, strength, codec=codec, kbps=kbps)
    return apply_plan(audio, sr, plan, out_rate)
