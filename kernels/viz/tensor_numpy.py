"""Figure for ``book/tensor_numpy.md``: what sharing and copying cost, against tensor size.

The times are measured, not typed: :func:`measured_grid` runs :func:`kernels.conversion_times`
once per (dtype, size) of the declared grid the first time a figure asks for it, and keeps the
result for the life of the process (``lru_cache``), so every frame of the static page and every
redraw of the live one draw the same measurement. On the website that is the machine that built
the page; in a live kernel, the reader's own.
"""
from __future__ import annotations

from functools import lru_cache

import plotly.graph_objects as go
import torch

import kernels

from .explorer import Param, explorable, mode
from .theme import COLORS

SIZES = tuple(4 ** k for k in range(5, 13))  # 1,024 ... 16,777,216 elements (up to 128 MiB)
DTYPES = ("float16", "float32", "float64")
REPEATS = 5  # each time is the median of this many runs


@lru_cache(maxsize=None)
def measured_grid() -> dict:
    """(dtype name, numel) -> :class:`kernels.ConversionTimes`, measured once per process."""
    return {(d, n): kernels.conversion_times(n, getattr(torch, d), repeats=REPEATS)
            for d in DTYPES for n in SIZES}


def where_measured() -> str:
    return ("measured on the machine that built this page" if mode() == "static"
            else "measured on this machine, in this kernel")


def _us(seconds: float) -> str:
    us = seconds * 1e6
    if us >= 1000:
        return f"{us / 1e3:.3g} ms"
    return f"{us:.2g} µs" if us < 10 else f"{us:.0f} µs"


def _axis_ranges(grid: dict):
    """Fixed log axes covering every measured point of the grid (log10 units, for plotly)."""
    import math

    times = [s for r in grid.values() for s in r.seconds.values()]
    sizes = [n for _, n in grid]
    x = [math.log10(min(sizes)) - 0.15, math.log10(max(sizes)) + 0.15]
    y = [math.log10(min(times) * 1e6) - 0.2, math.log10(max(times) * 1e6) + 0.2]
    return x, y


@explorable(size=Param(SIZES, "Tensor size (elements)", fmt=",", default=4 ** 10),
            dtype=Param(DTYPES, "dtype", default="float32"))
def conversion_cost_figure(size=4 ** 10, dtype="float32"):
    """Median time per conversion against size, one line per way; the chosen size marked."""
    grid = measured_grid()
    rows = [grid[(dtype, n)] for n in SIZES]
    here = grid[(dtype, size)]
    names = list(kernels.CONVERSIONS)
    fig = go.Figure()
    for i, name in enumerate(names):
        verb = "shares" if here.shares[name] else "copies"
        fig.add_scatter(x=list(SIZES), y=[r.seconds[name] * 1e6 for r in rows],
                        mode="lines+markers", name=f"{name}: {verb}",
                        line=dict(color=COLORS[i], dash="solid" if verb == "copies" else "dot"),
                        hovertemplate="%{x:,} elements: %{y:.3g} µs<extra>" + name + "</extra>")
    fig.add_scatter(x=[size] * len(names), y=[here.seconds[n] * 1e6 for n in names],
                    mode="markers", name=f"{size:,} elements", showlegend=False,
                    marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(width=2, color="#222")),
                    hoverinfo="skip")
    share = max(here.seconds[n] for n in names if here.shares[n])
    copy = min(here.seconds[n] for n in names if not here.shares[n])
    mib = here.nbytes / 2 ** 20
    # The legend under the plot: at 1280x720 (a projector) its rows sat on the title's.
    fig.update_layout(
        title=dict(text=(f"{dtype}, {size:,} elements ({mib:.3g} MiB): sharing ≤ {_us(share)}, "
                         f"copying ≥ {_us(copy)}<br><sup>the fastest copy moves "
                         f"{here.nbytes / copy / 1e9:.2g} GB/s, median of {REPEATS} runs on one "
                         f"thread<br>{where_measured()}</sup>")),
        height=470, margin=dict(t=20, b=150),
        legend=dict(y=-0.2, yanchor="top", x=0, xanchor="left", orientation="h"))
    x_range, y_range = _axis_ranges(grid)
    # labels at the powers of ten only: plotly's default adds "2" and "5" between them, 60
    # labels to lay out again on every frame switch, and harder to read than 5 per axis
    fig.update_xaxes(type="log", range=x_range, dtick=1, title="tensor size (elements)")
    fig.update_yaxes(type="log", range=y_range, dtick=1, title="time per conversion (µs)")
    return fig
