from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from nac.cli import cli
from nac.eval import metrics
from nac.io.thirdparty import roundtrip

SPEECH = Path(__file__).parent.parent / "data" / "samples" / "speech.wav"


@pytest.fixture(scope="module")
def speech():
    x, sr = sf.read(SPEECH, dtype="float32")
    return x[: 5 * sr], sr


def test_identity_gives_best_values(speech):
    x, sr = speech
    assert metrics.mel_distance(x, x, sr) == 0.0
    assert metrics.lsd(x, x, sr) == 0.0
    assert metrics.snr(x, x, sr) > 90 and metrics.si_sdr(x, x, sr) > 90
    assert metrics.pesq_wb(x, x, sr) > 4.5
    assert metrics.stoi(x, x, sr) > 0.999


def test_harmonic_correlation_sees_pitch_not_envelope(speech):
    x, sr = speech
    assert metrics.harmonic_correlation(x, x, sr) == pytest.approx(1.0)
    # same envelope, no harmonics: the speech's spectrum imposed on noise (random phase per frame)
    rng = np.random.default_rng(0)
    n_fft, hop = 512, 128
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    smooth = np.apply_along_axis(lambda r: np.convolve(r, np.ones(9) / 9, "same"), 1,
                                 np.abs(np.fft.rfft(frames, axis=1)))
    noisy = np.fft.irfft(smooth * np.exp(2j * np.pi * rng.random(smooth.shape)), n_fft, axis=1)
    y = np.zeros(len(x))
    for i, frame in enumerate(noisy):
        y[i * hop:i * hop + n_fft] += frame * np.hanning(n_fft)
    assert metrics.harmonic_correlation(x, y, sr) < 0.3
    noise = rng.standard_normal(len(x))
    at_40db, at_20db = (metrics.harmonic_correlation(x, x + a * noise, sr) for a in (0.001, 0.01))
    assert at_40db > 0.9 and at_40db > at_20db > 0.3


@pytest.mark.parametrize("target_db", [0.0, 10.0, 25.0])
def test_white_noise_at_known_snr(target_db):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(48000)
    noise = rng.standard_normal(48000)
    noise *= np.sqrt(np.sum(x**2) / np.sum(noise**2) / 10 ** (target_db / 10))
    assert abs(metrics.snr(x, x + noise, 16000) - target_db) < 0.1


def test_si_sdr_is_scale_invariant(speech):
    x, sr = speech
    y = x + 0.05 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    a = metrics.si_sdr(x, y, sr)
    assert metrics.si_sdr(x, 0.1 * y, sr) == pytest.approx(a, abs=1e-6)
    assert metrics.si_sdr(x, 3.0 * y, sr) == pytest.approx(a, abs=1e-6)
    assert metrics.snr(x, 0.1 * y, sr) < a  # plain SNR is not


def test_delay_is_found_and_removed(speech):
    x, sr = speech
    delayed = np.concatenate([np.zeros(137, np.float32), x])
    assert metrics.estimate_delay(x.astype(float), delayed.astype(float), 1000) == 137
    ref, deg = metrics.align(x, delayed, sr, max_delay_s=0.1)
    assert np.allclose(ref, deg)


def test_metrics_rank_opus_12_above_opus_6(speech):
    x, sr = speech
    mild, _ = roundtrip(x, sr, "opus", 12)
    heavy, _ = roundtrip(x, sr, "opus", 6)
    assert metrics.pesq_wb(x, mild, sr) > metrics.pesq_wb(x, heavy, sr)
    assert metrics.stoi(x, mild, sr) > metrics.stoi(x, heavy, sr)
    assert metrics.mel_distance(x, mild, sr) < metrics.mel_distance(x, heavy, sr)
    assert metrics.lsd(x, mild, sr) < metrics.lsd(x, heavy, sr)
    v_mild, v_heavy = metrics.visqol(x, mild, sr, "speech"), metrics.visqol(x, heavy, sr, "speech")
    if v_mild is None:
        pytest.skip("visqol-python not installed")
    assert v_mild > v_heavy


