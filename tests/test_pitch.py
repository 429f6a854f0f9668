"""Pitch as a coded side channel: tracking, the 10-bit code, the comb, and a pitch-aware codec
(bitrates, chunked = whole decoding, warm start from a model without pitch, training)."""

import numpy as np
import pytest
import torch

from nac import checkpoint
from nac.api import decode_codes
from nac.codec import pitch
from nac.codec.model import CodecConfig, NacCodec
from nac.codec.streaming import decode_whole
from nac.train.trainer import Trainer
from tests.conftest import TINY
from tests.test_train import data_dir, small_cfg  # noqa: F401 - fixture reuse


def harmonic(f0: float, seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 20) if k * f0 < sr / 2).astype(np.float32)


@pytest.mark.parametrize("f0", [90.0, 150.0, 240.0])
def test_tracker_finds_the_f0_of_a_harmonic_tone(f0):
    per_frame = pitch.frame_f0(harmonic(f0), 16000, 320)
    voiced = per_frame[5:-5]
    assert len(per_frame) == 50 and (voiced > 0).all()
    assert np.median(np.abs(voiced / f0 - 1)) < 0.01


def test_silence_is_unvoiced():
    assert (pitch.frame_f0(np.zeros(16000, np.float32), 16000, 320) == 0).all()


def test_code_roundtrip_is_within_half_a_step():
    f0 = np.array([0.0, 50.0, 63.1, 100.0, 211.7, 440.0, 800.0])
    codes = pitch.quantize(f0)
    assert codes[0] == 0 and codes.min() >= 0 and codes.max() <= 1023
    back = pitch.dequantize(torch.from_numpy(codes)).numpy()
    assert back[0] == 0
    cents = 1200 * np.abs(np.log2(back[1:] / f0[1:]))
    assert cents.max() < 2.4  # half of a 4.7-cent step


def test_template_peaks_on_harmonics_and_is_zero_when_unvoiced():
    f0 = torch.tensor([[200.0, 0.0]])
    comb = pitch.harmonic_template(f0, 640, 16000)  # bins of 25 Hz
    assert comb.shape == (1, 321, 2)
    assert comb[0, 8, 0] == pytest.approx(1.0) and comb[0, 16, 0] == pytest.approx(1.0)  # 200, 400 Hz
    assert comb[0, 12, 0] < 0.01  # 300 Hz: between harmonics
    assert comb[0, 9, 0] == pytest.approx(0.5, abs=1e-3)  # one bin off: the Hann main lobe's half
    assert (comb[0, :, 1] == 0).all()


def test_upsampling_interpolates_between_voiced_frames_only():
    f0 = torch.tensor([[100.0, 200.0, 0.0]])
    up = pitch.upsample(f0)[0]
    assert up.shape == (6,)
    assert 100 < up[1] < 200 and 100 < up[2] < 200  # between the two voiced frames
    assert up[3] == pytest.approx(200.0) and (up[4:] == 0).all()


def pitch_model(**kw) -> NacCodec:
    torch.manual_seed(0)
    model = NacCodec(CodecConfig(**{**TINY, "pitch": True, **kw}))
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(np.stack([harmonic(120 + 40 * i, 1.0) for i in range(4)])))
    return model.eval()


def test_pitch_model_spends_one_level_of_every_bitrate_on_f0():
    model = pitch_model()
    assert model.quantizer.n_q == 23 and model.bitrates()[-1] == 12.0
    codes = model.encode(torch.from_numpy(harmonic(150.0)), 6)
    assert codes.shape == (1, 12, 50)
    f0 = pitch.dequantize(codes[0, -1, 5:-5])
    assert torch.allclose(f0, torch.full_like(f0, 150.0), rtol=0.01)
    assert model.decode(codes).shape == (1, 16000)


def test_quantizer_dropout_keeps_three_k_minus_one_levels():
    model = pitch_model()
    model.train()
    kept = set()
    for _ in range(40):
        _, q = model(torch.from_numpy(harmonic(150.0, 0.2))[None])
        kept.add(int((q.codes[0, :, 0] >= 0).sum()))
    assert kept <= {2, 5, 8, 11, 14, 17, 20, 23} and len(kept) > 3


@pytest.mark.parametrize("gl", [0, 4])
def test_pitch_model_chunked_decoding_equals_whole(gl):
    model = pitch_model(griffin_lim_iters=gl)
    x = np.concatenate([harmonic(130.0, 2.0), np.zeros(8000, np.float32), harmonic(210.0, 2.5)])
    codes = model.encode(torch.from_numpy(x), 3)[0].T.numpy()  # (frames, n_q)
    whole = decode_whole(model, torch.from_numpy(codes.T[None]))[0].numpy()
    pieces = [codes[i:i + 37, None] for i in range(0, len(codes), 37)]
    chunked = np.concatenate(list(decode_codes(model, pieces, block_frames=60)), axis=1)[0]
    assert np.abs(whole - chunked).max() < 1e-4


def test_pitch_model_warm_starts_from_a_model_without_pitch(tmp_path, data_dir):  # noqa: F811
    Trainer(CodecConfig(**TINY), small_cfg(steps=2), [str(data_dir)], tmp_path / "a", progress=False).train()
    exported = tmp_path / "m.pt"
    checkpoint.export(tmp_path / "a" / "latest.pt", exported, "tiny")
    trainer = Trainer(CodecConfig(**TINY, pitch=True), small_cfg(steps=4), [str(data_dir)], tmp_path / "b",
                      progress=False, init=str(exported))
    assert trainer.step == 2 and trainer.pitch_tracks is not None
    pitch_layers = trainer.model.decoder.pitch
    assert all((p == 0).all() for p in pitch_layers.parameters())  # starts as the model it came from
    trainer.train()
    assert any((p != 0).any() for p in trainer.model.decoder.pitch.parameters())  # and learns
    assert (tmp_path / "b" / "pitch_tracks.pt").exists()
