#!/usr/bin/env python3
"""Where does nac-16k lose the harmonics: in the predicted magnitude, or in Griffin-Lim?

    python experiments/diagnose_harmonics.py [--model nac-16k] [--dev ../shared/data/dev/speech] [--files 12]

For each dev speech file (first 6 s) it scores the harmonic fine structure
(`metrics.fine_structure_correlation`, on the model's own STFT grid) of
  unquantized  the decoder's magnitude from the encoder's latents, no quantizer: the autoencoder;
  predicted    the decoder's magnitude at 6 kbps, before any phase is made;
  decoded      the STFT of the decoded waveform (predicted magnitude + Griffin-Lim);
  true+GL      Griffin-Lim (same iterations) on the *true* magnitude: the phase step's own loss;
and prints the medians. unquantized << 1 means the autoencoder itself loses them (not the bitrate);
predicted >> decoded means the phase reconstruction smears what the decoder predicted.
"""
import argparse

import numpy as np
import torch

from nac.api import load_model
from nac.eval.metrics import fine_structure_correlation
from nac.io.audio import list_audio, read_audio, resample


def power(spec: torch.Tensor) -> np.ndarray:
    """(1, bins, frames) magnitude or complex -> (frames, bins) power."""
    return (spec.abs()[0].T.double() ** 2).numpy()


@torch.no_grad()
def diagnose(model, wav: torch.Tensor, kbps: float) -> dict[str, float]:
    decoder, head = model.decoder, model.decoder.head
    wav = model._pad(wav[None])
    true_mag = head.stft(wav).abs()
    features = decoder.features(model.quantizer.decode(model.encode(wav, kbps)))
    pred_mag, phase_guess = head.spectrum(features)
    n = min(true_mag.shape[-1], pred_mag.shape[-1])  # frames the STFT and the decoder share
    true_gl = head.istft(true_mag[..., :n] * head.griffin_lim(true_mag[..., :n], phase_guess[..., :n],
                                                               decoder.griffin_lim_iters))

    def score(spec: torch.Tensor) -> float:
        return fine_structure_correlation(power(true_mag[..., :n]), power(spec[..., :n]), model.sample_rate, head.n_fft)

    return {
        "unquantized": score(decoder.magnitude(model.encoder(wav))),
        "predicted": score(pred_mag),
        "decoded": score(head.stft(head(features, decoder.griffin_lim_iters))),  # = decoder(z)
        "true+GL": score(head.stft(true_gl)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="nac-16k")
    ap.add_argument("--dev", default="../shared/data/dev/speech")
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--kbps", type=float, default=6.0)
    args = ap.parse_args()
    torch.set_num_threads(1)

    model = load_model(args.model)
    paths = list_audio(args.dev)
    if not paths:
        raise SystemExit(f"error: no audio files under {args.dev}")
    paths = paths[:: max(1, len(paths) // args.files)][: args.files]
    rows = []
    for path in paths:
        audio, sr = read_audio(path)
        mono = resample(audio.mean(0)[None], sr, model.sample_rate)[0][: 6 * model.sample_rate]
        rows.append(diagnose(model, torch.from_numpy(mono.astype(np.float32)), args.kbps))
    print(f"{args.model}, {len(rows)} files, {args.kbps:g} kbps, harmonic fine-structure correlation (median):")
    for key in rows[0]:
        print(f"  {key:12s} {np.median([r[key] for r in rows]):.3f}")


if __name__ == "__main__":
    main()
