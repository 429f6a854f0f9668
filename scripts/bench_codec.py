#!/usr/bin/env python3
"""Codec benchmark on the dev set: NAC at 1.5/3/6/12 kbps vs Lyra v2 3.2/6/9.2, Opus 6/9/12 (and 9/12
with libopus' LACE post-filter) and MP3 16/32, side by side in one run.

Writes reports/codec.md (+ codec.csv, codec_rd.png, codec_scatter.png, codec_spectrograms.png).

    python scripts/bench_codec.py --dev ../shared/data/dev --jobs 2

Speech: every --stride-th dev speech file, DC removed (21 dev files carry an offset), PESQ-WB,
STOI, ViSQOL (speech; reported on files >= 2.5 s), DNSMOS OVRL, mel distance, LSD, SI-SDR;
targets as paired differences with 95 % CIs.
Music: the first --music-seconds of each dev music file (ViSQOL audio mode costs ~1 s per second
of audio per system), ViSQOL (audio, 48 kHz), mel distance, LSD.
Speed: encode and decode of 60 s of dev speech on one thread; peak RSS; parameter count.
"""
from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac.eval.evaluate import (  # noqa: E402
    Job,
    default_cache_dir,
    paired_change,
    plot_spectrograms,
    run_eval,
    write_report,
)
from nac.eval.systems import parse_system, run_system  # noqa: E402
from nac.registry import DEFAULT_CODEC  # noqa: E402
from nac.io.audio import (  # noqa: E402
    list_audio,  # noqa: E402
    read_audio,
    resample,
)

NAC_RATES = ["1.5", "3", "6", "12"]
# DNSMOS (no-reference, opt-in in `nac eval`) is asked for here: the decoder issue's third measure
METRICS = {"speech": ("pesq", "stoi", "visqol", "dnsmos", "mel", "lsd", "si_sdr", "snr"),
           "music": ("visqol", "mel", "lsd", "si_sdr", "snr")}
LONG = "speech-2.5s+"  # ViSQOL ranks differently on short clips (1.5-s digits): report it on these


def with_long_speech(rows: list[dict], min_seconds: float = 2.5) -> list[dict]:
    """Rows plus a copy of every speech row of a file >= min_seconds, as content LONG."""
    return rows + [{**r, "content": LONG} for r in rows
                   if r["content"] == "speech" and float(r["seconds"]) >= min_seconds]
BASELINES = ["opus:6", "opus:9", "opus:12", "mp3:16", "mp3:32"]
LYRA = ["lyra:3.2", "lyra:6", "lyra:9.2"]  # when ../shared/anchors/lyra-v2 is there (nac/eval/lyra.py)
LACE = ["lace:9", "lace:12"]  # Opus + libopus' neural post-filter, when scripts/install_lace.sh has run


def cropped_music(dev: Path, seconds: float) -> Path:
    """Deterministic crops of the dev music, cached outside the repository."""
    out = Path(default_cache_dir()).parent / f"bench_music_{int(seconds)}s"
    out.mkdir(parents=True, exist_ok=True)
    for f in list_audio(dev / "music"):
        target = out / "music" / (hashlib.sha1(str(f.relative_to(dev)).encode()).hexdigest()[:10] + "_" + f.stem + ".flac")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            x, sr = read_audio(f)
            sf.write(target, x.mean(0)[: int(seconds * sr)], sr)
    return out


def dev_speech(dev: Path, seconds: float = 60.0) -> np.ndarray:
    """(1, T) float32: dev speech files joined up to `seconds` at 16 kHz (for speed runs)."""
    clips, total = [], 0
    for f in list_audio(dev / "speech"):
        x, sr = read_audio(f)
        clips.append(resample(x.mean(0, keepdims=True), sr, 16000)[0])
        total += len(clips[-1])
        if total >= seconds * 16000:
            break
    return np.concatenate(clips)[: int(seconds * 16000)][None]


