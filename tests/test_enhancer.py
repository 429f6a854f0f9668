"""The speech enhancer (`nac/restore/enhancer.py`) and its stream: causal, exact across block
sizes, the identity when its heads say so, 20 ms of latency; the damage it trains on."""
import numpy as np
import pytest
import torch

from nac.restore.dsp import SpectralFrontEnd, erb_band_edges, exponential_mean
from nac.restore.enhancer import Enhancer, EnhancerConfig
from nac.restore.restorer import load_restorer
from nac.restore.stream import EnhancerStream, enhance_file
from tests.conftest import tone

SR = 16000


def speechlike(seconds=2.0, seed=0):
    x = tone(SR, seconds, 180.0, seed=seed)
    return (x * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * np.arange(len(x)) / SR))).astype(np.float32)


def test_front_end_rebuilds_its_input_exactly():
    front = SpectralFrontEnd()
    x = torch.from_numpy(speechlike(1.0))[None]
    spec = front.frames(torch.nn.functional.pad(x, (0, front.hop)))
    out, _ = front.overlap_add(spec)
    np.testing.assert_allclose(out[:, front.hop:front.hop + x.shape[1]].numpy(), x.numpy(), atol=1e-6)


def test_erb_bands_cover_every_bin_once_and_widen_with_frequency():
    edges = erb_band_edges(161, SR, 32)
    assert edges[0] == 0 and edges[-1] == 161 and len(edges) == 33
    widths = np.diff(edges)
    assert (widths >= 2).all() and widths[-1] > widths[0]


