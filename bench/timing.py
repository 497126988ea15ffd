"""One timing helper for every script in bench/: the median wall time of a call, in ms.

The first call is a warm-up (allocator, oneDNN / cuDNN algorithm choice, tracing caches) and
is not counted. On CUDA the device is synchronised around each call, so the time covers the
kernels and not just their launch.
"""
from __future__ import annotations

import statistics
import time

import torch


def median_ms(fn, repeats: int = 20, device: torch.device | str | None = None) -> float:
    """Median over ``repeats`` calls of ``fn()`` (after one warm-up), in milliseconds."""
    cuda = device is not None and torch.device(device).type == "cuda"
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)
