"""The causal student (nac/train/causal.py): distilled from a shipped codec, causal blocks, the
teacher's codebooks kept, resumable across sessions without its optimiser."""
import numpy as np
import soundfile as sf
import torch

from nac import checkpoint
from nac.train.causal import CausalDistillConfig, CausalDistiller
from tests.conftest import tone


def small(teacher: str, **kw) -> CausalDistillConfig:
    base = dict(teacher=teacher, steps=4, batch_size=2, segment_seconds=0.4, warmup_steps=2, log_every=2,
                ckpt_every=2, eval_every=4, dev_files=1, dev_kbps=[6.0], online_phase_iters=2, ema_decay=0.9)
    base.update(kw)
    return CausalDistillConfig(**base)


def test_student_is_causal_keeps_the_codebooks_and_learns(tmp_path, tiny_model_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        sf.write(data / f"clip{i}.wav", tone(16000, 1.2, 200 + 150 * i, seed=i), 16000)
    run = CausalDistiller(small(tiny_model_path), [str(data)], tmp_path / "run", dev=str(data), progress=False)
    assert all(b.lookahead == 0 for b in [*run.model.encoder.fine, *run.model.decoder.coarse])
    books = run.model.quantizer.codebooks.clone()
    encoder = [p.detach().clone() for p in run.model.encoder.parameters()]
    run.train()
    assert torch.equal(run.model.quantizer.codebooks, books)
    assert torch.equal(run.model.quantizer.codebooks, run.teacher.quantizer.codebooks)
    assert any(not torch.equal(a, b) for a, b in zip(encoder, run.model.encoder.parameters()))
    rows = (tmp_path / "run" / "dev.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and rows[1].startswith("4,")

    # what campaign_state.py commits: the EMA weights without the codebooks, no optimiser
    ckpt = checkpoint.load(tmp_path / "run" / "latest.pt")
    carried = {"kind": "codec", "config": ckpt["config"], "train_config": ckpt["train_config"],
               "step": ckpt["step"], "fresh_optimizer": True,
               "model": {k: v for k, v in ckpt["ema"].items() if not k.startswith("quantizer.")}}
    carried["ema"] = carried["model"]
    (tmp_path / "next").mkdir()
    checkpoint.save(tmp_path / "next" / "latest.pt", carried)
    resumed = CausalDistiller(small(tiny_model_path, steps=6), [str(data)], tmp_path / "next", progress=False)
    assert resumed.step == 4 and resumed.start_step == 4
    assert torch.equal(resumed.model.quantizer.codebooks, books)
    resumed.train()
    assert resumed.step == 6
    x = torch.from_numpy(tone(16000, 0.5, 300.0))
    y = resumed.model.decode(resumed.model.encode(x, 6.0))
    assert np.isfinite(y.numpy()).all()


def _clips(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        sf.write(data / f"clip{i}.wav", tone(16000, 1.2, 200 + 150 * i, seed=i), 16000)
    return data


def test_own_codes_feed_the_decoder_the_students_codes(tmp_path, tiny_model_path):
    run = CausalDistiller(small(tiny_model_path, own_codes=1.0, steps=1), [str(_clips(tmp_path))],
                          tmp_path / "run", progress=False)
    seen, coded = [], []
    magnitude, encode = run.model.decoder.magnitude, run.teacher.quantizer.encode
    run.model.decoder.magnitude = lambda q: seen.append(q.detach().clone()) or magnitude(q)
    run.teacher.quantizer.encode = lambda z, n_q: coded.append((z.clone(), n_q)) or encode(z, n_q)
    run.train_step()
    teacher_latents, n_q = coded[0]
    own_latents, own_n_q = coded[1]  # the second coding: the student's latents, at the same rate
    assert own_n_q == n_q and not torch.equal(own_latents, teacher_latents)
    assert torch.allclose(seen[0], run.teacher.quantizer.decode(encode(own_latents, n_q)))


def test_a_carried_student_decodes_as_soon_as_it_is_loaded(tmp_path, tiny_model_path, monkeypatch):
    """campaign_state.py leaves the teacher's codebooks out of a student's state; `load` puts
    them back, so that latest.pt is a whole model before training resumes."""
    import sys
    sys.path.insert(0, "scripts")
    import campaign_state

    run = CausalDistiller(small(tiny_model_path, steps=2), [str(_clips(tmp_path))],
                          tmp_path / "runs" / "campaign-arm", progress=False)
    run.train()
    monkeypatch.setattr(campaign_state, "ROOT", tmp_path)
    campaign_state.save("arm")
    (tmp_path / "runs" / "campaign-arm" / "latest.pt").unlink()
    campaign_state.load("arm")
    from nac.api import load_model
    student = load_model(str(tmp_path / "runs" / "campaign-arm" / "latest.pt"))
    assert torch.equal(student.quantizer.codebooks, run.teacher.quantizer.codebooks)
