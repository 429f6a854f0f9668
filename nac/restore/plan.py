"""What `nac restore` decides before it touches the audio, and why (`nac restore --explain`).

Speech goes through the enhancer (`enhancer.py`), which edits the input's own spectrum: it
repairs noise, rooms, colouration and codec damage where the input has them, generates the band
the input lacks, and was trained to leave clean speech as it is. A shipped model runs only on
the input classes where dev measured no loss (`ModelCard.skips`: measured worse, passed
through). Music keeps its post-filter, run where its band is incomplete.

The output keeps the input's rate unless band extension needs a higher one (8-kHz telephone
speech comes back at 16 kHz); `--explain` says which and why, and `--sample-rate` overrides it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..io.audio import fit_length, resample

FULL_BAND = 0.9  # bandwidth >= this fraction of the model's Nyquist counts as full
# Full-band PCM the enhancer would change by less than this (the energy of its change against
# the input's, on the first 30 s) has little to repair: class "fullband-clean". On the dev set
# clean speech measured -13.7 ... -21 dB, phone recordings at 25 and 10 dB SNR -11 ... +2 dB
# (reports/restore_training.md, session 15).
CLEAN_CHANGE_DB = -12.0


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
    kbps: float | None = None  # the file's rate (`container.bitstream.file_kbps`)
    input_rate: int = 0
    output_rate: int = 0
    rate_reason: str = "the input's rate"
    input_class: str = ""

    def explain(self) -> str:
        source = f"{self.codec} at {self.kbps:.2f} kbps (file_kbps), " if self.codec and self.kbps else (
            f"{self.codec}, " if self.codec else "")
        guess = f" (p(speech) = {self.speech_probability:.2f})" if self.speech_probability is not None else ""
        return (f"input: {source}{self.content}{guess}, {self.input_rate} Hz, bandwidth "
                f"{self.bandwidth_hz / 1000:.1f} kHz of {self.full_band_hz / 1000:.1f} kHz\n"
                f"action: {self.action}" + (f" with {self.model} at strength {self.strength:g}"
                                            if self.action == "restore" else "") + f" ({self.reason})\n"
                f"output: {self.output_rate} Hz ({self.rate_reason})")

    def to_dict(self) -> dict:
        return asdict(self)


def input_class(codec: str | None, kbps: float | None, bandwidth_hz: float, full_band_hz: float) -> str:
    """What a model card's measurements are keyed on: the source codec (and Opus' rate band)
    when the container names it, else whether PCM input fills the model's band."""
    if codec == "opus":
        return "opus-low" if (kbps or 0) < 9 else "opus"
    if codec in ("mp3", "aac", "nac"):
        return codec
    return "fullband" if bandwidth_hz >= FULL_BAND * full_band_hz else "narrowband"


def plan_restore(audio: np.ndarray, sr: int, content: str = "auto", model: str | None = None,
                 strength: float = 1.0, always: bool = False, codec: str | None = None,
                 kbps: float | None = None, bandwidth_hz: float | None = None,
                 out_rate: int | None = None) -> RestorePlan:
    """Measure (C, T) audio and decide what restoring it means."""
    from ..io.sources import measure_bandwidth
    from ..registry import DEFAULT_RESTORE, REGISTRY
    from .content import probability_speech
    from .restorer import is_enhancer, load_restorer

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
    cls = input_class(codec, kbps, bandwidth, full)
    enhancer = is_enhancer(restorer)
    change_db = None
    if enhancer and cls == "fullband" and strength > 0 and not always:
        change_db = change_ratio_db(restorer, audio, sr)
        if change_db < CLEAN_CHANGE_DB:
            cls = "fullband-clean"
    if strength == 0.0:
        action, reason = "pass-through", "strength 0"
    elif always:
        action, reason = "restore", "--always"
    elif card is not None and cls in card.skips:
        action, reason = "pass-through", f"{name} measured worse on {cls} input (reports/restore.md); --always runs it"
    elif enhancer:
        action = "restore"
        reason = ("repairs noise, room, colouration and codec damage"
                  + (f", generates the band above {bandwidth / 1000:.1f} kHz" if bandwidth < FULL_BAND * full else "")
                  + (f"; it would change this input by {change_db:.1f} dB" if change_db is not None else ""))
        scale = dict(card.class_strength).get(cls, 1.0) if card is not None else 1.0
        if scale != 1.0:
            strength *= scale
            reason += f"; {cls} input at {scale:g} of the change, as dev measured best (reports/restore.md)"
    elif bandwidth >= FULL_BAND * full:
        action, reason = "pass-through", "the input already fills the band the model restores"
    else:
        action, reason = "restore", f"content above {bandwidth / 1000:.1f} kHz is missing"
    rate, rate_reason = sr, "the input's rate"
    if out_rate:
        rate, rate_reason = out_rate, "--sample-rate"
    elif action == "restore" and sr < restorer.sample_rate:
        rate = restorer.sample_rate
        rate_reason = (f"input {sr} Hz: band extension to {restorer.sample_rate / 2000:g} kHz needs "
                       f"{restorer.sample_rate} Hz")
    return RestorePlan(content, p_speech, bandwidth, full, name, action, strength, reason, codec, kbps,
                       sr, rate, rate_reason, cls)


def change_ratio_db(model, audio: np.ndarray, sr: int, seconds: float = 30.0) -> float:
    """How much the enhancer would change (C, T) audio: the energy of (output - input) against
    the input's, in dB, on its first `seconds` at the model's rate (mono mix)."""
    from .stream import enhance_file

    x = resample(np.asarray(audio, np.float32).mean(0, keepdims=True), sr, model.sample_rate)
    x = x[:, :int(seconds * model.sample_rate)]
    y = enhance_file(model, x)
    return float(10 * np.log10((np.sum((y - x) ** 2) + 1e-12) / (np.sum(x ** 2) + 1e-12)))


def apply_plan(audio: np.ndarray, sr: int, plan: RestorePlan, out_rate: int | None = None
               ) -> tuple[np.ndarray, int]:
    """Carry out `plan` on (C, T) audio; returns (audio, rate). Pass-through returns the input
    itself (resampled only if another output rate was asked for)."""
    from .restorer import load_restorer, postfilter

    rate = out_rate or plan.output_rate or sr
    if plan.action == "pass-through":
        if rate == sr:
            return audio.astype(np.float32, copy=False), sr
        return fit_length(resample(audio, sr, rate), round(audio.shape[1] * rate / sr)).astype(np.float32), rate
    return postfilter(audio, sr, load_restorer(plan.model), rate, plan.strength, plan.bandwidth_hz)


def restore_audio(audio: np.ndarray, sr: int, content: str = "auto", model: str | None = None,
                  out_rate: int | None = None, strength: float = 1.0, codec: str | None = None,
                  kbps: float | None = None) -> tuple[np.ndarray, int]:
    """What `nac restore` does to (C, T) audio that came out of `codec` at `kbps` (None: PCM, as
    from a WAV file): plan (detect, decide), then restore or pass through."""
    plan = plan_restore(audio, sr, content, model, strength, codec=codec, kbps=kbps, out_rate=out_rate)
    return apply_plan(audio, sr, plan)
