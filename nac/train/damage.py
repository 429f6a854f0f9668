"""What the enhancer is trained to undo: random chains of real damage, sample-aligned with the clean.

A chain is drawn per excerpt, in the order a recording meets them: a room (image-source early
reflections + an exponential tail, RT60 0.1-0.8 s), noise (recorded noise, babble made from
other training speech, music, white/pink/brown) at 0-30 dB SNR, microphone colouration (EQ peaks
and tilt, a phone's band-pass with its presence peak), soft or hard clipping, a band limit
(8 / 11 kHz sampling), then a real codec (Opus 6-16, MP3 16-64, AAC 24). Some excerpts are NAC's
own decoded output (a pool made at start-up) and some stay clean: the enhancer must leave those
alone. The target is the clean excerpt as heard through the room's first 50 ms (direct path,
aligned to the clean, and early reflections; the DNS Challenge's choice): the late tail is
damage to remove, the early part is not (a dry target taught the first run to cut everything
that sounded like a room, clean speech included, by 5-8 dB: reports/restore_training.md).

`phone_recording` is the fixed chain the dev set and `scripts/bench_restore.py` score
("phone at 25 / 10 dB SNR"): band-pass, presence peak, small room, noise, soft clipping.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from ..io.thirdparty import roundtrip
from .degrade import bandlimit

CODECS = [("opus", 6), ("opus", 9), ("opus", 12), ("opus", 16), ("mp3", 16), ("mp3", 32), ("mp3", 64),
          ("aac", 24)]


def room_impulse_response(rng: np.random.Generator, sr: int, rt60: float) -> np.ndarray:
    """Shoebox image-source reflections (pyroomacoustics) up to order 10, continued by an
    exponentially decaying noise tail at the level the reflections reached: the full RT60 without
    the image method's cubic cost. The direct path is moved to sample 0 with unit gain."""
    import pyroomacoustics as pra

    # a short RT60 needs a small room (Sabine: absorption <= 1)
    scale = float(np.clip(rt60 / 0.5, 0.35, 1.0))
    dims = rng.uniform([3, 3, 2.4], [9, 7, 3.5]) * [scale, scale, 1.0]
    try:
        absorption, _ = pra.inverse_sabine(rt60, dims)
    except ValueError:
        absorption = 0.99
    room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(min(absorption, 0.99)), max_order=10)
    room.add_source(rng.uniform([0.5, 0.5, 1.0], dims - [0.5, 0.5, 1.0]))
    room.add_microphone(rng.uniform([0.5, 0.5, 0.8], dims - [0.5, 0.5, 1.0]))
    room.compute_rir()
    ir = np.asarray(room.rir[0][0], np.float64)
    peak = int(np.argmax(np.abs(ir)))
    ir = ir[peak:] / ir[peak]
    n = int(rt60 * sr)
    t_mix = int(0.03 * sr)
    tail_level = np.sqrt(np.mean(ir[t_mix // 2:t_mix * 2] ** 2)) if len(ir) > 2 * t_mix else 0.01
    t = np.arange(n - t_mix) / sr
    tail = rng.standard_normal(len(t)) * tail_level * np.exp(-6.9 * t / rt60)
    out = np.zeros(max(n, len(ir)))
    out[:len(ir)] = ir
    out[t_mix:t_mix + len(tail)] += tail  # on top of the sparse late reflections
    return out.astype(np.float32)


def early_part(rir: np.ndarray, sr: int, ms: float = 50.0) -> np.ndarray:
    """The direct path and early reflections: what the enhancer keeps of a room."""
    n = int(ms * sr / 1000)
    fade = np.ones(min(n, len(rir)))
    tail = min(len(fade), int(0.01 * sr))
    fade[len(fade) - tail:] = np.linspace(1, 0, tail)
    return rir[:len(fade)] * fade


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    if len(noise) < len(x):
        noise = np.resize(noise, len(x))
    start = rng.integers(0, len(noise) - len(x) + 1)
    nz = noise[start:start + len(x)]
    p_sig, p_noise = np.mean(x ** 2) + 1e-10, np.mean(nz ** 2) + 1e-10
    return x + nz * np.sqrt(p_sig / p_noise / 10 ** (snr_db / 10))


def colored_noise(n: int, rng: np.random.Generator, slope: float) -> np.ndarray:
    """slope 0: white, -1: pink, -2: brown (power per octave)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.arange(len(spec)), 1.0)
    return np.fft.irfft(spec * f ** (slope / 2), n)


def peaking(x: np.ndarray, sr: int, f0: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ peaking biquad."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / sr
    alpha = np.sin(w) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w), 1 - alpha / a]
    return signal.lfilter(b, den, x)


def band_pass(x: np.ndarray, sr: int, low: float, high: float) -> np.ndarray:
    sos = signal.butter(4, [low, min(high, 0.45 * sr)], "bandpass", fs=sr, output="sos")
    return signal.sosfiltfilt(sos, x)  # zero phase: stays aligned with the clean


def phone_recording(x: np.ndarray, sr: int, rng: np.random.Generator, noise: np.ndarray, snr_db: float,
                    rir: np.ndarray | None = None, with_target: bool = False):
    """A phone microphone: band-pass 200-300 Hz ... 5-7 kHz, presence peak at 2-4 kHz, a small
    room heard from near the mouth (RT60 0.2-0.4 s, direct path 3-9 dB above the reverberation),
    noise at `snr_db`, soft clipping (drive 1-2). On dev speech with dev noise its inputs score
    PESQ-WB ~1.6 at 25 dB and ~1.2 at 10 dB (the held-out chain's: 1.92 and 1.20). With
    `with_target`: (recording, the clean through the room's early part)."""
    y = band_pass(x, sr, rng.uniform(200, 300), rng.uniform(5000, 7000))
    y = peaking(y, sr, rng.uniform(2000, 4000), rng.uniform(4, 8), 1.0)
    rir = room_impulse_response(rng, sr, rng.uniform(0.2, 0.4)) if rir is None else rir.copy()
    reverb = np.sum(rir[1:] ** 2) + 1e-12
    rir[1:] *= np.sqrt(10 ** (-rng.uniform(3, 9) / 10) / reverb)
    y = signal.fftconvolve(y, rir)[: len(x)]
    y = add_noise(y, noise, snr_db, rng)
    drive = rng.uniform(1.0, 2.0)
    peak = np.abs(y).max() + 1e-9
    y = (np.tanh(drive * y / peak) / np.tanh(drive) * peak).astype(np.float32)
    if with_target:
        return y, signal.fftconvolve(x, early_part(rir, sr))[: len(x)].astype(np.float32)
    return y


@dataclass
class DamageBank:
    """Everything the chains draw from (held in memory by the data worker)."""

    sr: int
    noise: list[np.ndarray]
    music: list[np.ndarray]
    speech: list[np.ndarray]  # for babble
    rirs: list[np.ndarray] = field(default_factory=list)
    nac_pool: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (decoded, clean)

    def draw_noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        kind = rng.choice(4, p=[0.5, 0.2, 0.1, 0.2])
        if kind == 0 and self.noise:
            return self.noise[rng.integers(len(self.noise))]
        if kind == 1 and self.speech:  # babble: 3-6 other voices
            parts = []
            for _ in range(rng.integers(3, 7)):
                clip = self.speech[rng.integers(len(self.speech))]
                clip = np.resize(clip, n) if len(clip) < n else clip[(s := rng.integers(0, len(clip) - n + 1)):s + n]
                parts.append(clip / (np.std(clip) + 1e-6))
            return np.sum(parts, 0)
        if kind == 2 and self.music:
            return self.music[rng.integers(len(self.music))]
        return colored_noise(n, rng, rng.choice([0.0, -1.0, -2.0]))

    def damage(self, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
        """A random chain applied to `clean` (T,): (degraded, target, what was done)."""
        sr, y, target, done = self.sr, clean.astype(np.float64), clean, []
        # a quarter stays clean (run B at 2 500 steps with 12 %: clean speech -0.34 PESQ, its band
        # gains tilted -10 dB below 4 kHz: the damage's own asymmetries, applied to everything)
        if rng.uniform() < 0.25:
            return clean.copy(), clean, "clean"
        if rng.uniform() < 0.12:
            y, target = phone_recording(y, sr, rng, self.draw_noise(len(y), rng), rng.uniform(0, 30),
                                        self.rirs[rng.integers(len(self.rirs))] if self.rirs else None,
                                        with_target=True)
            done.append("phone")
        else:
            if self.rirs and rng.uniform() < 0.35:
                rir = self.rirs[rng.integers(len(self.rirs))]
                y = signal.fftconvolve(y, rir)[: len(clean)]
                target = signal.fftconvolve(clean, early_part(rir, sr))[: len(clean)].astype(np.float32)
                done.append("room")
            if rng.uniform() < 0.6:
                y = add_noise(y, self.draw_noise(len(y), rng), rng.uniform(-5, 35) if rng.uniform() < 0.9 else 40, rng)
                done.append("noise")
            if rng.uniform() < 0.35:
                for _ in range(rng.integers(1, 4)):
                    y = peaking(y, sr, np.exp(rng.uniform(np.log(100), np.log(6000))), rng.uniform(-12, 12),
                                rng.uniform(0.5, 2.0))
                done.append("eq")
            if rng.uniform() < 0.2:
                y = band_pass(y, sr, rng.uniform(80, 400), rng.uniform(3400, 7500))
                done.append("bandpass")
            if rng.uniform() < 0.12:
                peak = np.abs(y).max() + 1e-9
                level = peak * rng.uniform(0.2, 0.7)
                y = np.clip(y, -level, level) if rng.uniform() < 0.5 else np.tanh(y / level) * level
                done.append("clip")
        if rng.uniform() < 0.15:
            y = bandlimit(y, sr, int(rng.choice([8000, 11025])))
            done.append("bandlimit")
        y = y.astype(np.float32)
        if rng.uniform() < 0.35:
            codec, kbps = CODECS[rng.integers(len(CODECS))]
            y = roundtrip(np.clip(y, -1, 1), sr, codec, kbps)[0]
            done.append(f"{codec}{kbps}")
        return y.astype(np.float32), np.asarray(target, np.float32), "+".join(done) or "clean"
