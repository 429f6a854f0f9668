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

from nac import checkpoint  # noqa: E402
from nac.api import compress, decompress, encode_codes, load_model  # noqa: E402
from nac.cli import cli  # noqa: E402
from nac.container.bitstream import NacFormatError, NacReader, inspect  # noqa: E402
from nac.container.entropy import CodeModel, CodeStatistics  # noqa: E402
from nac.eval import fuzzing  # noqa: E402
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


def test_rate_cost_steers_the_code_choice():
    """An entropy-coding encoder adds lambda * bits to each squared distance: zero cost keeps the
    nearest code, a cost that favours one code makes it win, and the coder gives that cost."""
    import torch

    from nac.codec.quantization.rvq import ResidualQuantizer

    torch.manual_seed(0)
    rvq = ResidualQuantizer(8, 2, 16, inference=True)
    rvq.rvq.layers[0]._codebook.embed.normal_()
    rvq.rvq.layers[1]._codebook.embed.normal_()
    z = torch.randn(1, 8, 50)
    plain = rvq.encode(z, 2)
    assert torch.equal(rvq.encode(z, 2, torch.zeros(2, 16)), plain)
    favour = torch.full((2, 16), 1e6)
    favour[:, 3] = 0
    assert (rvq.encode(z, 2, favour) == 3).all()

    stats = CodeStatistics.fit([peaked_codes(np.random.default_rng(2), 3000, 4)], 1024)
    assert CodeModel(stats).rate_cost(4) is None  # no lambda: nearest-neighbour codes
    stats.distortion_per_bit = np.array([4.0, 2.0, 1.0, 0.5])
    cost = CodeModel(CodeStatistics.from_dict(stats.to_dict())).rate_cost(3)
    assert cost.shape == (3, 1024) and (cost > 0).all()
    common = np.argmax(stats.unigram[1])
    assert cost[1, common] == cost[1].min() and cost[0].max() > cost[1].max()  # lambda scales it
    assert CodeStatistics.from_dict(stats.to_dict()).digest() == stats.digest()  # encoder-only


def test_rate_aware_encode_is_what_the_file_holds(entropy_model_path, tmp_path):
    """With a lambda in the statistics, `--entropy on` codes what the rate-aware encoder picked,
    losslessly: the file's codes are exactly encode_codes(..., rate_cost) and decode as such."""
    from nac.api import decode_codes, load_loaded

    ckpt = checkpoint.load(entropy_model_path)
    ckpt["code_statistics"]["distortion_per_bit"] = np.full(24, 0.05)
    path = tmp_path / "tiny-rate.pt"
    checkpoint.save(path, {k: v for k, v in ckpt.items() if k != "version"})
    loaded = load_loaded(str(path))
    audio = tone(16000, 2.0, 262.0)[None]
    cost = loaded.code_model().rate_cost(loaded.model.n_q_for(6))
    expected = np.concatenate(list(encode_codes(loaded.model, audio, 6, rate_cost=cost)), 0)
    nearest = np.concatenate(list(encode_codes(loaded.model, audio, 6)), 0)
    assert not np.array_equal(expected, nearest)  # the lambda moved some codes
    coded = compress(audio, 16000, 6, str(path), entropy="on")
    reader = NacReader(io.BytesIO(coded), coder=loaded.code_model())
    assert np.array_equal(np.concatenate(list(reader.chunks()), 0), expected)
    decoded, _ = decompress(coded, str(path))
    direct = np.concatenate(list(decode_codes(loaded.model, [expected])), 1)[:, : audio.shape[1]]
    assert np.array_equal(decoded, direct)
    plain, _ = decompress(compress(audio, 16000, 6, str(path), entropy="off"), str(path))
    assert not np.array_equal(plain, decoded)  # --entropy off keeps the nearest codes
