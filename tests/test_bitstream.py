import io
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nac.container import bitstream as bs

META = {"model": "m", "sample_rate": 16000, "original_sample_rate": 16000, "channels": 1,
        "num_samples": 320 * 25, "frame_rate": 50.0, "hop": 320, "n_q": 3, "bits_per_code": 10,
        "frames_per_chunk": 10}


def make_file(meta=META, frames=25, chunk=10, seed=0, version=bs.VERSION) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1 << meta["bits_per_code"], (frames, meta["channels"], meta["n_q"]))
    buf = io.BytesIO()
    w = bs.NacWriter(buf, meta, 1.5, version)
    for i in range(0, frames, chunk):
        w.write_chunk(codes[i:i + chunk])
    return buf.getvalue(), codes


def read_all(data: bytes) -> np.ndarray:
    return np.concatenate(list(bs.NacReader(io.BytesIO(data)).chunks()))


def test_header_layout_matches_hand_built_bytes():
    blob = json.dumps(META, sort_keys=True, separators=(",", ":")).encode()
    v1 = b"NAC" + bytes([1]) + struct.pack(">I", len(blob)) + bytes([60]) + blob
    assert bs.build_header(META, 6, version=1) == v1
    head = b"NAC" + bytes([2]) + struct.pack(">I", len(blob)) + bytes([60]) + blob
    assert bs.build_header(META, 6, version=2) == head + struct.pack(">I", zlib.crc32(head))
    # version 3: tag, varint length, value per field (`binary_metadata.py`); frame_rate is derived
    tlv = (b"\x01\x01m" + b"\x03\x02\x80\x7d" + b"\x04\x02\x80\x7d" + b"\x05\x01\x01" + b"\x06\x02\xc0\x3e"
           + b"\x07\x02\xc0\x02" + b"\x08\x01\x03" + b"\x09\x01\x0a" + b"\x0a\x01\x0a")
    head = b"NAC" + bytes([3]) + struct.pack(">I", len(tlv)) + bytes([60]) + tlv
    assert bs.build_header(META, 6) == head + struct.pack(">I", zlib.crc32(head))
    assert bs.HEADER_SIZE == 9 and bs.CHUNK_HEADER_SIZE == 10


def test_version_3_metadata_reads_back_as_version_2_json_did():
    meta = {**META, "model_sha256": "0123456789abcdef", "band_gains": {"bands": 32, "levels": 6},
            "entropy": {"coder": "range", "statistics": "ab12"}, "kbps": 6.0, "format_version": 3}
    v3 = bs.read_header(io.BytesIO(bs.build_header(meta, 6))).metadata
    v2 = bs.read_header(io.BytesIO(bs.build_header(meta, 6, version=2))).metadata
    assert v3 == v2
    assert len(bs.build_header(meta, 6)) < len(bs.build_header(meta, 6, version=2)) / 2


def test_version_2_files_still_read():
    data, codes = make_file(version=2)
    assert data[3] == 2
    assert np.array_equal(read_all(data), codes)


def test_version_1_files_still_read():
    data, codes = make_file(version=1)
    assert data[3] == 1
    assert np.array_equal(read_all(data), codes)


def test_any_altered_header_or_metadata_byte_is_detected():
    data, _ = make_file()
    header_end = bs.read_header(io.BytesIO(data)).size
    for pos in range(header_end):
        for flip in (0x01, 0x80):
            altered = bytearray(data)
            altered[pos] ^= flip
            with pytest.raises(bs.NacFormatError):
                read_all(bytes(altered))


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
    assert crc == zlib.crc32(payload, zlib.crc32(b"\0\0\0\0"))  # v2: seeded with chunk index 0
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
    with pytest.raises(bs.TruncatedError, match="need at least"):  # seekable: refused up front
        read_all(data[:bounds[1]])

    class Pipe(io.RawIOBase):  # not seekable: found at the end of the chunks
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self.inner.read(len(b))
            b[:len(chunk)] = chunk
            return len(chunk)

    with pytest.raises(bs.TruncatedError, match="frames present"):
        list(bs.NacReader(io.BufferedReader(Pipe(data[:bounds[1]]))).chunks())


@pytest.mark.parametrize("mutate,error,match", [
    (lambda d: b"XAC" + d[3:], bs.BadMagicError, "magic"),
    (lambda d: d[:3] + bytes([4]) + d[4:], bs.UnsupportedVersionError, "version 4"),
    (lambda d: d[:4] + struct.pack(">I", 70000) + d[8:], bs.MetadataError, "70000"),
    (lambda d: d[:4] + struct.pack(">I", 0xFFFFFFFF) + d[8:], bs.MetadataError, "exceeds"),
    (lambda d: d[:9] + b"\xff" + d[10:], bs.MetadataError, "JSON"),  # v1: no header CRC to stop it
    (lambda d: d[:9] + b"[" + d[10:], bs.MetadataError, "JSON"),
])
def test_header_corruptions_v1(mutate, error, match):
    data, _ = make_file(version=1)
    with pytest.raises(error, match=match):
        read_all(mutate(data))


