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
decoded magnitudes. Answered in reports/training.md, "Session 10" (measured with a float64 copy
of the algorithm that became `nac/codec/online_phase.py`; the module gives the same PESQ within
0.002 on a spot check, and this probe now calls it).
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
                unit = model.decoder.online_phase(mag, phase, model.with_config(
                    online_phase_lookahead=la, online_phase_iters=it).cfg)
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
