#!/usr/bin/env python3
"""Can the shipped decoder's phase come from a few frames of look-ahead instead of whole-file
Griffin-Lim?

    python experiments/probe_online_phase.py [--stride 4] [--kbps 6]

Griffin-Lim (32 iterations over the whole signal) is the shipped `nac-16k` decoder's phase and
1.54 s of its streaming look-ahead. RTISI-LA (Zhu, Beauregard & Wyse 2007) makes the phase frame
by frame: each new STFT frame starts from the decoder's phase guess, the newest `lookahead + 1`
frames are refined for a few iterations against everything already committed, and the oldest is
committed for good, so a frame's phase depends only on `lookahead` future frames (10 ms each).
This prints PESQ-WB and mel distance (dev speech >= 2.5 s, DC removed) for the phase guess alone,
offline Griffin-Lim 32 and RTISI-LA at several look-aheads / iteration counts, all on the same
decoded magnitudes. Answered in reports/training.md, "Session 10".
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import dev_clips, load  # noqa: E402

from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import mel_distance, pesq_wb  # noqa: E402


def rtisi_la(mag: np.ndarray, guess: np.ndarray, n_fft: int, hop: int, lookahead: int, iters: int
             ) -> np.ndarray:
    """Unit phasors (N, bins) for magnitudes (N, bins), made one frame at a time.

    Frame m enters with the phase guess; frames m - lookahead .. m are then refined together
    (`iters` projections onto consistent spectra, against the committed frames' overlap), after
    which frame m - lookahead is final."""
    n, _ = mag.shape
    overlap = n_fft // hop
    window = np.hanning(n_fft + 1)[:-1].astype(np.float64)  # periodic Hann, as torch.hann_window
    norm = (window ** 2).sum() / hop  # the steady-state overlap-add envelope
    spec = np.zeros(mag.shape, np.complex128)
    for m in range(n + lookahead):
        if m < n:
            spec[m] = mag[m] * guess[m]
        lo, hi = max(0, m - lookahead), min(n, m + 1)  # the frames being refined
        ctx = max(0, lo - overlap + 1)  # committed frames that overlap them
        for _ in range(iters):
            frames = np.fft.irfft(spec[ctx:hi], n_fft, axis=-1) * window
            signal = np.zeros((hi - ctx - 1) * hop + n_fft)
            for i, f in enumerate(frames):
                signal[i * hop:i * hop + n_fft] += f
            signal /= norm
            starts = (np.arange(lo, hi) - ctx) * hop
            cut = np.stack([signal[s:s + n_fft] for s in starts]) * window
            rebuilt = np.fft.rfft(cut, axis=-1)
            spec[lo:hi] = mag[lo:hi] * rebuilt / (np.abs(rebuilt) + 1e-8)
    return spec / (np.abs(spec) + 1e-12)


@torch.no_grad()
def decoded_spectrum(model, x: np.ndarray, kbps: float):
    wav = model._pad(torch.from_numpy(x)[None])
    z = model.quantizer.decode(model.quantizer.encode(model.encoder(wav), model.n_q_for(kbps)))
    return model.decoder.spectrum(z)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--settings", default="0x0,32x0,1x8,3x4,3x8,3x16,5x8",
                    help="lookahead x iterations; 0x0 = the phase guess, 32x0 = offline Griffin-Lim 32")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load(args.model, {})
    head = model.decoder.head
    files = dev_clips(args.dev, 2.5, stride=args.stride)
    print(f"{len(files)} dev speech files >= 2.5 s (DC removed), {args.model} at {args.kbps:g} kbps")
    spectra = [(x, decoded_spectrum(model, x, args.kbps)) for _, x in files]
    for setting in args.settings.split(","):
        la, it = (int(v) for v in setting.split("x"))
        p, d, seconds, audio = [], [], 0.0, 0.0
        for x, (mag, phase) in spectra:
            t0 = time.perf_counter()
            if (la, it) == (0, 0):
                unit = phase
            elif it == 0:  # offline Griffin-Lim with `la` iterations
                unit = head.griffin_lim(mag, phase, la)
            else:
                m = mag[0].T.double().numpy()
                g = phase[0].T.numpy().astype(np.complex128)
                unit = torch.from_numpy(rtisi_la(m, g, head.n_fft, head.hop, la, it).T[None]).to(phase.dtype)
            y = head.istft(mag * unit)[0, :len(x)].numpy()
            seconds += time.perf_counter() - t0
            audio += len(x) / 16000
            p.append(pesq_wb(x, y, 16000))
            d.append(mel_distance(x, y, 16000))
        (pm, pc), (dm, dc) = mean_ci(p), mean_ci(d)
        label = ("phase guess" if (la, it) == (0, 0) else f"Griffin-Lim {la}, offline" if it == 0
                 else f"RTISI-LA, {la} frames ahead, {it} it.")
        print(f"{label:>32}: PESQ {pm:.3f} ± {pc:.3f}  mel {dm:.3f} ± {dc:.3f}  "
              f"{audio / seconds:.0f}x real time", flush=True)


if __name__ == "__main__":
    main()
