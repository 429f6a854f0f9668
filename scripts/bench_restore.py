#!/usr/bin/env python3
"""Restoration benchmark on the dev set: each damage alone, then `nac restore`, DeepFilterNet3 and
RNNoise on the same files, in one run.

    python scripts/bench_restore.py --data ../shared/data --jobs 2 [--stride 1]

Writes reports/restore.md (+ restore.csv, restore_rd.png, restore_scatter.png,
restore_spectrograms.png). Speech: every --stride-th dev speech file, DC removed, PESQ-WB, STOI,
ViSQOL (on files >= 2.5 s), DNSMOS (OVRL, SIG, BAK), log-spectral distance. Inputs: clean, the
phone chain at 25 and 10 dB SNR (dev noise: every fifth noise file, never trained on), Opus 6 and
12, MP3 32, 8-kHz telephone band, NAC 6 kbps; anchors: DeepFilterNet3 and RNNoise on the phone
recordings (`nac/eval/enhancers.py`), Opus 9 + LACE beside restored Opus 6, Lyra 6 beside NAC 6
+ post-filter. Music: all dev music in 10-s segments, ViSQOL, LSD, mel. Every change is paired
over files with its 95 % CI. Speed: the enhancer on 60 s of speech, one thread.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import hashlib  # noqa: E402

import soundfile as sf  # noqa: E402
from bench_codec import LONG, dev_speech, with_long_speech  # noqa: E402

from nac.eval import lace, lyra  # noqa: E402
from nac.eval.evaluate import (  # noqa: E402
    Job,
    default_cache_dir,
    paired_change,
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

# the table: each input alone and restored (nac:6 restored = `nac decode --postfilter`)
SPEECH = ["identity", "phone:25", "phone:10", "opus:6", "bw:8000", "opus:12", "mp3:32", "nac:6"]
THIRD_PARTY = ["dfn3:phone:25", "rnnoise:phone:25", "dfn3:phone:10", "rnnoise:phone:10"]
ANCHORS = ["lace:9", "lyra:6"]  # scored, not restored: beside restored Opus 6 and NAC 6 + post-filter
MUSIC = ["mp3:32", "opus:6", "opus:12", "bw:11025"]
SPEECH_METRICS = ("pesq", "stoi", "visqol", "dnsmos", "lsd")
MUSIC_METRICS = ("visqol", "lsd", "mel")


def music_segments(dev: Path, seconds: float = 10.0) -> Path:
    """All of the dev music as consecutive `seconds`-long mono segments (a shorter tail of at
    least half that is kept), cached outside the repository: every second of music counts, not
    just each piece's opening."""
    from nac.eval.evaluate import default_cache_dir

    out = Path(default_cache_dir()).parent / f"bench_music_segments_{int(seconds)}s"
    for f in list_audio(dev / "music"):
        x, sr = read_audio(f)
        x, step = x.mean(0), int(seconds * sr)
        tag = hashlib.sha1(str(f.relative_to(dev)).encode()).hexdigest()[:8]
        for i, start in enumerate(range(0, len(x), step)):
            piece = x[start:start + step]
            target = out / "music" / f"{tag}_{f.stem[:40]}_{i:02d}.flac"
            if len(piece) >= step // 2 and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                sf.write(target, piece, sr)
    return out


def restored_name(system: str) -> str:
    return system.replace("nac:", "nacpf:") if system.startswith("nac:") else f"restore:{system}"


def deltas(summary: list[dict], rows: list[dict]) -> list[str]:
    index = {(s["content"], s["system"]): s for s in summary}
    lines = ["| content | input | metric | input | restored | change (paired 95 % CI) |", "|---|---|---|---|---|---|"]
    for (content, system), s in sorted(index.items()):
        if system.startswith(("restore:", "nacpf:")) or (content, restored_name(system)) not in index:
            continue
        after = index[(content, restored_name(system))]
        for metric, higher in [("pesq", True), ("visqol", True), ("stoi", True), ("dnsmos", True),
                               ("dnsmos_sig", True), ("dnsmos_bak", True), ("lsd", False), ("mel", False)]:
            if metric in s and metric in after:
                d, ci, _ = paired_change(rows, content, system, restored_name(system), metric)
                verdict = " ✓" if (d > ci if higher else d < -ci) else (" ✗" if (d < -ci if higher else d > ci) else "")
                lines.append(f"| {content} | {system} | {metric} | {s[metric][0]:.3f} | {after[metric][0]:.3f} | "
                             f"{d:+.3f} ± {ci:.3f}{verdict} |")
    return lines


def lsd_ratio(rows: list[dict], before: str, after: str) -> float | None:
    def total(system):
        return sum(float(r["lsd"]) for r in rows if r["content"] == "speech" and r["system"] == system and r.get("lsd"))
    return total(after) / total(before) if total(before) else None


