#!/usr/bin/env python3
"""Streaming with 20-ms blocks: algorithmic latency, one-thread speed and what the stream costs in
quality against decoding the file.

    python scripts/bench_streaming.py [MODEL ...] [--stride 4] [--pause-campaign]

MODEL: registry names or checkpoints (default: nac-16k), optionally with decode-time settings
("runs/campaign-causal-d1/latest.pt@online_phase_lookahead=2"). Each streams through the stateful
runners (`nac/codec/stateful.py`; a whole-file Griffin-Lim model gets its phase made online,
`online_phase.py`). Latency: `measure_latency` (how far the decoded audio lags the input in
steady state). Speed: stateful encode + decode of 30 s of dev speech pushed in 20-ms blocks,
one thread. Quality: PESQ-WB and mel distance of the stream, and of `model.decode` of the same
codes (the file path: whole-file Griffin-Lim for nac-16k), on dev speech >= 2.5 s (DC removed),
paired. Writes reports/streaming.md.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import dev_clips, load_spec  # noqa: E402
from bench_speed import pause_campaign  # noqa: E402

from nac.codec.stateful import StatefulDecoder, StatefulEncoder, measure_latency  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import mel_distance, pesq_wb  # noqa: E402

BLOCK = 320  # 20 ms at 16 kHz


@torch.no_grad()
def stream(model, x: np.ndarray, kbps: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """(decoded stream, its codes (frames, 1, n_q)) for mono `x` pushed in 20-ms blocks."""
    enc, dec = StatefulEncoder(model, kbps), StatefulDecoder(model)
    codes, out = [], []
    for i in range(0, len(x), BLOCK):
        c = enc.push(x[None, i:i + BLOCK])
        codes.append(c)
        out.append(dec.push(c))
    c = enc.flush()
    codes.append(c)
    out += [dec.push(c), dec.flush()]
    audio = np.concatenate([o for o in out if o.size], 1)[0]
    return audio[:len(x)], np.concatenate([c for c in codes if c.shape[0]], 0)


def timed(model, speech: np.ndarray) -> float:
    t0 = time.perf_counter()
    stream(model, speech)
    return len(speech) / 16000 / (time.perf_counter() - t0)


def measure(spec: str, clips, speech: np.ndarray, pause: bool) -> dict:
    model = load_spec(spec)
    row = {"model": spec, "latency": measure_latency(model), "speed": timed(model, speech)}
    if pause:
        paused = pause_campaign()
        try:
            row["speed_idle"] = timed(model, speech)
        finally:
            for pid in paused:
                os.kill(pid, signal.SIGCONT)
    pesq_stream, pesq_file, mel_stream, mel_file = [], [], [], []
    for _, x in tqdm(clips, desc=spec, leave=False):
        y, codes = stream(model, x)
        with torch.no_grad():
            f = model.decode(torch.from_numpy(codes).permute(1, 2, 0))[0, :len(x)].numpy()
        pesq_stream.append(pesq_wb(x, y, 16000))
        pesq_file.append(pesq_wb(x, f, 16000))
        mel_stream.append(mel_distance(x, y, 16000))
        mel_file.append(mel_distance(x, f, 16000))
    row.update(pesq_stream=mean_ci(pesq_stream), pesq_file=mean_ci(pesq_file),
               pesq_diff=mean_ci(np.subtract(pesq_stream, pesq_file)),
               mel_stream=mean_ci(mel_stream), mel_file=mean_ci(mel_file))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=["nac-16k"])
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "streaming.md")
    ap.add_argument("--pause-campaign", action="store_true",
                    help="also time with the running campaign arms SIGSTOPped (then resumed)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    clips = dev_clips(args.dev, 2.5, stride=args.stride)
    speech = np.concatenate([x for _, x in clips])[:30 * 16000]
    rows = []
    for spec in args.models:
        rows.append(measure(spec, clips, speech, args.pause_campaign))
        print(rows[-1], flush=True)
    write(args, rows, len(clips), bool(args.pause_campaign))


def write(args, rows, n_files: int, paused: bool) -> None:
    lines = ["# Streaming with 20-ms blocks (one CPU thread)", "",
             f"`python scripts/bench_streaming.py {' '.join(args.models)}"
             + (" --pause-campaign" if paused else "") + "`: stateful runners (`nac/codec/stateful.py`), "
             "6 kbps, 20-ms blocks pushed as from a microphone. Latency: `measure_latency` (steady-state lag "
             "of the decoded audio behind the input). Speed: encode + decode of 30 s of dev speech, one thread"
             + (" (campaign training paused while timing; in brackets with it running)" if paused else "")
             + f". Quality: {n_files} dev speech files >= 2.5 s (DC removed): the stream, and `model.decode` of "
             "the same codes (the file path), paired (mean ± 95 % CI).", "",
             "| model | latency | speed | PESQ-WB stream | PESQ-WB file | stream − file | mel stream | mel file |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speed = (f"{r['speed_idle']:.1f}× ({r['speed']:.1f}×)" if "speed_idle" in r else f"{r['speed']:.1f}×")
        lines.append(f"| {r['model']} | {r['latency'] * 1000:.0f} ms | {speed} | "
                     f"{r['pesq_stream'][0]:.3f} | {r['pesq_file'][0]:.3f} | "
                     f"{r['pesq_diff'][0]:+.3f} ± {r['pesq_diff'][1]:.3f} | "
                     f"{r['mel_stream'][0]:.3f} | {r['mel_file'][0]:.3f} |")
    lines += ["", "Targets (issue 21): latency ≤ 100 ms (stretch ≤ 40 ms) at ≥ 2× real time with 20-ms blocks.", ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
