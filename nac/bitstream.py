"""The `.nac` v1 container: header, JSON metadata, CRC-checked chunks of bit-packed codes.

Pure Python + numpy (no torch), so files can be inspected and validated without the model.

Layout (all integers big-endian):

    offset  size  field
    0       3     magic b"NAC"
    3       1     version (1)
    4       4     metadata length M (bytes, <= 64 KiB)
    8       1     nominal bitrate, kbps x 10 (6 kbps -> 60)
    9       M     metadata, UTF-8 JSON
    9+M     ...   chunks until end of file, each:
                    2  frame count F
                    4  payload length L = ceil(F * channels * n_q * bits / 8)
                    4  CRC-32 of the payload
                    L  payload: codes in frame-major order (frame, channel, level),
                       each `bits_per_code` bits, most significant bit first, zero-padded
                       to a whole byte at the end of the chunk
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np
from construct import Bytes, Int8ub, Int16ub, Int32ub, Struct

MAGIC = b"NAC"
VERSION = 1
MAX_METADATA = 64 * 1024
REQUIRED_METADATA = ("model", "sample_rate", "original_sample_rate", "channels", "num_samples",
                     "frame_rate", "hop", "n_q", "bits_per_code", "frames_per_chunk")

HEADER = Struct("magic" / Bytes(3), "version" / Int8ub, "metadata_length" / Int32ub, "bitrate" / Int8ub)
CHUNK_HEADER = Struct("frames" / Int16ub, "length" / Int32ub, "crc32" / Int32ub)
HEADER_SIZE = HEADER.sizeof()  # 9
CHUNK_HEADER_SIZE = CHUNK_HEADER.sizeof()  # 10
MAX_CHUNK_FRAMES = 0xFFFF


class NacFormatError(Exception):
    """Any problem with a .nac file; the message says exactly what and where."""


class BadMagicError(NacFormatError):
    pass


class UnsupportedVersionError(NacFormatError):
    pass


class MetadataError(NacFormatError):
    pass


class TruncatedError(NacFormatError):
    pass


class ChunkCRCError(NacFormatError):
    pass


# --- bit packing ---------------------------------------------------------------------------

def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Pack non-negative ints (< 2**bits) at exactly `bits` each, MSB first, into bytes."""
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size and (v.min() < 0 or v.max() >= 1 << bits):
        raise ValueError(f"code out of range for {bits} bits")
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    bit_matrix = ((v[:, None] >> shifts) & 1).astype(np.uint8)
    return np.packbits(bit_matrix.reshape(-1)).tobytes()