def targets(rows: list[dict]) -> list[str]:
    """The speech restoration issue's targets, each with its paired change and verdict."""
    lines = ["| target | measured (paired 95 % CI) | status |", "|---|---|---|"]

    def row(label, content, before, after, metric, goal):
        d, ci, n = paired_change(rows, content, before, after, metric)
        if n == 0:
            lines.append(f"| {label} | – | not measured |")
            return
        lines.append(f"| {label} | {d:+.3f} ± {ci:.3f} (n = {n}) | {'**met**' if goal(d, ci) else 'missed'} |")

    def ratio_row(label, system, limit):
        ratio = lsd_ratio(rows, system, restored_name(system))
        lines.append(f"| {label} | {ratio:.2f}x | {'**met**' if ratio <= limit else 'missed'} |" if ratio
                     else f"| {label} | – | not measured |")

    for snr in (25, 10):
        phone = f"phone:{snr}"
        row(f"phone {snr} dB: PESQ >= +0.5 over the input", "speech", phone, restored_name(phone), "pesq",
            lambda d, ci: d >= 0.5)
        for metric in ("pesq", "dnsmos"):
            row(f"phone {snr} dB: {metric} at or above DeepFilterNet3's", "speech", f"dfn3:{phone}",
                restored_name(phone), metric, lambda d, ci: d >= 0)
        row(f"phone {snr} dB: PESQ lift at least RNNoise's (the fallback ship bar)", "speech", f"rnnoise:{phone}",
            restored_name(phone), "pesq", lambda d, ci: d >= 0)
    row("Opus 6: PESQ >= +0.3", "speech", "opus:6", "restore:opus:6", "pesq", lambda d, ci: d >= 0.3)
    row("Opus 6: DNSMOS >= +0.2", "speech", "opus:6", "restore:opus:6", "dnsmos", lambda d, ci: d >= 0.2)
    ratio_row("Opus 6: LSD <= 0.5x the input's", "opus:6", 0.5)
    ratio_row("8 kHz: LSD <= 0.5x the input's", "bw:8000", 0.5)
    row("8 kHz: DNSMOS >= +0.05", "speech", "bw:8000", "restore:bw:8000", "dnsmos", lambda d, ci: d >= 0.05)
    row("8 kHz: PESQ not lower than -0.05", "speech", "bw:8000", "restore:bw:8000", "pesq", lambda d, ci: d >= -0.05)
    row("NAC 6 + post-filter: DNSMOS at or above Lyra 6's", "speech", "lyra:6", "nacpf:6", "dnsmos", lambda d, ci: d >= 0)
    row("NAC 6 + post-filter: PESQ not lower than NAC 6's", "speech", "nac:6", "nacpf:6", "pesq", lambda d, ci: d >= -ci)
    for system in ("identity", "opus:12", "mp3:32"):
        for metric in SPEECH_METRICS + ("dnsmos_sig", "dnsmos_bak"):
            higher = metric != "lsd"
            row(f"{system}: {metric} not {'lower' if higher else 'higher'} beyond its CI",
                LONG if metric == "visqol" else "speech", system, restored_name(system), metric,
                lambda d, ci, h=higher: (d >= -ci) if h else (d <= ci))
    for metric in ("pesq", "dnsmos"):
        row(f"beside: restored Opus 6 vs Opus 9 + LACE ({metric})", "speech", "lace:9", "restore:opus:6", metric,
            lambda d, ci: d >= 0)
    for system in MUSIC:
        row(f"music {system}: ViSQOL not lower beyond its CI", "music", system, f"restore:{system}", "visqol",
            lambda d, ci: d >= -ci)
    return lines


def auto_accuracy(speech: list[Path], music: list[Path]) -> list[str]:
    """How often `--content auto` picks the right model on degraded input."""
    from nac.restore.content import is_speech

    lines = ["| input | speech detected as speech | music detected as music |", "|---|---|---|"]
    for spec_s, spec_m in [("identity", "identity"), ("opus:6", "opus:12"), ("bw:8000", "bw:8000"),
                           ("phone:25", "mp3:32"), ("phone:10", "opus:6")]:
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
    """Real-time factor of the speech enhancer (`nac restore`'s model, through its stream in
    10-s blocks) on 60 s of dev speech, one thread."""
    import torch

    from nac.registry import DEFAULT_RESTORE
    from nac.restore.restorer import load_restorer
    from nac.restore.stream import enhance_file

    torch.set_num_threads(1)
    model = load_restorer(DEFAULT_RESTORE["speech"])
    x = dev_speech(dev, 60.0)
    enhance_file(model, x[:, :16000])
    t = time.perf_counter()
    enhance_file(model, x)
    return x.shape[1] / 16000 / (time.perf_counter() - t)


