"""Phase from magnitudes with a few frames of look-ahead: RTISI-LA (Zhu, Beauregard & Wyse 2007).

Whole-file Griffin-Lim couples every STFT frame to its neighbours over many iterations: 32 of
them are 1.54 s of the shipped decoder's streaming look-ahead. RTISI-LA makes the phase frame by
frame instead: a new frame starts from the decoder's phase guess; the newest `lookahead + 1`
frames are refined together for `iters` projections onto a consistent spectrum, against the
overlap of the frames already committed; then the oldest of them is committed for good. A
frame's phase depends only on `lookahead` future frames (10 ms each at 16 kHz).

On the shipped decoder's 6-kbps magnitudes (15 dev files, experiments/probe_online_phase.py):
3 frames ahead and 8 iterations score PESQ 2.17 against whole-file Griffin-Lim's 2.20 and the
phase guess's 1.36.

The same object serves whole files (`unit_phase`) and streams (`push` / `flush`): a file's
phase is the stream's, frame for frame.
"""
from __future__ import annotations

import numpy as np


class OnlinePhase:
    def __init__(self, n_fft: int, hop: int, lookahead: int = 3, iters: int = 8):
        if n_fft % hop:
            raise ValueError("online phase needs n_fft a multiple of hop")
        self.n_fft, self.hop, self.lookahead, self.iters = n_fft, hop, lookahead, iters
        self.window = (np.hanning(n_fft + 1)[:-1]).astype(np.float32)  # periodic Hann (torch's)
        self.norm = np.float32((self.window ** 2).sum() / hop)  # the steady-state OLA envelope
        self.context = n_fft // hop - 1  # committed frames that overlap the oldest active one
        # sample indices of the active frames inside the refined segment (a gather: cheaper
        # than a strided view rebuilt at every iteration)
        self.cut = np.arange(lookahead + 1)[:, None] * hop + np.arange(n_fft)[None, :]
        self.analysis = self.window / self.norm
        self.mag = self.spec = None  # (B, frames, bins): committed context, then active frames
        self.committed = 0  # frames of `spec` that are final (at most `context` kept)

    def push(self, mag: np.ndarray, guess: np.ndarray) -> np.ndarray:
        """Magnitudes and unit phase guesses (B, frames, bins) -> the spectra (B, n, bins) of the
        frames committed by them (n = frames, after the first `lookahead`)."""
        out = []
        for i in range(mag.shape[1]):
            self._append(mag[:, i:i + 1], mag[:, i:i + 1] * guess[:, i:i + 1])
            self._refine()
            if self.spec.shape[1] - self.committed > self.lookahead:
                out.append(self._commit())
        return self._stack(out, mag)

    def flush(self) -> np.ndarray:
        """Commit the frames still waiting for their look-ahead (the stream has ended)."""
        out = []
        while self.spec is not None and self.spec.shape[1] > self.committed:
            self._refine()  # one more pass per frame, as if a silent future frame had arrived
            out.append(self._commit())
        return self._stack(out, self.mag)

    def unit_phase(self, mag: np.ndarray, guess: np.ndarray) -> np.ndarray:
        """Whole signal: unit phasors (B, frames, bins), as a stream of it would make them."""
        spec = np.concatenate([self.push(mag, guess), self.flush()], 1)
        self.mag = self.spec = None
        self.committed = 0
        return spec / (np.abs(spec) + np.float32(1e-12))

    def _append(self, mag: np.ndarray, spec: np.ndarray) -> None:
        if self.spec is None:
            self.mag, self.spec = mag.astype(np.float32), spec.astype(np.complex64)
        else:
            self.mag = np.concatenate([self.mag, mag], 1)
            self.spec = np.concatenate([self.spec, spec.astype(np.complex64)], 1)

    def _commit(self) -> np.ndarray:
        frame = self.spec[:, self.committed].copy()
        self.committed += 1
        drop = max(0, self.committed - self.context)  # keep only the context still overlapped
        if drop:
            self.mag, self.spec = self.mag[:, drop:], self.spec[:, drop:]
            self.committed -= drop
        return frame

    def _refine(self) -> None:
        n_fft, hop, c = self.n_fft, self.hop, self.committed
        total = self.spec.shape[1]
        fixed = np.zeros((self.spec.shape[0], (total - 1) * hop + n_fft), np.float32)
        if c:
            self._overlap_add(fixed, np.fft.irfft(self.spec[:, :c], n_fft, axis=-1) * self.window, 0)
        mag, spec = self.mag[:, c:], self.spec[:, c:]
        cut = c * hop + self.cut[:total - c]
        signal = np.empty_like(fixed)  # reused: each iteration is ~10 small NumPy calls
        for _ in range(self.iters):
            signal[:] = fixed
            frames = np.fft.irfft(spec, n_fft, axis=-1)
            frames *= self.window
            self._overlap_add(signal, frames, c)
            frames = signal[:, cut]
            frames *= self.analysis
            rebuilt = np.fft.rfft(frames, axis=-1)
            spec = mag * rebuilt / (np.abs(rebuilt) + np.float32(1e-8))
        self.spec[:, c:] = spec

    def _overlap_add(self, signal: np.ndarray, frames: np.ndarray, first: int) -> None:
        for i in range(frames.shape[1]):
            at = (first + i) * self.hop
            signal[:, at:at + self.n_fft] += frames[:, i]

    def _stack(self, out: list[np.ndarray], like: np.ndarray | None) -> np.ndarray:
        if out:
            return np.stack(out, 1)
        b, bins = (like.shape[0], like.shape[2]) if like is not None else (0, self.n_fft // 2 + 1)
        return np.zeros((b, 0, bins), np.complex64)
