"""End-to-end CLI tests on generated signals, with the tiny untrained codec (real code paths)."""
import json
import subprocess
import sys

import pytest
import soundfile as sf
from click.testing import CliRunner

from nac.cli import cli
from tests.conftest import tone


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def wav(tmp_path):
    def make(sr=16000, seconds=2.0, channels=1, name="in.wav"):
        path = tmp_path / name
        x = tone(sr, seconds, channels=channels if channels > 1 else 0)
        sf.write(path, x.T if channels > 1 else x, sr)
        return path
    return make


@pytest.mark.parametrize("sr,channels", [(16000, 1), (8000, 1), (44100, 2), (44100, 1)])
def test_encode_decode_preserves_rate_channels_length(tmp_path, wav, tiny_model_path, sr, channels):
    src = wav(sr, 2.3, channels)
    nac_file, out = tmp_path / "x.nac", tmp_path / "out.wav"
    r = run("encode", src, nac_file, "--kbps", "6", "--model", tiny_model_path)
    assert r.exit_code == 0, r.output
    r = run("decode", nac_file, out, "--model", tiny_model_path)
    assert r.exit_code == 0, r.output
    ref, info = sf.info(src), sf.info(out)
    assert (info.samplerate, info.channels, info.frames) == (ref.samplerate, ref.channels, ref.frames)


