"""Streaming coding: push audio blocks of any size and get codes, push codes and get audio.

    enc = StreamingEncoder(model, kbps=6)
    for block in blocks:                 # (C, T) float32 at model.sample_rate, any T
        for codes in enc.push(block):    # (frames, C, n_q) int64
            ...
    tail = enc.flush()

    dec = StreamingDecoder(model)
    audio_blocks = dec.push(codes) + dec.flush()   # (C, frames * hop) at model.sample_rate

Output equals whole-signal coding: a frame is coded from a window that reaches the layers'
receptive field past it on both sides (`model.encoder_context_frames` for codes,
`model.context_frames` for audio), so a frame's codes (audio) come out once that much look-ahead
has arrived. That look-ahead is the latency, `latency_seconds`: for nac-16k 340 ms to encode
(17 frames) and 1.54 s to decode (77 frames, most of it the 32 Griffin-Lim iterations).
Memory is bounded by one block plus the context, whatever the stream's length.
"""
from __future__ import annotations

import numpy as np
import torch

BLOCK_FRAMES = 250  # frames coded per model call (5 s at 50 Hz)
# Frames of silence codes the decoder sees beyond each end of a stream (never coded, never
# output): its convolutions would otherwise pad with zero latents, which decode as no sound at
# all. Dev speech (`reports/training.md`): short digit clips +0.08 PESQ, long files unchanged.
EDGE_FRAMES = 4


