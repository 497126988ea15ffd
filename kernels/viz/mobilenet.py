"""Figures for ``book/mobilenet.md``: MobileNet's costs per layer and the ReLU-manifold experiment.

Every number drawn comes from :mod:`kernels`: multiply-adds and parameters from
:func:`kernels.model_cost`, the activations alive at each operator from
:func:`kernels.peak_activation_memory` (both on shape-only ``meta`` networks, so no weights are
made), the spiral and its round trips from :mod:`kernels.relu_manifold`. Axes are fixed to the
largest case of each declared grid, so moving a control never rescales the picture.
"""
from __future__ import annotations

from functools import lru_cache

import plotly.graph_objects as go
import torch

import kernels

from .explorer import Param, explorable
from .theme import COLORS, steady_axes

BUILDERS = {"v1": kernels.mobilenet_v1, "v2": kernels.mobilenet_v2}
SPIRAL_POINTS = 400  # enough to draw the spiral, light enough for 20 static frames
LEGEND_BELOW = dict(y=-0.25, yanchor="top")  # under the x axis title, clear of the title
FRAME = 1.25  # half-width of the manifold panels; the spiral's radius is 1


@lru_cache(maxsize=None)
def _meta_network(network: str, width_mult: float):
    with torch.device("meta"):  # shapes only: no weights are made or read
        return BUILDERS[network](width_mult)


@lru_cache(maxsize=None)
def network_costs(network: str, width_mult: float, resolution: int) -> dict:
    """Per operator (as :func:`kernels.peak_activation_memory` splits the network: a conv with
    its BN and ReLU6, a whole inverted residual block, the classifier) the multiply-adds and
    parameters (the :func:`kernels.model_cost` rows that run from that operator up to the
    next one) and the elements alive while it runs (its input and output), with the totals."""
    model = _meta_network(network, width_mult)
    cost = kernels.model_cost(model, (1, 3, resolution, resolution))
    memory = kernels.peak_activation_memory(model, resolution)
    names = [op.name for op in memory.operators]
    macs, params, current = dict.fromkeys(names, 0), dict.fromkeys(names, 0), names[0]
    for row in cost:  # BN, ReLU6, pooling and adds belong to the operator that ran last
        current = next((n for n in names if row.name == n or row.name.startswith(n + ".")),
                       current)
        macs[current] += row.macs
        params[current] += row.params
    out = dict(names=names, macs=[macs[n] for n in names], params=[params[n] for n in names],
               alive=[op.alive for op in memory.operators], total_macs=cost.macs,
               total_params=cost.params, peak=memory.elements, peak_name=memory.peak.name,
               largest_tensor=memory.largest_tensor)
    return out


PANELS = (("macs", "multiply-adds (M)", 1e6, COLORS[0]),
          ("params", "parameters (K)", 1e3, COLORS[2]),
          ("alive", "activations alive (K elements)", 1e3, COLORS[3]))


@explorable(network=Param(("v1", "v2"), "Network", fmt=lambda v: f"MobileNet {v}"),
            width_mult=Param((0.25, 0.5, 0.75, 1.0), "Width multiplier α", default=1.0),
            resolution=Param((128, 160, 192, 224), "Input resolution ρ·224", default=224))
