"""A codec whose decoder network runs in bfloat16: `nac decode --backend torch-bf16`.

The decoder's ConvNeXt and output projection are ~half of a decode and are matrix products;
on CPUs with bfloat16 units (AVX512-BF16 / AMX) they run ~2.5x faster in bf16. The spectrum is
still formed in fp32 (`ISTFTHead.spectrum`) and Griffin-Lim and the iSTFT stay fp32, so the cost
is rounding inside the network: dev PESQ-WB within ±0.01 of fp32 (`reports/speed.md`). The encoder stays fp32, so a file's codes never depend on the machine.
"""
from __future__ import annotations

import functools

import torch

from ..codec.model import NacCodec


FAST_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=None)
def cpu_has_bf16_units() -> bool:
    """Whether this CPU does bfloat16 arithmetic in hardware. Without (AVX2 only) torch emulates
    it: slower than fp32 (session 11's AMD EPYC: decode 1.3x slower, a training step 7-10x)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return any(flag in flags for flag in FAST_BF16_CPU_FLAGS)


class Bf16Codec(NacCodec):
    @classmethod
    def wrap(cls, model: NacCodec) -> "Bf16Codec":
        return cls.sharing(model)

    def _spectrum(self, z: torch.Tensor, f0: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(z.device.type, dtype=torch.bfloat16):
            mag, phase = self.decoder.spectrum(z, f0)
        return mag.float(), phase.to(torch.complex64)
