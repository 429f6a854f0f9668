#!/usr/bin/env python3
"""Probe: the band-gain layer with real codebooks (nac/codec/band_gain.py), not entropy bounds.

    python experiments/probe_band_gain_vq.py [--train-stride 6] [--files 10] [--bands 32]

Fits `--levels` residual-VQ codebooks of 1024 on the gain vectors nac-16k leaves on every
`--train-stride`-th training speech file (decoding its own `--fit-kbps` codes), then scores PESQ-WB
on dev speech for every (code kbps, gain levels) pair: total rate = code kbps + 0.5 kbps per
gain level. Saves the codebooks to runs/band_gain/ for scripts/fit_band_gains.py to reuse.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import dev_clips, load  # noqa: E402

from nac.codec.band_gain import BandGains  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import pesq_wb  # noqa: E402
from nac.train.band_gain_fit import fit_codebooks, gain_vectors  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--train-stride", type=int, default=6)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--stride", type=int, default=7)
    ap.add_argument("--bands", type=int, default=32)
    ap.add_argument("--levels", type=int, default=12)
    ap.add_argument("--fit-kbps", type=float, default=3.0)
    ap.add_argument("--kbps", type=float, nargs="+", default=[1.5, 3.0, 6.0])
    ap.add_argument("--gain-levels", type=int, nargs="+", default=[0, 3, 6, 9, 12])
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load(args.model, {})
    cfg = model.cfg
    gains = BandGains(cfg.n_fft // 2 + 1, args.bands, args.levels, cfg.codebook_size, cfg.sample_rate, cfg.n_fft)
    out = ROOT / "runs" / "band_gain"
    out.mkdir(parents=True, exist_ok=True)
    books_path = out / f"books_b{args.bands}_l{args.levels}_s{args.train_stride}.pt"
    if books_path.exists():
        gains.codebooks.copy_(torch.load(books_path))
    else:
        t0 = time.time()
        train = [x for _, x in dev_clips(args.data / "train" / "speech", 0.0, args.train_stride, None, cfg.sample_rate)]
        vectors = gain_vectors(model, train, [args.fit_kbps], gains)
        print(f"{len(train)} training files, {len(vectors)} gain vectors ({time.time() - t0:.0f} s)", flush=True)
        gains.codebooks.copy_(fit_codebooks(vectors, args.levels, cfg.codebook_size))
        torch.save(gains.codebooks, books_path)
        print(f"fitted in {time.time() - t0:.0f} s", flush=True)
    head, sr = model.decoder.head, cfg.sample_rate
    rows = []
    for name, x in dev_clips(args.data / "dev" / "speech", 2.5, args.stride, args.files, sr):
        wav = torch.from_numpy(x)[None]
        result = {}
        with torch.no_grad():
            true = None
            for kbps in args.kbps:
                mag, phase = model._spectrum(model.quantizer.decode(model.encode(wav, kbps)), None)
                if true is None:
                    true = head.stft(model._pad(wav))[..., : mag.shape[-1]].abs()
                g = gains.analyse(true, mag)
                for levels in args.gain_levels:
                    m = gains.apply(mag, gains.dequantize(gains.quantize(g, levels)))
                    y = head.istft(m * head.griffin_lim(m, phase, model.decoder.griffin_lim_iters))[0].numpy()
                    result[(kbps, levels)] = pesq_wb(x, y[: len(x)], sr)
        rows.append(result)
        print(name, " ".join(f"{k}+{g}={v:.2f}" for (k, g), v in result.items()), flush=True)
    for key in rows[0]:
        mean, _ = mean_ci([r[key] for r in rows])
        diff, dci = mean_ci([r[key] - r[(key[0], 0)] for r in rows])
        print(f"codes {key[0]:4g} kbps + {key[1]:2d} gain levels = {key[0] + 0.5 * key[1]:5.1f} kbps:"
              f" PESQ {mean:.3f}  ({diff:+.3f} ± {dci:.3f} over codes alone)")


if __name__ == "__main__":
    main()