def cost_figure(network="v1", width_mult=1.0, resolution=224):
    """Per-operator bars of multiply-adds, parameters and activations alive (input + output),
    top to bottom; title: the totals and the peak. Fixed axes: the widest, largest case."""
    grid = cost_figure.params
    big = [network_costs(net, max(grid["width_mult"].values), max(grid["resolution"].values))
           for net in grid["network"].values]  # every count grows with width and resolution
    n_max = max(len(c["names"]) for c in big)
    c = network_costs(network, width_mult, resolution)
    x = list(range(len(c["names"])))
    traces, layout = [], {}
    for k, (key, title, scale, color) in enumerate(PANELS):
        suffix = "" if k == 0 else str(k + 1)
        top = 1 - k * 0.345  # three panels, top to bottom
        values = [v / scale for v in c[key]]
        traces.append(go.Bar(x=x, y=values, name=title, marker_color=color, xaxis=f"x{suffix}",
                             yaxis=f"y{suffix}", customdata=c["names"], showlegend=False,
                             hovertemplate=f"%{{customdata}}: %{{y:.4g}} {title}"
                                           f"<extra></extra>"))
        y_max = max(max(b[key]) for b in big) / scale
        layout[f"yaxis{suffix}"] = dict(range=[0, 1.05 * y_max], domain=[top - 0.3, top],
                                        title=dict(text=title, font=dict(size=12)),
                                        anchor=f"x{suffix}")
        layout[f"xaxis{suffix}"] = dict(range=[-0.6, n_max - 0.4], anchor=f"y{suffix}",
                                        showticklabels=k == 2, matches=None if k == 0 else "x",
                                        title=dict(text="operator (in the order it runs)")
                                        if k == 2 else None)
    peak = f"peak {c['peak']:,} elements alive (input + output) at {c['peak_name']}"
    fig = go.Figure(traces, layout=layout)
    fig.update_layout(height=565, bargap=0.15, margin=dict(t=20, l=68, b=50), title=dict(text=(
        f"MobileNet {network}, α = {width_mult}, {resolution}×{resolution}: "
        f"{c['total_macs'] / 1e6:.1f} M multiply-adds, {c['total_params'] / 1e6:.2f} M parameters"
        f"<br><sup>{peak}</sup>")))
    return steady_axes(fig)


@lru_cache(maxsize=None)
def manifold(n: int, seed: int) -> dict:
    """The spiral, its pseudo-inverse round trip (Sandler et al.'s Figure 1), the exact
    recovery from the active rows, and which points are invertible, for one embedding."""
    x = kernels.spiral(SPIRAL_POINTS)
    return dict(x=x, roundtrip=kernels.relu_roundtrip(x, n, seed),
                recovered=kernels.relu_recover(x, n, seed),
                ok=kernels.invertible_mask(x, n, seed),
                fraction=kernels.invertible_fraction(x, n, seed),
                expected=kernels.expected_invertible_fraction(n))


def _xy(points):
    return dict(x=[round(v, 4) for v in points[:, 0].tolist()],
                y=[round(v, 4) for v in points[:, 1].tolist()])


def _runs(points, keep):
    """``points[keep]`` as one polyline, broken (``None``) wherever ``keep`` is False: the
    stretches of the spiral recovered exactly, drawn as one path instead of one marker each
    (a marker is an SVG element of its own; 400 of them were half of a frame switch)."""
    xs, ys, prev = [], [], False
    for (x, y), k in zip(points.tolist(), keep.tolist()):
        if k:
            xs.append(round(x, 4))
            ys.append(round(y, 4))
        elif prev:
            xs.append(None)
            ys.append(None)
        prev = k
    return dict(x=xs, y=ys)


def _distinct(points, step=0.01):
    """Points a reader can tell apart: collapsed points pile up (on a line, at the origin), and
    marks closer than ``step`` (about a pixel at the panels' scale) are drawn once."""
    seen = dict.fromkeys((round(x / step) * step, round(y / step) * step)
                         for x, y in points.tolist())
    return dict(x=[round(x, 4) for x, _ in seen], y=[round(y, 4) for _, y in seen])


@explorable(n=Param((2, 3, 5, 15, 30), "Embedding dimension n", default=3),
            seed=Param((0, 1, 2, 3), "Random matrix T (seed)"))
