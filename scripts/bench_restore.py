#!/usr/bin/env python3
"""Restoration benchmark on the dev set: each degradation alone vs followed by `nac restore`.

    python scripts/bench_restore.py --dev ../shared/data/dev --jobs 2 [--stride 2]

Writes reports/restore.md (+ restore.csv, restore_rd.png, restore_scatter.png,
restore_spectrograms.png). Speech: every --stride-th dev speech file (all corpora), DC removed,
PESQ-WB, STOI, ViSQOL (speech; on files >= 2.5 s), DNSMOS OVRL, log-spectral distance; Opus 9 +
LACE (libopus' neural post-filter, `scripts/install_lace.sh`) beside restored Opus 6 as the
anchor. Music: all of the dev music, cut into 10-s segments, ViSQOL (audio), LSD, mel. Every
change is paired over files with its 95 % CI. Speed: `nac restore` of 60 s of Opus 6 kbps speech
(what the speech restorer runs on; other speech passes through) on one thread.
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

from nac.eval import lace  # noqa: E402
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
SPEECH = ["identity", "phone", "opus:6", "bw:8000", "opus:12", "mp3:32", "nac:6"]
ANCHORS = ["lace:9"]  # scored, not restored: what restored Opus 6 is measured against
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
        for metric, higher in [("pesq", True), ("visqol", True), ("stoi", True), ("dnsmos", True), ("lsd", False),
                               ("mel", False)]:
            if metric in s and metric in after:
                d, ci, _ = paired_change(rows, content, system, restored_name(system), metric)
                verdict = " ✓" if (d > ci if higher else d < -ci) else (" ✗" if (d < -ci if higher else d > ci) else "")
                lines.append(f"| {content} | {system} | {metric} | {s[metric][0]:.3f} | {after[metric][0]:.3f} | "
                             f"{d:+.3f} ± {ci:.3f}{verdict} |")
    return lines


def targets(rows: list[dict]) -> list[str]:
    """The speech restoration issue's targets, each with its paired change and verdict."""
    lines = ["| target | measured (paired 95 % CI) | status |", "|---|---|---|"]

    def row(label, content, system, metric, goal, after=None):
        d, ci, n = paired_change(rows, content, system, after or restored_name(system), metric)
        if n == 0:
            lines.append(f"| {label} | – | not measured |")
            return
        lines.append(f"| {label} | {d:+.3f} ± {ci:.3f} (n = {n}) | {'**met**' if goal(d, ci) else 'missed'} |")

    def lsd_ratio(system):
        before = [float(r["lsd"]) for r in rows if r["content"] == "speech" and r["system"] == system and r.get("lsd")]
        after = [float(r["lsd"]) for r in rows if r["content"] == "speech" and r["system"] == restored_name(system)
                 and r.get("lsd")]
        return sum(after) / sum(before) if before and after else None

    row("phone: PESQ >= +0.3", "speech", "phone", "pesq", lambda d, ci: d >= 0.3)
    row("phone: ViSQOL >= +0.5", LONG, "phone", "visqol", lambda d, ci: d >= 0.5)
    row("phone: DNSMOS >= +0.3", "speech", "phone", "dnsmos", lambda d, ci: d >= 0.3)
    row("Opus 6: ViSQOL >= +0.4", LONG, "opus:6", "visqol", lambda d, ci: d >= 0.4)
    row("Opus 6: DNSMOS >= +0.1", "speech", "opus:6", "dnsmos", lambda d, ci: d >= 0.1)
    row("Opus 6: PESQ not lower than -0.05", "speech", "opus:6", "pesq", lambda d, ci: d >= -0.05)
    ratio = lsd_ratio("bw:8000")
    lines.append(f"| 8 kHz: LSD <= 0.6x the input's | {ratio:.2f}x | {'**met**' if ratio <= 0.6 else 'missed'} |"
                 if ratio else "| 8 kHz: LSD <= 0.6x the input's | – | not measured |")
    row("8 kHz: ViSQOL >= +0.2", LONG, "bw:8000", "visqol", lambda d, ci: d >= 0.2)
    row("8 kHz: PESQ not lower than -0.05", "speech", "bw:8000", "pesq", lambda d, ci: d >= -0.05)
    for system in ("opus:12", "mp3:32", "identity"):
        for metric in SPEECH_METRICS:
            higher = metric != "lsd"
            row(f"{system}: {metric} not lower beyond its CI" if higher else f"{system}: lsd not higher beyond its CI",
                LONG if metric == "visqol" else "speech", system, metric,
                lambda d, ci, h=higher: (d >= -ci) if h else (d <= ci))
    for metric in ("pesq", "dnsmos"):
        row(f"anchor: restored Opus 6 vs Opus 9 + LACE ({metric})", "speech", "lace:9", metric,
            lambda d, ci: d >= 0, after="restore:opus:6")
    row("anchor: restored Opus 6 vs Opus 9 + LACE (visqol)", LONG, "lace:9", "visqol", lambda d, ci: d >= 0,
        after="restore:opus:6")
    for system in MUSIC:
        row(f"music {system}: ViSQOL not lower beyond its CI", "music", system, "visqol", lambda d, ci: d >= -ci)
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
    """Real-time factor of `nac restore` (the latent restorer's whole path: band estimate,
    restoration encoder, the codec's decoder, the kept band) on 60 s of Opus 6 kbps speech, the
    input it runs on (8-kHz and phone speech pass through, which would time only the detection),
    one thread."""
    import torch

    from nac.restore.plan import plan_restore, restore_audio
    from nac.train import degrade

    torch.set_num_threads(1)
    x = degrade.opus(dev_speech(dev, 60.0)[0], 16000, 6)[None].astype("float32")
    source = {"codec": "opus", "kbps": 6.0}  # what `nac restore in.opus` reads from the container
    plan = plan_restore(x[:, :16000], 16000, "speech", **source)
    assert plan.action == "restore", plan.explain()  # timing a pass-through would measure nothing
    restore_audio(x[:, :16000], 16000, "speech", **source)
    t = time.perf_counter()
    restore_audio(x, 16000, "speech", **source)
    return x.shape[1] / 16000 / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "restore.md")
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-music", action="store_true")
    ap.add_argument("--skip-auto", action="store_true", help="skip the `--content auto` accuracy table")
    args = ap.parse_args()
    cache = default_cache_dir()
    speech = list_audio(args.dev / "speech")[:: args.stride]
    music = [] if args.no_music else list_audio(music_segments(args.dev) / "music")
    jobs = []
    for system in SPEECH + [a for a in ANCHORS if lace.available()]:
        for s in (system,) if system in ANCHORS else (system, restored_name(system)):
            jobs += [Job("speech/" + f.name, str(f), None, s, None, SPEECH_METRICS, cache) for f in speech]
    for system in MUSIC:
        for s in (system, f"restore:{system}"):
            jobs += [Job("music/" + f.name, str(f), None, s, None, MUSIC_METRICS, cache) for f in music]
    rows = with_long_speech(run_eval(jobs, args.jobs))
    notes = [f"{len(speech)} dev speech files (every {args.stride}th, DC removed), all dev music as {len(music)} "
             "10-s segments.",
             "The restoration model is chosen by the folder (speech/ or music/), as `--content speech|music` would; "
             "`--content auto` is measured separately below.",
             "`phone` = band-pass 150-400 Hz to 3.4-7 kHz, EQ tilt, small room, soft clipping (seeded; no added noise).",
             "`lace:9` = Opus 9 kbps decoded with libopus' LACE post-filter: the anchor for restored Opus 6.",
             "`restore:X` = X, then `nac restore` at the input's rate; `nacpf:K` = `nac decode --postfilter`. "
             "Both follow `nac restore`'s plan: input that already fills the model's band passes through.",
             f"`{LONG}`: the speech files >= 2.5 s (ViSQOL on short clips misleads)."]
    summary = write_report(rows, args.out, "Restoration benchmark (dev set)", notes)
    lines = args.out.read_text().splitlines() + [""]
    lines += ["## Targets", ""] + targets(rows) + [""]
    lines += ["## Input → restored", ""] + deltas(summary, rows) + [""]
    if not args.skip_auto:
        lines += ["## `--content auto` on degraded input", ""] + auto_accuracy(speech, music) + [""]
    rtf = speed(args.dev)
    lines += [f"Speed: `nac restore` of Opus 6 kbps speech runs at {rtf:.0f}× real time on one CPU thread (60 s, "
              "the latent restorer's whole path).", ""]
    panels = []
    long_files = [f for f in speech if sf.info(f).duration >= 4]
    if long_files:
        example = long_files[0]
        x, sr = read_audio(example)
        x = resample(x.mean(0, keepdims=True), sr, 16000)[0][: 4 * 16000]
        x = x - x.mean()
        for spec in ("identity", "phone", "restore:phone", "opus:6", "restore:opus:6", "lace:9", "bw:8000",
                     "restore:bw:8000"):
            if spec.startswith("lace") and not lace.available():
                continue
            panels.append((f"{example.name}: {spec}", run_system(parse_system(spec), x, 16000, "speech")[0]))
    fig = plot_spectrograms(panels, 16000, args.out.with_name(args.out.stem + "_spectrograms.png"))
    if fig:
        lines += [f"![spectrograms]({fig.name})", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
