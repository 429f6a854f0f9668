"""Stateful streaming (nac/codec/stateful.py): equal to whole-signal coding for any block size,
and low latency by design for causal blocks."""
import numpy as np
import pytest
import torch

from nac.codec.model import CodecConfig, NacCodec
from nac.codec.stateful import StatefulDecoder, StatefulEncoder, measure_latency
from nac.codec.streaming import StreamingEncoder, decode_whole
from tests.conftest import TINY, tone


def tiny_model(**kw) -> NacCodec:
    torch.manual_seed(0)
    model = NacCodec(CodecConfig(**TINY, **kw))
    model.train()
    with torch.no_grad():  # k-means init: data-like codebooks
        model(torch.from_numpy(tone(16000, 4.0, 330.0)[None].repeat(4, 0)))
    return model.eval()


@pytest.mark.parametrize("lookahead", [None, 0])
def test_stateful_streams_equal_whole_signal_coding(lookahead):
    model = tiny_model(lookahead=lookahead)
    x = tone(16000, 1.37, 300.0, channels=2)
    whole_enc = StreamingEncoder(model, 6)
    reference = np.concatenate(whole_enc.push(x) + whole_enc.flush(), 0)  # (frames, C, n_q)
    for block in (320, 77, 5000):
        enc = StatefulEncoder(model, 6)
        parts = [enc.push(x[:, i:i + block]) for i in range(0, x.shape[1], block)] + [enc.flush()]
        codes = np.concatenate([p for p in parts if p.shape[0]], 0)
        assert codes.shape == reference.shape
        assert (codes == reference).mean() > 0.99  # equal but for float near-ties
    whole = decode_whole(model, torch.from_numpy(reference).permute(1, 2, 0)).numpy()
    for frames in (1, 3, 50):
        dec = StatefulDecoder(model)
        outs = [dec.push(reference[i:i + frames]) for i in range(0, reference.shape[0], frames)] + [dec.flush()]
        audio = np.concatenate([o for o in outs if o.size], 1)
        assert audio.shape == whole.shape
        np.testing.assert_allclose(audio, whole, atol=1e-5)


def test_causal_blocks_stream_within_100_ms_and_centred_ones_do_not():
    assert measure_latency(tiny_model(lookahead=0)) <= 0.100
    assert measure_latency(tiny_model()) > 0.100  # TINY: one centred block per stack


def test_griffin_lim_models_are_refused_with_a_pointer():
    with pytest.raises(ValueError, match="nac.codec.streaming"):
        StatefulDecoder(tiny_model(griffin_lim_iters=2))
