#!/usr/bin/env python3
"""Fit the speech/music classifier behind `nac restore --content auto`; report dev accuracy.

    python scripts/train_content_classifier.py --data ../shared/data

Train: up to 600 speech and all music files of DATA/train (music cut into 10 s pieces), each
also through two random damage chains of the enhancer's training (`nac/train/damage.py`: noise
at 0-30 dB SNR, babble, rooms, EQ, clipping, codecs): noisy speech is speech. Dev: DATA/dev
speech files and dev music cut into 10 s pieces, clean and damaged (dev noise at 0-20 dB SNR,
the phone chain at 10 and 25 dB, codecs). Writes nac/pretrained/content_classifier.json and
reports/content_classifier.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac.io.audio import (
    list_audio,  # noqa: E402
    read_audio,  # noqa: E402
)
from nac.restore.content import WEIGHTS, features  # noqa: E402


def pieces(path: Path, seconds: float = 10.0):
    x, sr = read_audio(path)
    n = int(seconds * sr)
    for start in range(0, max(1, x.shape[1] - n // 2), n):
        yield x[:, start:start + n], sr


def damage_bank(data: Path, dev: bool):
    """The enhancer's damage chains with train (or dev) noise; babble from training speech."""
    from nac.train.damage import DamageBank, room_impulse_response
    from nac.train.enhance_data import load_files, noise_files

    rng = np.random.default_rng(1 if dev else 0)
    noise = load_files(noise_files(data, dev=dev), 16000)
    speech = load_files(list_audio(data / "train" / "speech")[:40], 16000)
    rirs = [room_impulse_response(rng, 16000, rng.uniform(0.1, 0.8)) for _ in range(20)]
    return DamageBank(16000, noise, [], speech, rirs)


def featurise(files, label, cut, bank=None, copies=2, seed=0):
    from nac.io.audio import resample

    rng = np.random.default_rng(seed)
    X, y = [], []
    for f in tqdm(files, desc=f"features ({'speech' if label else 'music'})", leave=False):
        for x, sr in (pieces(f) if cut else [read_audio(f)]):
            X.append(features(x, sr))
            y.append(label)
            mono = resample(x.mean(0, keepdims=True), sr, 16000)[0].astype(np.float32)
            mono = mono / max(np.abs(mono).max(), 1e-4) * 0.5
            for _ in range(copies if bank is not None else 0):
                X.append(features(bank.damage(mono, rng)[0], 16000))
                y.append(label)
    return X, y


