"""NAC: a neural audio codec and restoration toolkit.

    import nac
    model = nac.load_model("nac-16k")
    codes = model.encode(wav_16k, kbps=6)          # (B, n_q, frames)
    wav = model.decode(codes)
    data = nac.compress(audio, sr, kbps=6)          # bytes of a .nac file
    audio, sr = nac.decompress(data)

The layout follows the data path (README, "Architecture"): `io` (audio in and out, third-party
codecs) -> `container` (the .nac bitstream, no torch) -> `codec` (the model) or `restore` ->
`io` (writers); `backends` (ONNX, bf16) swap the networks; `train` and `eval` are never imported
by inference.
"""
__version__ = "0.1.0"
__all__ = ["compress", "compress_to_file", "decompress", "decompress_from_file", "load_model", "__version__"]


def __getattr__(name: str):
    # The public API loads torch and the model code on first use, so that `nac.container` (the
    # bitstream, pure Python + NumPy) and `nac --help` do not pay for it.
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'nac' has no attribute {name!r}")
