"""Compute cost of a forward pass (Ex-VAD Table 7): trainable parameters, MACs, time per frame.

MACs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` (it counts FLOPs = 2 x MACs for
matmul/linear/conv/attention; we report MACs = FLOPs / 2). Elementwise ops are not counted, as in the
usual MAC counters (thop / ptflops) the papers use.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch import nn


def count_macs(fn: Callable[[], object]) -> int:
    """MACs of one call of ``fn()`` (under ``no_grad``)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops() // 2)


def time_per_call(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds (CPU: single process, threads as configured by torch)."""
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def cost_report(model: nn.Module, inputs: tuple, frames: int, repeats: int = 5) -> dict[str, float]:
    """``{"trainable_params", "macs", "macs_per_frame", "time_per_frame_ms"}`` for ``model(*inputs)``.

    ``frames`` is the number of video frames the inputs stand for (snippets x 16), to report per frame.
    """
    model.eval()
    call = lambda: model(*inputs)  # noqa: E731
    macs = count_macs(call)
    t = time_per_call(call, repeats=repeats)
    return {
        "trainable_params": float(sum(p.numel() for p in model.parameters() if p.requires_grad)),
        "macs": float(macs),
        "macs_per_frame": macs / frames,
        "time_per_frame_ms": 1000.0 * t / frames,
    }
