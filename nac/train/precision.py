"""When bf16 autocast pays: only where the hardware has bfloat16 arithmetic.

The campaign's configs ask for bf16 (on the AMX machine of sessions 7-10 a step ran 1.4-2.3x
faster, and trained as well: reports/training.md, session 7). A CPU without bfloat16 units (AVX2
only: the AMD EPYC of session 11) emulates it: a step ran ~7-10x *slower* there. So `bf16: true`
means "bf16 where it is fast"; the run says once which it got.
"""
from __future__ import annotations

import torch

from ..backends.bf16 import cpu_has_bf16_units


def use_bf16(requested: bool, device: torch.device | str = "cpu") -> bool:
    """Whether a run that asked for bf16 autocast gets it on `device` (a GPU always does)."""
    if not requested:
        return False
    if torch.device(device).type == "cuda":
        return True
    if cpu_has_bf16_units():
        return True
    print("bf16 autocast requested, but this CPU has no bfloat16 units (no AMX / AVX512-BF16): "
          "training in fp32", flush=True)
    return False