def test_eval_cli_pairs_with_missing_and_extra(tmp_path, speech):
    x, sr = speech
    ref, deg = tmp_path / "ref" / "speech", tmp_path / "deg" / "speech"
    ref.mkdir(parents=True)
    deg.mkdir(parents=True)
    for i in range(3):
        sf.write(ref / f"a{i}.wav", x[i * sr:(i + 2) * sr], sr)
    for i in range(2):
        sf.write(deg / f"a{i}.flac", roundtrip(x[i * sr:(i + 2) * sr], sr, "opus", 9)[0], sr)
    sf.write(deg / "stray.wav", x[:sr], sr)
    report = tmp_path / "out" / "r.md"
    r = CliRunner().invoke(cli, ["eval", str(tmp_path / "ref"), str(tmp_path / "deg"), "--report", str(report),
                                 "--metrics", "pesq,mel,snr", "--no-cache"])
    assert r.exit_code == 0, r.output
    assert "speech/a2" in r.output and "speech/stray" in r.output
    text = report.read_text()
    assert "| deg | 2 |" in text and "no degraded match" in text
    rows = report.with_suffix(".csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 pairs


def test_eval_cli_runs_systems_and_caches(tmp_path, speech, monkeypatch):
    x, sr = speech
    data = tmp_path / "data" / "speech"
    data.mkdir(parents=True)
    sf.write(data / "a.wav", x[: 3 * sr], sr)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    args = ["eval", str(tmp_path / "data"), "--system", "opus:6", "--system", "opus:12",
            "--report", str(tmp_path / "r" / "r.md"), "--metrics", "pesq,mel"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2
    text = (tmp_path / "r" / "r.md").read_text()
    assert "opus:6" in text and "opus:12" in text and "r_rd.png" in text
    assert (tmp_path / "r" / "r_rd.png").stat().st_size > 1000
    assert CliRunner().invoke(cli, args).exit_code == 0  # from cache


def test_eval_cli_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(cli, ["eval", str(tmp_path / "empty"), "--system", "opus:6"])
    assert r.exit_code == 1 and "no audio files" in r.output
    r = CliRunner().invoke(cli, ["eval", str(tmp_path / "empty"), "--system", "flac:6"])
    assert r.exit_code == 1 and "unknown system" in r.output
    r = CliRunner().invoke(cli, ["eval", str(tmp_path / "empty"), str(tmp_path / "empty")])
    assert r.exit_code == 1 and "no files" in r.output


def test_paired_change_uses_only_files_both_systems_scored():
    from nac.eval.evaluate import paired_change

    rows = [{"file": f, "content": "speech", "system": s, "pesq": v}
            for f, s, v in [("a", "x", 1.0), ("b", "x", 2.0), ("c", "x", 3.0), ("a", "y", 1.5), ("b", "y", 2.5),
                            ("d", "y", 9.0), ("c", "y", "")]]
    mean, ci, n = paired_change(rows, "speech", "x", "y", "pesq")
    assert n == 2 and mean == pytest.approx(0.5) and ci == pytest.approx(0.0)


def test_dc_offset_is_removed_before_coding_and_scoring(tmp_path, speech):
    """A benchmark must not score how a codec passes DC (21 dev files carry an offset)."""
    from nac.eval.evaluate import Job, run_job

    x, sr = speech
    clean, offset = tmp_path / "clean.wav", tmp_path / "offset.wav"
    sf.write(clean, x, sr)
    sf.write(offset, x + 0.05, sr)
    rows = [run_job(Job("speech/a.wav", str(f), None, "identity", None, ("pesq", "snr"), None)) for f in (clean, offset)]
    assert rows[0]["snr"] > 90 and rows[1]["snr"] > 90  # identity stays identity with an offset
    paired = run_job(Job("speech/a.wav", str(clean), str(offset), "pairs", None, ("snr",), None))
    assert paired["snr"] > 60  # a reference and a copy that differ only by DC score as the same audio


def test_anchor_systems_parse_and_lace_runs_where_installed(speech):
    from nac.eval import lace
    from nac.eval.systems import parse_system, run_system

    system = parse_system("lace:9")
    assert (system.kind, system.kbps) == ("lace", 9.0) and parse_system("nolace:12").kind == "nolace"
    with pytest.raises(ValueError, match="not a number"):
        parse_system("lace:fast")
    if not lace.available():
        pytest.skip("the LACE decoder is not installed (scripts/install_lace.sh)")
    x, sr = speech
    plain, _ = roundtrip(x, sr, "opus", 9)
    enhanced, kbps = run_system(system, x, sr)
    assert enhanced.shape == x.shape and 8 < kbps < 11
    # the post-filter is the point of the anchor: it must score above plain Opus at the same bits
    assert metrics.pesq_wb(x, enhanced, sr) > metrics.pesq_wb(x, plain, sr)
