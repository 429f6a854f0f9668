"""`nac eval`: score coded/restored audio against references; CSV, markdown and plots.

Two ways in:
- pairs: REF_DIR and DEG_DIR, matched by relative path (extension ignored);
- systems: DATA_DIR and `--system` specs that NAC runs itself (see `nac.systems`).
Per-file results are cached by (file content hash, system, metric set) so re-runs are cheap.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..io.audio import list_audio, read_audio, resample
from . import metrics

METRICS_VERSION = 4  # 2: DNSMOS is OVRL (was P.808); 3: DC removed before coding and scoring; 4: + SIG, BAK
SPEECH_METRICS = ("pesq", "stoi", "visqol", "dnsmos", "mel", "lsd", "si_sdr", "snr", "harmonic")
MUSIC_METRICS = ("visqol", "mel", "lsd", "si_sdr", "snr")
# computed only when asked for with --metrics: dnsmos is slow (two ONNX nets); harmonic is a
# diagnostic for codec development (see metrics.harmonic_correlation)
OPT_IN = {"dnsmos", "harmonic"}
HIGHER_IS_BETTER = {"pesq": True, "stoi": True, "visqol": True, "dnsmos": True, "mel": False, "lsd": False,
                    "si_sdr": True, "snr": True, "harmonic": True}


def content_of(rel: str) -> str:
    """Content type from the path: a folder named music/ or speech/ (default speech)."""
    parts = {p.lower() for p in Path(rel).parts[:-1]}
    return "music" if "music" in parts else "speech"


METRIC_FUNCS = {
    "pesq": lambda ref, deg, sr, content: metrics.pesq_wb(ref, deg, sr),
    "stoi": lambda ref, deg, sr, content: metrics.stoi(ref, deg, sr),
    "visqol": lambda ref, deg, sr, content: metrics.visqol(ref, deg, sr, "speech" if content == "speech" else "audio"),
    # one DNSMOS run gives all three P.835 scores: "dnsmos" is OVRL, SIG and BAK come beside it
    "dnsmos": lambda ref, deg, sr, content: metrics.dnsmos_parts(deg, sr),
    "mel": lambda ref, deg, sr, content: metrics.mel_distance(ref, deg, sr),
    "lsd": lambda ref, deg, sr, content: metrics.lsd(ref, deg, sr),
    "harmonic": lambda ref, deg, sr, content: metrics.harmonic_correlation(ref, deg, sr),
    "si_sdr": lambda ref, deg, sr, content: metrics.si_sdr(ref, deg, sr),
    "snr": lambda ref, deg, sr, content: metrics.snr(ref, deg, sr),
}


def metrics_for(wanted: set[str] | None) -> set[str]:
    """The metrics a run computes on some content: the asked-for ones, or every default."""
    return set(wanted) if wanted else (set(SPEECH_METRICS) | set(MUSIC_METRICS)) - OPT_IN


def score(ref: np.ndarray, deg: np.ndarray, sr: int, content: str, wanted: set[str] | None = None) -> dict:
    """All metrics for one mono pair, at each metric's own rate."""
    names = SPEECH_METRICS if content == "speech" else MUSIC_METRICS
    out = {}
    for name in names:
        if (wanted and name not in wanted) or (not wanted and name in OPT_IN):
            continue
        value = METRIC_FUNCS[name](ref, deg, sr, content)
        if isinstance(value, dict):
            out.update({name if part == "ovrl" else f"{name}_{part}": v for part, v in value.items()})
        elif value is not None:
            out[name] = value
    return out


@dataclass
class Job:
    rel: str
    ref_path: str
    deg_path: str | None  # pairs mode (then `system` is only a label)
    system: str
    model: str | None
    wanted: tuple[str, ...] | None
    cache_dir: str | None


def _file_hash(path: str) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _models_fingerprint(job: Job) -> str:
    """Cached results of NAC systems are only valid for the same weights."""
    if job.deg_path or not any(k in job.system for k in ("nac", "restore")):
        return ""
    from ..registry import REGISTRY

    # the weights, and what the cards tell the restore plan (classes skipped, per-class strength)
    digests = [f"{card.sha256}:{card.skips}:{card.class_strength}" for card in REGISTRY.values()]
    if job.model and Path(job.model).is_file():
        digests.append(_file_hash(job.model))
    return ",".join(digests)


