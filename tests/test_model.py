"""Codec model: exact lengths, bitrates, chunked coding equal to whole-signal coding, Griffin-Lim path."""
import numpy as np
import pytest
import torch

from nac.api import decode_codes, encode_codes, load_model
from nac.codec.model import CodecConfig, NacCodec
from nac.codec.modules import ISTFTHead
from nac.codec.streaming import decode_whole
from tests.conftest import TINY, tone


def make(**kw) -> NacCodec:
    torch.manual_seed(0)
    model = NacCodec(CodecConfig(**{**TINY, **kw}))
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(np.stack([tone(16000, 2.0, 200 + 100 * i, seed=i) for i in range(4)])))
    return model.eval()


def test_bitrates_and_codebook_counts():
    model = make()
    assert model.bitrates()[:4] == [1.5, 3.0, 4.5, 6.0] and model.bitrates()[-1] == 12.0
    assert [model.n_q_for(k) for k in (1.5, 3, 6, 12)] == [3, 6, 12, 24]
    with pytest.raises(ValueError, match="supports"):
        model.n_q_for(5)


@pytest.mark.parametrize("seconds", [0.01, 1.0, 2.345])
def test_shapes_are_exact(seconds):
    model = make()
    x = torch.from_numpy(tone(16000, seconds))
    codes = model.encode(x, 6)
    frames = -(-len(x) // 320)
    assert codes.shape == (1, 12, frames) and codes.dtype == torch.int64
    assert model.decode(codes).shape == (1, frames * 320)


@pytest.mark.parametrize("gl", [0, 4])
def test_chunked_coding_equals_whole_signal(gl):
    model = make(griffin_lim_iters=gl)
    x = tone(16000, 9.0)[None]
    whole = model.encode(torch.from_numpy(x), 6)[0].T.numpy()
    chunked = np.concatenate(list(encode_codes(model, x, 6, frames_per_chunk=60)))[:, 0]
    assert (whole == chunked).mean() > 0.99  # rare float near-ties flip a code; none sit at seams
    audio_whole = decode_whole(model, torch.from_numpy(whole.T[None]))[0].numpy()
    pieces = [whole[i:i + 37, None] for i in range(0, len(whole), 37)]
    audio_chunked = np.concatenate(list(decode_codes(model, pieces, block_frames=60)), axis=1)[0]
    assert audio_chunked.shape == audio_whole.shape
    assert np.abs(audio_whole - audio_chunked).max() < 1e-4


def test_griffin_lim_recovers_phase_from_true_magnitude():
    head = ISTFTHead(8, 640, 160)
    x = torch.from_numpy(tone(16000, 1.0))[None]
    spec = head.stft(x)
    mag = spec.abs()
    start = torch.ones_like(spec)
    err = lambda phase: (head.stft(head.istft(mag * phase)).abs() - mag).abs().mean() / mag.mean()
    assert err(head.griffin_lim(mag, start, 16)) < 0.5 * err(start)


def test_griffin_lim_model_trains_on_magnitudes():
    model = make(griffin_lim_iters=2)
    model.train()
    mag, q = model(torch.from_numpy(tone(16000, 0.5))[None])
    assert mag.shape == (1, 321, 50) and (mag > 0).all()


def test_sharpening_postfilter_keeps_frame_energy_and_deepens_valleys():
    from nac.codec.modules import sharpen_magnitude

    mag = torch.rand(2, 321, 50) + 0.01
    assert torch.allclose(sharpen_magnitude(mag, 1.0), mag, rtol=1e-5)
    sharp = sharpen_magnitude(mag, 1.2)
    assert torch.allclose(sharp.square().sum(1), mag.square().sum(1), rtol=1e-4)
    ratio = lambda m: (m.max(1).values / m.min(1).values).mean()  # noqa: E731
    assert ratio(sharp) > ratio(mag)


def test_postfilter_decode_shares_weights_and_changes_only_the_output(tiny_model_path):
    from nac.api import compress, decompress

    model = load_model(tiny_model_path)
    filtered = model.with_postfilter()
    assert filtered.cfg.sharpen > 1.0 and model.cfg.sharpen == 1.0
    assert filtered.decoder is model.decoder
    data = compress(tone(16000, 1.0)[None], 16000, 6, tiny_model_path)
    plain, _ = decompress(data, tiny_model_path)
    post, _ = decompress(data, tiny_model_path, postfilter=True)
    assert plain.shape == post.shape and not np.allclose(plain, post)
    assert np.array_equal(decompress(data, tiny_model_path)[0], plain)  # the cached model is untouched
