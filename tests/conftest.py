"""Shared fixtures: a tiny randomly initialised codec checkpoint and generated test signals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nac import checkpoint
from nac.codec.model import CodecConfig, NacCodec

# The models under test are tiny: one thread is faster than two and leaves a core free.
torch.set_num_threads(1)

TINY = dict(encoder_dim=32, decoder_dim=32, encoder_depth=(1, 1), decoder_depth=(1, 1), latent_dim=16, n_q=24)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> str:
    """A codec with the real architecture, small and untrained, saved as a checkpoint."""
    torch.manual_seed(0)
    cfg = CodecConfig(**TINY)
    model = NacCodec(cfg)
    model.train()
    with torch.no_grad():  # run k-means init so the codebooks are data-like, not zeros
        model(torch.from_numpy(tone(16000, 4.0, 330.0)[None].repeat(4, 0)))
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    checkpoint.save(path, {"kind": "codec", "name": "tiny", "config": cfg.to_dict(), "model": model.state_dict()})
    return str(path)


def tone(sr: int, seconds: float, freq: float = 440.0, channels: int = 0, seed: int = 0) -> np.ndarray:
    """A chirp-modulated tone plus a little noise; (T,) if channels == 0 else (channels, T)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * (freq * t + 50 * t**2)) + 0.01 * rng.standard_normal(len(t))
    x = x.astype(np.float32)
    if channels == 0:
        return x
    return np.stack([x * (0.5 + 0.5 * c / max(1, channels - 1)) for c in range(channels)])


@pytest.fixture(scope="session")
def tiny_restorer_path(tmp_path_factory) -> str:
    from nac.restore.restorer import RestoreConfig, Restorer

    torch.manual_seed(0)
    cfg = RestoreConfig(dim=16, depth=2)
    model = Restorer(cfg)
    with torch.no_grad():  # make the correction non-trivial so seams would show
        model.head.proj.weight.normal_(0, 0.05)
        model.head.proj.bias.zero_()
    path = tmp_path_factory.mktemp("models") / "tiny_restore.pt"
    checkpoint.save(path, {"kind": "restore", "name": "tiny-restore", "config": cfg.to_dict(),
                           "model": model.state_dict()})
    return str(path)


@pytest.fixture(scope="session")
def tiny_enhancer_path(tmp_path_factory) -> str:
    """A small enhancer with random (not identity) outputs, saved as a checkpoint."""
    from nac.restore.enhancer import Enhancer, EnhancerConfig

    torch.manual_seed(0)
    cfg = EnhancerConfig(hidden=16, gru_layers=1)
    model = Enhancer(cfg)
    with torch.no_grad():  # move every head off its identity start so differences would show
        for head in (model.net.gain, model.net.ext_gain, model.net.df):
            head.weight.normal_(0, 0.3)
    path = tmp_path_factory.mktemp("models") / "tiny_enhancer.pt"
    checkpoint.save(path, {"kind": "enhancer", "name": "tiny-enhancer", "config": cfg.to_dict(),
                           "model": model.state_dict()})
    return str(path)
