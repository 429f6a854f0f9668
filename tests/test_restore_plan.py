"""`nac restore` never hurts: bandwidth detection, the pass-through rule, strength, --explain,
and the bounded restorer's guarantee on the reliable band."""

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from scipy import signal

from nac import checkpoint
from nac.cli import cli
from nac.io.sources import measure_bandwidth
from nac.restore.plan import apply_plan, plan_restore
from nac.restore.restorer import RestoreConfig, Restorer

SR = 16000


def noise(seconds=2.0, cutoff=None, sr=SR, seed=0):
    x = np.random.default_rng(seed).standard_normal(int(seconds * sr)) * 0.1
    if cutoff:  # a codec's band edge is a brick wall, not a gentle slope
        spec = np.fft.rfft(x)
        spec[np.fft.rfftfreq(len(x), 1 / sr) > cutoff] = 0
        x = np.fft.irfft(spec, len(x))
    return x.astype(np.float32)


@pytest.mark.parametrize("cutoff", [3000, 4000, 5500])
def test_bandwidth_detection_finds_the_cutoff(cutoff):
    assert abs(measure_bandwidth(noise(cutoff=cutoff), SR) - cutoff) < 600


def test_bandwidth_of_full_band_input_is_nyquist():
    assert measure_bandwidth(noise(), SR) > 0.95 * SR / 2


@pytest.fixture(scope="module")
def bounded_path(tmp_path_factory) -> str:
    torch.manual_seed(0)
    cfg = RestoreConfig(dim=16, depth=2, mode="bounded")
    model = Restorer(cfg)
    with torch.no_grad():  # random weights: the bound must hold whatever the network says
        model.head.proj.weight.normal_(0, 0.05)
        model.head.proj.bias.zero_()
        model.gain.weight.normal_(0, 0.5)
        model.gain.bias.normal_(0, 3.0)
    path = tmp_path_factory.mktemp("models") / "bounded.pt"
    checkpoint.save(path, {"kind": "restore", "name": "bounded", "config": cfg.to_dict(), "model": model.state_dict()})
    return str(path)


def test_full_band_input_passes_through_bit_exact(tiny_restorer_path):
    x = noise()[None]
    plan = plan_restore(x, SR, "speech", tiny_restorer_path)
    assert plan.action == "pass-through"
    y, sr = apply_plan(x, SR, plan)
    assert sr == SR and np.array_equal(y, x)


def test_band_limited_input_is_restored(tiny_restorer_path):
    x = noise(cutoff=4000)[None]
    plan = plan_restore(x, SR, "speech", tiny_restorer_path)
    assert plan.action == "restore" and abs(plan.bandwidth_hz - 4000) < 600
    y, _ = apply_plan(x, SR, plan)
    assert y.shape == x.shape and not np.array_equal(y, x)


def test_strength_scales_the_change_and_zero_passes_through(tiny_restorer_path):
    x = noise(cutoff=4000)[None]
    full, _ = apply_plan(x, SR, plan_restore(x, SR, "speech", tiny_restorer_path, strength=1.0))
    half, _ = apply_plan(x, SR, plan_restore(x, SR, "speech", tiny_restorer_path, strength=0.5))
    np.testing.assert_allclose(half - x, 0.5 * (full - x), atol=2e-3)
    none_plan = plan_restore(x, SR, "speech", tiny_restorer_path, strength=0.0)
    assert none_plan.action == "pass-through"
    assert np.array_equal(apply_plan(x, SR, none_plan)[0], x)
    with pytest.raises(ValueError, match="strength"):
        plan_restore(x, SR, "speech", tiny_restorer_path, strength=1.5)


def test_bounded_restorer_keeps_the_reliable_band(bounded_path):
    from nac.restore.restorer import load_restorer

    model = load_restorer(bounded_path)
    x = noise(cutoff=4000)
    y = model.restore(x[None], cutoff_hz=4000.0)[0]
    f, _, X = signal.stft(x, SR, nperseg=640)
    _, _, Y = signal.stft(y, SR, nperseg=640)
    low = f < 3400  # below the cutoff minus the analysis window's spread
    ratio_db = 20 * np.log10(np.abs(Y[low]).mean(1) / np.abs(X[low]).mean(1))
    assert np.abs(ratio_db).max() <= model.cfg.max_gain_db + 0.5
    assert measure_bandwidth(y, SR) > 4500  # and it does generate the missing band


def test_bounded_restorer_starts_as_the_identity():
    model = Restorer(RestoreConfig(dim=16, depth=2, mode="bounded")).eval()
    x = torch.from_numpy(noise(1.03))[None]
    assert (model(x) - x).abs().max() < 1e-5  # cutoff defaults to Nyquist: nothing to generate


def test_restore_explain_and_pass_through_cli(tmp_path, tiny_restorer_path):
    sf.write(tmp_path / "clean.wav", noise(), SR)
    out = tmp_path / "out.wav"
    r = CliRunner().invoke(cli, ["restore", str(tmp_path / "clean.wav"), str(out), "--model", tiny_restorer_path,
                                 "--content", "speech", "--explain"])
    assert r.exit_code == 0, r.output
    assert "pass-through" in r.output and "bandwidth" in r.output
    y, _ = sf.read(out, dtype="float32")
    np.testing.assert_allclose(y, noise(), atol=1e-4)  # 16-bit or float wav: the input back
    r = CliRunner().invoke(cli, ["restore", str(tmp_path / "clean.wav"), str(tmp_path / "o2.wav"),
                                 "--model", tiny_restorer_path, "--strength", "2"])
    assert r.exit_code == 2 and not (tmp_path / "o2.wav").exists()


