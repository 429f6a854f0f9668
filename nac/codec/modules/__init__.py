"""Neural building blocks: ConvNeXt stacks running at frame rate and STFT front/back ends."""
from .convnext import ConvNeXtBlock, ConvNeXtStack
from .spectral import ISTFTHead, STFTFeatures, sharpen_magnitude

__all__ = ["ConvNeXtBlock", "ConvNeXtStack", "ISTFTHead", "STFTFeatures", "sharpen_magnitude"]
