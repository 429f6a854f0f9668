"""Version 3 metadata: the same fields as version 2's JSON, as tag-length-value bytes.

A mono 6-kbps file of the default model carries ~60 bytes of metadata instead of ~300 (on a
3-s clip that was 0.8 kbps of its rate). Each field is one tag byte, its value's length as an
unsigned LEB128 varint, then the value:

    tag  field                 value
    1    model                 UTF-8 (a registry name)
    2    model_sha256          the hex prefix as raw bytes (16 hex digits -> 8 bytes)
    3-10 sample_rate, original_sample_rate, channels, num_samples, hop, n_q, bits_per_code,
         frames_per_chunk      unsigned varint
    16   pitch                 compact JSON object
    17   entropy               compact JSON object
    18   band_gains            two varints: bands, levels

Not stored, because the header or other fields already say them: `frame_rate` (sample_rate /
hop), `kbps` (the header's bitrate byte) and `format_version` (the header's version). A reader
skips tags it does not know (a later writer may add fields); a repeated tag, a length running
past the metadata, an overlong varint or a non-minimal one is a `MetadataError`. The decoded
dict then goes through the same `validate_metadata` as JSON metadata. Pure Python.
"""
from __future__ import annotations

import json

FIELDS = {1: ("model", "text"), 2: ("model_sha256", "hex"), 3: ("sample_rate", "uint"),
          4: ("original_sample_rate", "uint"), 5: ("channels", "uint"), 6: ("num_samples", "uint"),
          7: ("hop", "uint"), 8: ("n_q", "uint"), 9: ("bits_per_code", "uint"), 10: ("frames_per_chunk", "uint"),
          16: ("pitch", "json"), 17: ("entropy", "json"), 18: ("band_gains", "band_gains")}
TAGS = {name: (tag, kind) for tag, (name, kind) in FIELDS.items()}
DERIVED = ("frame_rate", "kbps", "format_version")
MAX_VARINT_BYTES = 10


class BinaryMetadataError(ValueError):
    pass


def varint(value: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BinaryMetadataError(f"{value!r} is not an unsigned integer")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(blob: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= len(blob):
            raise BinaryMetadataError(f"varint at byte {pos} runs past the metadata")
        byte = blob[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if i and byte == 0:
                raise BinaryMetadataError(f"non-minimal varint at byte {pos}")
            return value, pos + i + 1
    raise BinaryMetadataError(f"varint at byte {pos} is longer than {MAX_VARINT_BYTES} bytes")


def _encode_value(name: str, kind: str, value) -> bytes:
    if kind == "uint":
        return varint(value)
    if kind == "text":
        return str(value).encode("utf-8")
    if kind == "hex":
        if not isinstance(value, str) or len(value) % 2:
            raise BinaryMetadataError(f"{name} must be an even-length hex string")
        return bytes.fromhex(value)
    if kind == "band_gains":
        return varint(value["bands"]) + varint(value["levels"])
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode(metadata: dict) -> bytes:
    """Metadata dict (as validated for JSON) -> version 3 bytes; derived fields are dropped."""
    unknown = set(metadata) - set(TAGS) - set(DERIVED)
    if unknown:
        raise BinaryMetadataError(f"no version 3 tag for metadata fields {sorted(unknown)}")
    out = bytearray()
    for name, value in metadata.items():
        if name in DERIVED or value is None:
            continue
        tag, kind = TAGS[name]
        data = _encode_value(name, kind, value)
        out += bytes([tag]) + varint(len(data)) + data
    return bytes(out)


def _decode_value(name: str, kind: str, data: bytes):
    if kind == "uint":
        value, end = read_varint(data, 0)
        if end != len(data):
            raise BinaryMetadataError(f"{name}: {len(data) - end} bytes after its varint")
        return value
    if kind == "text":
        return data.decode("utf-8")
    if kind == "hex":
        return data.hex()
    if kind == "band_gains":
        bands, pos = read_varint(data, 0)
        levels, end = read_varint(data, pos)
        if end != len(data):
            raise BinaryMetadataError(f"{name}: {len(data) - end} bytes after its varints")
        return {"bands": bands, "levels": levels}
    return json.loads(data.decode("utf-8"), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def decode(blob: bytes, kbps: float, version: int) -> dict:
    """Version 3 bytes -> the metadata dict a JSON file would give (derived fields restored)."""
    metadata, pos = {}, 0
    while pos < len(blob):
        tag = blob[pos]
        length, start = read_varint(blob, pos + 1)
        end = start + length
        if end > len(blob):
            raise BinaryMetadataError(f"field tag {tag} at byte {pos} runs past the metadata")
        if tag in FIELDS:
            name, kind = FIELDS[tag]
            if name in metadata:
                raise BinaryMetadataError(f"metadata field {name!r} appears twice")
            try:
                metadata[name] = _decode_value(name, kind, blob[start:end])
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise BinaryMetadataError(f"metadata field {name!r}: {str(exc)[:80]}") from None
        pos = end
    if isinstance(metadata.get("sample_rate"), int) and isinstance(metadata.get("hop"), int) and metadata["hop"]:
        metadata["frame_rate"] = metadata["sample_rate"] / metadata["hop"]
    metadata["kbps"] = kbps
    metadata["format_version"] = version
    return metadata
