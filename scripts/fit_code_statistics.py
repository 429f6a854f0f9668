#!/usr/bin/env python3
"""Fit a shipped codec's code statistics (for `nac encode --entropy`) and store them in its checkpoint.

    python scripts/fit_code_statistics.py nac-16k [--data ../shared/data/train/speech ...]

Encodes the model's training audio at its highest bitrate (the first n levels of a residual VQ
are the same at every bitrate, so one fit serves all), counts codes per level and level-0
transitions (`nac/entropy.py`), writes them into nac/pretrained/MODEL.pt as `code_statistics`
and updates the registry's sha256. Run it again whenever the model's weights change (the
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
from nac.audio import read_audio, resample  # noqa: E402
from nac.compress import encode_codes, load_model  # noqa: E402
from nac.data import list_audio  # noqa: E402
from nac.entropy import CodeModel, CodeStatistics  # noqa: E402
from nac.registry import PRETRAINED_DIR, REGISTRY  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def file_codes(model, folder: Path, kbps: float) -> list[np.ndarray]:
    """(frames, levels) codes of every file (channels averaged to mono, as training saw them)."""
    from tqdm import tqdm

    out = []
    for path in tqdm(list_audio(folder), desc=f"codes of {folder.name}", leave=False):
        x, sr = read_audio(path)
        x = resample(x.mean(0, keepdims=True), sr, model.sample_rate)
        out.append(np.concatenate(list(encode_codes(model, x, kbps)), 0)[:, 0, :])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--data", type=Path, action="append",
                    help="training folders [default: ../shared/data/train/speech and train/music]")
    ap.add_argument("--dev", type=Path, default=SHARED / "dev" / "speech")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    card = REGISTRY[args.model]
    model = load_model(args.model)
    if model.pitch_levels:
        sys.exit(f"{args.model}: pitch-aware models are not entropy-coded yet (the pitch level's "
                 "position moves with the bitrate)")
    top = max(model.bitrates())
    arrays = [c for folder in (args.data or [SHARED / "train" / "speech", SHARED / "train" / "music"])
              for c in file_codes(model, folder, top)]
    stats = CodeStatistics.fit(arrays, model.cfg.codebook_size)
    coder = CodeModel(stats)
    dev = file_codes(model, args.dev, 6.0)
    raw = coded = 0
    for codes in dev:
        for start in range(0, len(codes), 250):
            chunk = codes[start:start + 250, None, :]
            raw += (chunk.size * model.cfg.bits_per_code + 7) // 8
            coded += len(coder.encode(chunk))
    print(f"{sum(len(a) for a in arrays)} training frames; dev speech at 6 kbps: "
          f"{coded} bytes entropy-coded vs {raw} bit-packed ({100 * (1 - coded / raw):.1f} % smaller)")
    path = PRETRAINED_DIR / card.filename
    ckpt = checkpoint.load(path)
    ckpt["code_statistics"] = stats.to_dict()
    checkpoint.save(path, {k: v for k, v in ckpt.items() if k != "version"})
    subprocess.run([sys.executable, str(ROOT / "scripts" / "register_model.py"), args.model], check=True)


if __name__ == "__main__":
    main()