def unpack_bits(data: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of `pack_bits`: the first `count` values as int64."""
    if len(data) * 8 < count * bits:
        raise ValueError("not enough bytes for the requested count")
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * bits]
    weights = (1 << np.arange(bits - 1, -1, -1, dtype=np.int64))
    return flat.reshape(count, bits).astype(np.int64) @ weights


def packed_size(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


# --- header --------------------------------------------------------------------------------

def bitrate_byte(kbps: float) -> int:
    value = round(kbps * 10)
    if not 0 < value <= 255 or abs(value - kbps * 10) > 1e-6:
        raise ValueError(f"bitrate {kbps:g} kbps cannot be stored as kbps x 10 in one byte")
    return value


def build_header(metadata: dict, kbps: float) -> bytes:
    blob = json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if len(blob) > MAX_METADATA:
        raise MetadataError(f"metadata is {len(blob)} bytes; the limit is {MAX_METADATA}")
    return HEADER.build(dict(magic=MAGIC, version=VERSION, metadata_length=len(blob),
                             bitrate=bitrate_byte(kbps))) + blob


@dataclass
class Header:
    version: int
    bitrate: int  # kbps x 10
    metadata: dict
    size: int  # bytes before the first chunk

    @property
    def kbps(self) -> float:
        return self.bitrate / 10


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise TruncatedError(f"truncated file: {what} needs {n} bytes, only {len(data)} left")
    return data


def read_header(f: BinaryIO) -> Header:
    raw = f.read(HEADER_SIZE)
    if len(raw) < 3 or raw[:3] != MAGIC:
        raise BadMagicError(f"not a .nac file (bad magic {raw[:3]!r}, expected {MAGIC!r})")
    if len(raw) < HEADER_SIZE:
        raise TruncatedError(f"truncated file: header needs {HEADER_SIZE} bytes, got {len(raw)}")
    h = HEADER.parse(raw)
    if h.version != VERSION:
        raise UnsupportedVersionError(f"unsupported .nac version {h.version} (this NAC reads version {VERSION})")
    if h.metadata_length > MAX_METADATA:
        raise MetadataError(f"metadata length {h.metadata_length} exceeds the {MAX_METADATA}-byte limit")
    blob = _read_exact(f, h.metadata_length, "metadata")
    try:
        metadata = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"metadata is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(metadata, dict):
        raise MetadataError("metadata is not a JSON object")
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise MetadataError(f"metadata lacks {', '.join(missing)}")
    return Header(h.version, h.bitrate, metadata, HEADER_SIZE + h.metadata_length)


# --- streaming writer / reader ---------------------------------------------------------------

class NacWriter:
    """Write the header at once, then one chunk per `write_chunk` call (nothing is held back)."""

    def __init__(self, f: BinaryIO, metadata: dict, kbps: float):
        self.f, self.metadata = f, metadata
        self.channels, self.n_q = int(metadata["channels"]), int(metadata["n_q"])
        self.bits = int(metadata["bits_per_code"])
        self.frames_written = 0
        f.write(build_header(metadata, kbps))

    def write_chunk(self, codes: np.ndarray) -> None:
        """codes: (frames, channels, n_q) ints."""
        codes = np.asarray(codes)
        if codes.shape[1:] != (self.channels, self.n_q):
            raise ValueError(f"chunk shape {codes.shape} does not match (frames, {self.channels}, {self.n_q})")
        for start in range(0, codes.shape[0], MAX_CHUNK_FRAMES):
            part = codes[start:start + MAX_CHUNK_FRAMES]
            payload = pack_bits(part, self.bits)
            self.f.write(CHUNK_HEADER.build(dict(frames=part.shape[0], length=len(payload),
                                                 crc32=zlib.crc32(payload))))
            self.f.write(payload)
            self.frames_written += part.shape[0]


class NacReader:
    """Parse and validate a .nac stream; `chunks()` yields (frames, channels, n_q) int64 arrays."""

    def __init__(self, f: BinaryIO):
        self.f = f
        self.header = read_header(f)
        m = self.metadata = self.header.metadata
        try:
            self.channels, self.n_q, self.bits = int(m["channels"]), int(m["n_q"]), int(m["bits_per_code"])
            self.hop, self.num_samples = int(m["hop"]), int(m["num_samples"])
            self.sample_rate, self.original_sample_rate = int(m["sample_rate"]), int(m["original_sample_rate"])
        except (TypeError, ValueError) as exc:
            raise MetadataError(f"metadata has a malformed field ({exc})") from None
        if not (1 <= self.bits <= 16 and self.channels >= 1 and self.n_q >= 1 and self.hop >= 1):
            raise MetadataError("metadata has out-of-range channels / n_q / bits_per_code / hop")
        self.total_frames = expected_frames(m)

    def chunks(self) -> Iterator[np.ndarray]:
        frames_read, index = 0, 0
        while True:
            raw = self.f.read(CHUNK_HEADER_SIZE)
            if not raw:
                break
            if len(raw) < CHUNK_HEADER_SIZE:
                raise TruncatedError(f"truncated chunk {index}: header has {len(raw)} of {CHUNK_HEADER_SIZE} bytes")
            ch = CHUNK_HEADER.parse(raw)
            count = ch.frames * self.channels * self.n_q
            if ch.length != packed_size(count, self.bits):
                raise NacFormatError(f"chunk {index}: payload length {ch.length} does not match {ch.frames} frames")
            if frames_read + ch.frames > self.total_frames:
                raise NacFormatError(f"chunk {index}: more frames than the metadata's {self.total_frames}")
            payload = self.f.read(ch.length)
            if len(payload) < ch.length:
                raise TruncatedError(f"truncated chunk {index}: payload has {len(payload)} of {ch.length} bytes")
            if zlib.crc32(payload) != ch.crc32:
                raise ChunkCRCError(f"CRC mismatch in chunk {index} (corrupted data)")
            frames_read += ch.frames
            index += 1
            yield unpack_bits(payload, self.bits, count).reshape(ch.frames, self.channels, self.n_q)
        if frames_read != self.total_frames:
            raise TruncatedError(f"truncated file: {frames_read} of {self.total_frames} frames present "
                                 f"(ends after chunk {index - 1})")


def expected_frames(metadata: dict) -> int:
    """Code frames for the whole signal: ceil(samples at the model rate / hop)."""
    samples = model_rate_samples(int(metadata["num_samples"]), int(metadata["original_sample_rate"]),
                                 int(metadata["sample_rate"]))
    return -(-samples // int(metadata["hop"]))


def model_rate_samples(num_samples: int, original_rate: int, model_rate: int) -> int:
    """Length after resampling to the model rate (the rule soxr uses: round half up)."""
    return (num_samples * model_rate + original_rate // 2) // original_rate
