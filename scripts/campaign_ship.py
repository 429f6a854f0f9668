#!/usr/bin/env python3
"""Ship a campaign arm's checkpoint as nac-16k when it beats the shipped model on dev.

    python scripts/campaign_ship.py pitch            # runs/campaign-pitch/latest.pt vs nac-16k
    python scripts/campaign_ship.py baseline --dry-run

Both are scored on the same held-out speech (dev files >= 2.5 s) at 6 kbps; the arm ships only
if its mean PESQ-WB is higher (paired difference and 95 % CI printed). Shipping exports fp16
inference weights to nac/pretrained/nac-16k.pt (<= 20 MB), refits its code statistics for
entropy coding, writes the sha256 into the registry and appends a line to reports/campaign.md.
Commit the result.
"""
from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ab_eval import code, dev_clips, load  # noqa: E402

from nac.checkpoint import export  # noqa: E402
from nac.eval.evaluate import mean_ci  # noqa: E402
from nac.eval.metrics import pesq_wb  # noqa: E402
from nac.registry import PRETRAINED_DIR  # noqa: E402

MAX_BYTES = 20_000_000


def dev_pesq(spec: str, files, kbps: float) -> list[float]:
    model = load(spec, {})
    return [pesq_wb(x, code(model, x, kbps), 16000) for x in files]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arm")
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev" / "speech")
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    run = ROOT / "runs" / f"campaign-{args.arm}" / "latest.pt"
    if not run.exists():
        sys.exit(f"{run}: no checkpoint (start the arm with scripts/campaign.sh {args.arm})")
    files = [x for _, x in dev_clips(args.dev)]
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "nac-16k.pt"
        export(run, candidate, "nac-16k")
        step = torch.load(candidate, weights_only=False)["step"]
        new = dev_pesq(str(candidate), files, args.kbps)
        old = dev_pesq("nac-16k", files, args.kbps)
        d, ci = mean_ci([a - b for a, b in zip(new, old)])
        print(f"{len(files)} dev files: shipped {sum(old) / len(old):.3f}, {args.arm} step {step} "
              f"{sum(new) / len(new):.3f} (paired Δ {d:+.3f} ± {ci:.3f})")
        if d <= 0 or args.dry_run:
            print("not shipped" + (" (dry run)" if args.dry_run else ": no better than the shipped model"))
            return
        if candidate.stat().st_size > MAX_BYTES:
            sys.exit(f"{candidate.stat().st_size} bytes: over the 20 MB limit for committed weights")
        shutil.copy(candidate, PRETRAINED_DIR / "nac-16k.pt")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "register_model.py"), "nac-16k"], check=True)
    # new weights make new codes: refit the entropy coder's statistics (re-registers the sha256)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "fit_code_statistics.py"), "nac-16k"], check=True)
    size = (PRETRAINED_DIR / "nac-16k.pt").stat().st_size
    if size > MAX_BYTES:
        sys.exit(f"nac-16k.pt is {size} bytes with its code statistics: over the 20 MB limit")
    log = ROOT / "reports" / "campaign.md"
    if not log.exists():
        log.write_text("# Campaign log\n\nShipped by `scripts/campaign_ship.py` (dev speech >= 2.5 s, "
                       f"{args.kbps:g} kbps, PESQ-WB).\n\n| date | arm | step | shipped before | new | paired Δ |\n"
                       "|---|---|---|---|---|---|\n")
    with open(log, "a") as f:
        f.write(f"| {datetime.date.today()} | {args.arm} | {step} | {sum(old) / len(old):.3f} | "
                f"{sum(new) / len(new):.3f} | {d:+.3f} ± {ci:.3f} |\n")
    print("shipped: nac/pretrained/nac-16k.pt (commit it with nac/registry.py and reports/campaign.md)")


if __name__ == "__main__":
    main()
