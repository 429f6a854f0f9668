"""Training paths on tiny data: reconstruction + GAN steps, resume, and 2-process DDP."""
import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from nac import checkpoint
from nac.codec.model import CodecConfig
from nac.train.discriminators import MagnitudeDiscriminator, MultiScaleSTFTDiscriminator
from nac.train.losses import phase_derivative_loss
from nac.train.trainer import (
    TrainConfig,
    Trainer,
    _csv_appender,
    load_config,
    lr_at,
    resolve_device,
)
from tests.conftest import TINY, tone


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    for i in range(3):
        sf.write(d / f"clip{i}.wav", tone(22050, 1.5, 200 + 100 * i, seed=i), 22050)
    return d


def small_cfg(**kw) -> TrainConfig:
    base = dict(steps=4, batch_size=2, segment_seconds=0.4, warmup_steps=2, log_every=2,
                eval_every=2, ckpt_every=2, dev_files=2)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("griffin_lim_iters", [0, 2])  # waveform disc / magnitude disc
def test_gan_training_steps_update_discriminator(tmp_path, data_dir, griffin_lim_iters):
    trainer = Trainer(CodecConfig(**TINY, griffin_lim_iters=griffin_lim_iters), small_cfg(gan_start_step=1),
                      [str(data_dir)], tmp_path, dev=str(data_dir), progress=False)
    expected = MagnitudeDiscriminator if griffin_lim_iters else MultiScaleSTFTDiscriminator
    assert isinstance(trainer.adversary.disc, expected)
    before = [p.detach().clone() for p in trainer.adversary.disc.parameters()]
    trainer.train()
    after = list(trainer.adversary.disc.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert float(rows[-1]["adv"]) > 0 and float(rows[-1]["fm"]) > 0
    dev = list(csv.DictReader(open(tmp_path / "dev.csv")))
    assert [int(r["step"]) for r in dev] == [2, 4] and float(dev[0]["dev_mel"]) > 0
    for row in rows:
        assert all(np.isfinite(float(v)) for k, v in row.items() if v)


def test_decoder_only_gan_in_bf16_keeps_the_latent_space(tmp_path, data_dir):
    """Decoder v2's recipe: frozen encoder and codebooks, waveform discriminators (multi-period +
    multi-scale STFT), bf16 autocast. The encoder and codebooks must not move; the decoder must."""
    from nac.train.discriminators import (
        MultiPeriodDiscriminator,
        WaveformDiscriminators,
    )

    trainer = Trainer(CodecConfig(**TINY), small_cfg(gan_start_step=0, freeze_encoder=True, bf16=True,
                                                     discriminators="mpd+msstft", dev_kbps=[1.5, 3.0]),
                      [str(data_dir)], tmp_path, dev=str(data_dir), progress=False)
    disc = trainer.adversary.disc
    assert isinstance(disc, WaveformDiscriminators) and isinstance(disc.parts[0], MultiPeriodDiscriminator)
    frozen = {k: v.clone() for k, v in trainer.model.state_dict().items() if k.startswith(("encoder.", "quantizer."))}
    decoder = [p.detach().clone() for p in trainer.model.decoder.parameters()]
    trainer.train()
    state = trainer.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in frozen.items())
    assert any(not torch.equal(a, b) for a, b in zip(decoder, trainer.model.decoder.parameters()))
    dev = list(csv.DictReader(open(tmp_path / "dev.csv")))
    assert {"dev_mel_1.5", "dev_mel_3"} <= set(dev[0])  # one column set per dev bitrate
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert all(np.isfinite(float(r["fm"])) and float(r["adv"]) > 0 for r in rows)


def test_resume_continues_from_checkpoint(tmp_path, data_dir):
    Trainer(CodecConfig(**TINY), small_cfg(steps=4), [str(data_dir)], tmp_path, progress=False).train(until=2)
    assert checkpoint.load(tmp_path / "latest.pt")["step"] == 2
    trainer = Trainer(CodecConfig(**TINY), small_cfg(steps=4), [str(data_dir)], tmp_path, progress=False)
    assert trainer.step == 2
    trainer.train()
    ckpt = checkpoint.load(tmp_path / "latest.pt")
    assert ckpt["step"] == 4 and ckpt["config"]["latent_dim"] == TINY["latent_dim"]