def speed(model_name: str, dev: Path, seconds: float = 60.0) -> dict:
    import torch

    from nac.api import compress, decompress, load_model
    from nac.codec.model import count_parameters

    torch.set_num_threads(1)
    audio = dev_speech(dev, seconds)
    model = load_model(model_name)
    compress(audio[:, :16000], 16000, 6, model_name)  # warm-up
    enc, dec = [], []
    for _ in range(3):
        t = time.perf_counter()
        data = compress(audio, 16000, 6, model_name)
        enc.append(time.perf_counter() - t)
        t = time.perf_counter()
        decompress(data)
        dec.append(time.perf_counter() - t)
    e, d = min(enc), min(dec)
    return {"seconds": seconds, "encode_s": e, "decode_s": d, "encode_rtf": seconds / e,
            "decode_rtf": seconds / d, "total_rtf": seconds / (e + d),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "params": count_parameters(model)}


def targets(rows: list[dict]) -> list[str]:
    """The decoder issue's targets, each as a paired difference NAC - anchor over the same files."""
    lines = ["| target | NAC − anchor (paired 95 % CI, files) | status |", "|---|---|---|"]

    def check(label, content, nac, anchor, metric, goal=0.0, higher=True):
        d, ci, n = paired_change(rows, content, anchor, nac, metric)
        if n == 0:
            lines.append(f"| {label} | – | not measured |")
            return
        ok = d >= goal if higher else d <= goal
        sure = " (beyond its CI)" if (d - ci >= goal if higher else d + ci <= goal) else ""
        lines.append(f"| {label} | {d:+.3f} ± {ci:.3f} (n = {n}) | {'**met**' + sure if ok else 'missed'} |")

    check("PESQ: NAC 6 vs Opus 6", "speech", "nac:6", "opus:6", "pesq")
    check("ViSQOL: NAC 6 vs Opus 6", LONG, "nac:6", "opus:6", "visqol")
    check("mel distance: NAC 6 vs Opus 6 (lower)", "speech", "nac:6", "opus:6", "mel", higher=False)
    for nac_rate, lyra_rate in (("3", "3.2"), ("6", "6"), ("12", "9.2")):
        check(f"PESQ: NAC {nac_rate} vs Lyra {lyra_rate}", "speech", f"nac:{nac_rate}", f"lyra:{lyra_rate}", "pesq")
        check(f"ViSQOL: NAC {nac_rate} vs Lyra {lyra_rate}", LONG, f"nac:{nac_rate}", f"lyra:{lyra_rate}", "visqol")
    check("DNSMOS: NAC 6 vs Lyra 6", "speech", "nac:6", "lyra:6", "dnsmos")
    check("PESQ rises with rate: NAC 12 − NAC 3 ≥ +0.4", "speech", "nac:12", "nac:3", "pesq", goal=0.4)
    check("PESQ: NAC 6 vs Opus 9 + LACE (next)", "speech", "nac:6", "lace:9", "pesq")
    check("music ViSQOL: NAC 6 vs Opus 6", "music", "nac:6", "opus:6", "visqol")
    return lines


