"""Residual vector quantisation (vector-quantize-pytorch) with codebook-usage statistics."""
from .rvq import QuantizerOutput, ResidualQuantizer

__all__ = ["QuantizerOutput", "ResidualQuantizer"]
