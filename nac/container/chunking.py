"""Chunked processing with context: the windows that make chunked output equal whole-file output."""
from __future__ import annotations

from typing import Iterator


def context_windows(total: int, chunk: int, context: int) -> Iterator[tuple[int, int, int, int]]:
    """(window start, window end, chunk start, chunk end) covering [0, total) in steps of `chunk`.

    Each window reaches `context` units (frames or samples) past its chunk on both sides, clipped
    to the signal; process the window, keep [chunk start - window start, chunk end - window start).
    """
    for start in range(0, total, chunk):
        end = min(total, start + chunk)
        yield max(0, start - context), min(total, end + context), start, end
