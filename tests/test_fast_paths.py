"""The decode/encode fast paths compute what the plain torch code computes."""
import numpy as np
import soundfile as sf
import torch
from click.testing import CliRunner

from nac.api import decode_codes, encode_codes, load_model
from nac.backends.bf16 import Bf16Codec
from nac.cli import cli
from nac.codec.modules.spectral import ISTFTHead
from nac.eval.metrics import mel_distance
from tests.conftest import tone


def test_numpy_griffin_lim_matches_torch():
    head = ISTFTHead(8, 640, 160)
    spec = head.stft(torch.from_numpy(tone(16000, 2.0))[None])
    rng = torch.Generator().manual_seed(0)
    phase = torch.polar(torch.ones(spec.shape), torch.rand(spec.shape, generator=rng) * 6.28)
    with torch.no_grad():
        fast = head.istft(spec.abs() * head.griffin_lim(spec.abs(), phase, 8))
        plain = head.istft(spec.abs() * head._griffin_lim_torch(spec.abs(), phase, 8, 0.99))
    assert torch.allclose(fast, plain, atol=1e-4)


def test_quantizer_encode_is_nearest_neighbour(tiny_model_path):
    q = load_model(tiny_model_path).quantizer
    z = torch.randn(2, q.codebooks.shape[-1], 30)
    codes = q.encode(z, 3)
    residual = z.transpose(1, 2)
    for level in range(3):
        dist = torch.cdist(residual, q.codebooks[level][None])  # (B, N, codes)
        chosen = dist.gather(-1, codes[:, level, :, None])[..., 0]
        assert torch.allclose(chosen, dist.min(-1).values, atol=1e-5)  # nearest (ties: any of them)
        residual = residual - q.codebooks[level][codes[:, level]]


def test_bf16_decoder_close_to_fp32(tiny_model_path):
    model = load_model(tiny_model_path)
    x = tone(16000, 3.0)
    codes = list(encode_codes(model, x[None], 6))
    fp32 = np.concatenate(list(decode_codes(model, codes)), 1)[0]
    bf16 = np.concatenate(list(decode_codes(Bf16Codec.wrap(model), codes)), 1)[0]
    assert bf16.shape == fp32.shape and np.isfinite(bf16).all()
    assert mel_distance(fp32, bf16, 16000) < 0.1  # log10 mel power: ~1 dB


def test_decode_cli_bf16_backend(tmp_path, tiny_model_path):
    sf.write(tmp_path / "in.wav", tone(16000, 2.0), 16000)
    run = lambda *a: CliRunner().invoke(cli, [str(x) for x in a])  # noqa: E731
    assert run("encode", tmp_path / "in.wav", tmp_path / "x.nac", "--model", tiny_model_path).exit_code == 0
    r = run("decode", tmp_path / "x.nac", tmp_path / "a.wav", "--model", tiny_model_path, "--backend", "torch-bf16")
    assert r.exit_code == 0, r.output
    a, sr = sf.read(tmp_path / "a.wav")
    assert sr == 16000 and len(a) == 32000
