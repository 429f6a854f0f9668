#!/usr/bin/env python3
"""Speed and memory of NAC on one CPU thread -> reports/speed.md (+ speed_rss.png).

    python scripts/bench_speed.py [--model nac-16k] [--lengths 1 15 60]

1. Real-time factor of each stage on 60 s of dev speech (or a synthetic signal without ../shared):
   STFT features + encoder, quantizer, pitch tracking (pitch-aware models), decoder network,
   Griffin-Lim + iSTFT, resampling 16 -> 48 kHz; then the real in-process path (chunked
   `encode_codes` / `decode_codes`, context included) per backend: torch fp32, torch-bf16,
   onnxruntime fp32 and int8; and the whole CLI round trip.
2. Peak RSS of `nac encode` and `nac decode` (separate processes, 48 kHz stereo input) against
   the file's length: memory must stay flat (block-wise I/O and coding).
3. Latency of the streaming API (look-ahead of the layers' receptive field).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac.api import decode_codes, encode_codes, load_model  # noqa: E402
from nac.backends.bf16 import Bf16Codec  # noqa: E402
from nac.codec import pitch as pitch_coding  # noqa: E402
from nac.io.audio import resample  # noqa: E402


def speech(seconds: float) -> np.ndarray:
    dev = ROOT.parent / "shared" / "data" / "dev" / "speech"
    if dev.is_dir():
        sys.path.insert(0, str(ROOT / "scripts"))
        from bench_codec import dev_speech

        return dev_speech(dev.parent, seconds)[0]
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 150 * t * (1 + 0.1 * np.sin(t)))).astype(np.float32)


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@torch.no_grad()
def stages(model_name: str, seconds: float = 60.0) -> list[tuple[str, float]]:
    model = load_model(model_name)
    x = torch.from_numpy(speech(seconds))[None]
    kbps = 6.0
    n_q = model.n_q_for(kbps) - model.pitch_levels
    x = model._pad(x)
    z = model.encoder(x)
    codes = model.quantizer.encode(z, n_q)
    q = model.quantizer.decode(codes)
    f0 = pitch_coding.dequantize(pitch_coding.encode(x, 16000, model.hop)[0])[None] if model.pitch_levels else None
    dec = model.decoder
    mag, phase = dec.spectrum(q, f0)
    out = []
    out.append(("encoder (STFT + ConvNeXt)", timed(lambda: model.encoder(x))))
    out.append(("quantizer encode (11-12 levels)", timed(lambda: model.quantizer.encode(z, n_q))))
    if model.pitch_levels:
        out.append(("pitch tracking (DIO + StoneMask)", timed(lambda: pitch_coding.encode(x, 16000, model.hop), 1)))
    out.append(("quantizer decode", timed(lambda: model.quantizer.decode(codes))))
    out.append(("decoder network (magnitude)", timed(lambda: dec.spectrum(q, f0))))
    if dec.griffin_lim_iters:
        out.append((f"Griffin-Lim ({dec.griffin_lim_iters} it.) + iSTFT",
                    timed(lambda: dec.head.istft(mag * dec.head.griffin_lim(mag, phase, dec.griffin_lim_iters)))))
    audio = x.numpy()
    out.append(("resample 16 -> 48 kHz (soxr HQ)", timed(lambda: resample(audio, 16000, 48000))))
    return [(name, seconds / t) for name, t in out]


def dev_clips(min_seconds: float = 2.5, stride: int = 4) -> list[np.ndarray]:
    """Every `stride`-th dev speech file of at least `min_seconds` at 16 kHz ([] without ../shared)."""
    from nac.io.audio import list_audio, read_audio

    dev = ROOT.parent / "shared" / "data" / "dev" / "speech"
    clips = []
    for path in (list_audio(dev) if dev.is_dir() else []):
        x, sr = read_audio(path)
        x = resample(x.mean(0, keepdims=True), sr, 16000)[0]
        if len(x) >= min_seconds * 16000:
            clips.append(x)
    return clips[::stride]


@torch.no_grad()
def backends(model_name: str, seconds: float = 60.0) -> list[dict]:
    """Per backend: encode and decode × real time through the chunked API (as `nac encode/decode`
    run it) on `seconds` of speech, and on dev files: the largest |difference| of the decoded
    audio from torch fp32's and the paired PESQ-WB difference (same codes, fp32's encoder)."""
    from nac.eval.evaluate import mean_ci
    from nac.eval.metrics import pesq_wb

    model = load_model(model_name)
    x = speech(seconds)[None]
    codecs = [("torch fp32", model), ("torch-bf16 (decoder network in bf16)", Bf16Codec.wrap(model))]
    tmp = tempfile.TemporaryDirectory()
    try:
        from nac.backends.onnx import OnnxCodec, export

        export(model, tmp.name, int8=True)
        codecs += [("onnxruntime fp32", OnnxCodec.wrap(model, tmp.name)),
                   ("onnxruntime int8", OnnxCodec.wrap(model, tmp.name, int8=True))]
    except ImportError:
        pass
    clips = dev_clips()
    codes = [list(encode_codes(model, c[None], 6.0)) for c in clips]
    decode = lambda codec, chunks, n: np.concatenate(list(decode_codes(codec, chunks)), 1)[0, :n]  # noqa: E731
    reference = [decode(model, ch, len(c)) for ch, c in zip(codes, clips)]
    ref_pesq = [pesq_wb(c, r, 16000) for c, r in zip(clips, reference)]
    out = []
    for name, codec in codecs:
        graph = (graph_parity(model, codec, clips) if name == "onnxruntime fp32" and not model.pitch_levels
                 else None)
        enc = timed(lambda: list(encode_codes(codec, x, 6.0)))
        chunks = list(encode_codes(codec, x, 6.0))
        dec = timed(lambda: list(decode_codes(codec, chunks)))
        row = {"backend": name, "encode": seconds / enc, "decode": seconds / dec, "graph": graph}
        if clips:
            decoded = [decode(codec, ch, len(c)) for ch, c in zip(codes, clips)]
            row["max_diff"] = max(float(np.abs(d - r).max()) for d, r in zip(decoded, reference))
            row["pesq"] = mean_ci([pesq_wb(c, d, 16000) - p for c, d, p in zip(clips, decoded, ref_pesq)])
            row["files"] = len(clips)
        out.append(row)
    tmp.cleanup()
    return out


def graph_parity(model, codec, clips) -> dict:
    """Largest |difference| of the exported networks' outputs from torch's on dev audio: encoder
    latents, decoder magnitude (relative to its peak) and phase guess."""
    lat = mag = phase = 0.0
    for c in clips:
        wav = model._pad(torch.from_numpy(c)[None])
        z = model._latents(wav)
        lat = max(lat, float((codec._latents(wav) - z).abs().max() / z.abs().max()))
        m_ref, p_ref = model._spectrum(z, None)
        m, p = codec._spectrum(z, None)
        mag = max(mag, float((m - m_ref).abs().max() / m_ref.abs().max()))
        phase = max(phase, float((p - p_ref).abs().max()))
    return {"latents": lat, "magnitude": mag, "phase": phase}


def cli_round_trip(model_name: str, seconds: float = 60.0) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sf.write(f"{tmp}/in.wav", speech(seconds), 16000)
        nac = [sys.executable, "-m", "nac"]
        t = time.perf_counter()
        subprocess.run(nac + ["encode", f"{tmp}/in.wav", f"{tmp}/x.nac", "--model", model_name], check=True,
                       env=_one_thread())
        enc = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(nac + ["decode", f"{tmp}/x.nac", f"{tmp}/out.wav"], check=True, env=_one_thread())
        return seconds / enc, seconds / (time.perf_counter() - t)


def _one_thread() -> dict:
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def peak_rss(minutes: float, model_name: str) -> tuple[float, float]:
    """(encode, decode) peak RSS in MB for a 48 kHz stereo file of `minutes`."""
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        with sf.SoundFile(f"{tmp}/in.wav", "w", 48000, 2, "PCM_16") as f:
            block = speech(10.0)
            block = resample(block[None], 16000, 48000)[0]
            for _ in range(int(minutes * 6)):
                f.write(np.stack([block, block[::-1]], 1) * rng.uniform(0.5, 1.0))
        rss = []
        for cmd in (["encode", f"{tmp}/in.wav", f"{tmp}/x.nac", "--model", model_name],
                    ["decode", f"{tmp}/x.nac", f"{tmp}/out.wav"]):
            out = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "nac"] + cmd,
                                 capture_output=True, text=True, env=_one_thread())
            if out.returncode:
                raise SystemExit(out.stderr)
            rss.append(int(out.stderr.strip().splitlines()[-1]) / 1024)
        return rss[0], rss[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--lengths", type=float, nargs="+", default=[1, 15, 60], help="minutes")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "speed.md")
    ap.add_argument("--pause-campaign", action="store_true",
                    help="SIGSTOP the running campaign arms (runs/campaign-*/pid) while measuring, then resume them")
    args = ap.parse_args()
    paused = pause_campaign() if args.pause_campaign else []
    try:
        run(args, paused)
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)


def pause_campaign() -> list[int]:
    """Stop the background training so that one thread means one free core; resumed after."""
    paused = []
    for pid_file in ROOT.glob("runs/campaign-*/pid"):
        try:
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGSTOP)
            paused.append(pid)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
    return paused


def run(args, paused: list[int]) -> None:
    torch.set_num_threads(1)
    model = load_model(args.model)
    lines = ["# Speed and memory (one CPU thread)", "",
             f"`python scripts/bench_speed.py --model {args.model}`: one thread (`torch.set_num_threads(1)`, "
             "OMP_NUM_THREADS=1 for the CLI runs) on this project's 2-core machine"
             + (f" (campaign training paused while measuring: {len(paused)} process(es))" if paused else "")
             + ".", "",
             "## Stages (60 s of dev speech, 6 kbps)", "", "| stage | × real time |", "|---|---|"]
    measured = stages(args.model)
    for name, rtf in measured:
        lines.append(f"| {name} | {rtf:.0f}× |")
    seconds_per_second = {name: 1 / rtf for name, rtf in measured if not name.startswith("resample")}
    enc = sum(v for k, v in seconds_per_second.items() if k.startswith(("encoder", "quantizer encode", "pitch")))
    dec = sum(seconds_per_second.values()) - enc
    lines += ["", f"Sum of the stages (whole signal, no chunking): encode {1 / enc:.0f}×, decode {1 / dec:.0f}×, "
              f"encode + decode {1 / (enc + dec):.0f}× real time.", "",
              "## Backends: in-process, chunked as the CLI codes (60 s, 6 kbps, context included)", "",
              "| backend | encode | decode | encode + decode | max abs diff vs torch fp32 | PESQ-WB vs torch fp32 |",
              "|---|---|---|---|---|---|"]
    rows = backends(args.model)
    for r in rows:
        fidelity = (f"{r['max_diff']:.1e} | {r['pesq'][0]:+.3f} ± {r['pesq'][1]:.3f}" if "pesq" in r else "— | —")
        lines.append(f"| {r['backend']} | {r['encode']:.0f}× | {r['decode']:.0f}× | "
                     f"**{1 / (1 / r['encode'] + 1 / r['decode']):.0f}×** | {fidelity} |")
    files = rows[0].get("files")
    graph = next((r["graph"] for r in rows if r.get("graph")), None)
    if graph:
        lines += ["", f"ONNX graphs against torch on the same dev files (the networks alone): encoder latents "
                  f"{graph['latents']:.1e}, decoder magnitude {graph['magnitude']:.1e} (both relative to the peak), "
                  f"phase guess {graph['phase']:.1e}. The decoded audio differs more on the worst file because "
                  f"Griffin-Lim ({model.decoder.griffin_lim_iters} momentum iterations, shared code) amplifies "
                  "rounding differences in bins whose phase guess is near zero length."]
    lines += ["", "Targets: encode + decode ≥ 50× real time on one thread with the fastest backend; ONNX parity "
              "≤ 1e-3; int8 PESQ loss ≤ 0.05." + (f" Fidelity columns: {files} dev speech files ≥ 2.5 s (every "
              "4th), decoded from the same codes; PESQ as paired mean ± 95 % CI." if files else "")]
    enc, dec = cli_round_trip(args.model)
    lines += ["", f"CLI, whole process (Python start-up and model load included): `nac encode` {enc:.0f}×, "
              f"`nac decode` {dec:.0f}× real time on 60 s.", ""]
    lines += ["## Memory against file length (48 kHz stereo wav in, 6 kbps)", "",
              "| minutes | encode peak RSS | decode peak RSS |", "|---|---|---|"]
    rows = []
    for minutes in args.lengths:
        e, d = peak_rss(minutes, args.model)
        rows.append((minutes, e, d))
        lines.append(f"| {minutes:g} | {e:.0f} MB | {d:.0f} MB |")
    ratio = rows[-1][2] / rows[0][2]
    lines += ["", f"Decoding {rows[-1][0]:g} min takes {ratio:.2f}× the peak memory of {rows[0][0]:g} min "
              f"(target ≤ 1.5×).", ""]
    ms = lambda frames: frames * model.hop / model.sample_rate * 1000  # noqa: E731
    lines += ["## Streaming", "",
              f"Windowed runner (`nac/codec/streaming.py`, the file's whole-file Griffin-Lim): a frame leaves once its "
              f"look-ahead has arrived: {model.encoder_context_frames} frames ({ms(model.encoder_context_frames):.0f} ms) "
              f"to encode, {model.context_frames} frames ({ms(model.context_frames):.0f} ms) to decode. The stateful "
              "runners with 20-ms blocks and the online phase: [streaming.md](streaming.md) "
              "(`scripts/bench_streaming.py`).", ""]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot([r[0] for r in rows], [r[1] for r in rows], "o-", label="nac encode")
        ax.plot([r[0] for r in rows], [r[2] for r in rows], "s-", label="nac decode")
        ax.set_xlabel("file length (minutes, 48 kHz stereo)")
        ax.set_ylabel("peak RSS (MB)")
        ax.set_ylim(0, max(max(r[1], r[2]) for r in rows) * 1.3)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        png = args.out.with_name("speed_rss.png")
        fig.savefig(png, dpi=110)
        lines += [f"![peak RSS against length]({png.name})", ""]
    except ImportError:
        pass
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
