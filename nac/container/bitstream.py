"""The `.nac` container: header, metadata, CRC-checked chunks of bit-packed codes.

Pure Python + numpy (no torch), so files can be inspected and validated without the model.

Layout (all integers big-endian):

    offset  size  field
    0       3     magic b"NAC"
    3       1     version (3; versions 1 and 2 are still read)
    4       4     metadata length M (bytes, <= 64 KiB)
    8       1     nominal bitrate, kbps x 10 (6 kbps -> 60)
    9       M     metadata: v3 tag-length-value bytes (`binary_metadata.py`, ~60 bytes);
                  v1/v2 UTF-8 JSON (~300 bytes)
    9+M     4     v2+: CRC-32 of bytes [0, 9 + M): header and metadata are protected too
    ...     ...   chunks until end of file, each:
                    2  frame count F (1 <= F <= frames_per_chunk)
                    4  payload length L = ceil(F * channels * n_q * bits / 8)
                       (entropy-coded files: the coded length; see `nac/entropy.py`)
                    4  CRC-32 of the payload (v2: seeded with the chunk's index, so
                       dropped, repeated or reordered chunks are detected too)
                    L  payload: codes in frame-major order (frame, channel, level),
                       each `bits_per_code` bits, most significant bit first, zero-padded
                       to a whole byte at the end of the chunk; or, when the metadata has
                       `entropy`, the chunk's range-coded codes as big-endian 32-bit words

A hostile file must not crash, hang or over-allocate the reader: every metadata field is typed
and range-checked (`validate_metadata`), a chunk's frames must be backed by its bytes, and the
frame total is checked against what the metadata promises, so the work per file stays linear in
its size. Every problem raises a `NacFormatError` subclass naming what and where.
"""
from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np
from construct import Bytes, Int8ub, Int16ub, Int32ub, Struct

from . import binary_metadata

MAGIC = b"NAC"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MAX_METADATA = 64 * 1024
MAX_CHANNELS = 64  # per .nac file
REQUIRED_METADATA = ("model", "sample_rate", "original_sample_rate", "channels", "num_samples",
                     "frame_rate", "hop", "n_q", "bits_per_code", "frames_per_chunk")
HEADER_CRC_SIZE = 4

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


class HeaderCRCError(NacFormatError):
    pass


class ModelMismatchError(NacFormatError):
    """The file cannot be decoded by the model it names (or the one asked for)."""


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


def chunk_crc(payload: bytes, index: int, version: int = VERSION) -> int:
    """A chunk's CRC-32; from v2 on it starts from the CRC of the chunk's index (u32)."""
    if version >= 2:
        return zlib.crc32(payload, zlib.crc32(index.to_bytes(4, "big")))
    return zlib.crc32(payload)


# --- header --------------------------------------------------------------------------------

def bitrate_byte(kbps: float) -> int:
    value = round(kbps * 10)
    if not 0 < value <= 255 or abs(value - kbps * 10) > 1e-6:
        raise ValueError(f"bitrate {kbps:g} kbps cannot be stored as kbps x 10 in one byte")
    return value


def build_header(metadata: dict, kbps: float, version: int = VERSION) -> bytes:
    if version not in READABLE_VERSIONS:
        raise ValueError(f"cannot write .nac version {version}")
    validate_metadata(metadata)
    if version >= 3:
        try:
            blob = binary_metadata.encode(metadata)
        except binary_metadata.BinaryMetadataError as exc:
            raise MetadataError(str(exc)) from None
        if abs(metadata.get("kbps", kbps) - kbps) > 1e-9:
            raise MetadataError(f"metadata kbps {metadata['kbps']} is not the header's {kbps}")
    else:
        blob = json.dumps(metadata, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(blob) > MAX_METADATA:
        raise MetadataError(f"metadata is {len(blob)} bytes; the limit is {MAX_METADATA}")
    head = HEADER.build(dict(magic=MAGIC, version=version, metadata_length=len(blob),
                             bitrate=bitrate_byte(kbps))) + blob
    return head + (zlib.crc32(head).to_bytes(4, "big") if version >= 2 else b"")


# --- metadata validation ----------------------------------------------------------------------

def _integer(lo: int, hi: int):
    def check(value):
        # bool is an int in Python; a JSON true is not a sample rate
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
    return check, f"an integer in [{lo}, {hi}]"


def _number(lo: float, hi: float):
    def check(value):
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value) and lo < value <= hi)
    return check, f"a number in ({lo:g}, {hi:g}]"


