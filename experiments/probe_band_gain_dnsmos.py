#!/usr/bin/env python3
"""Probe: why the band-gain layer lowers DNSMOS (ship rule, reports/band_gain.md), and what the
decoder can do about it without new bits.

    python experiments/probe_band_gain_dnsmos.py [--model nac/pretrained/nac-16k-bg.pt] [--files 16]

Per dev speech file (every --stride-th, DC removed) at --kbps: DNSMOS OVRL and PESQ-WB of the
reference itself, of the codes alone, and of the gains applied (a) as coded, (b) smoothed over
time (3 STFT frames), (c) only where they cut (boosts dropped), (d) only below 4 kHz, (e) at
half strength; with --smoothing, time filters of 3 and 5 frames (box, triangle) instead.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import dev_clips, load  # noqa: E402

from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import dnsmos, pesq_wb  # noqa: E402


def smoothed(db: torch.Tensor, taps: list[float]) -> torch.Tensor:
    """dB gains (B, bins, frames) filtered along time by `taps` (normalised, centred)."""
    k = torch.tensor(taps) / sum(taps)
    pad = len(taps) // 2
    x = torch.nn.functional.pad(db.reshape(-1, 1, db.shape[-1]), (pad, pad), mode="replicate")
    return torch.nn.functional.conv1d(x, k[None, None]).reshape(db.shape)


def smoothing_variants(gains, mag: torch.Tensor, g: torch.Tensor) -> dict[str, torch.Tensor]:
    db = variants(gains, mag, g)["coded"]
    return {"coded": db, "box 3": smoothed(db, [1, 1, 1]), "triangle 3": smoothed(db, [1, 2, 1]),
            "box 5": smoothed(db, [1, 1, 1, 1, 1]), "triangle 5": smoothed(db, [1, 2, 3, 2, 1])}


def variants(gains, mag: torch.Tensor, g: torch.Tensor) -> dict[str, torch.Tensor]:
    b, _, n = g.shape
    per_frame = g.reshape(b, gains.subframes, gains.bands, n).permute(0, 2, 3, 1).reshape(b, gains.bands, -1)
    db = torch.einsum("fk,bkt->bft", gains.interp, per_frame)  # (B, bins, frames) dB
    smooth = torch.nn.functional.avg_pool1d(torch.nn.functional.pad(db, (1, 1), mode="replicate"), 3, 1)
    low = db.clone()
    low[:, 4000 * 640 // 16000:] = 0
    return {"coded": db, "smoothed": smooth, "cuts only": db.clamp(max=0), "below 4 kHz": low,
            "half": 0.5 * db}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "nac" / "pretrained" / "nac-16k-bg.pt"))
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--stride", type=int, default=6)
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--smoothing", action="store_true", help="compare time filters of the gains instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load(args.model, {})
    head, sr = model.decoder.head, model.sample_rate
    rows = []
    for name, x in dev_clips(args.dev, 0.0, args.stride, args.files, sr):
        wav = torch.from_numpy(x)[None]
        with torch.no_grad():
            codes = model.encode(wav, args.kbps)
            levels = model.cfg.gain_levels_for(codes.shape[1])
            mag, phase = model._spectrum(model.quantizer.decode(codes[:, :-levels]), None)
            g = model.gains.dequantize(codes[:, -levels:])
            outs = {"codes alone": mag}
            make = smoothing_variants if args.smoothing else variants
            outs.update({k: mag * 10 ** (v / 20) for k, v in make(model.gains, mag, g).items()})
            result = {"reference": (pesq_wb(x, x, sr), dnsmos(x, sr))}
            for key, m in outs.items():
                y = head.istft(m * head.griffin_lim(m, phase, model.decoder.griffin_lim_iters))[0].numpy()[: len(x)]
                result[key] = (pesq_wb(x, y, sr), dnsmos(y, sr))
        rows.append(result)
        print(name, " ".join(f"{k}={p:.2f}/{d:.2f}" for k, (p, d) in result.items()), flush=True)
    for key in rows[0]:
        p, _ = mean_ci([r[key][0] for r in rows])
        d, dci = mean_ci([r[key][1] - r["codes alone"][1] for r in rows])
        pd, pci = mean_ci([r[key][0] - r["codes alone"][0] for r in rows])
        print(f"{key:12s} PESQ {p:.3f} ({pd:+.3f} ± {pci:.3f})  DNSMOS vs codes alone {d:+.3f} ± {dci:.3f}")


if __name__ == "__main__":
    main()
