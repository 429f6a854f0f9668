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
