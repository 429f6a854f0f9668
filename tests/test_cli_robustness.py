"""Odd and hostile input, signals, and the papercuts a new user hit (one test per behaviour)."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from nac.cli import cli


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.output


def test_non_finite_samples_are_an_error_naming_time_and_channel(tmp_path, tiny_model_path):
    x = np.zeros((16000, 2), np.float32)
    x[12000, 1] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    code, out = run("encode", tmp_path / "nan.wav", tmp_path / "o.nac", "--model", tiny_model_path)
    assert code == 1 and "non-finite sample (nan) at 0.750 s, channel 2 of 2" in out
    assert not (tmp_path / "o.nac").exists() and not list(tmp_path.glob(".*part"))
    y = np.zeros(8000, np.float32)
    y[4000:] = np.inf  # inf in what is otherwise silence
    sf.write(tmp_path / "inf.wav", y, 8000, subtype="FLOAT")
    code, out = run("restore", tmp_path / "inf.wav", tmp_path / "r.wav")
    assert code == 1 and "non-finite sample (inf) at 0.500 s" in out and not (tmp_path / "r.wav").exists()


@pytest.mark.parametrize("patch,message", [
    ((22, b"\x00\x00"), ("0 audio channels", "not a readable audio file")),  # channel count
    ((24, b"\x00\x00\x00\x00"), ("not a real audio rate", "not a readable audio file")),  # rate 0
    ((24, b"\xff\xff\xff\x7f"), ("not a real audio rate",)),  # 2.1 GHz
])
def test_absurd_headers_are_refused_before_allocation(tmp_path, tiny_model_path, patch, message):
    sf.write(tmp_path / "ok.wav", np.zeros(1600, np.float32), 16000)
    data = bytearray((tmp_path / "ok.wav").read_bytes())
    offset, value = patch
    data[offset:offset + len(value)] = value
    (tmp_path / "bad.wav").write_bytes(bytes(data))
    code, out = run("encode", tmp_path / "bad.wav", tmp_path / "o.nac", "--model", tiny_model_path)
    assert code == 1 and out.count("\n") == 1 and out.startswith("nac: error:")
    assert any(m in out for m in message) and "Errno" not in out


def test_a_header_promising_more_frames_than_the_file_holds(tmp_path):
    from nac.io.audio import AudioError, check_header

    with pytest.raises(AudioError, match="more than a 1000-byte file can hold"):
        check_header("x.wav", 16000, 2, 10 ** 12, 1000, "WAV")
    check_header("x.flac", 16000, 1, 500_000, 1000, "FLAC")  # compressed silence: plausible


def _signal_leaves_no_part(tmp_path, args, out_name):
    proc = subprocess.Popen([sys.executable, "-m", "nac", *map(str, args)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(f".{out_name}.*.part")):
        if proc.poll() is not None:
            pytest.fail(f"finished before the signal: {proc.stderr.read()}")
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert not list(tmp_path.glob(".*.part")) and not (tmp_path / out_name).exists()


def test_sigterm_during_encode_and_decode_leaves_no_partial_file(tmp_path, tiny_model_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "long.wav", (0.1 * rng.standard_normal(16000 * 600)).astype(np.float32), 16000)
    _signal_leaves_no_part(tmp_path, ["encode", tmp_path / "long.wav", tmp_path / "long.nac", "--model",
                                      tiny_model_path], "long.nac")
    subprocess.run([sys.executable, "-m", "nac", "encode", tmp_path / "long.wav", tmp_path / "whole.nac",
                    "--model", tiny_model_path, "-q"], check=True)
    _signal_leaves_no_part(tmp_path, ["decode", tmp_path / "whole.nac", tmp_path / "out.wav", "--model",
                                      tiny_model_path], "out.wav")


def test_encode_and_decode_say_what_they_wrote_unless_quiet(tmp_path, tiny_model_path):
    sf.write(tmp_path / "in.wav", np.zeros((16000, 2), np.float32), 16000)
    code, out = run("encode", tmp_path / "in.wav", tmp_path / "x.nac", "--model", tiny_model_path)
    assert code == 0 and out.startswith(f"wrote {tmp_path / 'x.nac'}: 1.00 s, 2 ch, 6 kbps nominal")
    assert "bytes" in out and out.count("\n") == 1
    code, out = run("decode", tmp_path / "x.nac", tmp_path / "y.wav", "--model", tiny_model_path)
    assert code == 0 and out.startswith(f"wrote {tmp_path / 'y.wav'}: 1.00 s, 2 ch, 16000 Hz")
    code, out = run("encode", tmp_path / "in.wav", tmp_path / "x.nac", "--model", tiny_model_path, "--force", "-q")
    assert code == 0 and out == ""


def test_encode_refuses_an_audio_named_output(tmp_path, tiny_model_path):
    sf.write(tmp_path / "in.wav", np.zeros(1600, np.float32), 16000)
    code, out = run("encode", tmp_path / "in.wav", tmp_path / "out.wav", "--model", tiny_model_path)
    assert code == 1 and "writes a .nac bitstream" in out and "out.nac" in out
    assert not (tmp_path / "out.wav").exists()


def test_kbps_takes_only_the_listed_rates_and_help_has_no_doubled_percent():
    code, out = run("encode", "in.wav", "out.nac", "--kbps", "4.5")
    assert code == 2 and "'1.5', '3', '6', '12'" in out
    code, out = run("encode", "--help")
    assert "%%" not in out and "~20 % smaller" in out


def test_info_gives_the_file_rate_per_channel(tmp_path, tiny_model_path):
    sf.write(tmp_path / "six.wav", np.zeros((16000, 6), np.float32), 16000)
    run("encode", tmp_path / "six.wav", tmp_path / "six.nac", "--model", tiny_model_path, "-q")
    code, out = run("info", tmp_path / "six.nac")
    lines = out.splitlines()
    size = (tmp_path / "six.nac").stat().st_size
    rate = next(line for line in lines if line.strip().startswith("file_kbps"))
    assert code == 0 and float(rate.split(":")[1]) == round(size * 8 / 1.0 / 1000 / 6, 3)
    colons = {line.index(":") for line in lines}
    assert len(colons) == 1  # every key right-aligned to one column, meta.original_sample_rate too


def test_eval_names_the_missing_extra(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pesq" else real(name, *a))
    (tmp_path / "ref").mkdir()
    (tmp_path / "deg").mkdir()
    for d in ("ref", "deg"):
        sf.write(tmp_path / d / "a.wav", np.zeros(16000, np.float32), 16000)
    code, out = run("eval", tmp_path / "ref", tmp_path / "deg", "--metrics", "pesq",
                    "--report", tmp_path / "r.md")
    assert code == 1 and "pip install -e '.[eval]'" in out and "'pesq'" in out
    assert not (tmp_path / "r.md").exists()


def test_score_cache_key_depends_on_metric_package_versions(monkeypatch):
    from nac.eval import metrics

    before = metrics.package_versions()
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda dist: "9.9.9")
    assert metrics.package_versions() != before and "pesq=9.9.9" in metrics.package_versions()


def test_unreadable_file_message_has_no_errno(tmp_path, tiny_model_path):
    (tmp_path / "junk.wav").write_bytes(os.urandom(3000))
    code, out = run("encode", tmp_path / "junk.wav", tmp_path / "o.nac", "--model", tiny_model_path)
    assert code == 1 and "Errno" not in out and "not a readable audio file" in out


@pytest.mark.parametrize("command", ["encode", "decode", "restore"])
def test_output_paths_are_refused_before_any_model_or_torch_loads(tmp_path, command):
    """A refusal costs milliseconds: nothing heavy (torch, a model) is imported before the paths
    are checked. Run in a fresh interpreter, where nothing has imported torch yet."""
    import subprocess
    import sys

    src = tmp_path / ("in.nac" if command == "decode" else "in.wav")
    src.write_bytes(b"x")
    existing = tmp_path / ("out.nac" if command == "encode" else "out.wav")
    existing.write_bytes(b"keep")
    probe = ("import sys\nfrom click.testing import CliRunner\nfrom nac.cli import cli\n"
             "r = CliRunner().invoke(cli, sys.argv[1:])\n"
             "print(r.exit_code, 'torch' in sys.modules, r.output.strip())\n")
    for dst, message in ((existing, "exists (use --force"), (tmp_path / "missing" / existing.name, "does not exist")):
        out = subprocess.run([sys.executable, "-c", probe, command, str(src), str(dst)], capture_output=True,
                             text=True, check=True).stdout
        assert out.startswith("1 False") and message in out, out
    assert existing.read_bytes() == b"keep"
