"""Entropy coding of a chunk's codes (`nac encode --entropy on`): a range coder driven by code
statistics that ship inside the codec's checkpoint.

What the codes offer (measured on dev speech at 6 kbps, `reports/entropy.md`): the residual VQ
levels are close to uniform by design (k-means + dead-code replacement), so a per-level static
model saves ~2.5 %; the one strong dependency is in time at level 0 (the coarse spectrum of
consecutive 20-ms frames), where the previous frame's code takes 9.4 bits down to ~6.8. The
coder therefore uses
- level 0: P(code | previous frame's level-0 code), counts smoothed towards the level's unigram;
- levels 1+: the level's unigram.
Each chunk (and channel) is coded on its own, starting from the unigram, so chunks stay
independently decodable.

The coder is lossless: a file decodes to the codes it was given. What makes it pay is the
encoder's side (`CodeModel.rate_cost`): with variable-length codes the nearest code is no longer
the best choice, so an entropy-coding encoder picks argmin |r - c|^2 + lambda_l * bits(c) per
level (entropy-constrained VQ, Chou, Lookabaugh & Gray 1989), and the statistics are fitted on
codes chosen that way (`scripts/fit_code_statistics.py`). lambda_l (`distortion_per_bit`) is
stored with the statistics; it only steers the encoder, so it is not part of their digest.

Everything that sets a probability is integer arithmetic turned into float64 once, and
constriction normalises sequentially, so encoder and decoder derive bit-identical models on any
machine (a learned network's float rounding could differ across CPUs and break decoding).
Pure NumPy + constriction: no torch.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

CODER = "range-v1"
SMOOTHING = 64  # pseudo-counts of the unigram per level-0 context (4..64 tried on dev codes: 64 best)


class EntropyDecodeError(ValueError):
    pass


@dataclass
class CodeStatistics:
    """Code counts of a codec on its training data: what `CodeModel` is built from."""

    unigram: np.ndarray  # (levels, codebook_size) int64 counts
    transitions: np.ndarray  # (pairs, 3) int64 rows: previous level-0 code, code, count
    distortion_per_bit: np.ndarray | None = None  # (levels,) the encoder's lambda_l, see above

    @classmethod
    def fit(cls, code_arrays, codebook_size: int, distortion_per_bit: np.ndarray | None = None
            ) -> "CodeStatistics":
        """From (frames, levels) code arrays of whole files (frame order matters for level 0)."""
        arrays = [np.asarray(a, dtype=np.int64) for a in code_arrays if len(a)]
        levels = arrays[0].shape[1]
        unigram = np.zeros((levels, codebook_size), np.int64)
        pairs = np.zeros(codebook_size * codebook_size, np.int64)
        for a in arrays:
            for level in range(levels):
                unigram[level] += np.bincount(a[:, level], minlength=codebook_size)
            np.add.at(pairs, a[:-1, 0] * codebook_size + a[1:, 0], 1)
        nz = np.flatnonzero(pairs)
        transitions = np.stack([nz // codebook_size, nz % codebook_size, pairs[nz]], 1)
        return cls(unigram, transitions, distortion_per_bit)

    def to_dict(self) -> dict:
        """int32 arrays (half the bytes of int64) for the checkpoint; counts stay far below 2^31."""
        if max(self.unigram.max(initial=0), self.transitions.max(initial=0)) >= 1 << 31:
            raise ValueError("code counts too large to store")
        d = {"unigram": self.unigram.astype(np.int32), "transitions": self.transitions.astype(np.int32)}
        if self.distortion_per_bit is not None:
            d["distortion_per_bit"] = np.asarray(self.distortion_per_bit, np.float64)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CodeStatistics":
        lam = d.get("distortion_per_bit")
        return cls(np.asarray(d["unigram"], np.int64), np.asarray(d["transitions"], np.int64),
                   None if lam is None else np.asarray(lam, np.float64))

    def digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.unigram, self.transitions):
            h.update(np.ascontiguousarray(a, dtype=">i8").tobytes())
        return h.hexdigest()[:16]


def _floored(weights: np.ndarray) -> np.ndarray:
    """Rows of integer weights -> float64 weights of 15/16 of the row's distribution plus 1/16
    uniform: no code costs more than log2(16 * K) bits (14 for 10-bit codes), which bounds a
    coded chunk at 1.4x its bit-packed size whatever the codes (`NacReader` relies on it)."""
    k = weights.shape[-1]
    out = 15 * k * weights + weights.sum(-1, keepdims=True)
    if out.max() >= 1 << 53:
        raise ValueError("code statistics too large for exact float64 weights")
    return out.astype(np.float64)


class CodeModel:
    """Range coding of (frames, channels, n_q) code chunks with `CodeStatistics`."""

    def __init__(self, stats: CodeStatistics):
        import constriction

        self._model = constriction.stream.model
        self._queue = constriction.stream.queue
        self.levels, self.k = stats.unigram.shape
        self.digest = stats.digest()
        # weights are exact integers held in float64: unigram count + 1 (every code codable)
        uni = stats.unigram + 1
        self.unigram_weights = _floored(uni)
        self.unigram = [self._model.Categorical(w, perfect=False) for w in self.unigram_weights]
        # level 0 after code p: n(p, c) * U + SMOOTHING * uni(c), U = sum(uni): proportional to
        # n(p, c) + SMOOTHING * P_uni(c); row k (no previous frame) is the unigram itself
        total = int(uni[0].sum())
        table = np.tile(uni[0] * SMOOTHING, (self.k + 1, 1))
        prev, code, count = stats.transitions.T
        table[prev, code] += count * total
        self.transition = _floored(table)
        self.family = self._model.Categorical(perfect=False)
        self.distortion_per_bit = stats.distortion_per_bit

    def rate_cost(self, n_q: int) -> np.ndarray | None:
        """(n_q, codebook_size) float32: lambda_l * bits of each code of the first n_q levels
        (unigram bits), what an encoder adds to its squared distances to choose codes for this
        coder; None when the statistics carry no lambda (plain nearest-neighbour codes)."""
        if self.distortion_per_bit is None:
            return None
        w = self.unigram_weights[:n_q]
        bits = np.log2(w.sum(-1, keepdims=True)) - np.log2(w)
        return (self.distortion_per_bit[:n_q, None] * bits).astype(np.float32)

    def describe(self) -> dict:
        """The metadata entry of a file coded with this model."""
        return {"coder": CODER, "statistics": self.digest}

    def encode(self, codes: np.ndarray) -> bytes:
        codes = np.asarray(codes, dtype=np.int64)
        frames, channels, n_q = codes.shape
        if n_q > self.levels:
            raise ValueError(f"{n_q} levels, the statistics cover {self.levels}")
        encoder = self._queue.RangeEncoder()
        for ch in range(channels):
            first = codes[:, ch, 0]
            context = np.concatenate([[self.k], first[:-1]])
            encoder.encode(first.astype(np.int32), self.family, self.transition[context])
            for level in range(1, n_q):
                encoder.encode(codes[:, ch, level].astype(np.int32), self.unigram[level])
        return encoder.get_compressed().astype(">u4").tobytes()

    def decode(self, payload: bytes, frames: int, channels: int, n_q: int) -> np.ndarray:
        if len(payload) % 4 or not payload or n_q > self.levels:
            raise EntropyDecodeError(f"entropy-coded payload of {len(payload)} bytes for {n_q} levels")
        words = np.frombuffer(payload, dtype=">u4").astype(np.uint32)
        out = np.empty((frames, channels, n_q), np.int64)
        try:
            decoder = self._queue.RangeDecoder(words)
            for ch in range(channels):
                prev = self.k
                for t in range(frames):  # level 0 depends on the frame before: one by one
                    prev = int(decoder.decode(self.family, self.transition[prev][None])[0])
                    out[t, ch, 0] = prev
                for level in range(1, n_q):
                    out[:, ch, level] = decoder.decode(self.unigram[level], frames)
        except (ValueError, RuntimeError, AssertionError) as exc:
            raise EntropyDecodeError(f"undecodable entropy-coded payload ({exc})") from None
        return out
