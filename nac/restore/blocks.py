"""`nac restore` in bounded memory: blocks in, restored blocks out, for files of any length.

The enhancer runs as a stream (`stream.EnhancerStream`) between two streaming resamplers (the
input's rate to the model's, the model's to the output's). Every stream here keeps sample k
aligned with input sample k (soxr compensates its filter delay; the enhancer's stream does too),
so the pieces are lined up by counting samples in FIFOs: the strength mix (the input at the
model's rate plus `strength` times the change) and, for input above the model's rate, the
content above its band (the input minus the input through the model's rate and back), which
passes through untouched, as `restorer.postfilter` does for a whole file.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from ..codec.streaming import StreamingResampler
from .plan import RestorePlan


class _Fifo:
    def __init__(self, channels: int):
        self.data = np.zeros((channels, 0), np.float32)

    def push(self, block: np.ndarray) -> None:
        self.data = np.concatenate([self.data, block], 1)

    def pop(self, n: int) -> np.ndarray:
        out, self.data = self.data[:, :n], self.data[:, n:]
        return out


def restore_blocks(blocks: Iterable[np.ndarray], sr: int, channels: int, total: int, plan: RestorePlan,
                   ) -> Iterator[np.ndarray]:
    """Carry out an enhancer `plan` on (C, T) blocks at `sr`, `total` samples in all; yields the
    output at `plan.output_rate`, round(total * rate / sr) samples in all."""
    from .restorer import load_restorer
    from .stream import EnhancerStream

    model = load_restorer(plan.model)
    rate, model_rate = plan.output_rate, model.sample_rate
    n_model, n_out = round(total * model_rate / sr), round(total * plan.output_rate / sr)
    down = StreamingResampler(sr, model_rate, channels, n_model)
    up = StreamingResampler(model_rate, rate, channels, n_out)
    stream = EnhancerStream(model, channels)
    dry = _Fifo(channels)  # the input at the model's rate, waiting for its enhanced samples
    above = None
    if sr > model_rate:  # what the model's band cannot hold passes through
        back = StreamingResampler(model_rate, sr, channels, total)
        original = _Fifo(channels)
        above = (back, original, StreamingResampler(sr, rate, channels, n_out), _Fifo(channels), _Fifo(channels))

    def step(block: np.ndarray, last: bool) -> np.ndarray:
        at_model = down.push(block, last)
        dry.push(at_model)
        enhanced = stream.push(at_model)
        if last:
            enhanced = np.concatenate([enhanced, stream.flush()], 1)
        mixed = dry.pop(enhanced.shape[1])
        mixed = mixed + plan.strength * (enhanced - mixed)
        out = up.push(mixed, last)
        if above is None:
            return out
        back, original, to_rate, main, residual = above
        original.push(block)
        rebuilt = back.push(at_model, last)
        residual.push(to_rate.push(original.pop(rebuilt.shape[1]) - rebuilt, last))
        main.push(out)
        n = min(main.data.shape[1], residual.data.shape[1])  # both at the output rate, aligned
        return main.pop(n) + residual.pop(n)

    previous = None
    for block in blocks:
        if previous is not None:
            yield step(previous, False)
        previous = np.asarray(block, np.float32)
    yield step(previous if previous is not None else np.zeros((channels, 0), np.float32), True)


PLAN_SECONDS = 30.0  # what detection reads (the classifier looks at 30 s at most)


def restore_file(src: str, dst: str, content: str = "auto", model: str | None = None, strength: float = 1.0,
                 always: bool = False, out_rate: int | None = None, codec_model: str | None = None) -> RestorePlan:
    """`nac restore SRC DST`: plan from the input's first 30 s, then restore block by block in
    bounded memory (seekable WAV/FLAC input and the enhancer; .nac input, audio PyAV decodes and
    the music post-filter go through the whole-file path). Returns the plan."""
    from itertools import chain
    from pathlib import Path

    from ..container.bitstream import MAGIC
    from ..io.audio import read_blocks, write_audio, write_blocks
    from ..io.sources import open_source, probe
    from .plan import apply_plan, plan_restore
    from .restorer import is_enhancer, load_restorer

    with open(src, "rb") as f:
        is_nac = f.read(3) == MAGIC
    if not is_nac:
        sr, channels, total, blocks = read_blocks(src)
        head, seen = [], 0
        for block in blocks:
            head.append(block)
            seen += block.shape[1]
            if seen >= PLAN_SECONDS * sr:
                break
        first = np.concatenate(head, 1) if head else np.zeros((channels, 0), np.float32)
        codec, kbps = probe(Path(src), total / sr, channels)
        plan = plan_restore(first, sr, content, model, strength, always, codec, kbps, None, out_rate)
        streamed = plan.action == "restore" and is_enhancer(load_restorer(plan.model))
        if streamed:
            n_out = round(total * plan.output_rate / sr)
            write_blocks(dst, restore_blocks(chain(head, blocks), sr, channels, total, plan), plan.output_rate,
                         channels, n_out)
            return plan
        audio = np.concatenate(list(chain(head, blocks)), 1)
    else:
        decoded = open_source(src, codec_model)
        audio, sr, info = decoded.audio, decoded.sample_rate, decoded.info
        plan = plan_restore(audio, sr, content, model, strength, always, info.codec, info.kbps,
                            info.bandwidth_hz, out_rate)
    restored, rate = apply_plan(audio, sr, plan)
    write_audio(dst, restored, rate)
    return plan

