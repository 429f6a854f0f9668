"""The band-gain enhancement layer: analysis, residual VQ, synthesis and its place in the codec."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from conftest import TINY, tone
from nac import api, checkpoint
from nac.codec.band_gain import BandGains, mel_band_edges
from nac.codec.model import CodecConfig, NacCodec
from nac.container.bitstream import NacReader
from nac.train.band_gain_fit import fit_codebooks, kmeans

BINS, N_FFT, SR = 321, 640, 16000


def test_band_edges_cover_the_spectrum_in_ascending_bands():
    edges = mel_band_edges(BINS, 32, SR, N_FFT)
    assert edges[0] == 0 and edges[-1] == BINS and len(edges) == 33
    widths = np.diff(edges)
    assert (widths >= 1).all() and widths[-1] > widths[0]  # mel: wider at the top


def test_exact_gains_restore_each_bands_energy():
    gains = BandGains(BINS, 16, 1, 8, SR, N_FFT)
    torch.manual_seed(0)
    decoded = torch.rand(1, BINS, 20) + 0.1
    per_band = torch.linspace(-12, 12, 16)  # dB, one level per band
    true = decoded * 10 ** (per_band[torch.bucketize(torch.arange(BINS), torch.tensor(
        mel_band_edges(BINS, 16, SR, N_FFT)[1:-1]), right=True)][None, :, None] / 20)
    g = gains.analyse(true, decoded)
    assert g.shape == (1, 32, 10)
    assert torch.allclose(g[0, :16, 0], per_band, atol=1e-3)  # first sub-frame's 16 bands
    # flat bands (the outer ones, whose interpolation is flat) come back exactly
    corrected = gains.apply(decoded, g)
    assert torch.allclose(corrected[0, :3], true[0, :3], rtol=1e-3)


def test_residual_levels_lower_the_coding_error():
    torch.manual_seed(0)
    vectors = torch.randn(600, 8) * 4
    books = fit_codebooks(vectors, 3, 16, iters=10)
    gains = BandGains(BINS, 4, 3, 16, SR, N_FFT)
    gains.codebooks.copy_(books)
    x = vectors[:50].T[None]  # (1, dim, N)
    errors = [(gains.dequantize(gains.quantize(x, n)) - x).square().mean().item() for n in range(4)]
    assert errors == sorted(errors, reverse=True) and errors[3] < 0.5 * errors[0]
    with pytest.raises(ValueError):
        gains.quantize(x, 4)


def test_kmeans_finds_separated_clusters():
    torch.manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([c + 0.1 * torch.randn(100, 2) for c in centres])
    found = kmeans(x, 3, iters=10)
    assert torch.cdist(centres, found).min(1).values.max() < 0.5


@pytest.fixture(scope="module")
def gain_model_path(tiny_model_path, tmp_path_factory) -> str:
    """The tiny codec with a 3-level band-gain layer: 3 kbps = 1.5 kbps of codes + 3 gain levels."""
    base = api.load_model(tiny_model_path)
    cfg = CodecConfig(**{**TINY, "gain_bands": 8, "gain_levels": 6, "gain_plan": ((3.0, 3), (6.0, 6)),
                             "gain_smoothing": (1, 1, 1)})
    model = NacCodec(cfg, inference=True)
    model.load_state_dict(base.state_dict(), strict=False)
    torch.manual_seed(1)
    model.gains.codebooks.copy_(2 * torch.randn_like(model.gains.codebooks))
    path = tmp_path_factory.mktemp("models") / "tiny-bg.pt"
    checkpoint.save(path, {"kind": "codec", "name": "tiny-bg", "config": cfg.to_dict(),
                           "model": checkpoint.inference_state(model.state_dict(), half=False)})
    return str(path)


def test_gain_levels_ride_in_the_code_tensor(gain_model_path):
    model = api.load_model(gain_model_path)
    wav = torch.from_numpy(tone(SR, 1.0))[None]
    codes = model.encode(wav, 3.0)
    assert codes.shape[1] == 6 and model.cfg.gain_levels_for(6) == 3 and model.cfg.gain_levels_for(3) == 0
    # the gain rows are what the layer codes for this decoder's error on this input
    latent = codes[:, :3]
    mag, _ = model._spectrum(model.quantizer.decode(latent), None)
    true = model.decoder.head.stft(model._pad(wav))[..., : mag.shape[-1]].abs()
    assert torch.equal(codes[:, 3:], model.gains.quantize(model.gains.analyse(true, mag), 3))
    # with the gain codebooks zeroed the decode is the 1.5 kbps decode of the same latents
    zeroed = NacCodec(model.cfg, inference=True)
    zeroed.load_state_dict(model.state_dict())
    zeroed.gains.codebooks.zero_()
    zeroed.eval()
    assert torch.allclose(zeroed.decode(codes), zeroed.decode(latent), atol=1e-5)
    assert not torch.allclose(model.decode(codes), model.decode(latent), atol=1e-3)


def test_band_gain_stream_round_trips_and_other_models_refuse_it(gain_model_path, tiny_model_path):
    x = tone(SR, 1.5)
    data = api.compress(x, SR, kbps=3.0, model=gain_model_path)
    y, sr = api.decompress(data, model=gain_model_path)
    assert sr == SR and y.shape[-1] == len(x) and np.isfinite(y).all()
    # the model's hash already tells files apart; the stream's shape is checked on its own too
    with pytest.raises(api.ModelMismatchError, match="band-gain"):
        api.check_stream(NacReader(io.BytesIO(data)), api.load_model(tiny_model_path))
    plain = api.compress(x, SR, kbps=3.0, model=tiny_model_path)
    with pytest.raises(api.ModelMismatchError, match="band-gain"):
        api.check_stream(NacReader(io.BytesIO(plain)), api.load_model(gain_model_path))
    api.check_stream(NacReader(io.BytesIO(data)), api.load_model(gain_model_path))


def test_chunked_coding_equals_whole_file_coding(gain_model_path):
    """The encoder's gains need the decoder's spectrum of each window, so windows take its context."""
    model = api.load_model(gain_model_path)
    assert model.encoder.receptive_field < model.encoder_context_frames <= model.context_frames
    x = tone(SR, 6.0)
    whole = api.decompress(api.compress(x, SR, kbps=6.0, model=gain_model_path, frames_per_chunk=10_000),
                           model=gain_model_path)[0]
    chunked = api.decompress(api.compress(x, SR, kbps=6.0, model=gain_model_path, frames_per_chunk=40),
                             model=gain_model_path)[0]
    assert np.abs(whole - chunked).max() < 1e-4


def test_time_filter_keeps_a_steady_gain_and_halves_a_one_frame_blip():
    gains = BandGains(BINS, 8, 1, 4, SR, N_FFT, smoothing=(1, 1, 1))
    mag = torch.ones(1, BINS, 12)
    steady = gains.apply(mag, torch.full((1, 16, 6), 6.0))
    assert torch.allclose(steady, torch.full_like(steady, 10 ** (6 / 20)), rtol=1e-4)
    blip = torch.zeros(1, 16, 6)
    blip[0, :8, 3] = 9.0  # first sub-frame of code frame 3 = STFT frame 6
    out = 20 * torch.log10(gains.apply(mag, blip))
    assert torch.allclose(out[0, :, 6], torch.full((BINS,), 3.0), atol=1e-3)
    assert torch.allclose(out[0, :, 5], torch.full((BINS,), 3.0), atol=1e-3)
    with pytest.raises(ValueError):
        BandGains(BINS, 8, 1, 4, SR, N_FFT, smoothing=(1, 1))


def test_a_malformed_band_gain_field_is_a_metadata_error(gain_model_path):
    from nac.container.bitstream import MetadataError, validate_metadata

    reader = NacReader(io.BytesIO(api.compress(tone(SR, 0.5), SR, kbps=6.0, model=gain_model_path)))
    m = dict(reader.metadata)
    validate_metadata(m)
    with pytest.raises(MetadataError, match="band_gains"):
        validate_metadata({**m, "band_gains": 6})