def test_config_file_and_lr_schedule(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": {"latent_dim": 8}, "train": {"steps": 100, "warmup_steps": 10}}))
    model_cfg, cfg = load_config(path)
    assert model_cfg.latent_dim == 8 and cfg.steps == 100
    assert lr_at(0, cfg) < lr_at(9, cfg) == pytest.approx(cfg.lr)
    assert lr_at(100, cfg) == pytest.approx(cfg.lr_min)
    # a warm start at step 40 warms up again to where the cosine stands
    assert lr_at(40, cfg, start=40) < lr_at(45, cfg, start=40) < lr_at(50, cfg, start=40) == pytest.approx(lr_at(50, cfg))
    path.write_text(json.dumps({"train": {"stepz": 1}}))
    with pytest.raises(ValueError, match="stepz"):
        load_config(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_keeps_codebooks_in_sync(tmp_path, data_dir):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"model": TINY, "train": {"steps": 3, "batch_size": 2, "segment_seconds": 0.4,
                                                        "log_every": 1, "ckpt_every": 3, "threads": 1}}))
    script = tmp_path / "check.py"
    script.write_text(
        "import sys, torch, torch.distributed as dist\n"
        "from nac.train.trainer import Trainer, load_config\n"
        "m, c = load_config(sys.argv[1])\n"
        "t = Trainer(m, c, [sys.argv[2]], sys.argv[3], progress=False)\n"
        "t.train()\n"
        "books = t.model.quantizer.codebooks.contiguous()\n"
        "gathered = [torch.zeros_like(books) for _ in range(2)]\n"
        "dist.all_gather(gathered, books)\n"
        "w = torch.cat([p.detach().reshape(-1) for p in t.model.parameters()])\n"
        "ws = [torch.zeros_like(w) for _ in range(2)]\n"
        "dist.all_gather(ws, w)\n"
        "if dist.get_rank() == 0:\n"
        "    assert torch.allclose(gathered[0], gathered[1]), 'codebooks diverged'\n"
        "    assert torch.allclose(ws[0], ws[1]), 'weights diverged'\n"
        "    print('DDP-OK')\n"
        "dist.barrier()  # neither rank tears gloo down while the other still uses it\n"
        "dist.destroy_process_group()\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.getcwd())
    for attempt in range(3):
        r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                            "--master_port", str(free_port()), str(script), str(cfg), str(data_dir),
                            str(tmp_path / f"run{attempt}")],
                           capture_output=True, text=True, timeout=300, env=env)
        # On a loaded 2-core machine a gloo rank has died with SIGABRT ("terminate called without an
        # active exception") in its first step, in ~1 of 3 full-suite runs; a rank that runs to
        # the end is what this test checks (codebooks and weights equal), so a crashed launch is
        # retried rather than reported as desynchronised training.
        if r.returncode == 0 or "SIGABRT" not in r.stderr:
            break
    assert r.returncode == 0, r.stderr[-3000:]
    assert "DDP-OK" in r.stdout
    assert checkpoint.load(tmp_path / f"run{attempt}" / "latest.pt")["step"] == 3


def test_warm_start_from_exported_model(tmp_path, data_dir):
    Trainer(CodecConfig(**TINY), small_cfg(steps=2), [str(data_dir)], tmp_path / "a", progress=False).train()
    exported = tmp_path / "m.pt"
    checkpoint.export(tmp_path / "a" / "latest.pt", exported, "tiny")
    shipped = checkpoint.load(exported)
    assert not any(k.endswith("embed_avg") for k in shipped["model"])
    assert all(v.dtype != torch.float32 for v in shipped["model"].values() if v.is_floating_point())
    trainer = Trainer(CodecConfig(**TINY), small_cfg(steps=4), [str(data_dir)], tmp_path / "b",
                      progress=False, init=str(exported))
    assert trainer.step == 2
    level0 = trainer.model.quantizer.codebooks[0]
    assert torch.equal(level0, shipped["model"]["quantizer.rvq.layers.0._codebook.embed"].float()[0])
    trainer.train()
    assert checkpoint.load(tmp_path / "b" / "latest.pt")["step"] == 4


def test_csv_log_gains_columns_of_a_later_stage(tmp_path):
    path = tmp_path / "metrics.csv"
    writer, f = _csv_appender(path, ["step", "mel"])
    with f:
        writer.writerow({"step": 1, "mel": 0.5})
    writer, f = _csv_appender(path, ["step", "mel", "compressed"])
    with f:
        writer.writerow({"step": 2, "mel": 0.4, "compressed": 0.1})
    rows = list(csv.DictReader(open(path)))
    assert rows == [{"step": "1", "mel": "0.5", "compressed": ""}, {"step": "2", "mel": "0.4", "compressed": "0.1"}]


def test_compressed_magnitude_loss_is_trained(tmp_path, data_dir):
    trainer = Trainer(CodecConfig(**TINY, griffin_lim_iters=2), small_cfg(compressed_weight=20.0),
                      [str(data_dir)], tmp_path, dev=str(data_dir), progress=False)
    trainer.train()
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert float(rows[-1]["compressed"]) > 0
    dev = list(csv.DictReader(open(tmp_path / "dev.csv")))
    assert -1 <= float(dev[-1]["dev_harmonic"]) <= 1


