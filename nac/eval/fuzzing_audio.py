"""Structured fuzzing of audio input: mutated WAV, FLAC, Ogg/Opus and MP3 files for `nac encode`.

Every case must end in an `AudioError` (the CLI's one-line error) or a valid encode, quickly and
in bounded memory: absurd headers are refused before anything is sized from them, and no
reader's own exception type (an IndexError, a libsndfile error) may reach the user
(`scripts/fuzz_audio.py` runs 10 000 cases against nac-16k; the tests run 500).
"""
from __future__ import annotations

import io
import random
import struct
from typing import Callable

import numpy as np
import soundfile as sf

SEED_SECONDS = 0.5


def seed_files(sr: int = 16000) -> dict[str, bytes]:
    """Small valid files of each format the CLI reads (name -> bytes; the name ends in the suffix)."""
    from ..io.thirdparty import encode_bytes

    t = np.arange(int(SEED_SECONDS * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    seeds = {}
    for name, subtype, channels in (("pcm16.wav", "PCM_16", 1), ("float-stereo.wav", "FLOAT", 2),
                                    ("pcm24.flac", "PCM_24", 1)):
        buf = io.BytesIO()
        audio = np.stack([x, x[::-1]], 1) if channels == 2 else x
        sf.write(buf, audio, sr, subtype=subtype, format=name.rsplit(".", 1)[1].upper())
        seeds[name] = buf.getvalue()
    seeds["speech.opus"] = encode_bytes(x, sr, "opus", 12)[0]
    seeds["speech.mp3"] = encode_bytes(x, sr, "mp3", 32)[0]
    return seeds


ABSURD_U32 = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 768001, 12345678]
ABSURD_U16 = [0, 1, 0xFFFF, 0x8000, 255]


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 2, 8, 32])):
        pos = rng.randrange(min(len(out), 64)) if rng.random() < 0.6 else rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(1, 256)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.choice([0, 1, 4, 12, 44, rng.randrange(len(data))])]


def _insert(data: bytes, rng: random.Random) -> bytes:
    pos = rng.randrange(len(data) + 1)
    return data[:pos] + bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 100, 1000]))) + data[pos:]


def _delete(data: bytes, rng: random.Random) -> bytes:
    pos = rng.randrange(len(data))
    return data[:pos] + data[pos + rng.choice([1, 4, 100, 1000]):]


def _header_field(data: bytes, rng: random.Random) -> bytes:
    """Overwrite a 16- or 32-bit field near the start (channel counts, rates, sizes) with an
    absurd value, either byte order."""
    out = bytearray(data)
    if len(out) < 8:
        return bytes(out)
    width = rng.choice([2, 4])
    pos = rng.randrange(0, min(len(out), 64) - width + 1)
    value = rng.choice(ABSURD_U16 if width == 2 else ABSURD_U32)
    fmt = rng.choice("<>") + ("H" if width == 2 else "I")
    out[pos:pos + width] = struct.pack(fmt, value)
    return bytes(out)


def _wav_fields(data: bytes, rng: random.Random) -> bytes:
    """The canonical WAV fields at their offsets: channels, rate, byte rate, block align, bits,
    data size. Other formats get a generic header field."""
    if data[:4] != b"RIFF" or len(data) < 44:
        return _header_field(data, rng)
    out = bytearray(data)
    offset, fmt, choices = rng.choice([(22, "<H", ABSURD_U16), (24, "<I", ABSURD_U32), (28, "<I", ABSURD_U32),
                                       (32, "<H", ABSURD_U16), (34, "<H", [0, 1, 7, 13, 64, 0xFFFF]),
                                       (4, "<I", ABSURD_U32), (40, "<I", ABSURD_U32)])
    out[offset:offset + struct.calcsize(fmt)] = struct.pack(fmt, rng.choice(choices))
    return bytes(out)


def _garbage(data: bytes, rng: random.Random) -> bytes:
    keep = rng.choice([0, 4, 12, 36])  # a real magic number, then noise
    return data[:keep] + bytes(rng.randrange(256) for _ in range(rng.choice([10, 500, 5000])))


def _splice(data: bytes, rng: random.Random) -> bytes:
    a, b = sorted(rng.randrange(len(data)) for _ in range(2))
    return data[:a] + data[b:] + data[a:b]


STRATEGIES: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "flip": _flip, "truncate": _truncate, "insert": _insert, "delete": _delete, "header": _header_field,
    "wav_fields": _wav_fields, "garbage": _garbage, "splice": _splice,
}


def mutate(seeds: dict[str, bytes], rng: random.Random) -> tuple[str, str, bytes]:
    """(strategy, file name with the seed's suffix, mutated bytes)."""
    name = rng.choice(sorted(seeds))
    kind = rng.choice(sorted(STRATEGIES))
    return kind, name, STRATEGIES[kind](seeds[name], rng)


def encode_file(path: str, model: str, kbps: float = 6.0) -> bytes:
    """What `nac encode PATH -` does before writing: read (checked) and code into memory."""
    from ..api import compress_blocks
    from ..io.audio import read_blocks

    sr, channels, total, blocks = read_blocks(path)
    out = io.BytesIO()
    compress_blocks(blocks, sr, channels, total, out, kbps, model)
    return out.getvalue()
