"""Figures for ``book/aspp.md``: valid filter weights at large rates, and each branch's field.

Every number drawn comes from :mod:`kernels`: :func:`kernels.valid_weight_map` /
:func:`kernels.valid_weight_counts` for how many taps land on real pixels,
:func:`kernels.atrous_offsets` for where the taps are, :func:`kernels.aspp_trace` for the
receptive field of each ASPP branch.
"""
import functools

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
import torch

import kernels

from .explorer import Param, explorable
from .theme import COLORS, steady_axes


def _count_colors(kk):
    """One colour per count 0..kk: white for 0, red (1 valid) through blue (all kk)."""
    return ["#ffffff"] + sample_colorscale("RdYlBu", [i / max(kk - 1, 1) for i in range(kk)])


def _count_colorscale(kk):
    """The stepwise colorscale of :func:`_count_colors` over z in [-0.5, kk + 0.5]."""
    steps = _count_colors(kk)
    return [[edge, c] for i, c in enumerate(steps) for edge in (i / (kk + 1), (i + 1) / (kk + 1))]


def _taps_trace(center, rate, n, lo, hi, name, color, kernel_size=3):
    """Markers at the k x k taps of ``center``; taps off the map are hollow, drawn at the edge of
    the view when they fall beyond it (the hover text keeps the true position)."""
    offsets = kernels.atrous_offsets(rate, kernel_size).tolist()
    xs, ys, text, symbols, edges = [], [], [], [], []
    for dy in offsets:
        for dx in offsets:
            y, x = center[0] + dy, center[1] + dx
            inside = 0 <= y < n and 0 <= x < n
            ys.append(min(max(y, lo), hi))
            xs.append(min(max(x, lo), hi))
            text.append(f"tap at (row {y}, col {x}): {'pixel' if inside else 'zero padding'}")
            symbols.append("circle" if inside else "circle-open")
            edges.append("white" if inside else color)
    return go.Scatter(x=xs, y=ys, mode="markers", name=name, text=text,
                      marker=dict(size=11, color=color, symbol=symbols,
                                  line=dict(width=2, color=edges)),
                      hovertemplate="%{text}<extra>" + name + "</extra>")


@explorable(rate=Param((1, 2, 3, 4, 6, 8, 12, 16, 18, 24, 32, 36, 48, 64, 65, 96),
                       "atrous rate r", default=6),
            feature_size=Param((9, 17, 33, 65), "feature map size n", default=65))
