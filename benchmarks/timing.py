"""Timing shared by the benchmark scripts (they run as scripts, so this folder is on their import path)."""

from __future__ import annotations

import time
from collections.abc import Callable


def images_per_second(fn: Callable[[], object], n_images: int, repeat: int = 3) -> float:
    """Images per second of `fn` (which handles `n_images`): one warm-up call, then the best of `repeat`."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_images / best
