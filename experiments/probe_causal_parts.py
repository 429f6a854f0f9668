#!/usr/bin/env python3
"""Which half of the causal student limits it: its encoder's codes or its decoder?

    python experiments/probe_causal_parts.py STUDENT [--teacher nac-16k] [--stride 4] [--kbps 6]

The student (`nac/train/causal.py`) shares the teacher's codebooks, so codes cross over: each
decoder renders each encoder's codes. All four pairs decode with the student's online phase
(`online_phase_model`), so the phase is not what differs. PESQ-WB and mel distance on dev
speech >= 2.5 s (DC removed). Answered in reports/training.md, "Session 11".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import dev_clips, load_spec  # noqa: E402

from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import mel_distance, pesq_wb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("student")
    ap.add_argument("--teacher", default="nac-16k")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--kbps", type=float, default=6.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    student = load_spec(args.student)
    phase = {k: getattr(student.cfg, k) for k in ("online_phase_lookahead", "online_phase_iters")}
    teacher = load_spec(args.teacher).with_config(**phase)
    files = dev_clips(args.dev, 2.5, stride=args.stride)
    print(f"{len(files)} dev speech files >= 2.5 s (DC removed), {args.kbps:g} kbps, phase {phase}")
    scores: dict[str, list[tuple[float, float]]] = {}
    agree = []
    with torch.no_grad():
        for _, x in files:
            wav = torch.from_numpy(x)[None]
            codes = {"teacher": teacher.encode(wav, args.kbps), "student": student.encode(wav, args.kbps)}
            agree.append((codes["teacher"] == codes["student"]).float().mean(-1)[0].numpy())
            for enc, c in codes.items():
                for dec, model in (("teacher", teacher), ("student", student)):
                    y = model.decode(c)[0, :len(x)].numpy()
                    scores.setdefault(f"{enc} codes -> {dec} decoder", []).append(
                        (pesq_wb(x, y, 16000), mel_distance(x, y, 16000)))
    for name, rows in scores.items():
        (pm, pc), (mm, mc) = mean_ci([r[0] for r in rows]), mean_ci([r[1] for r in rows])
        print(f"{name:>34}: PESQ {pm:.3f} ± {pc:.3f}, mel {mm:.3f} ± {mc:.3f}")
    print("codes equal to the teacher's, per level:", np.round(np.mean(agree, 0), 3).tolist())


if __name__ == "__main__":
    main()
