#!/usr/bin/env python3
"""Fit a shipped codec's code statistics (for `nac encode --entropy`) and store them in its checkpoint.

    python scripts/fit_code_statistics.py nac-16k [--data ../shared/data/train/speech ...]

Encodes the model's training audio at its highest bitrate (the first n levels of a residual VQ
are the same at every bitrate, so one fit serves all), counts codes per level and level-0
transitions (`nac/entropy.py`), then sets each level's lambda (--rate-bias x the squared error
left after the level, per bit) and fits again on the codes an entropy-coding encoder picks with
it (one Lloyd step of entropy-constrained VQ); writes the result into nac/pretrained/MODEL.pt as
`code_statistics` and updates the registry's sha256. Run it again whenever the model's weights change (the
campaign's shipping script does). Prints the bits per frame the statistics give on dev speech.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac import checkpoint  # noqa: E402
from nac.api import encode_codes, load_model  # noqa: E402
from nac.container.entropy import CodeModel, CodeStatistics  # noqa: E402
from nac.io.audio import (  # noqa: E402
    list_audio,  # noqa: E402
    read_audio,
    resample,
)
from nac.registry import PRETRAINED_DIR, REGISTRY  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
# lambda_l = RATE_BIAS * (squared error left after level l) / bits per code, level 0 excluded.
# All 100 dev speech files, 6 kbps (experiments/probe_rate_bias.py --refit 300 --min-seconds 0):
# RATE_BIAS 0.5 -> 13.5 % smaller than bit-packed, PESQ-WB -0.003 +- 0.014 vs nearest codes;
# 0.75 -> 18.9 %, -0.019 +- 0.030; 0.75 with level 0 unbiased -> 18.6 %, -0.011 +- 0.013.
RATE_BIAS = 0.75


def mono(path: Path, sr: int) -> np.ndarray:
    """(1, T) at `sr`, channels averaged (as training saw them)."""
    x, file_sr = read_audio(path)
    return resample(x.mean(0, keepdims=True), file_sr, sr)


def file_codes(model, folder: Path, kbps: float, rate_cost: np.ndarray | None = None) -> list[np.ndarray]:
    """(frames, levels) codes of every file in `folder`."""
    from tqdm import tqdm

    return [np.concatenate(list(encode_codes(model, mono(path, model.sample_rate), kbps, rate_cost=rate_cost)),
                           0)[:, 0, :]
            for path in tqdm(list_audio(folder), desc=f"codes of {folder.name}", leave=False)]


def latents(model, path: Path):
    """(1, D, N) encoder latents of a file."""
    import torch

    with torch.no_grad():
        return model._latents(model._pad(torch.from_numpy(mono(path, model.sample_rate))))


def residual_energy(model, latent_list, levels: int) -> np.ndarray:
    """Mean squared error left in (1, D, N) latents after each of the first `levels` levels of
    nearest-neighbour codes."""
    books, sums, frames = model.quantizer.codebooks, np.zeros(levels), 0
    for z in latent_list:
        codes = model.quantizer.encode(z, levels)[0]
        residual = z[0].T
        for level in range(levels):
            residual = residual - books[level][codes[level]]
            sums[level] += residual.square().sum().item()
        frames += residual.shape[0]
    return sums / frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--data", type=Path, action="append",
                    help="training folders [default: ../shared/data/train/speech and train/music]")
    ap.add_argument("--dev", type=Path, default=SHARED / "dev" / "speech")
    ap.add_argument("--rate-bias", type=float, default=RATE_BIAS,
                    help="lambda scale of the entropy-coding encoder; 0 keeps nearest-neighbour codes")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    card = REGISTRY[args.model]
    model = load_model(args.model)
    if model.pitch_levels:
        sys.exit(f"{args.model}: pitch-aware models are not entropy-coded yet (the pitch level's "
                 "position moves with the bitrate)")
    top = max(model.bitrates())
    folders = args.data or [SHARED / "train" / "speech", SHARED / "train" / "music"]
    stats = CodeStatistics.fit([c for folder in folders for c in file_codes(model, folder, top)],
                               model.cfg.codebook_size)
    if args.rate_bias:
        levels = model.n_q_for(top)
        sample = [p for folder in folders for p in list_audio(folder)[::10]]
        energy = residual_energy(model, (latents(model, p) for p in sample), levels)
        stats.distortion_per_bit = args.rate_bias * energy / model.cfg.bits_per_code
        # level 0 keeps its nearest codes: its bits already drop through the previous-frame
        # context, and biasing it saved little for most of the quality cost (RATE_BIAS note)
        stats.distortion_per_bit[0] = 0.0
        rate_cost = CodeModel(stats).rate_cost(levels)
        stats = CodeStatistics.fit([c for folder in folders for c in file_codes(model, folder, top, rate_cost)],
                                   model.cfg.codebook_size, stats.distortion_per_bit)
    coder = CodeModel(stats)
    raw = coded = 0
    for codes in file_codes(model, args.dev, 6.0, coder.rate_cost(model.n_q_for(6.0))):
        for start in range(0, len(codes), 250):
            chunk = codes[start:start + 250, None, :]
            raw += (chunk.size * model.cfg.bits_per_code + 7) // 8
            coded += len(coder.encode(chunk))
    print(f"{int(stats.unigram[0].sum())} training frames; dev speech at 6 kbps: "
          f"{coded} bytes entropy-coded vs {raw} bit-packed ({100 * (1 - coded / raw):.1f} % smaller)")
    path = PRETRAINED_DIR / card.filename
    ckpt = checkpoint.load(path)
    ckpt["code_statistics"] = stats.to_dict()
    checkpoint.save(path, {k: v for k, v in ckpt.items() if k != "version"})
    subprocess.run([sys.executable, str(ROOT / "scripts" / "register_model.py"), args.model], check=True)


if __name__ == "__main__":
    main()