def manifold_figure(n=3, seed=0):
    """Left: the spiral and ``T^+ ReLU(T x)`` (the paper's Figure 1). Right: the recovery from
    the active coordinates, exact (on the spiral) where ``ReLU(T x)`` is invertible, collapsed
    onto a line or the origin where it is not. Title: this T's fraction against the average."""
    m = manifold(n, seed)
    ok = m["ok"]
    # an ill-conditioned T (its inverse is large) throws T^+ ReLU(T x) far out: say so
    outside = int((m["roundtrip"].abs().max(dim=1).values > FRAME).sum())
    note = f" ({outside} of its points lie outside the frame)" if outside else ""
    line = dict(mode="lines", hoverinfo="skip")
    traces = [
        go.Scatter(**_xy(m["x"]), name="spiral x", line=dict(color="#BBB", width=5), **line),
        go.Scatter(**_xy(m["roundtrip"]), name="T⁺ ReLU(T x)", line=dict(color=COLORS[0]),
                   **line),
        go.Scatter(**_xy(m["x"]), name="spiral x", line=dict(color="#BBB", width=5),
                   showlegend=False, xaxis="x2", yaxis="y2", **line),
        go.Scatter(**_runs(m["recovered"], ok), name="recovered exactly (invertible)",
                   mode="lines", line=dict(color=COLORS[2], width=4), xaxis="x2", yaxis="y2",
                   hoverinfo="skip"),
        go.Scatter(**_distinct(m["recovered"][~ok]), name="collapsed (fewer than 2 active rows)",
                   mode="markers", marker=dict(color=COLORS[3], size=5), xaxis="x2",
                   yaxis="y2", hoverinfo="skip")]
    axis = dict(range=[-FRAME, FRAME], zeroline=True, zerolinecolor="#ddd")
    fig = go.Figure(traces)
    fig.update_layout(
        height=430, margin=dict(t=20, l=55, b=91),
        xaxis=dict(axis, domain=[0, 0.47]), yaxis=dict(axis, scaleanchor="x"),
        xaxis2=dict(axis, domain=[0.53, 1]), yaxis2=dict(axis, scaleanchor="x2", anchor="x2"),
        legend=dict(y=-0.08, yanchor="top"),
        title=dict(text=(
            f"n = {n}, seed {seed}: ReLU(T x) invertible on {m['fraction']:.1%} of the spiral"
            f"<br><sup>average over random T: 1 − (n + 1)/2ⁿ = {m['expected']:.2%}.<br>"
            f"Left: T⁺ ReLU(T x) (Figure 1){note}; right: solved on the active rows</sup>")))
    return steady_axes(fig)


def fraction_figure(ns, measured, low, high):
    """The invertible fraction measured on the spiral (mean over random T, with the spread
    ``low``..``high`` of single T's) against ``1 - (n + 1)/2^n``, for each ``n`` in ``ns``."""
    formula = [kernels.expected_invertible_fraction(n) for n in ns]
    fig = go.Figure([
        go.Scatter(x=list(ns) + list(ns)[::-1], y=list(high) + list(low)[::-1], fill="toself",
                   line=dict(width=0), fillcolor="rgba(0,114,178,0.15)", hoverinfo="skip",
                   name="one T (10th to 90th percentile)"),
        go.Scatter(x=list(ns), y=list(measured), mode="markers", name="measured, mean over T",
                   marker=dict(color=COLORS[0], size=9)),
        go.Scatter(x=list(ns), y=formula, mode="lines", name="1 − (n + 1)/2ⁿ",
                   line=dict(color=COLORS[3], dash="dash"))])
    fig.update_layout(height=410, margin=dict(b=120), legend=LEGEND_BELOW,
                      title=dict(text="Fraction of the spiral where ReLU(T x) is invertible"),
                      xaxis=dict(title="embedding dimension n", range=[0.5, max(ns) + 0.5]),
                      yaxis=dict(title="fraction invertible", range=[0, 1.02]))
    return fig


def bottleneck_figure(expansions, linear, relu):
    """Relative read-out error of a bottleneck against its expansion ratio, with a linear
    projection and with a ReLU after it (:func:`kernels.bottleneck_roundtrip_error`)."""
    fig = go.Figure([
        go.Scatter(x=list(expansions), y=list(linear), mode="lines+markers",
                   name="linear projection (MobileNet v2)", line=dict(color=COLORS[0])),
        go.Scatter(x=list(expansions), y=list(relu), mode="lines+markers",
                   name="ReLU after the projection", line=dict(color=COLORS[3]))])
    fig.update_layout(height=410, margin=dict(b=120), legend=LEGEND_BELOW,
                      title=dict(text="What a bottleneck keeps of its 2-D input"),
                      xaxis=dict(title="expansion ratio t", type="log",
                                 tickvals=list(expansions)),
                      yaxis=dict(title="relative error |x̂ − x|² / |x|²", range=[0, 1.02]))
    return fig