def test_phase_derivative_loss_hears_a_detuned_partial_more_than_a_delay():
    t = torch.arange(16000) / 16000
    partials = lambda f: torch.sin(2 * torch.pi * f * t) + 0.5 * torch.sin(4 * torch.pi * f * t)
    target = (partials(220) + 0.01 * torch.randn(16000, generator=torch.Generator().manual_seed(0)))[None]
    score = lambda pred: {k: float(v) for k, v in phase_derivative_loss(pred, target).items()}
    same, delayed, detuned = score(target), score(torch.roll(target, 3, -1)), score(partials(223)[None])
    noise = score(0.3 * torch.randn(1, 16000, generator=torch.Generator().manual_seed(1)))
    for name in ("iaf", "gd"):
        assert same[name] < 1e-3
        assert delayed[name] < 0.05 < detuned[name] < noise[name]
    pred = torch.randn(1, 16000, requires_grad=True)
    sum(phase_derivative_loss(pred, target).values()).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().max() > 0


def test_phase_loss_is_trained_and_logged(tmp_path, data_dir):
    trainer = Trainer(CodecConfig(**TINY, griffin_lim_iters=0), small_cfg(phase_weight=2.0),
                      [str(data_dir)], tmp_path, progress=False)
    trainer.train()
    row = list(csv.DictReader(open(tmp_path / "metrics.csv")))[-1]
    assert 0 < float(row["iaf"]) < 2 and 0 < float(row["gd"]) < 2


def test_device_resolution_and_a_step_on_the_chosen_device(tmp_path, data_dir, monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA"):
        resolve_device("cuda")
    trainer = Trainer(CodecConfig(**TINY), small_cfg(steps=2, device="auto"), [str(data_dir)],
                      tmp_path / "run", progress=False)
    trainer.train()
    assert all(p.device.type == "cpu" for p in trainer.model.parameters())
    assert checkpoint.load(tmp_path / "run" / "latest.pt")["train_config"]["device"] == "auto"


def test_resume_without_optimizer_state_warms_up_again(tmp_path, data_dir):
    """State carried across sessions (scripts/campaign_state.py) has no optimiser moments: the
    run resumes at its step with a fresh optimiser and a new warm-up from there."""
    cfg = small_cfg(gan_start_step=0, freeze_encoder=True, ema_decay=0.9, steps=6)
    trainer = Trainer(CodecConfig(**TINY), cfg, [str(data_dir)], tmp_path, progress=False)
    trainer.train(until=2)
    ckpt = checkpoint.load(tmp_path / "latest.pt")
    for key in ("optimizer", "optimizer_d"):
        del ckpt[key]
    checkpoint.save(tmp_path / "latest.pt", {**ckpt, "fresh_optimizer": True})
    resumed = Trainer(CodecConfig(**TINY), cfg, [str(data_dir)], tmp_path, progress=False)
    assert resumed.step == resumed.start_step == 2
    assert lr_at(2, cfg, resumed.start_step) < lr_at(3, cfg, resumed.start_step)  # warming up
    resumed.train()
    assert checkpoint.load(tmp_path / "latest.pt")["step"] == 6


def test_discriminator_sets_for_the_ab():
    """The discriminator-set A/B (`campaign.sh v2-mpd`): "mpd" judges with the multi-period
    discriminator alone, "mpd+msstft" adds the multi-scale STFT one; both see the waveform."""
    from nac.train.discriminators import (
        MultiPeriodDiscriminator,
        MultiScaleSTFTDiscriminator,
        build_discriminator,
    )

    mpd = build_discriminator("mpd", griffin_lim=False)
    both = build_discriminator("mpd+msstft", griffin_lim=False)
    assert [type(p) for p in mpd.parts] == [MultiPeriodDiscriminator]
    assert [type(p) for p in both.parts] == [MultiPeriodDiscriminator, MultiScaleSTFTDiscriminator]
    wav = torch.randn(2, 4000)
    assert len(mpd(wav)) == 5 and len(both(wav)) > 5
    with pytest.raises(ValueError, match="unknown discriminators"):
        build_discriminator("nope", griffin_lim=False)


def test_bf16_is_used_only_where_the_hardware_has_it(monkeypatch, capsys):
    """An AVX2-only CPU emulates bfloat16 (a campaign step ran ~7-10x slower): `bf16: true`
    falls back to fp32 there, and says so."""
    from nac.train import precision

    assert not precision.use_bf16(False)
    monkeypatch.setattr(precision, "cpu_has_bf16_units", lambda: True)
    assert precision.use_bf16(True)
    monkeypatch.setattr(precision, "cpu_has_bf16_units", lambda: False)
    assert not precision.use_bf16(True)
    assert "fp32" in capsys.readouterr().out
    assert precision.use_bf16(True, "cuda")