def test_speech_goes_through_the_enhancer_and_keeps_its_rate_unless_extension_needs_more():
    """The shipped speech model edits any speech (full band included: noise is not a band
    limit); the output keeps the input's rate, except 8-kHz input, which comes back at the
    model's 16 kHz with the reason in --explain; a class the card lists as measured worse passes
    through."""
    from nac.registry import DEFAULT_RESTORE, REGISTRY

    card = REGISTRY[DEFAULT_RESTORE["speech"]]
    full = noise()[None]
    plan = plan_restore(full, SR, "speech")
    assert plan.model == card.name and plan.output_rate == SR
    assert plan.action == ("pass-through" if "fullband" in card.skips else "restore")
    narrow8k = noise(seconds=1.0, sr=8000)[None]
    plan = plan_restore(narrow8k, 8000, "speech")
    assert plan.action == "restore" and plan.output_rate == 16000
    assert "band extension" in plan.explain() and "16000 Hz" in plan.explain()
    out, rate = apply_plan(narrow8k, 8000, plan)
    assert rate == 16000 and out.shape == (1, 16000) and np.isfinite(out).all()
    out48, rate48 = apply_plan(noise(seconds=0.5, sr=48000)[None], 48000,
                               plan_restore(noise(seconds=0.5, sr=48000)[None], 48000, "speech", always=True))
    assert rate48 == 48000 and out48.shape == (1, 24000)
    assert plan_restore(narrow8k, 8000, "speech", out_rate=8000).output_rate == 8000


def test_a_class_measured_worse_passes_through(monkeypatch):
    import dataclasses

    from nac.registry import DEFAULT_RESTORE, REGISTRY

    name = DEFAULT_RESTORE["speech"]
    monkeypatch.setitem(REGISTRY, name, dataclasses.replace(REGISTRY[name], skips=("fullband",)))
    x = noise()[None]
    plan = plan_restore(x, SR, "speech")
    assert plan.action == "pass-through" and "measured worse" in plan.reason
    assert np.array_equal(apply_plan(x, SR, plan)[0], x)
    assert plan_restore(x, SR, "speech", always=True).action == "restore"


def test_benchmark_restores_coded_input_as_nac_restore_sees_it(monkeypatch):
    """`restore:opus:6` in the benchmarks must plan with what the .opus container tells
    `nac restore` (codec and rate), not as anonymous PCM, or it measures a pass-through."""
    import nac.restore.plan as plan_module
    from nac.eval.systems import parse_system, run_system

    seen = []
    real = plan_module.plan_restore

    def spy(audio, sr, content="auto", model=None, strength=1.0, always=False, codec=None, kbps=None, **kw):
        seen.append((codec, kbps))
        return real(audio, sr, content, model, 0.0, always, codec, kbps, **kw)  # strength 0: no model run

    monkeypatch.setattr(plan_module, "plan_restore", spy)
    t = np.arange(8000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    run_system(parse_system("restore:opus:6"), x, 16000, "speech")
    run_system(parse_system("restore:bw:4000"), x, 16000, "speech")
    assert seen[0][0] == "opus" and seen[0][1] > 4  # the file's real rate (Ogg overhead included)
    assert seen[1] == (None, None)


def test_a_class_strength_scales_the_change(monkeypatch):
    import dataclasses

    from nac.registry import DEFAULT_RESTORE, REGISTRY

    name = DEFAULT_RESTORE["speech"]
    x = noise()[None]
    full, _ = apply_plan(x, SR, plan_restore(x, SR, "speech", always=False))
    monkeypatch.setitem(REGISTRY, name, dataclasses.replace(REGISTRY[name], skips=(),
                                                            class_strength=(("fullband", 0.5),)))
    plan = plan_restore(x, SR, "speech")
    assert plan.action == "restore" and plan.strength == 0.5 and "0.5 of the change" in plan.reason
    half, _ = apply_plan(x, SR, plan)
    np.testing.assert_allclose(half - x, 0.5 * (full - x), atol=2e-3)


@pytest.mark.parametrize("sr", [8000, 16000, 44100])
def test_restore_file_streams_blocks_and_equals_the_whole_file_path(tmp_path, sr):
    """`nac restore` on WAV reads 10-s blocks and plans from the first 30 s; the blocks go
    through streaming resamplers and the enhancer's stream, and give the whole-file result."""
    from nac.restore.blocks import restore_file

    t = np.arange(int(sr * 23.5)) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    x = np.stack([x, 0.5 * x]) + noise(23.5, sr=sr)[None] * 0.1
    sf.write(tmp_path / "in.wav", x.T, sr, subtype="FLOAT")
    plan = restore_file(str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "speech", strength=0.7)
    assert plan.action == "restore" and plan.output_rate == max(sr, 16000)
    got, rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    whole, whole_rate = apply_plan(x, sr, plan_restore(x[:, :30 * sr], sr, "speech", strength=0.7))
    assert rate == whole_rate and got.T.shape == whole.shape
    np.testing.assert_allclose(got.T, whole, atol=1e-4)
