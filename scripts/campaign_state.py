#!/usr/bin/env python3
"""Carry a campaign arm's training state across sessions in committed files of at most 15 MiB.

    python scripts/campaign_state.py save ARM     # runs/campaign-ARM/latest.pt -> campaign/ARM/*.pt
    python scripts/campaign_state.py load ARM     # campaign/ARM/*.pt -> runs/campaign-ARM/latest.pt

A run folder is git-ignored and lost with the machine; `campaign/ARM/` is committed. What is
saved: the step, the configs, the weights the run trains (a decoder-only run: the decoder, not
the frozen encoder and codebooks, which are the shipped model's) as their EMA where the run
keeps one (the weights dev measured; the next session trains on from them), and the
discriminator, in fp16 (12 MB for decoder v2: the rounding, 5e-4 relative, is far below what a
step changes, and the tree a lent GPU is sent must stay under 64 MiB), split into shards under
the size limit. The live weights and the
optimisers' moments are not saved (they would triple the size): `load` marks the checkpoint so
the next run starts a fresh optimiser with a new warm-up at the saved step (`run_state.resume`).
`campaign.sh` calls `load` by itself when an arm has no run folder yet.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac import checkpoint  # noqa: E402

LIMIT = 15 * 2 ** 20  # under the 16 MiB a lent GPU can send back per file, and the 20 MB commit limit


def frozen_prefixes(ckpt: dict) -> tuple[str, ...]:
    if ckpt.get("teacher_sha256"):  # a causal student (nac/train/causal.py): the teacher's codebooks,
        return ("quantizer.",)      # which the distiller restores from the teacher itself
    return ("encoder.", "quantizer.") if ckpt.get("train_config", {}).get("freeze_encoder") else ()


def shards(state: dict[str, torch.Tensor], prefix: str) -> list[tuple[str, dict]]:
    out, current, size = [], {}, 0
    for key, value in state.items():
        nbytes = value.numel() * value.element_size()
        if current and size + nbytes > LIMIT:
            out.append(current)
            current, size = {}, 0
        current[key] = value
        size += nbytes
    out.append(current)
    return [(f"{prefix}-{i}.pt", part) for i, part in enumerate(out)]


def save(arm: str) -> None:
    run, folder = ROOT / "runs" / f"campaign-{arm}", ROOT / "campaign" / arm
    ckpt = checkpoint.load(run / "latest.pt")
    skip = frozen_prefixes(ckpt)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.pt"):
        old.unlink()
    meta = {k: ckpt[k] for k in ("kind", "config", "train_config", "step", "start_step", "teacher_sha256")
            if k in ckpt}
    if "codec_config" in ckpt:
        meta["codec_config"] = ckpt["codec_config"]
    files = []
    weights = "ema" if "ema" in ckpt else "model"
    for name, source in (("model", weights), ("disc", "disc")):
        if source not in ckpt:
            continue
        state = {k: v.half() if v.is_floating_point() else v for k, v in ckpt[source].items()
                 if not k.startswith(skip)}
        for filename, part in shards(state, name):
            torch.save(part, folder / filename)
            files.append(filename)
    decoder_only = skip and "teacher_sha256" not in ckpt
    meta["files"], meta["frozen_from"] = files, "nac/pretrained/nac-16k.pt" if decoder_only else None
    (folder / "state.json").write_text(json.dumps(meta, indent=1) + "\n")
    sizes = sum((folder / f).stat().st_size for f in files)
    print(f"saved {arm} at step {meta['step']}: {len(files)} files, {sizes / 2 ** 20:.1f} MB in {folder}")


def load(arm: str) -> None:
    run, folder = ROOT / "runs" / f"campaign-{arm}", ROOT / "campaign" / arm
    meta = json.loads((folder / "state.json").read_text())
    ckpt = {k: v for k, v in meta.items() if k not in ("files", "frozen_from")}
    for filename in meta["files"]:
        part = checkpoint.float_state(torch.load(folder / filename, map_location="cpu", weights_only=True))
        ckpt.setdefault(filename.rsplit("-", 1)[0], {}).update(part)
    if meta.get("frozen_from"):  # the frozen encoder and codebooks: the shipped model's
        from nac.codec.model import CodecConfig, NacCodec
        from nac.train import run_state

        model = NacCodec(CodecConfig(**meta["config"]))
        run_state.warm_start(str(ROOT / meta["frozen_from"]), model)
        frozen = {k: v for k, v in model.state_dict().items() if k.startswith(("encoder.", "quantizer."))}
        ckpt["model"] = {**frozen, **ckpt["model"]}
    if meta.get("teacher_sha256"):  # a causal student: its codebooks are the teacher's, so that
        from nac.train.causal import frozen_codec  # latest.pt decodes before training resumes

        teacher, _, digest = frozen_codec(meta["train_config"]["teacher"])
        if digest != meta["teacher_sha256"]:
            raise SystemExit(f"{arm}: its teacher {meta['train_config']['teacher']} is not the one it was distilled from")
        books = {k: v for k, v in teacher.state_dict().items() if k.startswith("quantizer.")}
        ckpt["model"] = {**books, **ckpt["model"]}
    if meta["train_config"].get("ema_decay"):
        ckpt["ema"] = ckpt["model"]  # the EMA restarts from the weights it had reached
    ckpt["fresh_optimizer"] = True
    run.mkdir(parents=True, exist_ok=True)
    checkpoint.save(run / "latest.pt", ckpt)
    print(f"loaded {arm} at step {meta['step']} into {run / 'latest.pt'} (fresh optimiser)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["save", "load"])
    ap.add_argument("arm")
    args = ap.parse_args()
    (save if args.action == "save" else load)(args.arm)


if __name__ == "__main__":
    main()
