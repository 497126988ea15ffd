"""Figure for ``book/many_small_files.md``: the time to copy N files of S bytes, four ways.

The times are measured, not computed: :func:`measure` makes a tree of ``N`` files of ``S`` bytes
in a temporary directory and times each of :data:`kernels.COPY_METHODS` on it with
:func:`kernels.time_copy` (median of :data:`REPEAT`, each copy checked exact). Each grid point
is measured once per process (``lru_cache``), so the static page shows what the machine that
built it measured, and the chapter's table and fit (:func:`fits`) use the same numbers as the
figure.
"""
from __future__ import annotations

import math
import os
import tempfile
from functools import lru_cache

import plotly.graph_objects as go

import kernels

from .explorer import Param, explorable
from .theme import COLORS

# Equal totals lie on a diagonal: 4096 x 16 B = 256 x 256 B = 16 x 4096 B = 64 KiB.
N_FILES = (1, 16, 256, 4096)
FILE_SIZES = (16, 256, 4096)
REPEAT = 3
# A memory file system (tmpfs) when there is one: see the chapter for why, and for the disk.
WORKDIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
LABELS = {"cp": "cp -r", "copytree": "shutil.copytree", "tar_pipe": "tar -c | tar -x",
          "archive": "cp of one .tar"}


@lru_cache(maxsize=None)
def measure(n_files: int, file_size: int) -> dict:
    """method -> :class:`kernels.CopyTiming` for a fresh tree of ``n_files`` × ``file_size``."""
    with tempfile.TemporaryDirectory(dir=WORKDIR) as work:
        src = kernels.make_tree(work, n_files, file_size)
        return {m: kernels.time_copy(src, m, repeat=REPEAT) for m in kernels.COPY_METHODS}


def measured_grid() -> dict:
    """``(N, S) -> {method: CopyTiming}`` over the figure's whole grid (measured once)."""
    return {(n, s): measure(n, s) for n in N_FILES for s in FILE_SIZES}


@lru_cache(maxsize=None)
def fits() -> dict:
    """method -> :class:`kernels.CostFit`, ``t ≈ a + b·N + c·bytes`` fitted to the grid."""
    grid = measured_grid().values()
    return {m: kernels.fit_cost(point[m] for point in grid) for m in kernels.COPY_METHODS}


@lru_cache(maxsize=None)
def _time_axis() -> list:
    """Fixed log10 range (ms) holding every measured time of the grid."""
    ms = [t.seconds * 1e3 for point in measured_grid().values() for t in point.values()]
    # half a decade of headroom above the tallest bar for its label
    return [math.floor(math.log10(min(ms)) * 2) / 2, math.ceil(math.log10(max(ms)) * 2) / 2 + 0.5]


def _size(n_bytes: int) -> str:
    if n_bytes >= 2**20:
        return f"{n_bytes / 2**20:.3g} MiB"
    return f"{n_bytes / 2**10:.3g} KiB" if n_bytes >= 2**10 else f"{n_bytes} B"


@explorable(n_files=Param(N_FILES, "Number of files N", fmt=",", default=4096),
            file_size=Param(FILE_SIZES, "Bytes per file S", fmt=",", default=16))
def copy_time_figure(n_files=4096, file_size=16):
    """Bars: the measured time of each method; diamonds: the fit a + b·N + c·bytes."""
    times, fit = measure(n_files, file_size), fits()
    names = [LABELS[m] for m in times]
    ms = [t.seconds * 1e3 for t in times.values()]
    predicted = [fit[m].predict(t.n_files, t.n_bytes) * 1e3 for m, t in times.items()]
    text = [f"{v:.3g} ms<br>{t.per_file * 1e6:.3g} µs/file" for v, t in zip(ms, times.values())]
    hover = [f"{t.throughput / 1e6:.3g} MB/s" for t in times.values()]
    fig = go.Figure([
        go.Bar(x=names, y=ms, text=text, textposition="outside", customdata=hover,
               name="measured (median of 3)", marker_color=[COLORS[2] if m == "archive" else COLORS[0] for m in times],
               hovertemplate="%{x}: %{y:.3g} ms, %{customdata}<extra></extra>"),
        go.Scatter(x=names, y=[p if p > 0 else None for p in predicted], mode="markers",
                   name="fit a + b·N + c·bytes", marker=dict(symbol="diamond", size=11,
                                                             color=COLORS[1]),
                   hovertemplate="fit: %{y:.3g} ms<extra></extra>"),
    ])
    total = times["cp"].n_bytes
    speedup = times["cp"].seconds / times["archive"].seconds
    fig.update_layout(
        height=370, margin=dict(t=20), bargap=0.35,
        title=dict(text=(f"{n_files:,} file{'s' * (n_files > 1)} × {file_size:,} B "
                         f"({_size(total)}): one archive copies {speedup:.3g}× faster than "
                         f"cp -r<br><sup>measured on the machine that built this page, "
                         f"median of {REPEAT} runs</sup>")),
        yaxis=dict(type="log", range=_time_axis(), title="time to copy (ms, log scale)"),
        legend=dict(y=-0.12, yanchor="top"))
    return fig