def _text(max_len: int, pattern: str | None = None):
    def check(value):
        return isinstance(value, str) and 0 < len(value) <= max_len and (pattern is None or re.fullmatch(pattern, value))
    return check, f"a string of 1..{max_len} characters" + (f" matching {pattern}" if pattern else "")


METADATA_FIELDS = {
    "model": _text(128, r"[A-Za-z0-9_.\-]+"),
    "sample_rate": _integer(8000, 192000),
    "original_sample_rate": _integer(1000, 768000),
    "channels": _integer(1, MAX_CHANNELS),
    "num_samples": _integer(0, 1 << 40),
    "frame_rate": _number(0, 1000),
    "hop": _integer(1, 1 << 16),
    "n_q": _integer(1, 64),
    "bits_per_code": _integer(1, 16),
    "frames_per_chunk": _integer(1, MAX_CHUNK_FRAMES),
    # optional
    "model_sha256": _text(64, r"[0-9a-f]+"),
    "format_version": _integer(1, 255),
    "kbps": _number(0, 1000),
}
OPTIONAL_OBJECTS = ("pitch", "entropy", "band_gains")  # described by their own modules; checked by the decoder


def validate_metadata(m: dict) -> None:
    """Type- and range-check every field a reader relies on; raise `MetadataError` naming it."""
    if not isinstance(m, dict):
        raise MetadataError("metadata is not a JSON object")
    missing = [k for k in REQUIRED_METADATA if k not in m]
    if missing:
        raise MetadataError(f"metadata lacks {', '.join(missing)}")
    for key, (check, what) in METADATA_FIELDS.items():
        if key in m and not check(m[key]):
            raise MetadataError(f"metadata field {key!r} must be {what}, got {_short(m[key])}")
    for key in OPTIONAL_OBJECTS:
        if m.get(key) is not None and not isinstance(m[key], dict):
            raise MetadataError(f"metadata field {key!r} must be an object or null, got {_short(m[key])}")
    if abs(m["frame_rate"] - m["sample_rate"] / m["hop"]) > 1e-6 * m["frame_rate"]:
        raise MetadataError(f"metadata frame_rate {m['frame_rate']} is not sample_rate / hop")


