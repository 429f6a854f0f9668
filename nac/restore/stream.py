"""Real-time enhancement: push blocks of any size, get enhanced audio 10-20 ms later.

    stream = EnhancerStream(model, channels=1)
    for block in microphone:                 # (channels, samples) at model.sample_rate
        play(stream.push(block))
    play(stream.flush())                     # the rest: as many samples out as went in

A whole file is the same stream pushed in 10-s blocks (`enhance_file`), so files and streams
give the same samples and memory stays flat however long the file.
"""
from __future__ import annotations

import numpy as np
import torch


class EnhancerStream:
    """`model`: an `enhancer.Enhancer` (not imported here: the enhancer's `restore` runs files
    through this module)."""

    def __init__(self, model, channels: int = 1):
        self.model, self.hop = model, model.cfg.hop
        self.channels = channels
        self.pending = np.zeros((channels, 0), np.float32)  # input not yet a whole hop
        self.context = torch.zeros(channels, self.hop)  # the last hop of input before `pending`
        self.tail = None  # second half of the last frame's output
        self.state = None
        self.to_skip = self.hop  # the first output block is the hop before the signal
        self.samples_in = self.samples_out = 0

    @torch.no_grad()
    def push(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected a ({self.channels}, samples) block, got shape {block.shape}")
        self.samples_in += block.shape[1]
        self.pending = np.concatenate([self.pending, block], 1)
        usable = self.pending.shape[1] // self.hop * self.hop
        if not usable:
            return np.zeros((self.channels, 0), np.float32)
        wav = torch.from_numpy(self.pending[:, :usable].copy())
        self.pending = self.pending[:, usable:]
        spec = self.model.front.frames(wav, self.context)
        self.context = wav[:, -self.hop:]
        if self.state is None:
            self.state = self.model.initial_state(spec)
        enhanced, self.state = self.model(spec, self.state)
        out, self.tail = self.model.front.overlap_add(enhanced, self.tail)
        out = out.numpy()
        if self.to_skip:
            cut = min(self.to_skip, out.shape[1])
            out, self.to_skip = out[:, cut:], self.to_skip - cut
        self.samples_out += out.shape[1]
        return out

    def flush(self) -> np.ndarray:
        """End of stream: the samples still held back (the last partial hop and the latency)."""
        missing = self.samples_in - self.samples_out
        n_in = self.samples_in
        out = self.push(np.zeros((self.channels, (-self.pending.shape[1]) % self.hop + self.hop), np.float32))
        self.samples_in = self.samples_out = n_in
        return out[:, :missing]

def enhance_file(model, audio: np.ndarray, block_seconds: float = 10.0) -> np.ndarray:
    """(C, T) at the model's rate -> enhanced (C, T), through the stream."""
    stream = EnhancerStream(model, audio.shape[0])
    block = int(block_seconds * model.sample_rate)
    parts = [stream.push(audio[:, i:i + block]) for i in range(0, audio.shape[1], block)]
    parts.append(stream.flush())
    return np.concatenate(parts, 1)
