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
