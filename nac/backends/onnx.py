"""ONNX graphs of the codec's networks, and a codec that runs them with onnxruntime.

    nac export nac-16k --onnx exported/ [--int8]     # encoder.onnx, decoder.onnx (+ *.int8.onnx)
    nac decode in.nac out.wav --backend onnxruntime --onnx-dir exported/

The graphs hold what is heavy and learned: the encoder from STFT features to latents, and the
decoder from latents (and f0, for pitch-aware models) to the STFT magnitude and phase guess. The
signal processing around them (STFT, residual VQ look-up, Griffin-Lim, iSTFT) stays the shared
code of `NacCodec`, so both backends decode through the same chunking and give the same audio up
to float rounding. No weight_norm or other export blockers exist in the model (plain Conv1d and
Linear layers); frame counts are dynamic.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..codec.model import NacCodec


class EncoderGraph(nn.Module):
    """STFT features (B, 2 * bins, 2N) -> latents (B, D, N)."""

    def __init__(self, model: NacCodec):
        super().__init__()
        self.e = model.encoder

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        e = self.e
        x = e.coarse(e.down(e.fine(e.proj_in(features))))
        return e.proj_out(e.norm(x.transpose(1, 2))).transpose(1, 2)


class DecoderGraph(nn.Module):
    """Latents (B, D, N) [+ f0 (B, N)] -> magnitude, phase real and imaginary parts (B, bins, 2N)."""

    def __init__(self, model: NacCodec):
        super().__init__()
        self.d = model.decoder

    def forward(self, z: torch.Tensor, f0: torch.Tensor | None = None):
        mag, phase = self.d.spectrum(z, f0)
        return mag, phase.real, phase.imag


def export(model: NacCodec, out_dir: str | Path, int8: bool = False) -> dict[str, str]:
    """Write encoder.onnx and decoder.onnx (and dynamically quantized int8 copies) to `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = torch.export.Dim("frames", min=4, max=1_000_000)
    n = 100
    feats = model.encoder.features(torch.zeros(1, 2 * n * model.hop))
    torch.onnx.export(EncoderGraph(model).eval(), (feats,), out / "encoder.onnx", input_names=["features"],
                      output_names=["latents"], dynamic_shapes={"features": {2: 2 * frames}}, dynamo=True,
                      verbose=False)
    z = torch.zeros(1, model.cfg.latent_dim, n)
    args, names, shapes = (z,), ["latents"], {"z": {2: frames}}
    if model.pitch_levels:
        args, names = (z, torch.full((1, n), 120.0)), ["latents", "f0"]
        shapes = {"z": {2: frames}, "f0": {1: frames}}
    torch.onnx.export(DecoderGraph(model).eval(), args, out / "decoder.onnx", input_names=names,
                      output_names=["magnitude", "phase_re", "phase_im"], dynamic_shapes=shapes, dynamo=True,
                      verbose=False)
    paths = {"encoder": str(out / "encoder.onnx"), "decoder": str(out / "decoder.onnx")}
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        for part in ("encoder", "decoder"):
            target = out / f"{part}.int8.onnx"
            quantize_dynamic(out / f"{part}.onnx", target, weight_type=QuantType.QInt8)
            paths[f"{part}_int8"] = str(target)
    return paths


class OnnxCodec(NacCodec):
    """A `NacCodec` whose encoder and decoder networks run in onnxruntime (one thread)."""

    @classmethod
    def wrap(cls, model: NacCodec, onnx_dir: str | Path, int8: bool = False) -> "OnnxCodec":
        import onnxruntime as ort

        codec = cls.sharing(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        suffix = ".int8.onnx" if int8 else ".onnx"
        codec._sessions = {}
        for part in ("encoder", "decoder"):
            path = Path(onnx_dir) / f"{part}{suffix}"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such ONNX graph (make it with `nac export MODEL --onnx DIR`)")
            codec._sessions[part] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return codec

    def _run(self, part: str, **inputs: torch.Tensor) -> list[torch.Tensor]:
        outputs = self._sessions[part].run(None, {k: v.detach().numpy() for k, v in inputs.items()})
        return [torch.from_numpy(o) for o in outputs]

    def _latents(self, wav: torch.Tensor) -> torch.Tensor:
        return self._run("encoder", features=self.encoder.features(wav))[0]

    def _spectrum(self, z: torch.Tensor, f0: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = {"latents": z} if f0 is None else {"latents": z, "f0": f0}
        mag, re, im = self._run("decoder", **inputs)
        return mag, torch.complex(re, im)
