"""Figures for ``book/dilated_convolution.md``: where dilated kernels and stacks of them look.

Every number drawn comes from :mod:`kernels`: the taps and path counts from
:func:`kernels.dilated_footprint`, holes and the HDC test from :func:`kernels.gridding_report`,
sizes from :func:`kernels.conv_output_size` / :func:`kernels.effective_kernel_size`. Each figure
is one heatmap whose ``z`` is exactly the footprint (offsets from the field's centre on the
axes), on axes fixed to the largest case of the chapter's sliders so frames do not jump.
"""
from __future__ import annotations

from functools import lru_cache

import plotly.graph_objects as go

import kernels

from .explorer import Param, explorable

INPUT_SIZE = 32  # the feature map whose output size the figures report

HOLE = "#F0A860"  # light orange: a pixel inside the field that no path reaches


def _colorscale(zmax):
    """Holes (0) in their own colour, then white-to-blue for 1..zmax paths."""
    if zmax <= 1:
        return [[0, HOLE], [0.5, HOLE], [0.5, "#08406E"], [1, "#08406E"]]
    cut = 0.5 / zmax
    return [[0, HOLE], [cut, HOLE], [cut, "#BCD7EE"], [1, "#08406E"]]


def _heatmap(fp, half, hover="paths"):
    """Heatmap of ``fp`` centred on offset 0, on fixed axes ``[-half, half]``."""
    rh, rw = fp.shape
    zmax = int(fp.max())
    trace = go.Heatmap(
        z=fp.tolist(), x=[j - (rw - 1) / 2 for j in range(rw)],
        y=[i - (rh - 1) / 2 for i in range(rh)], zmin=0, zmax=zmax, xgap=1, ygap=1,
        colorscale=_colorscale(zmax), showscale=zmax > 1,
        colorbar=dict(title=dict(text=hover), thickness=12, len=0.8),
        hovertemplate="offset (%{y}, %{x}): %{z} " + hover + "<extra></extra>")
    axis = dict(range=[-half - 0.5, half + 0.5], showgrid=False, zeroline=False,
                dtick=5 if half <= 20 else 10)
    fig = go.Figure(trace)
    fig.update_layout(height=440, margin=dict(t=20, b=95, l=60, r=20),
                      xaxis=dict(axis, title="column offset from the centre", constrain="domain"),
                      yaxis=dict(axis, title="row offset", scaleanchor="x"))
    fig.update_yaxes(range=[half + 0.5, -half - 0.5])  # row 0 on top, like an image
    return fig


def _grid(figure_fn) -> dict:
    """name -> values of the controls declared for ``figure_fn`` (its sliders)."""
    return {name: p.values for name, p in figure_fn.params.items()}


@lru_cache(maxsize=None)
def _half_extent(figure_fn):
    """Half the widest receptive field over the declared grid of ``figure_fn``: the fixed axes,
    so that moving a slider never rescales the picture."""
    g = _grid(figure_fn)
    if figure_fn is dilated_kernel_figure:
        return (max(kernels.effective_kernel_size(k, d) for k in g["kernel_size"]
                    for d in g["rate"]) - 1) / 2
    if figure_fn is footprint_figure:
        return max(kernels.dilated_footprint([d] * n, k, [s] + [1] * (n - 1)).shape[0]
                   for d in g["rate"] for n in g["layers"] for k in g["kernel_size"]
                   for s in g["stride"]) // 2
    return kernels.dilated_footprint([max(v) for v in g.values()]).shape[0] // 2


def _stack_output_size(rates, kernel_size, strides, same):
    """Feature-map size after the stack on an INPUT_SIZE input, or None if it does not fit."""
    size = INPUT_SIZE
    for d, s in zip(rates, strides):
        # "same" padding d(k-1)/2 keeps the size at stride 1 (odd k only).
        pad = d * (kernel_size - 1) // 2 if same else 0
        try:
            size = kernels.conv_output_size(size, kernel_size, s, pad, d)
        except ValueError:
            return None
    return size


def _size_line(rates, kernel_size, strides):
    same = _stack_output_size(rates, kernel_size, strides, True)
    valid = _stack_output_size(rates, kernel_size, strides, False)
    valid = f"{valid}×{valid}" if valid else "none (kernel larger than its input)"
    return (f"{INPUT_SIZE}×{INPUT_SIZE} input → output {same}×{same} with padding d(k−1)/2, "
            f"{valid} with padding 0")


