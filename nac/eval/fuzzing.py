"""Structured mutations of `.nac` files, for the parser's fuzz test and `scripts/fuzz_container.py`.

Random bytes mostly die at the magic check; these mutations aim past it. Some recompute the
CRCs after the change (what an attacker would do), so that hostile *metadata* and chunk headers
reach the validation and the decoder, not just the checksums:

    flip, truncate, insert, delete, splice     byte-level damage anywhere (header weighted)
    header                                     version / metadata length / bitrate bytes
    field                                      one metadata field set to a hostile value, CRC fixed
    chunk                                      a chunk's frame count / length, CRCs fixed
    payload                                    payload bytes changed with a valid CRC (a valid file)
    reorder                                    chunks dropped, duplicated or swapped

Every case must end in a `NacFormatError` or a valid decode, within a time limit.
"""
from __future__ import annotations

import json
import random
import signal
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Callable

from ..container import bitstream as bs

HOSTILE_VALUES = [0, -1, 1, 1.5, -1e308, 1e308, 2 ** 31, 2 ** 63, 10 ** 30, True, False, None, "", "x",
                  "../../etc/passwd", "a" * 300, [], {}, [1, 2], {"a": 1}, 65535, 65536, 8000, 768001]


@dataclass
class Parts:
    """A v2 file split into what mutations work on."""

    version: int
    bitrate: int
    metadata: dict
    chunks: list[tuple[int, bytes]]  # (frames, payload)

    @classmethod
    def parse(cls, data: bytes) -> "Parts":
        import io

        f = io.BytesIO(data)
        header = bs.read_header(f)
        chunks = []
        while True:
            raw = f.read(bs.CHUNK_HEADER_SIZE)
            if not raw:
                break
            frames, length, _ = struct.unpack(">HII", raw)
            chunks.append((frames, f.read(length)))
        return cls(header.version, header.bitrate, header.metadata, chunks)

    def build(self, metadata_blob: bytes | None = None, fix_crc: bool = True) -> bytes:
        blob = metadata_blob if metadata_blob is not None else json.dumps(self.metadata).encode()
        head = bs.MAGIC + bytes([self.version]) + struct.pack(">I", len(blob)) + bytes([self.bitrate]) + blob
        out = bytearray(head)
        if self.version >= 2:
            out += struct.pack(">I", zlib.crc32(head) if fix_crc else 0)
        for index, (frames, payload) in enumerate(self.chunks):
            crc = bs.chunk_crc(payload, index, self.version)
            out += struct.pack(">HII", frames & 0xFFFF, len(payload), crc) + payload
        return bytes(out)


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One structured mutation of a valid v2 file: (strategy name, mutated bytes)."""
    kind = rng.choice(list(_STRATEGIES))
    return kind, _STRATEGIES[kind](data, rng)


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    header_end = min(len(out), 9 + struct.unpack(">I", data[4:8])[0] + 4)
    for _ in range(rng.choice([1, 1, 2, 4, 16])):
        pos = rng.randrange(header_end) if rng.random() < 0.6 else rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(1, 256)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(len(data))]


def _insert(data: bytes, rng: random.Random) -> bytes:
    pos = rng.randrange(len(data) + 1)
    return data[:pos] + bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 100]))) + data[pos:]


def _delete(data: bytes, rng: random.Random) -> bytes:
    pos = rng.randrange(len(data))
    return data[:pos] + data[pos + rng.choice([1, 4, 100]):]


def _splice(data: bytes, rng: random.Random) -> bytes:
    a, b = sorted(rng.randrange(len(data)) for _ in range(2))
    return data[:a] + data[b:] + data[a:b]


def _header(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    which = rng.choice(["version", "length", "bitrate"])
    if which == "version":
        out[3] = rng.choice([0, 1, 3, 255])
    elif which == "length":
        out[4:8] = struct.pack(">I", rng.choice([0, 1, 2 ** 16, 2 ** 16 + 1, 2 ** 32 - 1, rng.randrange(2 ** 32)]))
    else:
        out[8] = rng.randrange(256)
    return bytes(out)


def _field(data: bytes, rng: random.Random) -> bytes:
    parts = Parts.parse(data)
    key = rng.choice(sorted(parts.metadata) + ["pitch", "entropy", "unknown"])
    if rng.random() < 0.15:
        parts.metadata.pop(key, None)
    else:
        parts.metadata[key] = rng.choice(HOSTILE_VALUES)
    if rng.random() < 0.1:  # non-JSON constants and deep nesting, written by hand
        blob = json.dumps(parts.metadata).replace('"hop": 320', rng.choice(
            ['"hop": NaN', '"hop": Infinity', '"hop": ' + "[" * 5000 + "]" * 5000])).encode()
        return parts.build(blob)
    return parts.build()


def _chunk(data: bytes, rng: random.Random) -> bytes:
    parts = Parts.parse(data)
    if not parts.chunks:
        return parts.build()
    i = rng.randrange(len(parts.chunks))
    frames, payload = parts.chunks[i]
    if rng.random() < 0.5:
        frames = rng.choice([0, 1, frames - 1, frames + 1, 0xFFFF])
    else:
        payload = payload[:rng.randrange(len(payload) + 1)] if rng.random() < 0.5 else payload + b"\0" * 7
    parts.chunks[i] = (frames, payload)
    return parts.build()


def _payload(data: bytes, rng: random.Random) -> bytes:
    parts = Parts.parse(data)
    if parts.chunks:
        i = rng.randrange(len(parts.chunks))
        frames, payload = parts.chunks[i]
        parts.chunks[i] = (frames, bytes(rng.randrange(256) for _ in payload))
    return parts.build()


def _reorder(data: bytes, rng: random.Random) -> bytes:
    parts = Parts.parse(data)
    if parts.chunks:
        i = rng.randrange(len(parts.chunks))
        action = rng.choice(["drop", "dup", "swap"])
        if action == "drop":
            del parts.chunks[i]
        elif action == "dup":
            parts.chunks.insert(i, parts.chunks[i])
        else:
            j = rng.randrange(len(parts.chunks))
            parts.chunks[i], parts.chunks[j] = parts.chunks[j], parts.chunks[i]
    return parts.build()


_STRATEGIES: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "flip": _flip, "truncate": _truncate, "insert": _insert, "delete": _delete, "splice": _splice,
    "header": _header, "field": _field, "chunk": _chunk, "payload": _payload, "reorder": _reorder,
}


class CaseTimeout(Exception):
    pass


@dataclass
class Outcome:
    strategy: str
    result: str  # "format_error", "decoded", "timeout", or the unexpected exception's type
    seconds: float  # wall clock
    message: str = ""
    cpu_seconds: float = 0.0  # this process's CPU time: the work the case caused, load aside


def run_case(strategy: str, data, decode: Callable[[object], object], limit_s: float = 2.0,
             expected: tuple[type[Exception], ...] = (bs.NacFormatError,), expected_name: str = "format_error"
             ) -> Outcome:
    """Run `decode(data)`; classify the result: `expected_name` for an `expected` error,
    "decoded", "timeout" (interrupted past `limit_s`), or the unexpected exception's type."""
    def alarm(signum, frame):
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        decode(data)
        result, message = "decoded", ""
    except expected as exc:
        result, message = expected_name, str(exc)
    except CaseTimeout:
        result, message = "timeout", ""
    except Exception as exc:  # noqa: BLE001 - what the fuzzer is looking for
        result, message = type(exc).__name__, str(exc)[:200]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(strategy, result, time.perf_counter() - start, message, time.process_time() - cpu_start)
