"""Figures for ``book/receptive_field.md``: what one output unit of a CNN can see.

Every number drawn comes from :mod:`kernels`: boxes, sizes, jumps and centres from
:func:`kernels.receptive_field`, the exact field with its holes from
:func:`kernels.empirical_receptive_field`, the effective field from
:func:`kernels.effective_receptive_field` and its widths from :func:`kernels.erf_moments`.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import plotly.graph_objects as go
import torch

import kernels

from .explorer import Param, explorable
from .theme import COLORS, steady_axes

ERF_CHANNELS, ERF_SEEDS = 4, 4  # small: the live figure must redraw in well under 30 ms
ARCHITECTURES = {  # label -> (constructor, keyword arguments)
    "AlexNet": (kernels.alexnet_features, {}),
    "VGG-16": (kernels.vgg16_features, {}),
    "ResNet-50 (torchvision)": (kernels.resnet50_features, {}),
    "ResNet-50 (paper)": (kernels.resnet50_features, {"stride_in": "1x1"}),
    "MobileNet v1": (kernels.mobilenet_v1_features, {}),
}
HOLE, SEEN = "#F0A860", "#0072B2"


def _stack(layers, kernel_size, stride, dilation):
    return kernels.conv_stack(layers, kernel_size, stride, dilation, channels=ERF_CHANNELS,
                              relu=True)


@lru_cache(maxsize=None)
def _grid_points() -> set:
    g = field_figure.params
    return set(itertools.product(*(g[k].values for k in ("layers", "kernel_size", "stride",
                                                          "dilation"))))


@lru_cache(maxsize=None)
def input_side() -> int:
    """Side of the square input drawn: the largest field over the sliders' grid plus a margin."""
    g = {name: p.values for name, p in field_figure.params.items()}
    return 4 + max(kernels.receptive_field(_stack(n, k, s, d), 4096).size[0]
                   for n in g["layers"] for k in g["kernel_size"] for s in g["stride"]
                   for d in g["dilation"])


def _percent(field):
    """Share of the peak in whole percent, as uint8: light on the page, fast to validate."""
    return (100 * field / field.max()).round().to(torch.uint8).numpy()


def _outline(box, axis):
    (t, b), (l, r) = box
    return go.Scatter(x=[l - .5, r + .5, r + .5, l - .5, l - .5],
                      y=[t - .5, t - .5, b + .5, b + .5, t - .5], mode="lines",
                      line=dict(color="black", width=1.5), hoverinfo="skip", showlegend=False,
                      xaxis=f"x{axis}", yaxis=f"y{axis}")


def _centre(rf, pos, axis):
    ch, cw = rf.center_at(pos)
    return go.Scatter(x=[cw], y=[ch], mode="markers", showlegend=False,
                      marker=dict(symbol="x-thin", size=10, line=dict(width=2, color="black")),
                      hovertemplate="centre (%{y}, %{x})<extra></extra>",
                      xaxis=f"x{axis}", yaxis=f"y{axis}")


@explorable(layers=Param((1, 2, 3, 4), "Layers", default=3),
            kernel_size=Param((2, 3), "Kernel size k", default=3),
            stride=Param((1, 2), "Stride s"),
            dilation=Param((1, 2), "Dilation d"))