def latency(model_name: str) -> list[str]:
    """Algorithmic latency of each system: NAC's from its streaming runner (the stateful one for
    phase-predicting models, 20-ms blocks; else the windowed one's look-ahead plus one block),
    the anchors' as their designs fix it."""
    from nac.api import load_model
    from nac.codec.stateful import measure_latency
    from nac.codec.streaming import StreamingDecoder, StreamingEncoder

    model = load_model(model_name)
    if model.cfg.griffin_lim_iters == 0 and not model.pitch_levels:
        nac, how = measure_latency(model, 6.0), "measured: `nac.codec.stateful.measure_latency`, 20-ms blocks"
    else:
        enc, dec = StreamingEncoder(model, 6.0, block_frames=1), StreamingDecoder(model, block_frames=1)
        nac = enc.latency_seconds + dec.latency_seconds + 2 * model.hop / model.sample_rate
        how = ("`nac.codec.streaming` look-ahead, encode + decode, 20-ms blocks (Griffin-Lim couples every "
               "frame to its neighbours)")
    return ["| system | algorithmic latency | source |", "|---|---|---|",
            f"| NAC (`{model_name}`) | {nac * 1000:.0f} ms | {how} |",
            "| Lyra v2 | 20 ms | one 320-sample hop in, one out; stateful models (anchors/README.md) |",
            "| Opus (SILK, 20-ms frames) | 26.5 ms | 20 ms frame + 6.5 ms look-ahead (RFC 6716) |",
            "| Opus + LACE | 26.5 ms | LACE filters each decoded frame: no look-ahead of its own |", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    ap.add_argument("--model", default=DEFAULT_CODEC)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "codec.md")
    ap.add_argument("--systems", nargs="*", default=None, help="Default: NAC 1.5/3/6/12 + baselines.")
    ap.add_argument("--music-seconds", type=float, default=10.0)
    ap.add_argument("--stride", type=int, default=2,
                    help="Every STRIDE-th dev speech file (sorted; spans every corpus). ViSQOL costs ~0.6 s per "
                         "second of audio and system, so the full set would take ~45 min on 2 cores.")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--no-music", action="store_true", help="Speech only (Lyra is a speech codec; ViSQOL's "
                    "audio mode is most of the run's time)")
    args = ap.parse_args()

    from nac.eval import lace, lyra

    systems = args.systems or ([f"nac:{k}" for k in NAC_RATES] + (LYRA if lyra.available() else []) + BASELINES
                               + (LACE if lace.available() else []))
    cache = default_cache_dir()
    jobs = []
    speech = list_audio(args.dev / "speech")[:: args.stride]
    music = [] if args.no_music else list_audio(cropped_music(args.dev, args.music_seconds) / "music")
    for system in systems:
        jobs += [Job("speech/" + f.name, str(f), None, system, args.model, METRICS["speech"], cache) for f in speech]
        jobs += [Job("music/" + f.name, str(f), None, system, args.model, METRICS["music"], cache) for f in music]
    rows = with_long_speech(run_eval(jobs, args.jobs))
    notes = [f"Data: {len(speech)} dev speech files ({sum(r['seconds'] for r in rows if r['content'] == 'speech') / len(systems):.0f} s; "
             f"`{LONG}`: the {sum(r['content'] == LONG for r in rows) // len(systems)} of them >= 2.5 s), "
             f"{len(music)} dev music files cut to their first {args.music_seconds:g} s; model `{args.model}`.",
             "kbps is the real bitrate of the coded file (Ogg/MP3 container overhead included for the baselines; "
             "the .nac header and chunk headers included for NAC).",
             "libopus cannot go below ~6 kbps: asked for 3 kbps it still spends ~6 kbps."]
    write_report(rows, args.out, "Codec benchmark (dev set)", notes)
    lines = args.out.read_text().splitlines() + [""]
    lines += ["## Targets", ""] + targets(rows) + [""]
    lines += ["## Latency", ""] + latency(args.model)
    if not args.skip_speed:
        s = speed(args.model, args.dev)
        lines += ["## Speed (one CPU thread, 60 s of speech at 6 kbps)", "",
                  "| encode | decode | encode + decode | peak RSS | parameters |", "|---|---|---|---|---|",
                  f"| {s['encode_s']:.2f} s ({s['encode_rtf']:.0f}× real time) | {s['decode_s']:.2f} s "
                  f"({s['decode_rtf']:.0f}×) | {s['total_rtf']:.0f}× real time | {s['peak_rss_mb']:.0f} MB | "
                  f"{s['params'] / 1e6:.2f} M |", ""]
    spec = spectrogram_figure(args, speech[:1] + music[:1], systems)
    if spec:
        lines += [f"![spectrograms]({spec.name})", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


def spectrogram_figure(args, files, systems) -> Path | None:
    panels = []
    for f in files:
        x, sr = read_audio(f)
        x = resample(x.mean(0, keepdims=True), sr, 16000)[0][: 4 * 16000]
        panels.append((f"{f.name}: original", x))
        for spec in ("nac:6", "opus:6"):
            if spec in systems:
                panels.append((f"{spec}", run_system(parse_system(spec, args.model), x, 16000)[0]))
    return plot_spectrograms(panels, 16000, args.out.with_name(args.out.stem + "_spectrograms.png"))


if __name__ == "__main__":
    main()
