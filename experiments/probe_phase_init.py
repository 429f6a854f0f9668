#!/usr/bin/env python3
"""Probe: where should Griffin-Lim start? The decoder's own phase vs phase reconstructed from the
decoded magnitude (phase-gradient heap integration, PGHI: Prusa et al. 2017).

    python experiments/probe_phase_init.py [--model nac-16k] [--files 20] [--iters 16]

For each dev speech file >= 2.5 s: PESQ-WB of (a) the shipped decode, (b) PGHI start + the same
Griffin-Lim, (c) oracle: true magnitude with each start (checks the PGHI implementation).
"""
from __future__ import annotations

import argparse
import heapq
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # ab_eval, plot_training

from ab_eval import dev_clips, load  # noqa: E402

from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import pesq_wb  # noqa: E402

HANN_LAMBDA = 0.25645  # Gaussian with the same time-frequency spread as a Hann of length L: lambda = 0.25645 L^2


def phase_gradients(mag: np.ndarray, hop: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """(dphi/dm, dphi/dk) per bin and frame of (bins, frames) magnitudes, for frames cut at
    m * hop with the phase referred to the frame start (torch.stft with center=False)."""
    lam = HANN_LAMBDA * n_fft ** 2
    s = np.log(mag + 1e-12)
    k = np.arange(mag.shape[0])[:, None]
    # time direction: instantaneous frequency = k / M + M / (2 pi lambda) ds/dk
    dphi_dm = 2 * np.pi * hop * k / n_fft + hop * n_fft / lam * np.gradient(s, axis=0)
    # frequency direction: group delay from ds/dm (the window centre gives the -pi per bin)
    dphi_dk = -np.pi - lam / (hop * n_fft) * np.gradient(s, axis=1)
    return dphi_dm, dphi_dk


def pghi(mag: np.ndarray, hop: int, n_fft: int, tol: float = 1e-5) -> np.ndarray:
    """Phase (bins, frames) from magnitude (bins, frames), integrated from the loudest bin outwards."""
    bins, frames = mag.shape
    dphi_dm, dphi_dk = phase_gradients(mag, hop, n_fft)
    phase = np.random.default_rng(0).uniform(-np.pi, np.pi, mag.shape)
    done = mag < tol * mag.max()
    heap = []
    while not done.all():
        if not heap:
            idx = np.unravel_index(np.argmax(np.where(done, -1, mag)), mag.shape)
            phase[idx] = 0.0
            done[idx] = True
            heapq.heappush(heap, (-mag[idx], idx))
        _, (b, m) = heapq.heappop(heap)
        for nb, nm, step in ((b, m + 1, 0.5 * (dphi_dm[b, m] + dphi_dm[b, min(m + 1, frames - 1)])),
                             (b, m - 1, -0.5 * (dphi_dm[b, m] + dphi_dm[b, max(m - 1, 0)])),
                             (b + 1, m, 0.5 * (dphi_dk[b, m] + dphi_dk[min(b + 1, bins - 1), m])),
                             (b - 1, m, -0.5 * (dphi_dk[b, m] + dphi_dk[max(b - 1, 0), m]))):
            if 0 <= nb < bins and 0 <= nm < frames and not done[nb, nm]:
                phase[nb, nm] = phase[b, m] + step
                done[nb, nm] = True
                heapq.heappush(heap, (-mag[nb, nm], (nb, nm)))
    return phase


def polar(phase: np.ndarray) -> torch.Tensor:
    return torch.polar(torch.ones(phase.shape), torch.from_numpy(phase).float())[None]


def time_integrated(mag: np.ndarray, hop: int, n_fft: int) -> np.ndarray:
    """PGHI's time direction alone: each bin's phase advances by its instantaneous frequency
    (a cumulative sum, no heap), frames start at phase 0 in every bin."""
    dphi_dm = phase_gradients(mag, hop, n_fft)[0]
    return np.concatenate([np.zeros((mag.shape[0], 1)), np.cumsum(0.5 * (dphi_dm[:, 1:] + dphi_dm[:, :-1]), 1)], 1)


def synth(head, mag: torch.Tensor, phase: torch.Tensor, iters: int) -> np.ndarray:
    if iters:
        phase = head.griffin_lim(mag, phase, iters)
    return head.istft(mag * phase)[0].numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--iters", type=int, default=16)
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--oracle", action="store_true", help="also the true magnitude (checks PGHI)")
    ap.add_argument("--stride", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load(args.model, {})
    head, sr = model.decoder.head, model.sample_rate
    rows = []
    for name, x in dev_clips(args.dev, 2.5, args.stride, args.files, sr):
        with torch.no_grad():
            wav = torch.from_numpy(x)[None]
            codes = model.encode(wav, args.kbps)
            mag, phase = model._spectrum(model.quantizer.decode(codes), None)
            true = head.stft(model._pad(wav))[..., : mag.shape[-1]]
        n = len(x)
        result = {}
        starts = {"decoder": phase,
                  "pghi": polar(pghi(mag[0].numpy(), head.hop, head.n_fft)),
                  "time-only": polar(time_integrated(mag[0].numpy(), head.hop, head.n_fft))}
        for start, p in starts.items():
            for iters in (args.iters, 2 * args.iters):
                result[f"{start} gl{iters}"] = pesq_wb(x, synth(head, mag, p, iters)[:n], sr)
        if args.oracle:
            for start, p in (("pghi", polar(pghi(true.abs()[0].numpy(), head.hop, head.n_fft))), ("decoder", phase)):
                for iters in (0, args.iters):
                    result[f"oracle-mag+{start} gl{iters}"] = pesq_wb(x, synth(head, true.abs(), p, iters)[:n], sr)
        rows.append(result)
        print(name, " ".join(f"{k}={v:.3f}" for k, v in result.items()), flush=True)
    for key in rows[0]:
        mean, ci = mean_ci([r[key] for r in rows])
        diff, dci = mean_ci([r[key] - r[f"decoder gl{args.iters}"] for r in rows])
        print(f"{key:32s} PESQ {mean:.3f} ± {ci:.3f}   vs shipped {diff:+.3f} ± {dci:.3f}")


if __name__ == "__main__":
    main()
