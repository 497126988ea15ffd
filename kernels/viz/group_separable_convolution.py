"""Figures for ``book/group_separable_convolution.md``: which channel feeds which, at what cost.

Every number drawn comes from :mod:`kernels`: the channel masks from
:func:`kernels.channel_connectivity` run on real layers (a grouped ``kernels.Conv2d``, the two
steps of a :class:`kernels.SeparableConv2d`, a :func:`kernels.grouped_pointwise_stack`), the
permutation from :func:`kernels.channel_shuffle`, parameters and multiply-adds from
:func:`kernels.model_cost`. Heatmap axes are fixed to the largest case of the declared grid, so
moving a control never rescales the picture.
"""
from __future__ import annotations

from functools import lru_cache

import plotly.graph_objects as go
import torch

import kernels

from .explorer import Param, explorable
from .theme import COLORS

MAP_SIZE = 56  # the H x W the cost lines assume (ResNet's and ShuffleNet's stage-2 map)
KERNEL = 3
OFF, ON = "#F2F2F2", COLORS[0]  # no connection / a weight joins the two channels
MASK_SCALE = [[0, OFF], [0.5, OFF], [0.5, ON], [1, ON]]


@lru_cache(maxsize=None)
def connectivity(layer_key):
    """Bool mask ``[C_out, C_in]`` of one layer, measured by :func:`kernels.channel_connectivity`.

    ``layer_key``: ``("grouped", C_in, C_out, g)``, ``("depthwise", C_in, M)``,
    ``("pointwise", C_in M, C_out)`` or ``("stack", C, groups, layers, shuffle)``.
    """
    kind, *a = layer_key
    if kind == "stack":
        c, g, n, shuffle = a
        stack = kernels.grouped_pointwise_stack(c, [g] * n, shuffle)
        return kernels.channel_connectivity(stack, c)
    if kind == "grouped":
        c_in, c_out, g = a
        layer = kernels.Conv2d(c_in, c_out, KERNEL, padding=KERNEL // 2, groups=g, bias=False)
    elif kind == "depthwise":
        c_in, m = a
        layer = kernels.SeparableConv2d(c_in, c_in, KERNEL, padding=KERNEL // 2,
                                        depth_multiplier=m, bias=False).depthwise
    else:
        c_in, c_out = a
        layer = kernels.Conv2d(c_in, c_out, 1, bias=False)
    return kernels.channel_connectivity(layer, c_in, draws=1)  # convolutions: one draw is exact


@lru_cache(maxsize=None)
def layer_cost(kind, in_channels, out_channels, groups=1, depth_multiplier=1):
    """:class:`kernels.ModelCost` of one 3x3 layer, ``kind`` ``"conv"`` (with ``groups``) or
    ``"separable"`` (with ``depth_multiplier``), on a ``MAP_SIZE x MAP_SIZE`` map, no bias (the
    papers' count)."""
    same = dict(padding=KERNEL // 2, bias=False)
    if kind == "separable":
        layer = kernels.SeparableConv2d(in_channels, out_channels, KERNEL,
                                        depth_multiplier=depth_multiplier, **same)
    else:
        layer = kernels.Conv2d(in_channels, out_channels, KERNEL, groups=groups, **same)
    return kernels.model_cost(layer, (1, in_channels, MAP_SIZE, MAP_SIZE))


def layer_costs(in_channels, out_channels, groups, depth_multiplier):
    """``{"standard", "grouped", "separable"}`` -> :func:`layer_cost` of that layer."""
    return {"standard": layer_cost("conv", in_channels, out_channels),
            "grouped": layer_cost("conv", in_channels, out_channels, groups),
            "separable": layer_cost("separable", in_channels, out_channels,
                                    depth_multiplier=depth_multiplier)}


def _mask_trace(mask, name, xtitle, ytitle):
    rows, cols = mask.shape
    return go.Heatmap(z=mask.int().tolist(), x=list(range(cols)), y=list(range(rows)), zmin=0,
                      zmax=1, colorscale=MASK_SCALE, showscale=False, xgap=1, ygap=1, name=name,
                      hovertemplate=f"{ytitle} %{{y}} ← {xtitle} %{{x}}: %{{z}}"
                                    f"<extra>{name}</extra>")


def _axes(n_x, n_y, xtitle, ytitle, domain=None):
    """Fixed ranges ``[0, n)`` (rows from the top, like a weight matrix) for one heatmap."""
    x = dict(range=[-0.5, n_x - 0.5], title=dict(text=xtitle), showgrid=False)
    if domain is not None:
        x["domain"] = domain
    return x, dict(range=[n_y - 0.5, -0.5], title=dict(text=ytitle), showgrid=False)


def _share(part, whole):
    return f"{100 * part / whole:.1f} %"


@explorable(in_channels=Param((4, 8, 16), "Input channels C_in", default=8),
            out_channels=Param((4, 8, 16), "Output channels C_out", default=8),
            groups=Param((1, 2, 4), "Groups g", default=2),
            depth_multiplier=Param((1, 2, 4), "Depth multiplier M"))
def connectivity_figure(in_channels=8, out_channels=8, groups=2, depth_multiplier=1):
    """Left: which input channel feeds which output of a 3x3 convolution with ``groups``.
    Middle and right: the depthwise (``depth_multiplier`` filters per channel) and pointwise
    steps of the separable convolution. Title: parameters and multiply-adds against the
    standard convolution, from :func:`kernels.model_cost`."""
    grid = connectivity_figure.params  # fixed axes: the largest sizes the controls offer
    max_in, max_out = max(grid["in_channels"].values), max(grid["out_channels"].values)
    max_mid = max_in * max(grid["depth_multiplier"].values)
    mid = in_channels * depth_multiplier
    masks = [connectivity(("grouped", in_channels, out_channels, groups)),
             connectivity(("depthwise", in_channels, depth_multiplier)),
             connectivity(("pointwise", mid, out_channels))]
    cost = layer_costs(in_channels, out_channels, groups, depth_multiplier)
    std, grp, sep = cost["standard"], cost["grouped"], cost["separable"]
    titles = (f"grouped 3×3, g = {groups}", f"depthwise 3×3, M = {depth_multiplier}",
              "pointwise 1×1")
    panels = [("input channel", "output channel", max_in, max_out),
              ("input channel", "depthwise channel", max_in, max_mid),
              ("depthwise channel", "output channel", max_mid, max_out)]
    traces, layout, notes = [], {}, []
    for k, (mask, (xt, yt, nx, ny), title) in enumerate(zip(masks, panels, titles)):
        lo = k * 0.36  # three equal panels, 0.08 apart
        suffix = "" if k == 0 else str(k + 1)
        trace = _mask_trace(mask, title.split(" ")[0], xt, yt)
        trace.update(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
        traces.append(trace)
        layout[f"xaxis{suffix}"], layout[f"yaxis{suffix}"] = _axes(nx, ny, xt, yt, [lo, lo + 0.28])
        layout[f"yaxis{suffix}"]["anchor"] = f"x{suffix}"
        layout[f"xaxis{suffix}"]["anchor"] = f"y{suffix}"
        notes.append(dict(text=title, x=lo + 0.14, y=1.0, xref="paper", yref="paper",
                          xanchor="center", yanchor="bottom", showarrow=False))
    fig = go.Figure(traces, layout=dict(layout, annotations=notes))
    # three short lines: a projector at 1280 x 720 must show every count (no clipped title)
    fig.update_layout(height=455, margin=dict(t=45, b=60), title=dict(font=dict(size=15), text=(
        f"standard 3×3, {in_channels} → {out_channels} on {MAP_SIZE}×{MAP_SIZE}: "
        f"{std.params:,} weights, {std.macs:,} multiply-adds"
        f"<br><sup>grouped (g = {groups}): {grp.params:,} weights, {grp.macs:,} multiply-adds "
        f"({_share(grp.macs, std.macs)})<br>separable (M = {depth_multiplier}): {sep.params:,} "
        f"weights, {sep.macs:,} multiply-adds ({_share(sep.macs, std.macs)})</sup>")))
    return fig


@explorable(channels=Param((12, 24), "Channels C"),
            groups=Param((1, 2, 3, 4, 6), "Groups per layer g", default=3),
            layers=Param((2, 3), "Stacked 1×1 layers"),
            shuffle=Param(("off", "on"), "Channel shuffle", default="on"))
def shuffle_figure(channels=12, groups=3, layers=2, shuffle="on"):
    """The exact dependency of every output channel of ``layers`` grouped 1x1 convolutions on
    every input channel, with or without a channel shuffle between them."""
    mask = connectivity(("stack", channels, groups, layers, shuffle == "on"))
    side = max(shuffle_figure.params["channels"].values)  # fixed axes: the largest C offered
    seen = mask.sum(1)
    xaxis, yaxis = _axes(side, side, "input channel", "output channel")
    fig = go.Figure(_mask_trace(mask, "stack", "input channel", "output channel"),
                    layout=dict(height=490, xaxis=dict(xaxis, constrain="domain"),
                                yaxis=dict(yaxis, scaleanchor="x")))
    lo, hi = int(seen.min()), int(seen.max())
    reach = f"{lo}" if lo == hi else f"{lo} to {hi}"
    fig.update_layout(title=dict(text=(
        f"{layers} grouped 1×1 layers, g = {groups}, shuffle {shuffle}"
        f"<br><sup>every output channel sees {reach} of the {channels} input channels</sup>")))
    return fig


@explorable(groups=Param((2, 3, 4, 6), "Groups g", default=3))
def shuffle_permutation_figure(groups=3, channels=12):
    """Where ``kernels.channel_shuffle`` sends each channel: input channel ``j`` (left) is
    joined to the output position that holds it (right), coloured by its input group."""
    order = kernels.channel_shuffle(torch.arange(channels).reshape(1, channels), groups)[0]
    n = channels // groups
    xs, ys = [], []
    for i, j in enumerate(order.tolist()):  # output channel i takes input channel j
        xs += [0, 1, None]
        ys += [j, i, None]
    colors = [COLORS[(j // n) % len(COLORS)] for j in range(channels)]
    out_colors = [colors[j] for j in order.tolist()]
    fig = go.Figure([
        go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#999", width=1.5),
                   hoverinfo="skip", showlegend=False),
        go.Scatter(x=[0] * channels, y=list(range(channels)), mode="markers+text",
                   marker=dict(size=16, color=colors), text=[str(j) for j in range(channels)],
                   textposition="middle left", showlegend=False,
                   hovertemplate="input channel %{y}<extra></extra>"),
        go.Scatter(x=[1] * channels, y=list(range(channels)), mode="markers+text",
                   marker=dict(size=16, color=out_colors), text=[str(j) for j in order.tolist()],
                   textposition="middle right", showlegend=False,
                   hovertemplate="output channel %{y}<extra></extra>")])
    fig.update_layout(height=430, title=dict(text=(
        f"channel_shuffle with g = {groups}: {groups} groups of {n}"
        f"<br><sup>output channel i takes input channel (i mod {groups})·{n} + ⌊i/{groups}⌋"
        f" (labels on the right)</sup>")),
        xaxis=dict(range=[-0.4, 1.4], tickvals=[0, 1], ticktext=["input", "output"],
                   showgrid=False),
        yaxis=dict(range=[channels - 0.5, -0.5], title="channel", showgrid=False, dtick=1))
    return fig


def timing_figure(rows):
    """Measured time against counted work, each relative to the standard convolution (the first
    row). ``rows``: dicts with ``groups``, ``macs``, ``memory_access`` (from
    :func:`kernels.model_cost`) and ``seconds`` (measured by the chapter)."""
    base = rows[0]
    x = [r["groups"] for r in rows]
    fig = go.Figure()
    for key, name, color in (("macs", "multiply-adds", COLORS[0]),
                             ("memory_access", "memory access (ShuffleNet v2's MAC)", COLORS[2]),
                             ("seconds", "measured CPU time", COLORS[3])):
        fig.add_trace(go.Scatter(x=x, y=[r[key] / base[key] for r in rows], name=name,
                                 mode="lines+markers", line=dict(color=color),
                                 hovertemplate="g = %{x}: %{y:.3g} × standard<extra></extra>"))
    fig.update_layout(height=390, title=dict(text=(
        "3×3 convolutions of equal input and output size, relative to g = 1"
        "<br><sup>time measured on the machine that built this page</sup>")),
        xaxis=dict(type="log", tickvals=x, title="groups g (the last one is depthwise)"),
        yaxis=dict(type="log", title="relative to the standard convolution"))
    return fig
