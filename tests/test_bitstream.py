import io
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nac import bitstream as bs

META = {"model": "m", "sample_rate": 16000, "original_sample_rate": 16000, "channels": 1,
        "num_samples": 320 * 25, "frame_rate": 50.0, "hop": 320, "n_q": 3, "bits_per_code": 10,
        "frames_per_chunk": 10}


def make_file(meta=META, frames=25, chunk=10, seed=0) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1 << meta["bits_per_code"], (frames, meta["channels"], meta["n_q"]))
    buf = io.BytesIO()
    w = bs.NacWriter(buf, meta, 1.5)
    for i in range(0, frames, chunk):
        w.write_chunk(codes[i:i + chunk])
    return buf.getvalue(), codes


def read_all(data: bytes) -> np.ndarray:
    return np.concatenate(list(bs.NacReader(io.BytesIO(data)).chunks()))


def test_header_layout_matches_hand_built_bytes():
    meta = {"a": 1}
    blob = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    expected = b"NAC" + bytes([1]) + struct.pack(">I", len(blob)) + bytes([60]) + blob
    assert bs.build_header(meta, 6) == expected
    assert bs.HEADER_SIZE == 9 and bs.CHUNK_HEADER_SIZE == 10


@pytest.mark.parametrize("kbps,byte", [(1.5, 15), (3, 30), (6, 60), (12, 120), (24, 240)])
def test_bitrate_byte(kbps, byte):
    assert bs.bitrate_byte(kbps) == byte


def test_chunk_layout_is_frames_length_crc_payload():
    data, codes = make_file(frames=10, chunk=10)
    header = bs.read_header(io.BytesIO(data))
    chunk = data[header.size:]
    frames, length, crc = struct.unpack(">HII", chunk[:10])
    payload = chunk[10:]
    assert (frames, length) == (10, (10 * 3 * 10 + 7) // 8) and len(payload) == length
    assert crc == zlib.crc32(payload)
    # first code, 10 bits MSB-first
    assert (payload[0] << 2 | payload[1] >> 6) == codes[0, 0, 0]


@settings(max_examples=200, deadline=None)
@given(bits=st.integers(1, 16), data=st.data())
def test_pack_unpack_roundtrip(bits, data):
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), max_size=300))
    packed = bs.pack_bits(np.array(values, dtype=np.int64), bits)
    assert len(packed) == (len(values) * bits + 7) // 8
    assert bs.unpack_bits(packed, bits, len(values)).tolist() == values


def test_pack_rejects_out_of_range():
    with pytest.raises(ValueError):
        bs.pack_bits(np.array([1024]), 10)


def test_roundtrip_container():
    data, codes = make_file()
    assert np.array_equal(read_all(data), codes)


def test_flipped_payload_byte_names_the_chunk():
    data, _ = make_file()
    header = bs.read_header(io.BytesIO(data))
    chunk1 = header.size + 10 + 38 + 10  # second chunk's payload start (10 frames -> 38 bytes)
    corrupted = bytearray(data)
    corrupted[chunk1 + 3] ^= 0x40
    with pytest.raises(bs.ChunkCRCError, match="chunk 1"):
        read_all(bytes(corrupted))


def chunk_boundaries(data: bytes) -> list[int]:
    pos = bs.read_header(io.BytesIO(data)).size
    out = [pos]
    while pos < len(data):
        _, length, _ = struct.unpack(">HII", data[pos:pos + 10])
        pos += 10 + length
        out.append(pos)
    return out


def test_truncation_everywhere_is_detected():
    data, _ = make_file()
    bounds = chunk_boundaries(data)
    assert bounds[-1] == len(data)
    cuts = set(bounds[:-1]) | {b + 5 for b in bounds[:-1]} | {b + 20 for b in bounds[:-1]} | set(range(0, 12))
    for cut in sorted(cuts):
        with pytest.raises(bs.NacFormatError):
            read_all(data[:cut])
    with pytest.raises(bs.TruncatedError, match="frames present"):
        read_all(data[:bounds[1]])


@pytest.mark.parametrize("mutate,error,match", [
    (lambda d: b"XAC" + d[3:], bs.BadMagicError, "magic"),
    (lambda d: d[:3] + bytes([2]) + d[4:], bs.UnsupportedVersionError, "version 2"),
    (lambda d: d[:4] + struct.pack(">I", 70000) + d[8:], bs.MetadataError, "70000"),
    (lambda d: d[:4] + struct.pack(">I", 0xFFFFFFFF) + d[8:], bs.MetadataError, "exceeds"),
    (lambda d: d[:9] + b"\xff" + d[10:], bs.MetadataError, "JSON"),
    (lambda d: d[:9] + b"[" + d[10:], bs.MetadataError, "JSON"),
])
def test_header_corruptions(mutate, error, match):
    data, _ = make_file()
    with pytest.raises(error, match=match):
        read_all(mutate(data))


def test_oversize_metadata_rejected_on_write():
    with pytest.raises(bs.MetadataError):
        bs.build_header({"x": "a" * 70000}, 6)


def test_missing_metadata_field():
    meta = dict(META)
    del meta["hop"]
    with pytest.raises(bs.MetadataError, match="hop"):
        bs.NacReader(io.BytesIO(bs.build_header(meta, 6)))


def test_stereo_chunks_roundtrip():
    meta = dict(META, channels=2, n_q=12)
    data, codes = make_file(meta)
    assert np.array_equal(read_all(data), codes)
