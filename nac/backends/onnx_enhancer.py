"""The enhancer's network as an ONNX graph, and an enhancer that runs it with onnxruntime.

    nac export enhance-speech-16k --onnx exported/ [--int8]     # enhancer.onnx (+ enhancer.int8.onnx)

As in DeepFilterNet's deployment, the graph holds what is learned (features and GRU state in;
band gains, extension gains, deep-filter taps and the new state out); the STFT, the features
and applying the outputs stay the shared code of `nac/restore/enhancer.py` and `dsp.py`, so the
stream, whole files and both backends run the same signal processing.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..restore.enhancer import Enhancer


class NetGraph(nn.Module):
    """features (1, N, F), state (layers, 1, H) -> gain_db, ext_db (1, N, bands), taps, state."""

    def __init__(self, model: Enhancer):
        super().__init__()
        self.net = model.net

    def forward(self, features: torch.Tensor, state: torch.Tensor):
        return self.net(features, state)


def export(model: Enhancer, out_dir: str | Path, int8: bool = False) -> dict[str, str]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    features = torch.zeros(1, 50, 2 * cfg.n_bands + 2 * cfg.df_bins)
    state = torch.zeros(cfg.gru_layers, 1, cfg.hidden)
    path = out / "enhancer.onnx"
    # the TorchScript exporter writes nn.GRU as ONNX's GRU operator with a dynamic sequence
    # length; the dynamo exporter unrolls it at the traced length
    torch.onnx.export(NetGraph(model).eval(), (features, state), path, input_names=["features", "state"],
                      output_names=["gain_db", "ext_db", "taps", "new_state"],
                      dynamic_axes={"features": {1: "frames"}, "gain_db": {1: "frames"}, "ext_db": {1: "frames"},
                                    "taps": {1: "frames"}},
                      dynamo=False, opset_version=17)
    paths = {"enhancer": str(path)}
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        target = out / "enhancer.int8.onnx"
        quantize_dynamic(path, target, weight_type=QuantType.QInt8)
        paths["enhancer_int8"] = str(target)
    return paths


class OnnxNet(nn.Module):
    """Stands in for `EnhancerNet`: the same call, run by onnxruntime (one thread)."""

    def __init__(self, model: Enhancer, graph: str | Path):
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.cfg = model.cfg

    def forward(self, features: torch.Tensor, state: torch.Tensor | None = None):
        cfg = self.cfg
        b = features.shape[0]
        if state is None:
            state = torch.zeros(cfg.gru_layers, b, cfg.hidden)
        outs = []
        for i in range(b):  # the graph is exported for one signal at a time
            outs.append(self.session.run(None, {"features": features[i:i + 1].numpy().astype(np.float32),
                                                "state": state[:, i:i + 1].numpy().astype(np.float32)}))
        gain, ext, taps, new = (torch.from_numpy(np.concatenate([o[k] for o in outs], 1 if k == 3 else 0))
                                for k in range(4))
        return gain, ext, taps, new


def onnx_enhancer(model: Enhancer, graph: str | Path) -> Enhancer:
    """A copy of `model` whose network runs `graph` in onnxruntime."""
    clone = Enhancer(model.cfg)
    clone.load_state_dict(model.state_dict())
    clone.net = OnnxNet(model, graph)
    return clone.eval()
