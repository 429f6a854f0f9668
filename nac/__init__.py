"""NAC: a neural audio codec and restoration toolkit.

    import nac
    model = nac.load_model("nac-16k")
    codes = model.encode(wav_16k, kbps=6)          # (B, n_q, frames)
    wav = model.decode(codes)
    data = nac.compress(audio, sr, kbps=6)          # bytes of a .nac file
    audio, sr = nac.decompress(data)
"""
from .compress import (
    compress,
    compress_to_file,
    decompress,
    decompress_from_file,
    load_model,
)

__version__ = "0.1.0"
__all__ = ["compress", "compress_to_file", "decompress", "decompress_from_file", "load_model", "__version__"]