def _annotate(fig, text):
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=-0.2, showarrow=False,
                       xanchor="center", yanchor="top", font=dict(size=13, color="#444"))
    return fig


@explorable(rate=Param((1, 2, 3, 4, 5, 6), "Dilation rate d", default=2),
            kernel_size=Param((3, 5), "Kernel size k"))
def dilated_kernel_figure(rate=2, kernel_size=3):
    """One layer: the ``k × k`` taps of a kernel with dilation ``rate`` on the input grid."""
    fp = kernels.dilated_footprint([rate], kernel_size)
    span = kernels.effective_kernel_size(kernel_size, rate)
    fig = _heatmap(fp, max(_half_extent(dilated_kernel_figure), (span - 1) / 2), hover="tap")
    out = kernels.conv_output_size(INPUT_SIZE, kernel_size, 1, 0, rate)
    fig.update_layout(title=dict(text=(
        f"k = {kernel_size}, d = {rate}: {kernel_size * kernel_size} weights spread over "
        f"{span}×{span}<br><sup>effective kernel size d(k−1)+1 = {span}; the "
        f"{span * span - kernel_size * kernel_size} orange pixels are skipped</sup>")))
    return _annotate(fig, f"{INPUT_SIZE}×{INPUT_SIZE} input, padding 0 → output {out}×{out}; "
                          f"{kernel_size * kernel_size} weights for every d")


@explorable(rate=Param((1, 2, 3), "Dilation rate d", default=2),
            layers=Param((1, 2, 3), "Stacked layers n", default=3),
            kernel_size=Param((3, 5), "Kernel size k"),
            stride=Param((1, 2), "Stride of the first layer"))
def footprint_figure(rate=2, layers=3, kernel_size=3, stride=1):
    """``layers`` stacked layers of rate ``rate``; the first has stride ``stride``.

    Heatmap: how many paths join the centre output pixel to each input pixel (orange: none).
    """
    rates, strides = [rate] * layers, [stride] + [1] * (layers - 1)
    fp = kernels.dilated_footprint(rates, kernel_size, strides)
    rep = kernels.gridding_report(rates, kernel_size, strides)
    fig = _heatmap(fp, max(_half_extent(footprint_figure), fp.shape[0] // 2))
    r = rep.receptive_field
    holes = (f"{round(rep.hole_fraction * r * r)} holes ({100 * rep.hole_fraction:.0f}%)"
             if rep.has_holes else "no holes")
    first = f", first stride {stride}" if stride > 1 else ""
    fig.update_layout(title=dict(text=(
        f"{layers} layer{'s' * (layers > 1)} of {kernel_size}×{kernel_size}, d = {rate}{first}"
        f"<br><sup>receptive field {r}×{r}, {holes}</sup>")))
    return _annotate(fig, _size_line(rates, kernel_size, strides))


@explorable(r1=Param((1, 2, 3), "Rate of layer 1"),
            r2=Param((1, 2, 3, 4), "Rate of layer 2", default=2),
            r3=Param((1, 2, 3, 5, 9), "Rate of layer 3", default=5))
def mixed_rates_figure(r1=1, r2=2, r3=5):
    """Three stacked 3×3 layers with rates ``(r1, r2, r3)``: holes and the HDC verdict."""
    kernel_size = 3  # the HDC test is stated for 3×3 kernels
    rates = [r1, r2, r3]
    fp = kernels.dilated_footprint(rates, kernel_size)
    rep = kernels.gridding_report(rates, kernel_size)
    fig = _heatmap(fp, max(_half_extent(mixed_rates_figure), fp.shape[0] // 2))
    r = rep.receptive_field
    holes = (f"{round(rep.hole_fraction * r * r)} holes ({100 * rep.hole_fraction:.0f}%)"
             if rep.has_holes else "no holes")
    m2 = rep.m[1]
    verdict = "passes" if rep.hdc_ok else "fails"
    why = [f"M₂ = {m2} {'≤' if m2 <= kernel_size else '>'} K = {kernel_size}"]
    if rep.common_factor > 1:
        why.append(f"common factor {rep.common_factor}")
    fig.update_layout(title=dict(text=(
        f"rates ({r1}, {r2}, {r3}): field {r}×{r}, {holes}"
        f"<br><sup>HDC test {verdict} ({', '.join(why)})</sup>")))
    return _annotate(fig, _size_line(rates, kernel_size, [1, 1, 1]))