def dev_noise_dir(data: Path) -> Path:
    """The dev noise files (every fifth: `enhance_data.noise_files`) linked into one folder, for
    `phone:SNR` in the worker processes ($NAC_NOISE_DIR)."""
    from nac.train.enhance_data import noise_files

    out = Path(default_cache_dir()).parent / "bench_dev_noise"
    out.mkdir(parents=True, exist_ok=True)
    for f in noise_files(data, dev=True):
        link = out / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
    return out


def main() -> None:
    import os

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "restore.md")
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-music", action="store_true")
    ap.add_argument("--skip-auto", action="store_true", help="skip the `--content auto` accuracy table")
    ap.add_argument("--warm-cache", action="store_true",
                    help="only score the inputs and third-party systems (cached for the full run), no report")
    args = ap.parse_args()
    dev = args.data / "dev"
    os.environ["NAC_NOISE_DIR"] = str(dev_noise_dir(args.data))  # inherited by the workers
    cache = default_cache_dir()
    speech = list_audio(dev / "speech")[:: args.stride]
    music = [] if args.no_music else list_audio(music_segments(dev) / "music")
    systems = SPEECH + [restored_name(s) for s in SPEECH] + ["restore:nac:6"] + THIRD_PARTY
    systems += [a for a in ANCHORS if (lace.available() if a.startswith("lace") else lyra.available())]
    if args.warm_cache:  # what does not depend on NAC's restorer: the inputs and the anchors
        systems = [s for s in systems if not s.startswith(("restore:", "nacpf:"))]
    jobs = [Job("speech/" + f.name, str(f), None, s, None, SPEECH_METRICS, cache) for s in systems for f in speech]
    if args.warm_cache:
        run_eval(jobs, args.jobs)
        return
    for system in MUSIC:
        for s in (system, f"restore:{system}"):
            jobs += [Job("music/" + f.name, str(f), None, s, None, MUSIC_METRICS, cache) for f in music]
    rows = with_long_speech(run_eval(jobs, args.jobs))
    notes = [f"{len(speech)} dev speech files (every {args.stride}th, DC removed), all dev music as {len(music)} "
             "10-s segments.",
             "The restoration model is chosen by the folder (speech/ or music/), as `--content speech|music` would; "
             "`--content auto` is measured separately below.",
             "`phone:SNR` = band-pass 200-300 Hz to 5-7 kHz, presence peak, small room heard near-field, dev noise "
             "(never trained on) at SNR dB, soft clipping; seeded by the clip, so every system sees the same input.",
             "`dfn3:X` / `rnnoise:X` = X through DeepFilterNet3 (official Rust runtime and ONNX graphs) / RNNoise "
             "(librnnoise), both at 48 kHz, delays removed.",
             "`lace:9` = Opus 9 kbps decoded with libopus' LACE post-filter, beside restored Opus 6; `lyra:6` beside "
             "`nacpf:6`.",
             "`restore:X` = X, then `nac restore` at the input's rate; `nacpf:K` = `nac decode --postfilter`.",
             f"`{LONG}`: the speech files >= 2.5 s (ViSQOL on short clips misleads)."]
    summary = write_report(rows, args.out, "Restoration benchmark (dev set)", notes)
    lines = args.out.read_text().splitlines() + [""]
    lines += ["## Targets", ""] + targets(rows) + [""]
    lines += ["## Input → restored", ""] + deltas(summary, rows) + [""]
    if not args.skip_auto:
        lines += ["## `--content auto` on damaged input", ""] + auto_accuracy(speech, music) + [""]
    rtf = speed(dev)
    lines += [f"Speed: the speech enhancer runs at {rtf:.0f}× real time on one CPU thread (60 s of speech "
              "through its stream in 10-s blocks; algorithmic latency 20 ms).", ""]
    panels = []
    long_files = [f for f in speech if sf.info(f).duration >= 4]
    if long_files:
        example = long_files[0]
        x, sr = read_audio(example)
        x = resample(x.mean(0, keepdims=True), sr, 16000)[0][: 4 * 16000]
        x = x - x.mean()
        for spec in ("identity", "phone:10", "restore:phone:10", "dfn3:phone:10", "opus:6", "restore:opus:6",
                     "bw:8000", "restore:bw:8000"):
            panels.append((f"{example.name}: {spec}", run_system(parse_system(spec), x, 16000, "speech")[0]))
    fig = plot_spectrograms(panels, 16000, args.out.with_name(args.out.stem + "_spectrograms.png"))
    if fig:
        lines += [f"![spectrograms]({fig.name})", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