def test_info_reports_bitrate_byte_and_real_bitrate(tmp_path, wav, tiny_model_path):
    src = wav(16000, 12.0)
    nac_file = tmp_path / "x.nac"
    assert run("encode", src, nac_file, "--kbps", "6", "--model", tiny_model_path).exit_code == 0
    r = run("info", nac_file, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["bitrate_byte"] == 60 and info["integrity"] == "ok" and info["version"] == 3
    assert info["header_bytes"] < 100  # binary metadata (v3): tens of bytes, not ~300
    assert info["header_crc"] == "ok"
    # the one rate: all of the file's bytes per second per channel (header and chunk headers too)
    assert info["file_kbps"] == round(nac_file.stat().st_size * 8 / 12.0 / 1000, 3)
    assert 6.0 < info["file_kbps"] < 6.0 * 1.02 + info["header_bytes"] * 8 / 12.0 / 1000
    assert "real_kbps" not in info
    assert info["chunks"] == info["chunks_expected"] == 3 and info["metadata"]["n_q"] == 12
    assert info["stopped_at_byte"] is None
    assert abs(info["duration_s"] - 12.0) < 1e-6


def test_encoding_is_deterministic(tmp_path, wav, tiny_model_path):
    src = wav(22050, 3.0)
    a, b = tmp_path / "a.nac", tmp_path / "b.nac"
    run("encode", src, a, "--kbps", "3", "--model", tiny_model_path)
    run("encode", src, b, "--kbps", "3", "--model", tiny_model_path)
    assert a.read_bytes() == b.read_bytes()


def test_corrupted_payload_fails_with_crc_message_and_no_output(tmp_path, wav, tiny_model_path):
    src = wav(16000, 12.0)
    nac_file, out = tmp_path / "x.nac", tmp_path / "out.wav"
    run("encode", src, nac_file, "--model", tiny_model_path)
    data = bytearray(nac_file.read_bytes())
    data[-100] ^= 0xFF  # inside the last chunk's payload
    nac_file.write_bytes(bytes(data))
    r = CliRunner().invoke(cli, ["decode", str(nac_file), str(out), "--model", tiny_model_path])
    assert r.exit_code == 1
    assert "CRC mismatch in chunk 2" in r.output
    assert "Traceback" not in r.output
    assert not out.exists() and not list(tmp_path.glob("*.part"))
    r = CliRunner().invoke(cli, ["info", str(nac_file)])
    assert r.exit_code == 1 and "FAILED" in r.output


def test_a_file_never_names_a_path_to_load(tmp_path, wav, tiny_model_path):
    """The model a file names must be installed; a checkpoint path needs the user's --model."""
    nac_file, out = tmp_path / "x.nac", tmp_path / "out.wav"
    assert run("encode", wav(), nac_file, "--model", tiny_model_path).exit_code == 0
    r = CliRunner().invoke(cli, ["decode", str(nac_file), str(out)])
    assert r.exit_code == 1 and "not installed" in r.output and not out.exists()


def test_existing_output_is_not_clobbered(tmp_path, wav, tiny_model_path):
    src = wav()
    out = tmp_path / "x.nac"
    out.write_bytes(b"keep me")
    r = CliRunner().invoke(cli, ["encode", str(src), str(out), "--model", tiny_model_path])
    assert r.exit_code == 1 and "--force" in r.output
    assert out.read_bytes() == b"keep me"
    r = CliRunner().invoke(cli, ["encode", str(src), str(out), "--model", tiny_model_path, "--force"])
    assert r.exit_code == 0 and out.read_bytes()[:3] == b"NAC"


def test_refuses_to_overwrite_input(tmp_path, wav, tiny_model_path):
    src = wav()
    r = CliRunner().invoke(cli, ["encode", str(src), str(src), "--force", "--model", tiny_model_path])
    assert r.exit_code == 1 and "input" in r.output


@pytest.mark.parametrize("content,message", [
    (b"this is not audio", "not a readable audio file"),
    (b"", "not a readable audio file"),
])
def test_bad_input_one_line_error(tmp_path, tiny_model_path, content, message):
    src = tmp_path / "bad.wav"
    src.write_bytes(content)
    out = tmp_path / "o.nac"
    r = CliRunner().invoke(cli, ["encode", str(src), str(out), "--model", tiny_model_path])
    assert r.exit_code == 1 and message in r.output
    assert len(r.output.strip().splitlines()) == 1 and not out.exists()


def test_decode_not_a_nac_file(tmp_path, wav):
    src = wav()
    r = CliRunner().invoke(cli, ["decode", str(src), str(tmp_path / "o.wav")])
    assert r.exit_code == 1 and "bad magic" in r.output


def test_usage_errors_exit_2(tmp_path, wav):
    r = CliRunner().invoke(cli, ["encode", str(wav()), str(tmp_path / "o.nac"), "--kbps", "5"])
    assert r.exit_code == 2


def test_missing_input(tmp_path):
    r = CliRunner().invoke(cli, ["encode", str(tmp_path / "nope.wav"), str(tmp_path / "o.nac")])
    assert r.exit_code == 1 and "no such file" in r.output


def test_python_m_nac_runs():
    r = subprocess.run([sys.executable, "-m", "nac", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "encode" in r.stdout


def test_encode_line_and_info_name_the_same_rate(tmp_path, wav, tiny_model_path):
    src = wav(16000, 4.0)
    nac_file = tmp_path / "x.nac"
    r = run("encode", src, nac_file, "--kbps", "6", "--model", tiny_model_path)
    info = json.loads(run("info", nac_file, "--json").output)
    assert f"file_kbps {info['file_kbps']:.2f}," in r.output


def test_api_and_cli_write_identical_bytes(tmp_path, wav, tiny_model_path):
    import nac

    src = wav(16000, 2.0)
    run("encode", src, tmp_path / "cli.nac", "--kbps", "6", "--model", tiny_model_path, "-q")
    audio, sr = sf.read(src, dtype="float32", always_2d=True)
    assert nac.compress(audio.T, sr, kbps=6, model=tiny_model_path) == (tmp_path / "cli.nac").read_bytes()


def test_info_on_a_corrupted_chunk_says_how_far_it_read(tmp_path, wav, tiny_model_path):
    src = wav(16000, 8.0)  # 2 chunks of 5 s
    nac_file = tmp_path / "x.nac"
    run("encode", src, nac_file, "--kbps", "6", "--model", tiny_model_path, "-q")
    data = bytearray(nac_file.read_bytes())
    data[-5] ^= 0xFF  # inside the last chunk's payload
    nac_file.write_bytes(bytes(data))
    r = run("info", nac_file, "--json")
    info = json.loads(r.output)
    assert r.exit_code == 1 and "CRC mismatch in chunk 1" in info["integrity"]
    assert info["chunks"] == 1 and info["chunks_expected"] == 2
    assert info["header_bytes"] < info["stopped_at_byte"] < len(data)
