#!/usr/bin/env python3
"""Probe: can bits sent *beside* the codes make quality rise with bitrate? (issue "Decoder v2")

    python experiments/probe_mag_residual.py [--files 12] [--kbps 3 6]

Griffin-Lim on the true magnitude scores PESQ ~4.2 on dev speech, the shipped decoder's
magnitude ~2.2, and more RVQ levels do not close the gap (the latent space is the ceiling,
reports/training.md). An enhancement layer would code what the decoder got wrong: the residual
log magnitude r = log|X| - log|X_hat| on the decoder's own STFT grid. This probe measures the
ceiling of that idea before building it: PESQ-WB after the shipped Griffin-Lim for r sent
(a) per band (energy ratio in B bands, interpolated across bins), (b) per bin, each quantized
with step D dB, and the bits it would cost (empirical entropy of the symbols: a lower bound for
an adaptive range coder, per second of audio).
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
from nac.eval.metrics import pesq_wb  # noqa: E402

DB = 20 / np.log(10)


def band_edges(bins: int, bands: int, sr: int, n_fft: int) -> np.ndarray:
    """Band edges (bin indices) equally spaced on the mel scale."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = 700 * (10 ** (np.linspace(0, mel(sr / 2), bands + 1) / 2595) - 1)
    edges = np.unique(np.round(hz / sr * n_fft).astype(int).clip(0, bins))
    edges[-1] = bins
    return edges


def entropy_bits(symbols: np.ndarray) -> float:
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def band_residual(true: np.ndarray, dec: np.ndarray, edges: np.ndarray, step_db: float | None):
    """Per-frame band gains (log energy ratio / 2), quantized; (gain per bin, symbols)."""
    gains = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        e_true = (true[lo:hi] ** 2).sum(0) + 1e-9
        e_dec = (dec[lo:hi] ** 2).sum(0) + 1e-9
        gains.append(0.5 * np.log(e_true / e_dec))
    g = np.stack(gains)  # (bands, frames), nats
    sym = None
    if step_db:
        sym = np.round(g * DB / step_db).astype(int)
        g = sym * step_db / DB
    centres = 0.5 * (edges[:-1] + edges[1:] - 1)
    per_bin = np.stack([np.interp(np.arange(true.shape[0]), centres, g[:, t]) for t in range(g.shape[1])], 1)
    return per_bin, sym


def bin_residual(true: np.ndarray, dec: np.ndarray, step_db: float, floor_db: float = -60.0):
    """Per-bin log ratio, quantized; bins below the frame's peak - floor are left alone."""
    r = np.log((true + 1e-9) / (dec + 1e-9))
    peak = np.log(true.max(0, keepdims=True) + 1e-9)
    active = np.log(true + 1e-9) > peak + floor_db / DB
    sym = np.where(active, np.round(r * DB / step_db), 0).astype(int)
    return sym * step_db / DB, sym


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--stride", type=int, default=5)
    ap.add_argument("--kbps", type=float, nargs="+", default=[3.0, 6.0])
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load(args.model, {})
    head, sr = model.decoder.head, model.sample_rate
    iters = model.decoder.griffin_lim_iters
    rows = []
    for name, x in dev_clips(args.dev, 2.5, args.stride, args.files, sr):
        wav = torch.from_numpy(x)[None]
        n = len(x)
        result = {}
        for kbps in args.kbps:
            with torch.no_grad():
                mag, phase = model._spectrum(model.quantizer.decode(model.encode(wav, kbps)), None)
                true = head.stft(model._pad(wav))[..., : mag.shape[-1]].abs()
            t, d = true[0].numpy(), mag[0].numpy()
            seconds = d.shape[1] * head.hop / sr

            def render(log_gain: np.ndarray) -> float:
                m = torch.from_numpy((d * np.exp(log_gain)).astype(np.float32))[None]
                with torch.no_grad():
                    y = head.istft(m * head.griffin_lim(m, phase, iters))[0].numpy()
                return pesq_wb(x, y[:n], sr)

            result[f"{kbps:g} base"] = (render(np.zeros_like(d)), 0.0)
            for bands in (16, 32):
                edges = band_edges(d.shape[0], bands, sr, head.n_fft)
                for step in (None, 3.0, 6.0):
                    g, sym = band_residual(t, d, edges, step)
                    bits = 0.0 if sym is None else min(entropy_bits(sym), entropy_bits(np.diff(sym, axis=1, prepend=0)))
                    result[f"{kbps:g} band{bands} {step or 'exact'}"] = (render(g), bits / seconds / 1000)
            for step in (3.0, 6.0, 10.0):
                g, sym = bin_residual(t, d, step)
                result[f"{kbps:g} bin {step}"] = (render(g), entropy_bits(sym) / seconds / 1000)
        rows.append(result)
        print(name, " ".join(f"{k}={v[0]:.2f}" for k, v in result.items()), flush=True)
    for key in rows[0]:
        base = key.split()[0] + " base"
        mean, _ = mean_ci([r[key][0] for r in rows])
        diff, dci = mean_ci([r[key][0] - r[base][0] for r in rows])
        kbps = np.mean([r[key][1] for r in rows])
        print(f"{key:22s} PESQ {mean:.3f}  vs codes alone {diff:+.3f} ± {dci:.3f}  side info {kbps:6.2f} kbps")


if __name__ == "__main__":
    main()
