"""Stateful streaming: every layer keeps the frames it still needs, so a 20-ms block costs about
one frame of work per layer (`streaming.py` recomputes a window of context on every call).

    enc, dec = StatefulEncoder(model, kbps=6), StatefulDecoder(model)
    for block in microphone_blocks():      # (C, T) float32 at model.sample_rate, any T
        play(dec.push(enc.push(block)))    # codes (frames, C, n_q) -> audio (C, samples)
    play(dec.push(enc.flush())); play(dec.flush())

The output equals whole-signal coding (`decode_whole`): each layer runs on a window of real
frames as soon as its look-ahead has arrived, with whole-signal coding's zero padding at the
ends. The latency is the sum of the layers' look-aheads (`measure_latency`). For models without
pitch that predict the phase (`griffin_lim_iters: 0`) or make it online (`online_phase_lookahead`,
`online_phase.py`): whole-file Griffin-Lim couples every frame to its neighbours over many
iterations and cannot stream this way.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .online_phase import OnlinePhase
from .streaming import EDGE_FRAMES, edge_codes


class _Window:
    """One layer's input frames (B, C, t), kept while a later output still needs them. `fn` maps
    a window of L frames to its L - left - right interior outputs."""

    def __init__(self, left: int, right: int, fn):
        self.left, self.right, self.fn = left, right, fn
        self.buf: torch.Tensor | None = None

    def step(self, x: torch.Tensor | None, final: bool = False) -> torch.Tensor | None:
        if x is not None:
            if self.buf is None:  # the frames before the stream: zeros, as whole-signal padding
                self.buf = x.new_zeros(x.shape[0], x.shape[1], self.left)
            self.buf = torch.cat([self.buf, x], -1)
        if self.buf is None:
            return None
        if final:
            self.buf = F.pad(self.buf, (0, self.right))
        n = self.buf.shape[-1] - self.left - self.right
        if n <= 0:
            return None
        out = self.fn(self.buf)
        self.buf = self.buf[..., n:]
        return out


def _block_step(block):
    """A ConvNeXt block on a window of frames (B, C, L) -> its L - K + 1 interior outputs: the
    same arithmetic as `ConvNeXtBlock.forward`, arranged for one or two frames at a time (torch's
    conv1d and linear spend ~4x longer on such tiny inputs). One frame of one stream, the 50-Hz
    layers' usual call, is a weighted sum over the kernel and two matrix-vector products; more
    frames, an einsum over unfolded frames and addmm with pre-transposed weights. The weights
    are read once: a stream decodes with the weights it was opened with."""
    kernel = block.dwconv.weight[:, 0].detach().contiguous()  # (C, K)
    conv_bias = block.dwconv.bias.detach()
    w1, b1 = block.pw1.weight.detach().contiguous(), block.pw1.bias.detach()
    w2, b2 = block.pw2.weight.detach().contiguous(), block.pw2.bias.detach()
    w1t, w2t = w1.T.contiguous(), w2.T.contiguous()
    norm, gamma, k = block.norm, block.gamma.detach(), kernel.shape[1]
    nw, nb, eps = norm.weight.detach(), norm.bias.detach(), norm.eps
    lb, la = block.lookbehind, block.lookahead

    def step(window: torch.Tensor) -> torch.Tensor:
        b, c, length = window.shape
        if b == 1 and length == k:  # one output frame
            y = ((window[0] * kernel).sum(-1) + conv_bias)[None]  # (1, C)
            h = F.layer_norm(y, (c,), nw, nb, eps)
            h = F.linear(F.gelu(F.linear(h, w1, b1)), w2, b2)
            return window[..., lb:length - la] + (gamma * h)[..., None]
        y = torch.einsum("bctk,ck->btc", window.unfold(-1, k, 1), kernel) + conv_bias
        n = y.shape[1]
        h = F.layer_norm(y, (c,), nw, nb, eps).reshape(b * n, c)
        h = torch.addmm(b2, F.gelu(torch.addmm(b1, h, w1t)), w2t).reshape(b, n, c)
        return window[..., lb:length - la] + (gamma * h).transpose(1, 2)
    return step


def _blocks(stack) -> list[_Window]:
    return [_Window(b.lookbehind, b.lookahead, _block_step(b)) for b in stack]


class _Pairs:
    """A stride-2 layer (kernel 2): whole pairs of frames in, one frame out each; an odd frame
    waits for its partner (a stream's total is even: 100 Hz frames of whole 50 Hz frames)."""

    def __init__(self, fn):
        self.fn, self.buf = fn, None

    def step(self, x: torch.Tensor | None, final: bool = False) -> torch.Tensor | None:
        if x is not None:
            self.buf = x if self.buf is None else torch.cat([self.buf, x], -1)
        if self.buf is None or self.buf.shape[-1] < 2:
            return None
        n = self.buf.shape[-1] // 2 * 2
        out = self.fn(self.buf[..., :n])
        self.buf = self.buf[..., n:]
        return out


def _chain(layers, x, final: bool):
    """Stateful layers (`step`) see every call, a flush too; plain per-frame ones only frames."""
    for layer in layers:
        x = layer.step(x, final) if hasattr(layer, "step") else (None if x is None else layer(x))
    return x


# A Griffin-Lim model configured for whole-file phase (the shipped nac-16k) streams with its
# phase made online, this many STFT frames ahead (reports/training.md, session 10: PESQ -0.03
# against whole-file Griffin-Lim on dev speech, 1.5 s less look-ahead).
DEFAULT_PHASE_LOOKAHEAD = 3


def _check(model) -> None:
    if model.pitch_levels or model.gains is not None:
        raise ValueError("stateful streaming needs a model without pitch or band gains; "
                         "use nac.codec.streaming for this one")


def online_phase_model(model):
    """`model` itself if it predicts or streams its phase, else a shallow copy whose decoder makes
    the phase online (`DEFAULT_PHASE_LOOKAHEAD`): what `StatefulDecoder` decodes, so that
    `decode_whole(online_phase_model(model), codes)` is the stream's audio as a file."""
    if not model.cfg.griffin_lim_iters or model.cfg.online_phase_lookahead is not None:
        return model
    return model.with_config(online_phase_lookahead=DEFAULT_PHASE_LOOKAHEAD)


class StatefulEncoder:
    def __init__(self, model, kbps: float):
        _check(model)
        enc = model.encoder
        self.model, self.n_q, self.hop = model, model.n_q_for(kbps), model.hop
        self.features, self.stft_hop = enc.features, enc.features.hop
        self.samples: np.ndarray | None = None  # the padded signal not yet cut into frames
        self.received = 0
        self.to_skip = enc.delay  # a delayed encoder's first outputs belong before the stream
        self.books = model.quantizer.books()
        down = enc.down
        pairs = _Pairs(lambda w: F.conv1d(w, down.weight, down.bias, stride=2))
        self.layers = [enc.proj_in, *_blocks(enc.fine), pairs, *_blocks(enc.coarse),
                       lambda x: enc.proj_out(enc.norm(x.transpose(1, 2))).transpose(1, 2)]

    @torch.inference_mode()
    def push(self, audio: np.ndarray) -> np.ndarray:
        """(C, T) audio -> (frames, C, n_q) codes of the frames whose look-ahead has arrived."""
        audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        if self.samples is None:
            self.samples = np.zeros((audio.shape[0], self.features.pad), np.float32)
        self.samples = np.concatenate([self.samples, audio], 1)
        self.received += audio.shape[1]
        return self._code(self._frames(), final=False)

    @torch.inference_mode()
    def flush(self) -> np.ndarray:
        """Codes for the rest: the signal zero-padded to whole frames, as whole-signal coding does."""
        if self.samples is None:
            return np.zeros((0, 0, self.n_q), np.int64)
        total = -(-self.received // self.hop) * self.hop
        pad = total - self.received + self.features.pad + self.model.encoder.delay * self.hop
        self.samples = np.pad(self.samples, ((0, 0), (0, pad)))
        return self._code(self._frames(), final=True)

    def _frames(self) -> torch.Tensor | None:
        n_fft, hop = self.features.n_fft, self.stft_hop
        n = (self.samples.shape[1] - n_fft) // hop + 1 if self.samples.shape[1] >= n_fft else 0
        if n <= 0:
            return None
        x = torch.from_numpy(np.ascontiguousarray(self.samples[:, : (n - 1) * hop + n_fft]))
        self.samples = self.samples[:, n * hop:]
        return self.features.frames(x)

    def _code(self, feats: torch.Tensor | None, final: bool) -> np.ndarray:
        z = _chain(self.layers, feats, final)
        if z is not None and self.to_skip:
            skip = min(self.to_skip, z.shape[-1])
            z, self.to_skip = z[..., skip:], self.to_skip - skip
        if z is None or z.shape[-1] == 0:
            return np.zeros((0, self.samples.shape[0], self.n_q), np.int64)
        codes = self.model.quantizer.encode(z, self.n_q, books=self.books)
        return codes.permute(2, 0, 1).numpy()


class StatefulDecoder:
    def __init__(self, model):
        _check(model)
        dec = model.decoder
        self.model, self.hop = model, model.hop
        self.head = dec.head
        self.books = model.quantizer.books()
        cfg = online_phase_model(model).cfg
        self.phase = (OnlinePhase(cfg.n_fft, cfg.stft_hop, cfg.online_phase_lookahead, cfg.online_phase_iters)
                      if cfg.griffin_lim_iters else None)
        proj = dec.proj_in
        up = dec.up
        self.layers = [_Window(1, 1, lambda w: F.conv1d(w, proj.weight, proj.bias)), *_blocks(dec.coarse),
                       lambda x: up(x), *_blocks(dec.fine), lambda x: dec.norm(x.transpose(1, 2)).transpose(1, 2)]
        self.edge: torch.Tensor | None = None
        self.channels = 1  # until the first codes say otherwise: every output is (channels, samples)
        self.edge_frames = 0  # silence frames decoded before the stream (never output)
        self.frames_in = 0  # the stream's own frames
        self.sig = self.env = None  # overlap-add buffers (signal, window energy) from padded sample `ola_start`
        self.ola_start, self.ola_frames = 0, 0

    @torch.inference_mode()
    def push(self, codes: np.ndarray) -> np.ndarray:
        """(frames, C, n_q) codes -> (C, samples) audio that is final (possibly no samples)."""
        codes = torch.from_numpy(np.ascontiguousarray(codes)).permute(1, 2, 0).long()
        if codes.shape[0]:
            self.channels = codes.shape[0]
        if codes.shape[-1] == 0 and self.edge is None:
            return np.zeros((self.channels, 0), np.float32)
        self.frames_in += codes.shape[-1]
        if self.edge is None:
            self.edge = edge_codes(self.model, codes.shape[0], codes.shape[1])
            if self.edge is not None:  # the decoder sees silence before the stream, as decode_whole
                self.edge_frames = EDGE_FRAMES
                codes = torch.cat([self.edge.long(), codes], -1)
        return self._render(codes, final=False)

    @torch.inference_mode()
    def flush(self) -> np.ndarray:
        """The rest of the audio (the decoder sees silence after the stream)."""
        if self.edge is None and self.sig is None:
            return np.zeros((self.channels, 0), np.float32)
        tail = self.edge.long() if self.edge is not None else None
        return self._render(tail, final=True)

    def _render(self, codes: torch.Tensor | None, final: bool) -> np.ndarray:
        z = self.model.quantizer.decode(codes, self.books) if codes is not None and codes.shape[-1] else None
        x = _chain(self.layers, z, final)
        if x is not None and x.shape[-1]:
            mag, phase = self.head.spectrum(x)
            if self.phase is None:
                self._overlap_add((mag * phase).transpose(1, 2))
            else:  # only the frames whose phase is final
                self._overlap_add(torch.from_numpy(self.phase.push(mag.transpose(1, 2).numpy(),
                                                                   phase.transpose(1, 2).numpy())))
        if final and self.phase is not None:
            self._overlap_add(torch.from_numpy(self.phase.flush()))
        audio, first = self._emit(final)
        lo = self.edge_frames * self.hop  # keep the stream's own samples only
        hi = lo + self.frames_in * self.hop
        a, b = max(first, lo), min(first + audio.shape[1], hi)
        return np.ascontiguousarray(audio[:, a - first:max(a, b) - first])

    def _overlap_add(self, spec_t: torch.Tensor) -> None:
        if spec_t.shape[1] == 0:
            return
        head = self.head
        frames = torch.fft.irfft(spec_t, head.n_fft, dim=-1) * head.window
        squares = head.window.square().expand_as(frames)
        n = frames.shape[1]
        end = (self.ola_frames + n - 1) * head.hop + head.n_fft - self.ola_start
        if self.sig is None:
            self.sig = frames.new_zeros(frames.shape[0], 0)
            self.env = frames.new_zeros(1, 0)
        grow = end - self.sig.shape[1]
        if grow > 0:
            self.sig = F.pad(self.sig, (0, grow))
            self.env = F.pad(self.env, (0, grow))
        for i in range(n):
            at = (self.ola_frames + i) * head.hop - self.ola_start
            self.sig[:, at:at + head.n_fft] += frames[:, i]
            self.env[:, at:at + head.n_fft] += squares[0, i]
        self.ola_frames += n

    def _emit(self, final: bool) -> tuple[np.ndarray, int]:
        """The samples no later frame will touch, normalised by the window energy (as
        `ISTFTHead.istft`), and the unpadded index of the first of them."""
        if self.sig is None:
            return np.zeros((self.channels, 0), np.float32), 0
        ready = self.sig.shape[1] if final else max(0, self.ola_frames * self.head.hop - self.ola_start)
        out = self.sig[:, :ready] / self.env[:, :ready].clamp_min(1e-8)
        first = self.ola_start - self.head._pad
        self.sig, self.env = self.sig[:, ready:], self.env[:, ready:]
        self.ola_start += ready
        cut = max(0, -first)  # the left margin of the padded signal is never output
        return out[:, cut:].numpy(), first + cut


def measure_latency(model, kbps: float = 6.0, block: int | None = None) -> float:
    """Algorithmic latency in seconds of stateful encode + decode: how far the decoded audio
    lags the input pushed, in 20-ms (one-frame) blocks, in steady state."""
    block = block or model.hop
    enc, dec = StatefulEncoder(model, kbps), StatefulDecoder(model)
    pushed = emitted = 0
    lag = 0
    silence = np.zeros((1, block), np.float32)
    for _ in range(200):
        out = dec.push(enc.push(silence))
        pushed += block
        emitted += out.shape[1]
        if emitted:
            lag = pushed - emitted
    return lag / model.sample_rate
