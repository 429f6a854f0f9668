#!/usr/bin/env python3
"""Recipe: add a band-gain enhancement layer (nac/codec/band_gain.py) to a trained codec.

    python scripts/fit_band_gains.py [--base nac-16k] [--out nac/pretrained/nac-16k-bg.pt] \\
        [--bands 32] [--levels 12] [--plan 3:3,4.5:3,6:6,7.5:9,9:12,10.5:12,12:12]

The codec's weights are copied unchanged; what is fitted is a residual VQ (`--levels` codebooks
of the codec's codebook size) of the band gains its decoder needs on training speech and music
(every `--stride`-th file of DATA/train/speech and DATA/train/music) when decoding its own latent
codes at the `--fit-kbps` rates (file by file in turn: the latent rates the plan puts gains on).
`--plan kbps:levels,...`: at each listed bitrate that many of its levels code gains instead of
latents (the defaults: the best split per rate measured in reports/band_gain.md). Writes a
checkpoint (version, config, weights, fp16) and prints its sha256 for nac/registry.py; no code
statistics (`--entropy` is off for it).
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

from ab_eval import dev_clips  # noqa: E402

from nac import checkpoint  # noqa: E402
from nac.api import load_model  # noqa: E402
from nac.codec.model import CodecConfig, NacCodec  # noqa: E402
from nac.registry import load_checkpoint  # noqa: E402
from nac.train.band_gain_fit import fit_codebooks, gain_vectors  # noqa: E402


def parse_plan(text: str) -> list[tuple[float, int]]:
    try:
        return [(float(k), int(g)) for k, g in (item.split(":") for item in text.split(",") if item)]
    except ValueError:
        raise SystemExit(f"--plan: expected kbps:levels,... got {text!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="nac-16k")
    ap.add_argument("--out", type=Path, default=ROOT / "nac" / "pretrained" / "nac-16k-bg.pt")
    ap.add_argument("--name", default="nac-16k-bg")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--stride", type=int, default=6)
    ap.add_argument("--music-stride", type=int, default=2)
    ap.add_argument("--bands", type=int, default=32)
    ap.add_argument("--levels", type=int, default=12)
    ap.add_argument("--plan", default="3:3,4.5:3,6:6,7.5:9,9:12,10.5:12,12:12")
    ap.add_argument("--fit-kbps", default="1.5,3,6",
                    help="latent-code rates the gains are measured under, file by file in turn")
    ap.add_argument("--smoothing", default="1,1,1", help="taps of the decoded gains' time filter ('' for none)")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="1 reproduces the shipped codebooks; more threads sum in another order")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    ckpt, base_sha256 = load_checkpoint(args.base)
    base = load_model(args.base)
    cfg = CodecConfig(**{**ckpt["config"], "gain_bands": args.bands, "gain_levels": args.levels,
                         "gain_plan": parse_plan(args.plan),
                         "gain_smoothing": [float(t) for t in args.smoothing.split(",") if t]})
    model = NacCodec(cfg, inference=True)
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert missing == ["gains.codebooks"] and not unexpected, (missing, unexpected)
    model.eval()
    sr = cfg.sample_rate
    clips = [x for _, x in dev_clips(args.data / "train" / "speech", 0.0, args.stride, None, sr)]
    clips += [x for _, x in dev_clips(args.data / "train" / "music", 0.0, args.music_stride, None, sr)]
    seconds = sum(len(x) for x in clips) / sr
    fit_kbps = [float(k) for k in args.fit_kbps.split(",")]
    vectors = gain_vectors(model, clips, fit_kbps, model.gains)
    print(f"{len(clips)} files ({seconds / 60:.1f} min), {len(vectors)} gain vectors", flush=True)
    model.gains.codebooks.copy_(fit_codebooks(vectors, args.levels, cfg.codebook_size, args.iters))
    payload = {"name": args.name, "kind": "codec",
               "config": cfg.to_dict(), "step": ckpt.get("step"),
               "band_gain_fit": {"base": args.base, "base_sha256": base_sha256,
                                 "files": len(clips), "minutes": round(seconds / 60, 1),
                                 "fit_kbps": fit_kbps, "stride": args.stride,
                                 "music_stride": args.music_stride, "iters": args.iters},
               "model": checkpoint.inference_state(model.state_dict())}
    checkpoint.save(args.out, payload)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f} s; "
          f"sha256 {checkpoint.sha256(args.out)}")


if __name__ == "__main__":
    main()
