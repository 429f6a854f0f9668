"""Structured fuzzing of the .nac reader and decoder: every case ends in a NacFormatError or a
valid decode, quickly (`scripts/fuzz_container.py` runs 100 000 such cases on the real model)."""
import collections
import random

import numpy as np
import pytest

from nac.api import compress, decompress
from nac.eval import fuzzing
from tests.conftest import tone

CASES = 2400


@pytest.fixture(scope="module")
def small_file(tiny_model_path) -> bytes:
    # 0.3 s, 3 chunks: small enough to decode thousands of times, enough chunks to reorder
    audio = tone(16000, 0.3)[None]
    return compress(audio, 16000, 1.5, tiny_model_path, frames_per_chunk=6)


def test_structured_mutations_end_in_format_errors_or_valid_decodes(small_file, tiny_model_path):
    rng = random.Random(1234)
    decode = lambda data: decompress(data, tiny_model_path)  # noqa: E731
    outcomes = collections.Counter()
    bad = []
    for _ in range(CASES):
        strategy, data = fuzzing.mutate(small_file, rng)
        out = fuzzing.run_case(strategy, data, decode, limit_s=2.0)
        outcomes[out.result] += 1
        if out.result not in ("format_error", "decoded"):
            bad.append((strategy, out.result, out.message))
    assert not bad, bad[:5]
    assert outcomes["format_error"] > CASES // 2  # most mutations must be caught, not decoded
    strategies = collections.Counter(fuzzing.mutate(small_file, random.Random(i))[0] for i in range(200))
    assert len(strategies) == len(fuzzing._STRATEGIES)


def test_only_payload_rewrites_with_valid_crcs_decode(small_file, tiny_model_path):
    """Byte damage anywhere (no CRC fixing) is always detected in v2."""
    rng = random.Random(7)
    for _ in range(300):
        data = fuzzing._flip(small_file, rng)
        if data == small_file:
            continue
        out = fuzzing.run_case("flip", data, lambda d: decompress(d, tiny_model_path))
        assert out.result == "format_error", out


def test_unaltered_file_decodes(small_file, tiny_model_path):
    audio, sr = decompress(small_file, tiny_model_path)
    assert sr == 16000 and audio.shape == (1, 4800) and np.isfinite(audio).all()


def test_mutated_audio_files_end_in_audio_errors_or_valid_encodes(tmp_path, tiny_model_path):
    """500 mutated WAV/FLAC/Ogg-Opus/MP3 files through `nac encode`'s read + code path: every one
    an AudioError (the CLI's one-line error) or a valid encode, none slow."""
    from nac.eval import fuzzing_audio
    from nac.io.audio import AudioError

    seeds = fuzzing_audio.seed_files()
    rng = random.Random(7)
    outcomes, bad = collections.Counter(), []
    for i in range(500):
        strategy, name, data = fuzzing_audio.mutate(seeds, rng)
        path = tmp_path / f"case{i % 4}{name[name.rindex('.'):]}"
        path.write_bytes(data)
        out = fuzzing.run_case(strategy, str(path), lambda p: fuzzing_audio.encode_file(p, tiny_model_path),
                               limit_s=5.0, expected=(AudioError,), expected_name="audio_error")
        outcomes[out.result] += 1
        if out.result not in ("audio_error", "decoded"):
            bad.append((strategy, name, out.result, out.message))
    assert not bad, bad[:5]
    assert outcomes["audio_error"] > 50 and outcomes["decoded"] > 50
