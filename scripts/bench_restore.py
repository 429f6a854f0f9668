#!/usr/bin/env python3
"""Restoration benchmark on the dev set: each degradation alone vs followed by `nac restore`.

    python scripts/bench_restore.py --dev ../shared/data/dev --jobs 2

Writes reports/restore.md (+ restore.csv, restore_rd.png, restore_scatter.png,
restore_spectrograms.png). Speech: every 4th dev speech file (all corpora), PESQ-WB, STOI,
ViSQOL (speech), LSD. Music: the first 10 s of each dev music file, ViSQOL (audio), LSD, mel.
Speed: the speech post-filter on 60 s of audio on one thread.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_codec import LONG, cropped_music, dev_speech, with_long_speech  # noqa: E402

from nac.eval.evaluate import (  # noqa: E402
    Job,
    default_cache_dir,
    plot_spectrograms,
    run_eval,
    write_report,
)
from nac.eval.systems import parse_system, run_system  # noqa: E402
from nac.io.audio import (  # noqa: E402
    list_audio,  # noqa: E402
    read_audio,
    resample,
)

SPEECH = ["identity", "opus:6", "opus:9", "opus:12", "bw:8000", "phone", "nac:3", "nac:6"]
MUSIC = ["mp3:32", "opus:12", "bw:11025", "bw:8000"]


def paired_change(rows: list[dict], content: str, before: str, after: str, metric: str) -> tuple[float, float, int]:
    """Mean and 95 % CI of the per-file change after - before (paired: same files)."""
    from nac.eval.evaluate import mean_ci

    def index(system):
        return {r["file"]: float(r[metric]) for r in rows if r["content"] == content and r["system"] == system
                and r.get(metric) not in ("", None)}

    a, b = index(before), index(after)
    common = sorted(set(a) & set(b))
    mean, ci = mean_ci([b[f] - a[f] for f in common])
    return mean, ci, len(common)


def restored_name(system: str) -> str:
    return system.replace("nac:", "nacpf:") if system.startswith("nac:") else f"restore:{system}"


def deltas(summary: list[dict], rows: list[dict]) -> list[str]:
    index = {(s["content"], s["system"]): s for s in summary}
    lines = ["| content | input | metric | input | restored | change (paired 95 % CI) |", "|---|---|---|---|---|---|"]
    for (content, system), s in sorted(index.items()):
        if system.startswith(("restore:", "nacpf:")) or (content, restored_name(system)) not in index:
            continue
        after = index[(content, restored_name(system))]
        for metric, higher in [("pesq", True), ("visqol", True), ("stoi", True), ("lsd", False), ("mel", False)]:
            if metric in s and metric in after:
                d, ci, _ = paired_change(rows, content, system, restored_name(system), metric)
                verdict = " ✓" if (d > ci if higher else d < -ci) else (" ✗" if (d < -ci if higher else d > ci) else "")
                lines.append(f"| {content} | {system} | {metric} | {s[metric][0]:.3f} | {after[metric][0]:.3f} | "
                             f"{d:+.3f} ± {ci:.3f}{verdict} |")
    return lines


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, each with its paired change and verdict."""
    lines = ["| target | measured (paired 95 % CI) | status |", "|---|---|---|"]

    def row(label, content, system, metric, goal):
        d, ci, n = paired_change(rows, content, system, restored_name(system), metric)
        if n == 0:
            lines.append(f"| {label} | – | not measured |")
            return
        ok = goal(d, ci)
        lines.append(f"| {label} | {d:+.3f} ± {ci:.3f} (n = {n}) | {'**met**' if ok else 'missed'} |")

    row("Opus 6 speech: PESQ >= +0.30", "speech", "opus:6", "pesq", lambda d, ci: d >= 0.30)
    row("Opus 6 speech (>= 2.5 s): ViSQOL >= +0.30", LONG, "opus:6", "visqol", lambda d, ci: d >= 0.30)
    for system in ("opus:12", "identity"):
        for metric in ("pesq", "stoi", "lsd"):
            higher = metric != "lsd"
            row(f"{system} speech: {metric} not worse beyond its CI", "speech", system, metric,
                lambda d, ci, h=higher: (d >= -ci) if h else (d <= ci))
    row("NAC 6 + --postfilter: PESQ >= +0.10", "speech", "nac:6", "pesq", lambda d, ci: d >= 0.10)
    for system in MUSIC:
        row(f"music {system}: ViSQOL gain kept (> 0)", "music", system, "visqol", lambda d, ci: d > ci)
    for system in SPEECH:
        row(f"speech {system}: PESQ never lowered", "speech", system, "pesq", lambda d, ci: d >= -ci)
    return lines


