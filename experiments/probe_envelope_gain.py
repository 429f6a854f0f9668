#!/usr/bin/env python3
"""Can the rendering correct the input's own band instead of only filling the band above it?

    python experiments/probe_envelope_gain.py runs/campaign-restore-latent/latest.pt [--stride 4]

Phone recordings are not damaged only above a cutoff: their band is tilted, band-passed,
reverberant and noisy. Keeping the input below its bandwidth (what ships) cannot fix that;
rendering all of it through the codec loses the input's fine structure (PESQ -0.16). Between the
two: keep the input's fine structure and phase, but give it the rendering's spectral envelope,
i.e. multiply its STFT by G = sqrt(S|R|^2 / S|X|^2) (S: smoothing over `--smooth-bins` bins and
3 frames), G bounded to +-`gain_db`; above the cutoff the rendering as before.
Prints paired changes (95 % CI) against the degraded input of PESQ-WB, DNSMOS OVRL, LSD and,
with --visqol, ViSQOL on files >= 2.5 s. Answered in reports/restore_training.md, "Session 8".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import uniform_filter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import dev_clips  # noqa: E402

from nac import checkpoint  # noqa: E402
from nac.api import load_model  # noqa: E402
from nac.codec.modules import ISTFTHead  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import dnsmos, lsd, pesq_wb, visqol  # noqa: E402
from nac.io.audio import list_audio, read_audio, resample  # noqa: E402
from nac.io.sources import measure_bandwidth  # noqa: E402
from nac.restore.latent import keep_reliable_band, load_latent_restorer, render  # noqa: E402
from nac.train import degrade  # noqa: E402


def noise_clips(folder: Path, limit: int = 40) -> list[np.ndarray]:
    out = []
    for f in list_audio(folder)[:limit]:
        x, sr = read_audio(f)
        out.append(resample(x.mean(0, keepdims=True), sr, 16000)[0])
    return out


def envelope_gain(original: np.ndarray, rendered: np.ndarray, cutoff_hz: float, gain_db: float,
                  smooth_bins: int, crossfade_hz: float = 400.0, n_fft: int = 640, hop: int = 160) -> np.ndarray:
    head = ISTFTHead(1, n_fft, hop)
    n = original.shape[-1]
    pad = (-n) % hop
    x = torch.nn.functional.pad(torch.from_numpy(original[None].astype(np.float32)), (0, pad))
    y = torch.nn.functional.pad(torch.from_numpy(rendered[None].astype(np.float32)), (0, pad))
    sx, sy = head.stft(x), head.stft(y)
    px = uniform_filter(sx.abs().numpy()[0] ** 2, size=(smooth_bins, 3), mode="nearest")
    py = uniform_filter(sy.abs().numpy()[0] ** 2, size=(smooth_bins, 3), mode="nearest")
    bound = 10 ** (gain_db / 20)
    gain = torch.from_numpy(np.clip(np.sqrt((py + 1e-10) / (px + 1e-10)), 1 / bound, bound))[None]
    bin_hz = torch.arange(n_fft // 2 + 1) * (16000 / n_fft)
    keep = ((cutoff_hz - bin_hz) / crossfade_hz).clamp(0, 1)[None, :, None]
    out = head.istft(keep * gain * sx + (1 - keep) * sy)
    return out[0, :n].numpy().astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("restorer")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--noise", type=Path, default=ROOT.parent / "shared" / "data" / "noise")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--conditions", nargs="*", default=["phone", "phone+noise", "bw8000", "opus6"])
    ap.add_argument("--gains", nargs="*", type=float, default=[6.0, 12.0])
    ap.add_argument("--smooth-bins", nargs="*", type=int, default=[9])
    ap.add_argument("--visqol", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    restorer = load_latent_restorer(checkpoint.load(args.restorer))
    codec = load_model(restorer.cfg.codec)
    noise = noise_clips(args.noise)
    conditions = {
        "phone": lambda x, rng: degrade.phone(x, 16000, rng),
        "phone+noise": lambda x, rng: degrade.phone(x, 16000, rng, noise, (5, 25)),
        "bw8000": lambda x, rng: degrade.bandlimit(x, 16000, 8000),
        "opus6": lambda x, rng: degrade.opus(x, 16000, 6),
    }
    files = dev_clips(args.dev, 0.0, stride=args.stride)
    variants = ["keep"] + [f"env{g:g}dB/{k}" for g in args.gains for k in args.smooth_bins]
    print(f"{len(files)} dev speech files (DC removed), restorer step {checkpoint.load(args.restorer)['step']}")

    def scores(x, y):
        out = {"pesq": pesq_wb(x, y, 16000), "dnsmos": dnsmos(y, 16000), "lsd": lsd(x, y, 16000)}
        if args.visqol and len(x) >= 2.5 * 16000:
            out["visqol"] = visqol(x, y, 16000, "speech")
        return out

    for name in args.conditions:
        rng = np.random.default_rng(0)
        rows = {v: [] for v in ["input"] + variants}
        for _, x in files:
            d = conditions[name](x, rng).astype(np.float32)
            cutoff = measure_bandwidth(d[None], 16000)
            full = render(d[None], restorer, codec)[0]
            rows["input"].append(scores(x, d))
            rows["keep"].append(scores(x, keep_reliable_band(d[None], full[None], 16000, cutoff, 400.0)[0]))
            for g in args.gains:
                for k in args.smooth_bins:
                    rows[f"env{g:g}dB/{k}"].append(scores(x, envelope_gain(d, full, cutoff, g, k)))
        for metric in ("pesq", "visqol", "dnsmos", "lsd"):
            base = [r.get(metric) for r in rows["input"]]
            if not any(b is not None for b in base):
                continue
            cells = [f"{name:>11} {metric:>6} {np.mean([b for b in base if b is not None]):.3f}"]
            for v in variants:
                m, ci = mean_ci([r[metric] - b for r, b in zip(rows[v], base) if b is not None])
                cells.append(f"{v} {m:+.3f}±{ci:.3f}")
            print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
