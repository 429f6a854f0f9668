#!/usr/bin/env python3
"""Fuzz `nac encode`'s audio input with mutated WAV/FLAC/Ogg-Opus/MP3 files; write the audio
section of reports/fuzz.md.

    python scripts/fuzz_audio.py --cases 10000          # the real nac-16k, one thread

Every case must end in an AudioError (the CLI's one-line error) or a valid encode, in under
--limit seconds; peak RSS is measured for the whole run (so it bounds every case). The mutation
strategies are in `nac/eval/fuzzing_audio.py`.
"""
from __future__ import annotations

import argparse
import collections
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac.eval import fuzzing, fuzzing_audio  # noqa: E402
from nac.io.audio import AudioError  # noqa: E402

SECTION = "## Audio input (`scripts/fuzz_audio.py`)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=float, default=5.0, help="seconds per case")
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--report", default=str(ROOT / "reports" / "fuzz.md"))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    seeds = fuzzing_audio.seed_files()
    rng = random.Random(args.seed)
    counts, by_format = collections.Counter(), collections.defaultdict(collections.Counter)
    failures, slowest = [], []
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        fuzzing_audio.encode_file(_write(Path(tmp), "warm.wav", seeds["pcm16.wav"]), args.model)  # load once
        for i in tqdm(range(args.cases), desc="fuzz audio", mininterval=5):
            strategy, name, data = fuzzing_audio.mutate(seeds, rng)
            path = _write(Path(tmp), f"case{name[name.rindex('.'):]}", data)
            out = fuzzing.run_case(strategy, path, lambda p: fuzzing_audio.encode_file(p, args.model),
                                   limit_s=args.limit, expected=(AudioError,), expected_name="audio_error")
            counts[out.result] += 1
            by_format[name][out.result] += 1
            slowest.append((out.seconds, strategy, name))
            if out.result not in ("audio_error", "decoded"):
                failures.append((strategy, name, out.result, out.message))
    wall = time.time() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    slowest.sort(reverse=True)
    verdict = "PASS" if not failures and slowest[0][0] < args.limit and rss_mb < 1024 else "FAIL"
    lines = [SECTION, "",
             f"{args.cases} mutated files through `nac encode`'s reader and coder ({args.model}, one thread, "
             f"{wall:.0f} s): **{verdict}**: {counts['audio_error']} one-line `AudioError`s, "
             f"{counts['decoded']} valid encodes, {len(failures)} other outcomes (tracebacks), "
             f"{counts['timeout']} over {args.limit:g} s; slowest case {slowest[0][0]:.2f} s "
             f"({slowest[0][1]} of {slowest[0][2]}); peak RSS of the whole run {rss_mb:.0f} MB (< 1 GB bounds "
             "every case).", "",
             "| seed file | audio error | valid encode | other |", "|---|---|---|---|"]
    for name in sorted(by_format):
        c = by_format[name]
        lines.append(f"| {name} | {c['audio_error']} | {c['decoded']} | "
                     f"{sum(v for k, v in c.items() if k not in ('audio_error', 'decoded'))} |")
    lines += ["", "Strategies (`nac/eval/fuzzing_audio.py`): " + ", ".join(sorted(fuzzing_audio.STRATEGIES))
              + ": bit flips weighted to the header, truncation, insertion, deletion, absurd 16/32-bit header "
              "fields in either byte order, the canonical WAV fields (channels, rate, byte rate, block align, "
              "bits, RIFF and data sizes), a real magic number followed by noise, and splices."]
    if failures:
        lines += ["", "Failures (first 10):", ""] + [f"- {s} of {n}: {r}: {m}" for s, n, r, m in failures[:10]]
    _write_section(Path(args.report), "\n".join(lines) + "\n")
    print("\n".join(lines))


def _write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


def _write_section(report: Path, section: str) -> None:
    text = report.read_text() if report.exists() else "# Fuzzing\n"
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = head.rstrip() + "\n\n" + section + tail
    else:
        text = text.rstrip() + "\n\n" + section
    report.write_text(text)


if __name__ == "__main__":
    main()