def test_exponential_mean_matches_the_recursion_across_chunks():
    x = torch.randn(2, 600, 3)
    state = torch.zeros(2, 3)
    fast, last = exponential_mean(x, 0.9, state)
    m, slow = state.clone(), []
    for t in range(x.shape[1]):
        m = 0.9 * m + 0.1 * x[:, t]
        slow.append(m)
    torch.testing.assert_close(fast, torch.stack(slow, 1), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(last, slow[-1], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("block", [1, 77, 160, 1000, 40000])
def test_stream_equals_whole_file_for_any_block_size(tiny_enhancer_path, block):
    model = load_restorer(tiny_enhancer_path)
    x = np.stack([speechlike(1.3, 0), speechlike(1.3, 1)])
    whole = enhance_file(model, x)
    stream = EnhancerStream(model, channels=2)
    parts = [stream.push(x[:, i:i + block]) for i in range(0, x.shape[1], block)] + [stream.flush()]
    out = np.concatenate(parts, 1)
    assert out.shape == x.shape == whole.shape
    np.testing.assert_allclose(out, whole, atol=1e-5)
    assert not np.allclose(out, x, atol=1e-3)  # the random heads do change it


def test_stream_is_causal_and_20_ms_late_at_most(tiny_enhancer_path):
    """Changing the input from sample n on changes no output before n - 20 ms (a 20-ms window
    ends at its newest sample, so the aligned output looks at most 20 ms ahead: its latency), and
    a stream holds back at most those 20 ms."""
    model = load_restorer(tiny_enhancer_path)
    x = speechlike(1.0)[None]
    y = x.copy()
    y[:, 8000:] += 0.1
    a, b = enhance_file(model, x), enhance_file(model, y)
    np.testing.assert_allclose(a[:, :8000 - 320], b[:, :8000 - 320], atol=1e-6)
    assert not np.allclose(a[:, 8000 - 320:8000], b[:, 8000 - 320:8000], atol=1e-6)
    stream = EnhancerStream(model)
    got = sum(stream.push(x[:, i:i + 160]).shape[1] for i in range(0, 3200, 160))
    assert got >= 3200 - 2 * 160  # at most two hops (20 ms) held back
    assert model.front.latency_seconds <= 0.040


def test_identity_heads_leave_speech_untouched():
    model = Enhancer(EnhancerConfig(hidden=16, gru_layers=1)).eval()
    with torch.no_grad():
        for head in (model.net.gain, model.net.ext_gain, model.net.df):
            head.weight.zero_()
        model.net.ext_gain.bias.fill_(-30.0)  # extension closed (-80 dB)
    x = speechlike(1.0)[None]
    np.testing.assert_allclose(enhance_file(model, x), x, atol=1e-4)


def test_band_gains_can_boost_as_well_as_cut():
    model = Enhancer(EnhancerConfig(hidden=16, gru_layers=1)).eval()
    with torch.no_grad():
        for head in (model.net.gain, model.net.ext_gain, model.net.df):
            head.weight.zero_()
        model.net.ext_gain.bias.fill_(-30.0)
        model.net.gain.bias.fill_(30.0)  # saturates at the top of the range: +20 dB
    x = 0.01 * speechlike(1.0)[None]
    y = enhance_file(model, x)
    assert 9.0 < np.abs(y[:, 1600:]).max() / np.abs(x[:, 1600:]).max() < 11.0


def test_enhancer_exports_and_loads_through_the_registry_interface(tiny_enhancer_path):
    model = load_restorer(tiny_enhancer_path)
    assert isinstance(model, Enhancer) and model.sample_rate == SR
    out = model.restore(speechlike(0.5)[None])
    assert out.shape == (1, 8000) and np.isfinite(out).all()


def test_train_enhancer_few_steps_resumes_and_exports(tmp_path):
    """The campaign's recipe end to end on a tiny data folder of the shared layout: damage chains
    in a worker process, dev scoring, a resumable latest.pt, an exported model that loads."""
    import json

    import soundfile as sf

    from nac import checkpoint
    from nac.train.enhance import train_enhancer

    data = tmp_path / "data"
    for folder, n, seconds in (("train/speech", 2, 3.0), ("train/music", 1, 3.0), ("noise", 5, 2.0),
                               ("dev/speech", 1, 2.0)):
        (data / folder).mkdir(parents=True)
        for i in range(n):
            x = speechlike(seconds, seed=i) if "speech" in folder else np.random.default_rng(i).standard_normal(
                int(seconds * SR)).astype(np.float32) * 0.1
            sf.write(data / folder / f"{i}.wav", x, SR)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": {"hidden": 8, "gru_layers": 1},
                               "train": {"steps": 4, "batch_size": 2, "segment_seconds": 0.5, "log_every": 2,
                                         "ckpt_every": 2, "dev_every": 4, "dev_files": 1, "rirs": 2,
                                         "nac_pool_clips": 1, "bf16": False}}))
    latest = train_enhancer(str(cfg), str(data), str(tmp_path / "run"), progress=False)
    assert checkpoint.load(latest)["step"] == 4
    dev = (tmp_path / "run" / "dev.csv").read_text().splitlines()
    assert dev[0].startswith("step,condition") and len(dev) == 1 + 6  # every dev condition scored
    with pytest.raises(FileExistsError):
        train_enhancer(str(cfg), str(data), str(tmp_path / "run"), progress=False)
    checkpoint.export(latest, tmp_path / "e.pt", "e")
    model = load_restorer(str(tmp_path / "e.pt"))
    assert isinstance(model, Enhancer) and model.restore(speechlike(0.5)[None]).shape == (1, 8000)


def test_damage_chains_keep_length_and_alignment():
    """Every chain returns (degraded, target) of the clean's length; with no room in the chain
    the target is the clean itself, and a room's target is the clean through its first 50 ms
    (direct path at sample 0: aligned)."""
    from nac.train.damage import DamageBank, early_part, room_impulse_response

    rng = np.random.default_rng(0)
    x = speechlike(1.0)
    rirs = [room_impulse_response(rng, SR, 0.5)]
    bank = DamageBank(SR, [np.random.default_rng(1).standard_normal(SR)], [], [speechlike(1.0, 2)], rirs)
    seen = set()
    for _ in range(60):
        y, target, done = bank.damage(x, rng)
        seen.update(done.split("+"))
        assert y.shape == target.shape == x.shape and np.isfinite(y).all()
        if "room" not in done and "phone" not in done:
            np.testing.assert_array_equal(target, x)
    assert {"clean", "noise", "room"} <= seen
    early = early_part(rirs[0], SR)
    assert len(early) == int(0.05 * SR) and early[0] == 1.0 and np.argmax(np.abs(rirs[0])) == 0