def test_v2_detects_reordered_chunks():
    data, _ = make_file(chunk=5)
    b = chunk_boundaries(data)
    swapped = data[:b[0]] + data[b[1]:b[2]] + data[b[0]:b[1]] + data[b[2]:]
    with pytest.raises(bs.ChunkCRCError, match="chunk 0"):
        read_all(swapped)


def test_v2_metadata_change_fails_the_header_crc():
    data, _ = make_file(version=2)
    altered = data.replace(b'"num_samples":8000', b'"num_samples":8001')
    assert altered != data
    with pytest.raises(bs.HeaderCRCError, match="header/metadata"):
        read_all(altered)


def with_metadata(**changes) -> bytes:
    """A v2 file (valid CRCs) whose metadata has `changes`; None deletes a field."""
    meta = {k: v for k, v in {**META, **changes}.items() if v is not None}
    blob = json.dumps(meta).encode()
    head = b"NAC" + bytes([2]) + struct.pack(">I", len(blob)) + bytes([15]) + blob
    data, _ = make_file()
    body = data[bs.read_header(io.BytesIO(data)).size:]
    return head + struct.pack(">I", zlib.crc32(head)) + body


@pytest.mark.parametrize("changes,match", [
    ({"original_sample_rate": 0}, "original_sample_rate"),
    ({"model": 0}, "model"),
    ({"model": "../../etc/passwd"}, "model"),
    ({"frames_per_chunk": None}, "frames_per_chunk"),
    ({"frames_per_chunk": 0}, "frames_per_chunk"),
    ({"frames_per_chunk": -1}, "frames_per_chunk"),
    ({"frames_per_chunk": 1.5}, "frames_per_chunk"),
    ({"frames_per_chunk": True}, "frames_per_chunk"),
    ({"model_sha256": 1.5}, "model_sha256"),
    ({"num_samples": -5}, "num_samples"),
    ({"num_samples": 10 ** 30}, "num_samples"),
    ({"channels": 10 ** 6}, "channels"),
    ({"hop": 0}, "hop"),
    ({"frame_rate": 12.5}, "frame_rate"),
    ({"pitch": 7}, "pitch"),
])
def test_hostile_metadata_raises_metadata_error(changes, match):
    with pytest.raises(bs.MetadataError, match=match):
        read_all(with_metadata(**changes))


def test_nan_in_metadata_is_rejected():
    data = with_metadata().replace(b'"frame_rate": 50.0', b'"frame_rate": NaN')
    blob_len = struct.unpack(">I", data[4:8])[0] - 3  # "50.0" -> "NaN" is one byte shorter
    head = data[:4] + struct.pack(">I", blob_len) + data[8:9 + blob_len]
    fixed = head + struct.pack(">I", zlib.crc32(head)) + data[9 + blob_len + 4:]
    with pytest.raises(bs.MetadataError, match="JSON"):
        read_all(fixed)


def test_frames_promised_beyond_the_file_are_refused_up_front():
    with pytest.raises(bs.TruncatedError, match="need at least"):
        bs.NacReader(io.BytesIO(with_metadata(num_samples=320 * 10 ** 7)))


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


def v3_file_with_metadata(tlv: bytes) -> bytes:
    """A v3 file (valid CRCs) whose metadata bytes are `tlv`."""
    head = b"NAC" + bytes([3]) + struct.pack(">I", len(tlv)) + bytes([15]) + tlv
    data, _ = make_file()
    return head + struct.pack(">I", zlib.crc32(head)) + data[bs.read_header(io.BytesIO(data)).size:]


@pytest.mark.parametrize("tlv,match", [
    (b"\x01\x05m", "runs past"),                                     # length beyond the metadata
    (b"\x01\x01m\x01\x01m", "twice"),                                # a repeated field
    (b"\x03\x0b" + b"\xff" * 11, "longer than"),                      # an endless varint
    (b"\x03\x02\x80\x00", "non-minimal"),                             # 0 written in two bytes
    (b"\x10\x03[1,", "pitch"),                                         # broken JSON object
    (b"\x01\x01m", "lacks"),                                           # required fields missing
])
def test_hostile_v3_metadata_raises_metadata_error(tlv, match):
    with pytest.raises(bs.MetadataError, match=match):
        read_all(v3_file_with_metadata(tlv))


def test_v3_reader_skips_fields_it_does_not_know():
    tlv = bs.build_header(META, 1.5)[9:-4] + b"\x7f\x03abc"  # a later writer's tag 127
    assert np.array_equal(read_all(v3_file_with_metadata(tlv)), read_all(make_file()[0]))
