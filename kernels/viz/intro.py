"""Figures for ``book/intro.md``: convolution arithmetic in one dimension, which input cell
each output cell reads.

The taps are not computed here: the input row holds its own positions (1, 2, ..., i; the zero
padding stays 0) and :func:`kernels.conv2d` is run once per tap with a one-hot weight, so the
output *is* the position that tap reads, ``s*o - p + d*j`` in the book's notation.
"""
from functools import lru_cache

import plotly.graph_objects as go
import torch

import kernels

from .explorer import Param, explorable
from .theme import COLORS

SIZE = 7  # the input row of the intro's figure


def read_positions(size, kernel_size, stride, padding, dilation):
    """Tensor[O, K]: input index read by output ``o`` through tap ``j`` (-1 = padding)."""
    pos = torch.arange(1, size + 1, dtype=torch.float64).view(1, 1, 1, size)  # [1, 1, 1, W]
    eye = torch.eye(kernel_size, dtype=torch.float64).view(kernel_size, 1, 1, kernel_size)
    out = kernels.conv2d(pos, eye, stride=(1, stride), padding=(0, padding),
                         dilation=(1, dilation))  # [1, K, 1, O]: channel j = tap j
    return out[0, :, 0, :].T.round().long() - 1  # [O, K]


@lru_cache(maxsize=None)
def _extent() -> tuple[int, int]:
    """(most padding, most output cells) over the declared grid: fixed axes for every frame,
    computed once (every frame of the static page would otherwise walk the whole grid)."""
    grid = {name: p.values for name, p in conv_arithmetic_figure.params.items()}
    pad = max(grid["padding"])
    rows = max((kernels.conv_output_size(SIZE, k, s, p, d)
                for k in grid["kernel_size"] for s in grid["stride"]
                for p in grid["padding"] for d in grid["dilation"]
                if kernels.effective_kernel_size(k, d) <= SIZE + 2 * p), default=1)
    return pad, rows


@explorable(kernel_size=Param([1, 2, 3, 4, 5], "kernel size k", default=3),
            stride=Param([1, 2, 3], "stride s"),
            padding=Param([0, 1, 2, 3], "padding p"),
            dilation=Param([1, 2, 3], "dilation d"))
def conv_arithmetic_figure(size=SIZE, kernel_size=3, stride=1, padding=0, dilation=1):
    """Input row on top, one row of taps per output cell below it."""
    span = kernels.effective_kernel_size(kernel_size, dilation)
    valid = span <= size + 2 * padding
    o = kernels.conv_output_size(size, kernel_size, stride, padding, dilation) if valid else 0
    fig = go.Figure()
    cells = list(range(-padding, size + padding))
    fig.add_trace(go.Scatter(
        x=cells, y=[0] * len(cells), mode="markers+text", name="input",
        marker=dict(symbol="square", size=26, color=["#ddd" if c < 0 or c >= size else COLORS[5]
                                                      for c in cells]),
        text=["0" if c < 0 or c >= size else str(c) for c in cells], textfont=dict(size=11),
        hovertemplate="input cell %{x}<extra></extra>"))
    xs, ys, labels = [], [], []
    if o > 0:
        taps = read_positions(size, kernel_size, stride, padding, dilation)
        first = -padding
        for out_index, row in enumerate(taps.tolist()):
            start = stride * out_index + first  # where this output's window begins
            for j, read in enumerate(row):
                xs.append(start + dilation * j)
                ys.append(-(out_index + 1))
                labels.append("pad" if read < 0 else f"x[{read}]")
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers", name="taps of each output cell",
        marker=dict(size=12, color=COLORS[1], line=dict(width=1, color="#333")),
        text=labels, hovertemplate="output %{y}: reads %{text}<extra></extra>"))
    setting = f"i={size}, k={kernel_size}, s={stride}, p={padding}, d={dilation}"
    title = (f"{setting}  →  output size ⌊(i+2p−d(k−1)−1)/s⌋+1 = {o}" if valid else
             f"{setting}  →  invalid: the kernel spans d(k−1)+1 = {span} > i+2p = "
             f"{size + 2 * padding} cells")
    max_pad, rows = _extent()
    max_pad, rows = max(max_pad, padding), max(rows, o)  # a call off the grid still fits
    fig.update_layout(
        title=dict(text=title, font=dict(size=15)), height=440, showlegend=False,
        xaxis=dict(range=[-max_pad - 0.6, size + max_pad - 0.4], dtick=1,
                   title="input position (grey = zero padding)"),
        yaxis=dict(range=[-rows - 0.6, 0.8], tickvals=[0] + [-(t + 1) for t in range(rows)],
                   ticktext=["input"] + [f"out {t}" for t in range(rows)]))
    return fig