def run_job(job: Job) -> dict:
    import torch

    torch.set_num_threads(1)
    key = None
    if job.cache_dir:
        parts = [_file_hash(job.ref_path), _file_hash(job.deg_path) if job.deg_path else job.system, job.system,
                 str(job.model), ",".join(job.wanted or ()), str(METRICS_VERSION), _models_fingerprint(job),
                 metrics.package_versions()]
        key = Path(job.cache_dir) / (hashlib.sha1("|".join(parts).encode()).hexdigest() + ".json")
        if key.exists():
            return json.loads(key.read_text())
    ref, sr = read_audio(job.ref_path)
    # A DC offset (21 of the dev speech files carry one) is no part of what a codec should keep, and
    # codecs differ in whether they pass it: every system codes, and every metric scores, DC-free audio.
    ref = ref.mean(0)
    ref = ref - ref.mean() if ref.size else ref
    row = {"file": job.rel, "content": content_of(job.rel), "seconds": round(len(ref) / sr, 3)}
    if job.deg_path:
        deg, dsr = read_audio(job.deg_path)
        deg = resample(deg.mean(0, keepdims=True), dsr, sr)[0]
        deg = deg - deg.mean() if deg.size else deg
        row.update(system=job.system, kbps="")
        # codec delays in third-party files are unknown: search +-100 ms
        ref, deg = metrics.align(ref, deg, sr, max_delay_s=0.1)
    else:
        from .systems import parse_system, run_system

        system = parse_system(job.system, job.model)
        deg, kbps = run_system(system, ref.astype(np.float32), sr, row["content"])
        row.update(system=job.system, kbps=round(kbps, 3) if kbps else "")
    row.update(score(ref, deg, sr, row["content"], set(job.wanted) if job.wanted else None))
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(json.dumps(row))
    return row


def pair_files(ref_dir: str, deg_dir: str) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """Match by relative path without extension: (pairs, refs without a match, extra degraded)."""
    def index(folder):
        root = Path(folder)
        return {str(p.relative_to(root).with_suffix("")): p for p in list_audio(root)}

    refs, degs = index(ref_dir), index(deg_dir)
    pairs = [(k, str(refs[k]), str(degs[k])) for k in sorted(refs) if k in degs]
    return pairs, sorted(set(refs) - set(degs)), sorted(set(degs) - set(refs))


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % confidence half-width (normal approximation)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    return float(v.mean()), float(half)


def paired_change(rows: list[dict], content: str, before: str, after: str, metric: str
                  ) -> tuple[float, float, int]:
    """Mean, 95 % CI half-width and count of the per-file difference `after` - `before` on the
    files both systems scored (paired: the CI of a difference, not two CIs side by side)."""

    def index(system):
        return {r["file"]: float(r[metric]) for r in rows if r["content"] == content and r["system"] == system
                and r.get(metric) not in ("", None)}

    a, b = index(before), index(after)
    common = sorted(set(a) & set(b))
    mean, ci = mean_ci([b[f] - a[f] for f in common])
    return mean, ci, len(common)


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["content"], r["system"]), []).append(r)
    out = []
    for (content, system), rs in sorted(groups.items()):
        entry = {"content": content, "system": system, "files": len(rs)}
        kb = [float(r["kbps"]) for r in rs if r.get("kbps") not in ("", None)]
        entry["kbps"] = float(np.mean(kb)) if kb else None
        for name in HIGHER_IS_BETTER:
            vals = [float(r[name]) for r in rs if r.get(name) not in ("", None)]
            if vals:
                entry[name] = mean_ci(vals)
        out.append(entry)
    return out