class StreamingEncoder:
    def __init__(self, model, kbps: float, block_frames: int = BLOCK_FRAMES, rate_cost: np.ndarray | None = None):
        self.model, self.kbps = model, kbps
        self.n_q = model.n_q_for(kbps)  # fail early on an unsupported bitrate
        # codes chosen for an entropy coder (`CodeModel.rate_cost`); None: nearest neighbour
        self.rate_cost = None if rate_cost is None else torch.from_numpy(rate_cost)
        self.hop, self.ctx = model.hop, model.encoder_context_frames
        self.block = max(1, block_frames)
        self.buf: np.ndarray | None = None  # audio from frame `buf_start` on
        self.buf_start = 0
        self.done = 0  # frames whose codes were emitted

    @property
    def latency_seconds(self) -> float:
        return self.ctx * self.hop / self.model.sample_rate

    def push(self, audio: np.ndarray) -> list[np.ndarray]:
        audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        self.buf = audio if self.buf is None else np.concatenate([self.buf, audio], 1)
        out = []
        while self._available_frames() >= self.done + self.block + self.ctx:
            out.append(self._code(self.done, self.done + self.block, total=None))
        return out

    def flush(self) -> list[np.ndarray]:
        """Codes for the rest (the last frame zero-padded to a whole hop)."""
        if self.buf is None:
            return []
        total = self.buf_start + -(-self.buf.shape[1] // self.hop)
        pad = (total - self.buf_start) * self.hop - self.buf.shape[1]
        self.buf = np.pad(self.buf, ((0, 0), (0, pad)))
        out = []
        while self.done < total:
            out.append(self._code(self.done, min(total, self.done + self.block), total))
        return out

    def _available_frames(self) -> int:
        return self.buf_start + self.buf.shape[1] // self.hop

    def _code(self, start: int, end: int, total: int | None) -> np.ndarray:
        w0 = max(0, start - self.ctx)
        w1 = end + self.ctx if total is None else min(total, end + self.ctx)
        window = self.buf[:, (w0 - self.buf_start) * self.hop:(w1 - self.buf_start) * self.hop]
        codes = self.model.encode(torch.from_numpy(np.ascontiguousarray(window)), self.kbps, self.rate_cost)
        self.done = end
        keep_from = max(0, end - self.ctx)  # the next window starts no earlier
        self.buf = self.buf[:, (keep_from - self.buf_start) * self.hop:]
        self.buf_start = keep_from
        return codes[:, :, start - w0:end - w0].permute(2, 0, 1).numpy()


class StreamingDecoder:
    def __init__(self, model, block_frames: int = BLOCK_FRAMES):
        self.model = model
        self.hop, self.ctx = model.hop, model.context_frames
        self.block = max(1, block_frames)
        self.buf: torch.Tensor | None = None  # (C, n_q, frames) from frame buf_start on
        self.buf_start = 0
        self.done = 0
        self.phase = None  # a pitch-aware model's oscillator phase at buf_start (see NacCodec.decode)
        self.edge: torch.Tensor | None = None  # (C, n_q, EDGE_FRAMES) silence codes, set by the first push

    @property
    def latency_seconds(self) -> float:
        return self.ctx * self.hop / self.model.sample_rate

    def push(self, codes: np.ndarray) -> list[np.ndarray]:
        """(frames, C, n_q) codes -> zero or more (C, samples) blocks at the model rate."""
        incoming = torch.from_numpy(np.ascontiguousarray(codes)).permute(1, 2, 0)
        if self.buf is None:
            self.edge = edge_codes(self.model, incoming.shape[0], incoming.shape[1])
            if self.edge is not None:  # the left edge: context only, never output
                incoming = torch.cat([self.edge.to(incoming.dtype), incoming], -1)
                self.done = EDGE_FRAMES
        self.buf = incoming if self.buf is None else torch.cat([self.buf, incoming], -1)
        out = []
        while self.buf_start + self.buf.shape[-1] - self.done >= self.block + self.ctx:
            out.append(self._decode(self.done, self.done + self.block))
            keep_from = max(0, self.done - self.ctx) - self.buf_start
            self.phase = self._advance(self.phase, self.buf[..., :keep_from])
            self.buf, self.buf_start = self.buf[..., keep_from:], self.buf_start + keep_from
        return out

    def flush(self) -> list[np.ndarray]:
        if self.buf is None:
            return []
        end = self.buf_start + self.buf.shape[-1]
        if self.edge is not None:  # the right edge
            self.buf = torch.cat([self.buf, self.edge.to(self.buf.dtype)], -1)
        out = []
        while self.done < end:
            out.append(self._decode(self.done, min(self.done + self.block, end)))
        return out

    def _advance(self, phase, codes: torch.Tensor):
        gained = self.model.oscillator_phase_before(codes)
        if gained is None:
            return None
        return gained if phase is None else torch.remainder(phase + gained, 2 * np.pi)

    def _decode(self, start: int, end: int) -> np.ndarray:
        """Audio for frames [start, end), decoded with up to `ctx` frames either side."""
        w0 = max(self.buf_start, start - self.ctx) - self.buf_start
        w1 = min(self.buf.shape[-1], end - self.buf_start + self.ctx)
        audio = self.model.decode(self.buf[..., w0:w1], self._advance(self.phase, self.buf[..., :w0]))
        left = start - self.buf_start - w0
        self.done = end
        return audio[:, left * self.hop:(left + end - start) * self.hop].numpy()


def edge_codes(model, channels: int, n_q: int) -> torch.Tensor | None:
    """(channels, n_q, EDGE_FRAMES) silence codes for the ends of a stream, or None."""
    silence = model.silence_codes(n_q)
    return None if silence is None else silence[None, :, None].expand(channels, -1, EDGE_FRAMES)


def decode_whole(model, codes: torch.Tensor) -> torch.Tensor:
    """(C, n_q, N) codes of a whole stream -> (C, N * hop) audio in one model call: what a
    `StreamingDecoder` emits for the same codes, whatever its blocks."""
    edge = edge_codes(model, codes.shape[0], codes.shape[1])
    if edge is None:
        return model.decode(codes)
    audio = model.decode(torch.cat([edge.to(codes.dtype), codes, edge.to(codes.dtype)], -1))
    return audio[:, EDGE_FRAMES * model.hop:(EDGE_FRAMES + codes.shape[-1]) * model.hop]


class StreamingResampler:
    """soxr's streaming resampler for (C, T) blocks, cut or padded to an exact total length."""

    def __init__(self, rate_in: int, rate_out: int, channels: int, length: int):
        import soxr

        self.length, self.emitted = length, 0
        self.stream = None if rate_in == rate_out else soxr.ResampleStream(rate_in, rate_out, channels,
                                                                           dtype="float32", quality="HQ")

    def push(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        if self.stream is not None:
            block = self.stream.resample_chunk(np.ascontiguousarray(block.T), last=last).T
        block = block[:, : max(0, self.length - self.emitted)]
        self.emitted += block.shape[1]
        if last and self.emitted < self.length:
            block = np.pad(block, ((0, 0), (0, self.length - self.emitted)))
            self.emitted = self.length
        return np.ascontiguousarray(block, dtype=np.float32)