def valid_weights_figure(rate=6, feature_size=65, kernel_size=3):
    """Left: valid-weight count of every output position, with the centre position's taps.
    Right: histogram of those counts (the column of Figure 4 of Chen et al. 2017 at this rate)."""
    n, kk = feature_size, kernel_size * kernel_size
    counts = kernels.valid_weight_map(n, rate, kernel_size)
    fractions = kernels.valid_weight_counts(n, rate, kernel_size)
    pad = n // 2 + 2  # show half a map of zero padding around the map
    lo, hi = -pad, n - 1 + pad
    # The histogram is the map's colour key: bar i has the colour of count i (no colorbar, a
    # second axis with its own labels redrawn on every frame switch).
    fig = go.Figure([
        go.Heatmap(z=counts.tolist(), zmin=-0.5, zmax=kk + 0.5, colorscale=_count_colorscale(kk),
                   showscale=False,
                   hovertemplate="output (row %{y}, col %{x}): %{z} valid weights<extra></extra>"),
        _taps_trace((n // 2, n // 2), rate, n, lo, hi, "taps of the centre position", "#222",
                    kernel_size),
        go.Bar(x=list(range(kk + 1)), y=[round(f, 4) for f in fractions.tolist()],
               xaxis="x2", yaxis="y2", marker=dict(color=_count_colors(kk), line=dict(
                   color="#444", width=1)), name="fraction of positions",
               text=[f"{f:.0%}" if f > 0 else "" for f in fractions.tolist()],
               textposition="outside", hovertemplate="%{x} valid: %{y:.1%}<extra></extra>"),
    ])
    only_centre = fractions[1].item()
    fig.update_layout(
        title=dict(text=f"{kernel_size}×{kernel_size} filter, rate {rate}, {n}×{n} map: "
                        f"{only_centre:.0%} of positions use only the centre weight",
                   font=dict(size=15)),
        height=400, showlegend=False, margin=dict(l=70, r=20, t=20, b=55),
        xaxis=dict(domain=[0, 0.46], range=[lo - 0.5, hi + 0.5], title="column", showgrid=False,
                   constrain="domain"),
        yaxis=dict(range=[hi + 0.5, lo - 0.5], title="row", showgrid=False,
                   scaleanchor="x", constrain="domain"),
        xaxis2=dict(domain=[0.56, 1], anchor="y2", range=[-0.6, kk + 0.6], dtick=1,
                    title="valid weights per position"),
        yaxis2=dict(anchor="x2", range=[0, 1.15], tickformat=".0%",
                    title="fraction of positions"),
        shapes=[dict(type="rect", x0=-0.5, y0=-0.5, x1=n - 0.5, y1=n - 0.5,
                     line=dict(color="#222", width=1.5))],
    )
    return steady_axes(fig)


def valid_weight_curves_figure(feature_size=65, max_rate=80, kernel_size=3):
    """Figure 4 of Chen et al. (2017): fraction of positions with i valid weights vs the rate."""
    rates = list(range(1, max_rate + 1))
    table = torch.stack([kernels.valid_weight_counts(feature_size, r, kernel_size)
                         for r in rates])  # [R, k*k + 1]
    shown = [i for i in range(table.shape[1]) if table[:, i].max() > 0]
    paper = {1: COLORS[3], 4: COLORS[1], kernel_size * kernel_size: COLORS[0]}
    fig = go.Figure()
    for i in reversed(shown):
        fig.add_trace(go.Scatter(
            x=rates, y=[round(v, 4) for v in table[:, i].tolist()], mode="lines",
            name=f"{i} valid weight{'s' if i > 1 else ''}",
            line=dict(color=paper.get(i, "#999"), width=3 if i in paper else 1.5,
                      dash="solid" if i in paper else "dot"),
            hovertemplate="rate %{x}: %{y:.1%}<extra>" + f"{i} valid</extra>"))
    fig.add_vline(x=feature_size / 2, line=dict(color="#aaa", dash="dash"))
    fig.add_vline(x=feature_size, line=dict(color="#aaa", dash="dash"))
    fig.update_layout(
        title=dict(text=f"{kernel_size}×{kernel_size} filter on a {feature_size}×{feature_size} "
                        "map (dashed: rate n/2 and n)", font=dict(size=15)),
        height=400, legend=dict(orientation="v", x=1.02, y=1, yanchor="top"),
        xaxis=dict(title="atrous rate", range=[0, max_rate + 1]),
        yaxis=dict(title="normalised count", range=[0, 1.02], tickformat=".0%"))
    return fig


_POSITIONS = {"centre": lambda n: (n // 2, n // 2), "edge": lambda n: (n // 2, 2),
              "corner": lambda n: (2, 2)}


@functools.lru_cache(maxsize=8)
def _branches(output_stride, crop_size):
    """(map size n, [(name, field, rate, kernel_size)] per conv branch) from a 1-channel ASPP."""
    rates = (6, 12, 18) if output_stride == 16 else (12, 24, 36)
    n = kernels.conv_output_size(crop_size, 1, output_stride)  # ceil(513 / s): 33 or 65
    aspp = kernels.ASPP(1, 1, rates)
    rows = [r for r in kernels.aspp_trace(aspp, torch.zeros(1, 1, n, n))
            if r.name.startswith(("1x1", "3x3"))]
    return n, [(r.name, r.receptive_field[0], b[0].dilation[0], b[0].kernel_size[0])
               for r, b in zip(rows, aspp.convs)]


@explorable(output_stride=Param((16, 8), "output stride"),
            position=Param(tuple(_POSITIONS), "output position"))
def aspp_fields_figure(output_stride=16, position="centre", crop_size=513):
    """Every ASPP branch's taps around one position of the backbone feature map of a crop.

    Output stride 16 uses rates (6, 12, 18) on the 33x33 map of a 513 crop; stride 8 doubles
    both. Dotted squares: each branch's receptive field on the map, ``d (k - 1) + 1`` (from
    :func:`kernels.aspp_trace`); the image pooling branch sees the whole (shaded) map.
    """
    n, branches = _branches(output_stride, crop_size)
    center = _POSITIONS[position](n)
    lo, hi = -n // 2 - 4, n - 1 + n // 2 + 4
    fig = go.Figure()
    shapes = [dict(type="rect", x0=-0.5, y0=-0.5, x1=n - 0.5, y1=n - 0.5, line=dict(width=0),
                   fillcolor="rgba(204,121,167,0.15)", layer="below")]  # image pooling: all
    for color, (name, field, rate, k) in zip(COLORS, branches):
        half = (field - 1) / 2
        shapes.append(dict(type="rect", x0=center[1] - half - 0.5, x1=center[1] + half + 0.5,
                           y0=center[0] - half - 0.5, y1=center[0] + half + 0.5,
                           line=dict(color=color, width=1.5, dash="dot")))
        fig.add_trace(_taps_trace(center, rate, n, lo, hi, f"{name}: field {field}×{field}",
                                  color, k))
    shapes.append(dict(type="rect", x0=-0.5, y0=-0.5, x1=n - 0.5, y1=n - 0.5,
                       line=dict(color="#222", width=1.5)))
    fig.update_layout(
        title=dict(text=f"output stride {output_stride}: {crop_size}² crop → {n}×{n} map "
                        "(shaded: what image pooling sees)", font=dict(size=15)),
        height=530, shapes=shapes, legend=dict(orientation="v", x=1.02, y=1, yanchor="top"),
        margin=dict(l=67, r=20, t=20, b=45),
        xaxis=dict(range=[lo, hi], title="column of the feature map", showgrid=False,
                   constrain="domain"),
        yaxis=dict(range=[hi, lo], title="row", showgrid=False, scaleanchor="x",
                   constrain="domain"))
    return steady_axes(fig)