def _short(value) -> str:
    text = json.dumps(value, allow_nan=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


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
    if h.version not in READABLE_VERSIONS:
        raise UnsupportedVersionError(f"unsupported .nac version {h.version} (this NAC reads versions "
                                      f"{', '.join(map(str, READABLE_VERSIONS))})")
    if h.metadata_length > MAX_METADATA:
        raise MetadataError(f"metadata length {h.metadata_length} exceeds the {MAX_METADATA}-byte limit")
    blob = _read_exact(f, h.metadata_length, "metadata")
    size = HEADER_SIZE + h.metadata_length
    if h.version >= 2:  # check integrity before trusting a single metadata byte
        stored = int.from_bytes(_read_exact(f, HEADER_CRC_SIZE, "header CRC"), "big")
        if zlib.crc32(raw + blob) != stored:
            raise HeaderCRCError("CRC mismatch in header/metadata (corrupted or altered file)")
        size += HEADER_CRC_SIZE
    if h.version >= 3:
        try:
            metadata = binary_metadata.decode(blob, h.bitrate / 10, h.version)
        except binary_metadata.BinaryMetadataError as exc:
            raise MetadataError(f"metadata: {exc}") from None
    else:
        try:
            metadata = json.loads(blob.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise MetadataError(f"metadata is not valid UTF-8 JSON ({str(exc)[:80]})") from None
    validate_metadata(metadata)
    return Header(h.version, h.bitrate, metadata, size)


# --- streaming writer / reader ---------------------------------------------------------------

class NacWriter:
    """Write the header at once, then one chunk per `write_chunk` call (nothing is held back)."""

    def __init__(self, f: BinaryIO, metadata: dict, kbps: float, version: int = VERSION, coder=None):
        """`coder`: an entropy coder (`nac.entropy.CodeModel`) whose `describe()` is already in
        `metadata["entropy"]`; None writes bit-packed codes."""
        if (coder is None) != (metadata.get("entropy") is None):
            raise ValueError("metadata['entropy'] and the coder must come together")
        self.f, self.metadata, self.coder = f, metadata, coder
        self.channels, self.n_q = int(metadata["channels"]), int(metadata["n_q"])
        self.bits = int(metadata["bits_per_code"])
        self.max_frames = int(metadata["frames_per_chunk"])
        self.frames_written, self.chunks_written, self.version = 0, 0, version
        f.write(build_header(metadata, kbps, version))

    def write_chunk(self, codes: np.ndarray) -> None:
        """codes: (frames, channels, n_q) ints."""
        codes = np.asarray(codes)
        if codes.shape[1:] != (self.channels, self.n_q):
            raise ValueError(f"chunk shape {codes.shape} does not match (frames, {self.channels}, {self.n_q})")
        for start in range(0, codes.shape[0], self.max_frames):
            part = codes[start:start + self.max_frames]
            payload = self.coder.encode(part) if self.coder else pack_bits(part, self.bits)
            crc = chunk_crc(payload, self.chunks_written, self.version)
            self.f.write(CHUNK_HEADER.build(dict(frames=part.shape[0], length=len(payload), crc32=crc)))
            self.f.write(payload)
            self.frames_written += part.shape[0]
            self.chunks_written += 1


class NacReader:
    """Parse and validate a .nac stream; `chunks()` yields (frames, channels, n_q) int64 arrays.

    An entropy-coded file (metadata `entropy`) needs its coder (`nac.entropy.CodeModel`, built
    from the model's code statistics) set as `coder` before `chunks()`; `payloads()` checks a
    file's structure and CRCs without one."""

    def __init__(self, f: BinaryIO, coder=None):
        self.f, self.coder = f, coder
        self.header = read_header(f)
        m = self.metadata = self.header.metadata  # validated: types and ranges hold
        self.channels, self.n_q, self.bits = m["channels"], m["n_q"], m["bits_per_code"]
        self.hop, self.num_samples = m["hop"], m["num_samples"]
        self.sample_rate, self.original_sample_rate = m["sample_rate"], m["original_sample_rate"]
        self.frames_per_chunk = m["frames_per_chunk"]
        self.total_frames = expected_frames(m)
        self.entropy = m.get("entropy")
        if self.entropy is not None and not (
                isinstance(self.entropy.get("coder"), str) and isinstance(self.entropy.get("statistics"), str)):
            raise MetadataError("metadata field 'entropy' must name a coder and its statistics")
        self._check_size()

    def _check_size(self) -> None:
        """A file whose metadata promises more frames than its bytes can hold is refused before
        any decoding (where the stream can tell its size)."""
        try:
            here = self.f.tell()
            end = self.f.seek(0, 2)
            self.f.seek(here)
        except (AttributeError, OSError, ValueError):
            return
        chunks = -(-self.total_frames // self.frames_per_chunk)
        payload = (4 * chunks if self.entropy else  # a coded chunk holds at least one 32-bit word
                   packed_size(self.total_frames * self.channels * self.n_q, self.bits))
        needed = chunks * CHUNK_HEADER_SIZE + payload
        if end - here < needed:
            raise TruncatedError(f"truncated file: {self.total_frames} frames need at least {needed} bytes "
                                 f"after the header, the file has {end - here}")

    def chunks(self) -> Iterator[np.ndarray]:
        if self.entropy is not None and self.coder is None:
            raise NacFormatError("entropy-coded file: decoding needs the model's code statistics")
        for index, frames, payload in self.payloads():
            count = frames * self.channels * self.n_q
            if self.coder is None:
                yield unpack_bits(payload, self.bits, count).reshape(frames, self.channels, self.n_q)
                continue
            try:
                yield self.coder.decode(payload, frames, self.channels, self.n_q)
            except ValueError as exc:
                raise NacFormatError(f"chunk {index}: {exc}") from None

    def _max_payload(self, frames: int) -> int:
        raw = packed_size(frames * self.channels * self.n_q, self.bits)
        # no code costs more than 1.4x its bits in the range coder (`nac.entropy._floored`)
        return raw + raw // 2 + 64 if self.entropy else raw

    def payloads(self) -> Iterator[tuple[int, int, bytes]]:
        """(chunk index, frames, payload) for each chunk, its size and CRC checked."""
        frames_read, index = 0, 0
        while True:
            raw = self.f.read(CHUNK_HEADER_SIZE)
            if not raw:
                break
            if len(raw) < CHUNK_HEADER_SIZE:
                raise TruncatedError(f"truncated chunk {index}: header has {len(raw)} of {CHUNK_HEADER_SIZE} bytes")
            ch = CHUNK_HEADER.parse(raw)
            if not 1 <= ch.frames <= self.frames_per_chunk:
                raise NacFormatError(f"chunk {index}: {ch.frames} frames (allowed 1..{self.frames_per_chunk})")
            count = ch.frames * self.channels * self.n_q
            if (ch.length != packed_size(count, self.bits) if self.entropy is None
                    else not 4 <= ch.length <= self._max_payload(ch.frames)):
                raise NacFormatError(f"chunk {index}: payload length {ch.length} does not match {ch.frames} frames")
            if frames_read + ch.frames > self.total_frames:
                raise NacFormatError(f"chunk {index}: more frames than the metadata's {self.total_frames}")
            payload = self.f.read(ch.length)
            if len(payload) < ch.length:
                raise TruncatedError(f"truncated chunk {index}: payload has {len(payload)} of {ch.length} bytes")
            if chunk_crc(payload, index, self.header.version) != ch.crc32:
                raise ChunkCRCError(f"CRC mismatch in chunk {index} (corrupted data)")
            frames_read += ch.frames
            index += 1
            yield index - 1, ch.frames, payload
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


def file_kbps(size_bytes: int, seconds: float, channels: int = 1) -> float:
    """A file's rate, the one definition every report uses (encode's line, `nac info`, the
    JSON, `nac restore --explain`, the UI), for NAC and third-party files alike: all of the
    file's bytes (header, metadata, container pages included) per second of audio, per channel,
    in kbps. Short clips pay their headers: that is what they cost to send or store."""
    return size_bytes * 8 / max(seconds, 1e-9) / 1000 / max(channels, 1)


def inspect(f: BinaryIO, size: int) -> dict:
    """What `nac info` shows: header fields, duration, file rate, chunks, integrity, metadata.

    Header or metadata problems raise `NacFormatError`; chunk problems are reported in
    `integrity`, with how many chunks were read and the byte where reading stopped (the header
    is still worth showing)."""
    reader = NacReader(f)
    chunks, crc, stopped_at = 0, "ok", None
    start = f.tell()
    try:
        for _ in reader.payloads():
            chunks += 1
            start = f.tell()
    except NacFormatError as exc:
        crc, stopped_at = f"FAILED: {exc}", start
    duration = reader.num_samples / reader.original_sample_rate
    expected = -(-reader.total_frames // reader.frames_per_chunk)
    return {
        "bytes": size, "magic": "NAC", "version": reader.header.version,
        "bitrate_byte": reader.header.bitrate, "nominal_kbps": reader.header.kbps,
        "duration_s": round(duration, 3),
        "file_kbps": round(file_kbps(size, duration, reader.channels), 3),
        "header_bytes": reader.header.size, "chunks": chunks, "chunks_expected": expected,
        "integrity": crc, "stopped_at_byte": stopped_at,
        "header_crc": "ok" if reader.header.version >= 2 else "none (version 1 file)",
        "entropy": (f"{reader.entropy['coder']} (statistics {reader.entropy['statistics']})"
                    if reader.entropy else "off (bit-packed codes)"),
        "metadata": reader.metadata,
    }
