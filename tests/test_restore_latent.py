"""Restoration through the codec's latent space: the reliable-band bound, rendering, training."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from nac import checkpoint
from nac.api import load_model
from nac.restore.latent import (
    LatentRestoreConfig,
    LatentRestorer,
    keep_reliable_band,
    render,
)
from tests.conftest import tone


def _spectrum_db(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sr), spec


def test_the_kept_band_is_the_input_and_the_rest_the_rendering():
    rng = np.random.default_rng(0)
    sr, n = 16000, 16000 * 2
    original = (0.1 * rng.standard_normal((1, n))).astype(np.float32)
    rendered = (0.3 * rng.standard_normal((1, n))).astype(np.float32)  # louder, unrelated
    out = keep_reliable_band(original, rendered, sr, cutoff_hz=4000, crossfade_hz=400)
    assert out.shape == original.shape
    core = slice(2000, n - 2000)  # away from the file's edges
    f, s_out = _spectrum_db(out[0, core], sr)
    _, s_in = _spectrum_db(original[0, core], sr)
    _, s_ren = _spectrum_db(rendered[0, core], sr)
    low, high = f < 3500, f > 4100
    # below the ramp the output is the input: the error is at least 60 dB under the input
    err_low = np.sum((s_out[low] - s_in[low]) ** 2) / np.sum(s_in[low] ** 2)
    assert 10 * np.log10(err_low) < -60
    err_high = np.sum((s_out[high] - s_ren[high]) ** 2) / np.sum(s_ren[high] ** 2)
    assert 10 * np.log10(err_high) < -60


def test_render_through_the_codec_keeps_length_and_the_band(tiny_model_path):
    codec = load_model(tiny_model_path)
    restorer = LatentRestorer(LatentRestoreConfig(codec=tiny_model_path, render_kbps=6.0), codec.cfg)
    restorer.encoder.load_state_dict(codec.encoder.state_dict())
    x = tone(16000, 1.3)[None]
    full = render(x, restorer.eval(), codec)
    kept = render(x, restorer, codec, keep_below_hz=2000)
    assert full.shape == kept.shape == x.shape and np.isfinite(full).all()
    # a restorer with the codec's own encoder renders what `nac decode` of a 6 kbps file gives
    from nac.api import decode_codes, encode_codes

    direct = np.concatenate(list(decode_codes(codec, encode_codes(codec, x, 6.0))), 1)[:, : x.shape[1]]
    np.testing.assert_allclose(full, direct, atol=1e-5)


def test_latent_training_moves_only_the_restorer(tmp_path, tiny_model_path):
    from nac.train.latent_restore import train_latent_restore

    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        sf.write(data / f"c{i}.wav", tone(16000, 4.5, 200 + 50 * i, seed=i), 16000)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"kind": "restore-latent", "model": {"codec": tiny_model_path},
                               "train": {"steps": 4, "batch_size": 2, "segment_seconds": 0.5, "warmup_steps": 1,
                                         "log_every": 2, "eval_every": 2, "ckpt_every": 2, "pairs_seconds": 16,
                                         "dev_pairs_seconds": 8, "excerpt_seconds": 4.0, "with_nac": False,
                                         "output_weight": 1.0}}))
    before = {k: v.clone() for k, v in load_model(tiny_model_path).encoder.state_dict().items()}
    latest = train_latent_restore(str(cfg), [str(data)], str(tmp_path / "run"), dev=str(data), progress=False)
    ckpt = checkpoint.load(latest)
    assert ckpt["kind"] == "restore-latent" and ckpt["step"] == 4
    assert ckpt["config"]["codec_sha256"] == checkpoint.sha256(tiny_model_path)
    moved = any(not torch.equal(ckpt["model"]["encoder." + k], v) for k, v in before.items())
    assert moved  # the restorer learned; the codec's own encoder is untouched
    assert all(torch.equal(load_model(tiny_model_path).encoder.state_dict()[k], v) for k, v in before.items())
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4]
    dev = list(csv.DictReader(open(tmp_path / "run" / "dev.csv")))
    assert [int(r["step"]) for r in dev] == [2, 4] and any(k.startswith("dev_identity_") for k in dev[0])
    with pytest.raises(FileExistsError):
        train_latent_restore(str(cfg), [str(data)], str(tmp_path / "run"), progress=False)


def _tiny_latent_checkpoint(tmp_path, tiny_model_path) -> str:
    codec = load_model(tiny_model_path)
    cfg = LatentRestoreConfig(codec=tiny_model_path, codec_sha256=checkpoint.sha256(tiny_model_path), render_kbps=6.0)
    restorer = LatentRestorer(cfg, codec.cfg)
    restorer.encoder.load_state_dict(codec.encoder.state_dict())
    path = tmp_path / "latent.pt"
    checkpoint.save(path, {"kind": "restore-latent", "name": "tiny-latent", "config": cfg.to_dict(),
                           "codec_config": codec.cfg.to_dict(), "model": restorer.state_dict()})
    return str(path)


def test_the_plan_restores_only_measured_input_classes_and_keeps_their_band(tmp_path, tiny_model_path, monkeypatch):
    from nac import registry
    from nac.restore import plan as plan_mod
    from nac.restore import restorer as restorer_mod

    path = _tiny_latent_checkpoint(tmp_path, tiny_model_path)
    card = registry.ModelCard("tiny-latent", "restore-latent", path, checkpoint.sha256(path), "test",
                              restores=("opus-low", "narrowband"), keeps_band=("opus-low",))
    monkeypatch.setitem(registry.REGISTRY, "tiny-latent", card)
    monkeypatch.setattr(registry, "resolve", lambda name: (Path(path), card.sha256) if name == "tiny-latent"
                        else (Path(name), None))
    monkeypatch.setattr(restorer_mod, "_CACHE", {})
    x = tone(16000, 1.0)[None]
    opus = plan_mod.plan_restore(x, 16000, "speech", "tiny-latent", codec="opus", kbps=6, bandwidth_hz=4000)
    assert opus.action == "restore" and opus.keep_band and opus.input_class == "opus-low"
    assert "kept below 4.0 kHz" in opus.explain()
    phone = plan_mod.plan_restore(x, 16000, "speech", "tiny-latent", bandwidth_hz=5000)
    assert phone.action == "restore" and not phone.keep_band and phone.input_class == "narrowband"
    clean = plan_mod.plan_restore(x, 16000, "speech", "tiny-latent", bandwidth_hz=7900)
    assert clean.action == "pass-through" and "no measured gain for fullband" in clean.reason
    out, sr = plan_mod.apply_plan(x, 16000, opus)
    assert sr == 16000 and out.shape == x.shape and np.isfinite(out).all()


def test_a_restorer_refuses_a_codec_it_was_not_trained_against(tmp_path, tiny_model_path):
    from nac.restore.latent import load_latent_restoration

    ckpt = checkpoint.load(_tiny_latent_checkpoint(tmp_path, tiny_model_path))
    ckpt["config"]["codec_sha256"] = "0" * 64
    with pytest.raises(ValueError, match="retrain it"):
        load_latent_restoration(ckpt)


def test_a_kept_band_renders_with_fewer_griffin_lim_iterations_and_the_same_weights(tmp_path, tiny_model_path):
    from nac.restore.latent import load_latent_restoration

    # the tiny codec with Griffin-Lim (8 iterations), as the shipped one decodes (32)
    ckpt = checkpoint.load(tiny_model_path)
    ckpt["config"]["griffin_lim_iters"] = 8
    gl_path = tmp_path / "tiny-gl.pt"
    checkpoint.save(gl_path, ckpt)
    restoration = load_latent_restoration(checkpoint.load(_tiny_latent_checkpoint(tmp_path, str(gl_path))))
    full, band = restoration.codec, restoration.band_codec
    assert full.decoder.griffin_lim_iters == 8
    assert band.decoder.griffin_lim_iters == restoration.restorer.cfg.band_griffin_lim_iters == 4
    assert band.context_frames < full.context_frames
    for (name, a), b in zip(full.state_dict().items(), band.state_dict().values()):
        assert torch.equal(a, b), name
    x = tone(16000, 1.2)[None]
    kept = restoration.restore(x, cutoff_hz=3000)
    assert kept.shape == x.shape and np.isfinite(kept).all()
    assert restoration.restore(x).shape == x.shape  # no cutoff: the full codec renders it all


def test_rendering_runs_the_restorers_encoder_not_the_codecs(tiny_model_path):
    """The codec view must call the restorer's encoder, and leave the codec itself untouched
    (a Module set on a view that shares `_modules` with the codec once did neither)."""
    from nac.api import decode_codes, encode_codes

    codec = load_model(tiny_model_path)
    keys = set(codec.state_dict())
    restorer = LatentRestorer(LatentRestoreConfig(codec=tiny_model_path, render_kbps=6.0), codec.cfg).eval()
    torch.manual_seed(1)  # an encoder unlike the codec's
    x = tone(16000, 1.3)[None]
    view = restorer.codec_view(codec)
    assert set(codec.state_dict()) == keys and "_latents" not in codec._modules
    with torch.no_grad():
        wav = torch.from_numpy(x)
        assert torch.equal(view._latents(wav), restorer.encoder(wav))
    rendered = render(x, restorer, codec)
    own = np.concatenate(list(decode_codes(codec, encode_codes(codec, x, 6.0))), 1)[:, : x.shape[1]]
    assert np.abs(rendered - own).max() > 1e-3