def fit(X, y, hidden=32, l2=1e-3, steps=4000, lr=0.05, seed=0):
    """A one-hidden-layer network (tanh), full-batch Adam on the class-balanced logistic loss:
    the linear model (session 6) could not separate noisy speech from music."""
    rng = np.random.default_rng(seed)
    params = {"w1": rng.standard_normal((X.shape[1], hidden)) / np.sqrt(X.shape[1]), "b1": np.zeros(hidden),
              "w2": rng.standard_normal(hidden) / np.sqrt(hidden), "b2": np.zeros(1)}
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    pos = y.mean()
    weight = np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))  # balance the classes
    for t in range(1, steps + 1):
        h = np.tanh(X @ params["w1"] + params["b1"])
        p = 1 / (1 + np.exp(-(h @ params["w2"] + params["b2"][0])))
        g = (p - y) * weight / len(y)
        gh = np.outer(g, params["w2"]) * (1 - h ** 2)
        grads = {"w2": h.T @ g + l2 * params["w2"], "b2": np.array([g.sum()]),
                 "w1": X.T @ gh + l2 * params["w1"], "b1": gh.sum(0)}
        for k, grad in grads.items():
            m, v = moments[k]
            m[:] = 0.9 * m + 0.1 * grad
            v[:] = 0.999 * v + 0.001 * grad ** 2
            params[k] -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return params


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--l2", type=float, default=1e-2)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    speech = list_audio(args.data / "train" / "speech")
    speech = [speech[i] for i in sorted(rng.choice(len(speech), min(600, len(speech)), replace=False))]
    bank = damage_bank(args.data, dev=False)
    Xs, ys = featurise(speech, 1, False, bank)
    Xm, ym = featurise(list_audio(args.data / "train" / "music"), 0, True, bank)
    X, y = np.array(Xs + Xm), np.array(ys + ym, dtype=float)
    mean, std = X.mean(0), X.std(0) + 1e-6
    params = fit((X - mean) / std, y, hidden=args.hidden, l2=args.l2)

    def logit(F):
        from nac.restore.content import network_logit

        return network_logit((np.asarray(F) - mean) / std, params)

    WEIGHTS.parent.mkdir(exist_ok=True)
    WEIGHTS.write_text(json.dumps({"mean": mean.tolist(), "std": std.tolist(),
                                   **{k: v.tolist() for k, v in params.items()}}))
    train_acc = np.mean((logit(X) > 0) == (y == 1))
    rows = []
    dev_bank = damage_bank(args.data, dev=True)
    for name, bank in (("dev, clean", None), ("dev, damaged (2 chains each)", dev_bank)):
        Ds, dys = featurise(list_audio(args.data / "dev" / "speech"), 1, False, bank, seed=5)
        Dm, dym = featurise(list_audio(args.data / "dev" / "music"), 0, True, bank, seed=6)
        D, dy = np.array(Ds + Dm), np.array(dys + dym)
        if bank is not None:  # the damaged copies only
            keep = np.ones(len(dy), bool)
            keep[::3] = False
            D, dy = D[keep], dy[keep]
        pred = logit(D) > 0
        acc_s, acc_m = np.mean(pred[dy == 1]), np.mean(~pred[dy == 0])
        rows.append(f"| {name} | {acc_s:.3f} ({int(pred[dy == 1].sum())}/{int((dy == 1).sum())}) | "
                    f"{acc_m:.3f} ({int((~pred[dy == 0]).sum())}/{int((dy == 0).sum())}) | {(acc_s + acc_m) / 2:.3f} |")
    rows.append(noisy_speech_row(args.data, logit))
    report = ROOT / "reports" / "content_classifier.md"
    report.write_text(
        "# Speech / music detection (`nac restore --content auto`)\n\n"
        f"A small network (32 features, {args.hidden} tanh units, L2 {args.l2:g}: `nac/restore/content.py`), fitted by\n"
        "`python scripts/train_content_classifier.py` on ../shared/data/train "
        f"({len(ys) // 3} speech files, {len(ym) // 3} music pieces of ≤ 10 s, each also through two random "
        "damage chains of the enhancer's training: noise at 0-30 dB SNR, babble, rooms, EQ, clipping, "
        "band limits, Opus/MP3/AAC).\n\n"
        "| set | speech correct | music correct | balanced accuracy |\n|---|---|---|---|\n"
        f"| train (clean + damaged) | – | – | {train_acc:.3f} |\n" + "\n".join(rows) + "\n")
    print(report.read_text())


def noisy_speech_row(data: Path, logit) -> str:
    """All dev speech with dev noise at 10 dB SNR and through the phone chain at 10 dB: the
    inputs the previous classifier sent to the music model."""
    from nac.io.audio import resample
    from nac.train.damage import add_noise, phone_recording
    from nac.train.enhance_data import load_files, noise_files

    noise = load_files(noise_files(data, dev=True), 16000)
    rng = np.random.default_rng(7)
    hits = []
    for f in list_audio(data / "dev" / "speech"):
        x, sr = read_audio(f)
        x = resample(x.mean(0, keepdims=True), sr, 16000)[0].astype(np.float64)
        for y in (add_noise(x, noise[rng.integers(len(noise))], 10.0, rng),
                  phone_recording(x, 16000, rng, noise[rng.integers(len(noise))], 10.0)):
            hits.append(logit(features(y, 16000)[None])[0] > 0)
    return (f"| dev speech + dev noise at 10 dB, and phone chain at 10 dB | {np.mean(hits):.3f} "
            f"({int(np.sum(hits))}/{len(hits)}) | – | – |")


if __name__ == "__main__":
    main()
