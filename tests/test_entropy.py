"""Entropy-coded payloads: exact round trips, smaller files, same audio, hostile payloads caught."""
import collections
import io
import json
import random

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

pytest.importorskip("constriction")

from nac import checkpoint, fuzzing  # noqa: E402
from nac.bitstream import NacFormatError, NacReader, inspect  # noqa: E402
from nac.cli import cli  # noqa: E402
from nac.compress import compress, decompress, encode_codes, load_model  # noqa: E402
from nac.entropy import CodeModel, CodeStatistics  # noqa: E402
from tests.conftest import tone  # noqa: E402


def peaked_codes(rng, frames, levels, k=1024):
    """Codes with a skewed distribution and a level-0 that mostly repeats, like speech pauses."""
    codes = rng.zipf(1.5, size=(frames, levels)) % k
    for t in range(1, frames):
        if rng.random() < 0.6:
            codes[t, 0] = codes[t - 1, 0]
    return codes


def test_code_model_round_trips_exactly_and_saves_bits():
    rng = np.random.default_rng(0)
    stats = CodeStatistics.fit([peaked_codes(rng, 3000, 6)], 1024)
    coder = CodeModel(stats)
    for channels, n_q in ((1, 6), (2, 3)):
        codes = np.stack([peaked_codes(rng, 250, n_q) for _ in range(channels)], 1)
        payload = coder.encode(codes)
        assert np.array_equal(coder.decode(payload, 250, channels, n_q), codes)
        assert len(payload) < 0.8 * codes.size * 10 / 8
    # whatever the codes, a chunk stays within the reader's bound (1.4x bit-packed + slack)
    worst = rng.integers(0, 1024, size=(250, 1, 6))
    assert len(coder.encode(worst)) <= 1.5 * worst.size * 10 / 8 + 64


def test_statistics_survive_serialisation():
    stats = CodeStatistics.fit([np.random.default_rng(1).integers(0, 1024, (500, 4))], 1024)
    again = CodeStatistics.from_dict({k: v.tolist() for k, v in stats.to_dict().items()})
    assert again.digest() == stats.digest()


@pytest.fixture(scope="module")
def entropy_model_path(tmp_path_factory, tiny_model_path):
    """The tiny codec with code statistics fitted on its own codes of a few signals."""
    model = load_model(tiny_model_path)
    arrays = [np.concatenate(list(encode_codes(model, tone(16000, 3.0, f)[None], 12)), 0)[:, 0]
              for f in (220.0, 330.0, 440.0)]
    ckpt = checkpoint.load(tiny_model_path)
    ckpt["code_statistics"] = CodeStatistics.fit(arrays, 1024).to_dict()
    path = tmp_path_factory.mktemp("entropy") / "tiny-entropy.pt"
    checkpoint.save(path, {k: v for k, v in ckpt.items() if k != "version"})
    return str(path)


def test_entropy_coded_file_decodes_to_the_same_audio(entropy_model_path):
    audio = tone(16000, 2.0, 330.0, channels=2)
    plain = compress(audio, 16000, 6, entropy_model_path, entropy="off")
    coded = compress(audio, 16000, 6, entropy_model_path, entropy="on")
    assert len(coded) < len(plain)
    a, sr = decompress(plain, entropy_model_path)
    b, _ = decompress(coded, entropy_model_path)
    assert sr == 16000 and np.array_equal(a, b)
    info = inspect(io.BytesIO(coded), len(coded))
    assert info["integrity"] == "ok" and info["entropy"].startswith("range-v1")
    assert inspect(io.BytesIO(plain), len(plain))["entropy"].startswith("off")
    with pytest.raises(NacFormatError, match="code statistics"):
        list(NacReader(io.BytesIO(coded)).chunks())  # no coder given


def test_entropy_on_needs_statistics(tiny_model_path, entropy_model_path):
    audio = tone(16000, 0.5)[None]
    with pytest.raises(ValueError, match="no code statistics"):
        compress(audio, 16000, 6, tiny_model_path, entropy="on")
    assert "entropy" not in json.dumps(NacReader(io.BytesIO(compress(audio, 16000, 6, tiny_model_path))).metadata)
    # a coded file decoded by a model without (those) statistics: one clear error
    coded = compress(audio, 16000, 6, entropy_model_path, entropy="on")
    with pytest.raises(NacFormatError):
        decompress(coded, tiny_model_path)


def test_cli_entropy_flag_and_info(tmp_path, tiny_model_path, entropy_model_path):
    sf.write(tmp_path / "in.wav", tone(16000, 1.0), 16000)
    run = lambda *a: CliRunner().invoke(cli, [str(x) for x in a])  # noqa: E731
    r = run("encode", tmp_path / "in.wav", tmp_path / "x.nac", "--model", entropy_model_path, "--entropy", "on")
    assert r.exit_code == 0, r.output
    r = run("info", tmp_path / "x.nac")
    assert r.exit_code == 0 and "range-v1" in r.output
    r = run("encode", tmp_path / "in.wav", tmp_path / "y.nac", "--model", tiny_model_path, "--entropy", "on")
    assert r.exit_code == 1 and "no code statistics" in r.output and not (tmp_path / "y.nac").exists()


def test_fuzzed_entropy_coded_files_end_in_format_errors_or_valid_decodes(entropy_model_path):
    data = compress(tone(16000, 0.3)[None], 16000, 1.5, entropy_model_path, frames_per_chunk=6, entropy="on")
    rng = random.Random(99)
    outcomes, bad = collections.Counter(), []
    for _ in range(1000):
        strategy, mutated = fuzzing.mutate(data, rng)
        out = fuzzing.run_case(strategy, mutated, lambda d: decompress(d, entropy_model_path), limit_s=2.0)
        outcomes[out.result] += 1
        if out.result not in ("format_error", "decoded"):
            bad.append((strategy, out.result, out.message))
    assert not bad, bad[:5]
    assert outcomes["format_error"] > 500