def write_report(rows: list[dict], report: Path, title: str, notes: list[str] = ()) -> list[dict]:
    report.parent.mkdir(parents=True, exist_ok=True)
    csv_path = report.with_suffix(".csv")
    fields = ["file", "content", "system", "kbps", "seconds", *HIGHER_IS_BETTER]
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    summary = summarise(rows)
    lines = [f"# {title}", "", f"Per-file results: `{csv_path.name}`. Mean ± 95 % CI; "
             "↑ higher is better, ↓ lower is better.", ""]
    for content in sorted({s["content"] for s in summary}):
        entries = [s for s in summary if s["content"] == content]
        names = [n for n in HIGHER_IS_BETTER if any(n in e for e in entries)]
        lines += [f"## {content}", "",
                  "| system | files | kbps | " + " | ".join(f"{n} {'↑' if HIGHER_IS_BETTER[n] else '↓'}" for n in names) + " |",
                  "|---" * (3 + len(names)) + "|"]
        for e in entries:
            cells = [f"{e[n][0]:.3f} ± {e[n][1]:.3f}" if n in e else "–" for n in names]
            kb = f"{e['kbps']:.2f}" if e["kbps"] else "–"
            lines.append(f"| {e['system']} | {e['files']} | {kb} | " + " | ".join(cells) + " |")
        lines.append("")
    plots = plot_rate_distortion(summary, report.with_name(report.stem + "_rd.png"))
    scatter = plot_scatter(rows, report.with_name(report.stem + "_scatter.png"))
    for p in (plots, scatter):
        if p:
            lines += [f"![{p.stem}]({p.name})", ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    report.write_text("\n".join(lines))
    return summary


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        return None


def plot_rate_distortion(summary: list[dict], path: Path) -> Path | None:
    plt = _plt()
    rated = [s for s in summary if s.get("kbps")]
    if plt is None or not rated:
        return None
    panels = [(c, n) for c in sorted({s["content"] for s in rated})
              for n in ("pesq", "visqol", "mel") if any(n in s for s in rated if s["content"] == c)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (content, name) in zip(axes[0], panels):
        fams: dict[str, list] = {}
        for s in rated:
            if s["content"] == content and name in s:
                fams.setdefault(s["system"].split(":")[0], []).append((s["kbps"], *s[name]))
        for fam, pts in sorted(fams.items()):
            pts.sort()
            k, m, ci = map(np.array, zip(*pts))
            ax.errorbar(k, m, yerr=ci, marker="o", capsize=3, label=fam)
        ax.set_xscale("log")
        ax.set_xlabel("real kbps")
        ax.set_title(f"{content}: {name} {'↑' if HIGHER_IS_BETTER[name] else '↓'}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_scatter(rows: list[dict], path: Path, metric: str = "pesq") -> Path | None:
    """Per-file metric of every system against the first system's, one point per file."""
    plt = _plt()
    systems = sorted({r["system"] for r in rows if r.get(metric) not in (None, "")})
    if plt is None or len(systems) < 2:
        return None
    base = systems[0]
    by = {(r["system"], r["file"]): float(r[metric]) for r in rows if r.get(metric) not in (None, "")}
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for s in systems[1:]:
        pts = [(by[(base, f)], by[(s, f)]) for (sy, f) in by if sy == s and (base, f) in by]
        if pts:
            ax.scatter(*zip(*pts), s=10, label=s, alpha=0.7)
    lo, hi = ax.get_xlim()
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel(f"{metric} of {base}")
    ax.set_ylabel(f"{metric} of other systems")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_spectrograms(clips: list[tuple[str, np.ndarray]], sr: int, path: Path) -> Path | None:
    plt = _plt()
    if plt is None or not clips:
        return None
    fig, axes = plt.subplots(len(clips), 1, figsize=(8, 1.8 * len(clips)), squeeze=False)
    for ax, (label, x) in zip(axes[:, 0], clips):
        ax.specgram(x + 1e-9, NFFT=512, Fs=sr, noverlap=384, cmap="magma", vmin=-120)
        ax.set_ylabel("Hz")
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_eval(jobs: list[Job], workers: int = 1, progress: bool = True) -> list[dict]:
    if workers <= 1:
        return [run_job(j) for j in tqdm(jobs, desc="eval", disable=not progress)]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(run_job, jobs), total=len(jobs), desc="eval", disable=not progress))


def default_cache_dir() -> str:
    return os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "nac", "eval")