def auto_accuracy(speech: list[Path], music: list[Path]) -> list[str]:
    """How often `--content auto` picks the right model on degraded input."""
    from nac.restore.content import is_speech

    lines = ["| input | speech detected as speech | music detected as music |", "|---|---|---|"]
    for spec_s, spec_m in [("identity", "identity"), ("opus:6", "opus:12"), ("bw:8000", "bw:8000"),
                           ("phone", "mp3:32")]:
        cells = []
        for files, spec, want in ((speech, spec_s, True), (music, spec_m, False)):
            hits = 0
            for f in files:
                x, sr = read_audio(f)
                y = run_system(parse_system(spec), x.mean(0), sr)[0]
                hits += is_speech(y, sr) == want
            cells.append(f"{spec}: {hits}/{len(files)}")
        lines.append(f"| {spec_s} / {spec_m} | {cells[0]} | {cells[1]} |")
    return lines


def speed(dev: Path) -> float:
    import torch

    from nac.registry import DEFAULT_RESTORE
    from nac.restore.restorer import load_restorer

    torch.set_num_threads(1)
    x = dev_speech(dev, 60.0)
    model = load_restorer(DEFAULT_RESTORE["speech"])
    model.restore(x[:, :16000])
    t = time.perf_counter()
    model.restore(x)
    return x.shape[1] / 16000 / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "restore.md")
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    cache = default_cache_dir()
    speech = list_audio(args.dev / "speech")[:: args.stride]
    music = list_audio(cropped_music(args.dev, 10.0) / "music")
    speech_metrics = ("pesq", "stoi", "visqol", "lsd")
    music_metrics = ("visqol", "lsd", "mel")
    jobs = []
    for system in SPEECH:
        for s in (system, restored_name(system)):
            jobs += [Job("speech/" + f.name, str(f), None, s, None, speech_metrics, cache) for f in speech]
    for system in MUSIC:
        for s in (system, f"restore:{system}"):
            jobs += [Job("music/" + f.name, str(f), None, s, None, music_metrics, cache) for f in music]
    rows = with_long_speech(run_eval(jobs, args.jobs))
    notes = [f"{len(speech)} dev speech files (every {args.stride}th), {len(music)} dev music files (first 10 s).",
             "The restoration model is chosen by the folder (speech/ or music/), as `--content speech|music` would; "
             "`--content auto` is measured separately below.",
             "`phone` = band-pass 150-400 Hz to 3.4-7 kHz, EQ tilt, small room, soft clipping (seeded; no added noise).",
             "`restore:X` = X, then `nac restore` at the input's rate; `nacpf:K` = `nac decode --postfilter`. "
             "Both follow `nac restore`'s plan: input that already fills the model's band passes through.",
             f"`{LONG}`: the speech files >= 2.5 s (ViSQOL on short clips misleads)."]
    summary = write_report(rows, args.out, "Restoration benchmark (dev set)", notes)
    lines = args.out.read_text().splitlines()
    lines += ["## Targets", ""] + targets(rows) + [""]
    lines += ["## Input → restored", ""] + deltas(summary, rows) + [""]
    lines += ["## `--content auto` on degraded input", ""] + auto_accuracy(speech, music) + [""]
    rtf = speed(args.dev)
    lines += [f"Speed: the speech post-filter runs at {rtf:.0f}× real time on one CPU thread (60 s of 16 kHz audio).", ""]
    panels = []
    if speech:
        x, sr = read_audio(speech[0])
        x = resample(x.mean(0, keepdims=True), sr, 16000)[0][: 4 * 16000]
        for spec in ("identity", "opus:6", "restore:opus:6", "bw:8000", "restore:bw:8000"):
            panels.append((f"{speech[0].name}: {spec}", run_system(parse_system(spec), x, 16000, "speech")[0]))
    fig = plot_spectrograms(panels, 16000, args.out.with_name(args.out.stem + "_spectrograms.png"))
    if fig:
        lines += [f"![spectrograms]({fig.name})", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
