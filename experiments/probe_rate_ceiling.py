#!/usr/bin/env python3
"""Where does quality stop rising with bitrate: the quantizer, or the autoencoder behind it?

    python experiments/probe_rate_ceiling.py [MODEL ...] [--stride 4]

For each model (registry name or checkpoint, as `scripts/ab_eval.py` takes them): PESQ-WB and
mel distance of dev speech (>= 2.5 s, DC removed) decoded at 1.5 / 3 / 6 / 12 kbps and from the
encoder's latents with no quantization at all ("unquantized"). If the unquantized decode is
no better than 12 kbps, more bits cannot help: the encoder's latent space or the decoder is the
ceiling, not the rate. Answered in reports/training.md, "Session 8".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import dev_clips, load  # noqa: E402

from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import mel_distance, pesq_wb  # noqa: E402


@torch.no_grad()
def decode_at(model, x: np.ndarray, kbps: float | None) -> np.ndarray:
    wav = torch.from_numpy(x)[None]
    n = wav.shape[-1]
    wav = model._pad(wav)
    z = model.encoder(wav)
    if kbps is not None:
        z = model.quantizer.decode(model.quantizer.encode(z, model.n_q_for(kbps)))
    mag, phase = model.decoder.spectrum(z)
    return model.decoder.synthesize(mag, phase)[0, :n].numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=["nac-16k"])
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--stride", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(1)
    files = dev_clips(args.dev, 2.5, stride=args.stride)
    print(f"{len(files)} dev speech files >= 2.5 s (DC removed)")
    for spec in args.models:
        name, _, over = spec.partition("@")
        overrides = dict(kv.split("=") for kv in over.split(",")) if over else {}
        model = load(name, {k: int(v) if v.isdigit() else v for k, v in overrides.items()})
        for kbps in (1.5, 3.0, 6.0, 12.0, None):
            p, m = [], []
            for _, x in files:
                y = decode_at(model, x, kbps)
                p.append(pesq_wb(x, y, 16000))
                m.append(mel_distance(x, y, 16000))
            (pm, pc), (mm, mc) = mean_ci(p), mean_ci(m)
            label = f"{kbps:g} kbps" if kbps else "unquantized"
            print(f"{spec}: {label:>12}: PESQ {pm:.3f} ± {pc:.3f}, mel {mm:.3f} ± {mc:.3f}", flush=True)


if __name__ == "__main__":
    main()
