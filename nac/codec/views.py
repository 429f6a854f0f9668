"""Views of a codec: the same weights under another backend or other decode-time settings."""
from __future__ import annotations

import copy
import dataclasses

# `nac decode --postfilter` on NAC streams. Dev speech PESQ: +0.06 at 1.05, +0.10 at 1.1, +0.11
# at 1.15 (log-mel distance rising faster); at 1.1 ViSQOL falls 0.24 and stays above Opus 6's
# (reports/restore_training.md; scripts/ab_eval.py --set sharpen=...).
POSTFILTER_SHARPEN = 1.1


class CodecViews:
    """Mixed into `NacCodec`: views that share its modules and codebooks, never copy them."""

    @classmethod
    def sharing(cls, model: "CodecViews") -> "CodecViews":
        """A `cls` over `model`'s modules, configs and codebooks (no copies): how a backend
        (`nac/onnx.py`, `nac/bf16.py`) replaces the network hooks below and keeps the rest."""
        codec = cls.__new__(cls)
        codec.__dict__.update(model.__dict__)
        return codec

    def with_postfilter(self, sharpen: float | None = None) -> "CodecViews":
        """The same codec (shared weights) decoding with the sharpening post-filter."""
        return self.with_config(sharpen=POSTFILTER_SHARPEN if sharpen is None else sharpen)

    def with_config(self, **decode_settings) -> "CodecViews":
        """The same codec (shared weights) with other decode-time settings (`sharpen`,
        `online_phase_lookahead`, `online_phase_iters`): nothing the weights depend on."""
        bad = set(decode_settings) - {"sharpen", "online_phase_lookahead", "online_phase_iters"}
        if bad:
            raise ValueError(f"not decode-time settings: {sorted(bad)}")
        codec = copy.copy(self)  # shallow: modules shared, own config
        codec.cfg = dataclasses.replace(self.cfg, **decode_settings)
        return codec