def field_figure(layers=3, kernel_size=3, stride=1, dilation=1):
    """A stack of ``layers`` equal convolutions (ReLU after each), no padding.

    Left: the exact field of the centre output unit (blue: reached, orange: hole) inside its
    analytic box (black) around its centre (x). Right: the effective field (random weights,
    ReLU, ERF_SEEDS seeds). The subtitle gives, after each layer, the field size r and 4σ of
    the path counts (the effective field of equal weights), whose σ grows like √n.

    Light to redraw (issue 14: a static frame switch within 16 ms): two panels, no legend, no
    tick marks, and no zoom (``fixedrange``: the next frame would reset it anyway), which
    spares plotly its drag handles. The per-layer sizes are numbers in the subtitle, not a
    third panel with its own axes and legend, which plotly would redraw on every switch.
    """
    stack = _stack(layers, kernel_size, stride, dilation)
    n = input_side()
    if (layers, kernel_size, stride, dilation) not in _grid_points():  # a live call off the grid
        n = max(n, 4 + kernels.receptive_field(stack, 4096).size[0])
    size = (ERF_CHANNELS, n, n)
    rf = kernels.receptive_field(stack, size)
    pos = tuple((o - 1) // 2 for o in rf.output_size)
    (t, b), (l, r) = box = rf.box(pos)
    counts = kernels.empirical_receptive_field(stack, size, pos)[t:b + 1, l:r + 1]
    erf = kernels.effective_receptive_field(stack, size, pos, seeds=ERF_SEEDS)[t:b + 1, l:r + 1]
    rows, cols = list(range(t, b + 1)), list(range(l, r + 1))
    holes = int((counts == 0).sum())
    sizes = [1] + [row.size[0] for row in rf.layers if row.type == "Conv2d"]
    sigmas = kernels.uniform_erf_std([kernel_size] * layers, stride, dilation)
    four_sigma = [0] + [round(4 * s, 1) for s in sigmas]
    data = [
        go.Heatmap(z=(counts > 0).to(torch.int8).numpy(), x=cols, y=rows, zmin=0, zmax=1,
                   xgap=0.5, ygap=0.5, showscale=False,
                   colorscale=[[0, HOLE], [0.5, HOLE], [0.5, SEEN], [1, SEEN]],
                   hovertemplate="pixel (%{y}, %{x})<extra></extra>"),
        _outline(box, ""), _centre(rf, pos, ""),
        go.Heatmap(z=_percent(erf), x=cols, y=rows, zmin=0, zmax=100, colorscale="Blues",
                   showscale=False, xaxis="x2", yaxis="y2",
                   hovertemplate="pixel (%{y}, %{x}): %{z}% of the peak<extra></extra>"),
        _outline(box, 2), _centre(rf, pos, 2),
    ]
    # No tick marks on the pixel panels, and the effective field's rows are not labelled
    # again: both panels have the same rows at the same height (every label and mark is
    # redrawn on each frame switch).
    grid = dict(range=[-0.5, n - 0.5], showgrid=False, zeroline=False, constrain="domain",
                ticks="", fixedrange=True)
    hole_txt = f", {holes} holes" if holes else ", no holes"
    layout = dict(
        height=345, margin=dict(t=20, b=45, l=40, r=10), showlegend=False,
        title=dict(text=(f"{layers} × conv {kernel_size}×{kernel_size}, stride {stride}, "
                         f"dilation {dilation}: r = {rf.size[0]}, S = {rf.stride[0]}, "
                         f"P = {rf.padding[0]}{hole_txt}<br><sup>output unit {pos} of "
                         f"{rf.output_size[0]}×{rf.output_size[1]}, centre at "
                         f"{rf.center_at(pos)[0]:g} on a {n}×{n} input<br>after each layer: "
                         f"r = {' → '.join(map(str, sizes))}; 4σ of the path counts = "
                         f"{' → '.join(f'{v:g}' for v in four_sigma)}</sup>")),
        xaxis=dict(grid, domain=[0, 0.48], title="exact field"),
        yaxis=dict(grid, range=[n - 0.5, -0.5], scaleanchor="x"),
        xaxis2=dict(grid, domain=[0.52, 1], title="effective field"),
        yaxis2=dict(grid, range=[n - 0.5, -0.5], scaleanchor="x2", showticklabels=False),
    )
    fig = go.Figure(data=data, layout=layout)
    return steady_axes(fig)


@lru_cache(maxsize=None)
def architecture_fields(input_size: int = 224):
    """Analytic receptive field of each of ARCHITECTURES (built on the meta device: no memory)."""
    out = {}
    for label, (fn, kw) in ARCHITECTURES.items():
        with torch.device("meta"):
            model = fn(**kw)
        out[label] = kernels.receptive_field(model, input_size)
    return out


def architectures_figure(input_size: int = 224):
    """Field size r after every layer that can widen it (convolutions and pools larger than
    1x1; 1x1 layers, shortcuts included, never do) of the classic networks."""
    data = []
    for i, (label, rf) in enumerate(architecture_fields(input_size).items()):
        rows = [row for row in rf.layers if row.kernel not in (None, (1, 1))]
        data.append(go.Scatter(
            x=list(range(1, len(rows) + 1)), y=[row.size[0] for row in rows], name=label,
            mode="lines+markers", marker=dict(size=5), line=dict(color=COLORS[i]),
            customdata=[[row.name, row.stride[0]] for row in rows],
            hovertemplate="%{customdata[0]}: r = %{y}, S = %{customdata[1]}<extra>" + label +
                          "</extra>"))
    data.append(go.Scatter(x=[0, 20], y=[input_size] * 2, mode="lines", name="input size",
                           line=dict(color="#888", dash="dash"), hoverinfo="skip"))
    return go.Figure(data=data, layout=dict(
        height=390, title=f"Receptive field size after each layer ({input_size}×{input_size} "
                          "input)",
        xaxis=dict(title="layers larger than 1×1, in order", range=[0, 20], dtick=2),
        yaxis=dict(title="field size r (pixels)", rangemode="tozero"),
        legend=dict(orientation="v", x=0.01, y=0.99, yanchor="top")))


def erf_growth_figure(growth: dict):
    """Field size r (grows like n) versus effective width (grows like √n), from erf_growth."""
    n = growth["depth"]
    data = [
        go.Scatter(x=n, y=growth["size"], name="field size r = 1 + 2n", mode="lines+markers"),
        go.Scatter(x=n, y=[round(4 * s, 2) for s in growth["erf_std"]], mode="lines+markers",
                   name="effective width 4σ: random weights, ReLU"),
        go.Scatter(x=n, y=[round(4 * s, 2) for s in growth["uniform_std"]],
                   mode="lines+markers", name="4σ of the path counts (equal weights)",
                   line=dict(dash="dot")),
    ]
    return go.Figure(data=data, layout=dict(
        height=370, title="A field grows like n, its effective part like √n",
        xaxis=dict(title="layers n (3×3, stride 1)", rangemode="tozero"),
        yaxis=dict(title="pixels", rangemode="tozero"),
        legend=dict(orientation="v", x=0.02, y=0.98, yanchor="top")))


def erf_profile_figure(field):
    """An effective field (heatmap) and its column profile against the Gaussian with the same
    mean and standard deviation (from :func:`kernels.erf_profile`)."""
    coords, marginal, gauss = kernels.erf_profile(field, "w")
    data = [go.Heatmap(z=_percent(field), colorscale="Blues", showscale=False,
                       hovertemplate="(%{y}, %{x}): %{z}% of the peak<extra></extra>"),
            go.Bar(x=coords.tolist(), y=marginal.numpy().round(4), name="effective field, "
                   "summed over rows", xaxis="x2", yaxis="y2", marker_color=COLORS[0]),
            go.Scatter(x=coords.tolist(), y=gauss.numpy().round(4), xaxis="x2", yaxis="y2",
                       name="Gaussian, same mean and σ", line=dict(color=COLORS[3]))]
    return go.Figure(data=data, layout=dict(
        height=380, margin=dict(t=60),
        xaxis=dict(domain=[0, 0.42], constrain="domain", showgrid=False, title="column"),
        yaxis=dict(autorange="reversed", scaleanchor="x", showgrid=False, title="row"),
        xaxis2=dict(domain=[0.52, 1], anchor="y2", title="column"),
        yaxis2=dict(anchor="x2", rangemode="tozero"),
        legend=dict(x=0.52, y=1.02, yanchor="bottom")))
