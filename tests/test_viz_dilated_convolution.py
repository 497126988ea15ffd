"""The dilation figures draw exactly what kernels computes, on fixed axes, and drive live."""
import itertools
import json
import re

import pytest
import torch
import torch.nn.functional as F

import kernels
from kernels.viz import Explorer
from kernels.viz import dilated_convolution as V


def grid(fn):
    """Every point of the grid declared for ``fn`` (the chapter's sliders), as kwargs."""
    g = {name: p.values for name, p in fn.params.items()}
    return [dict(zip(g, combo)) for combo in itertools.product(*g.values())]


def stack(p):
    """Dilations and strides of the stack that footprint_figure(**p) draws."""
    return [p["rate"]] * p["layers"], [p["stride"]] + [1] * (p["layers"] - 1)


def real_output_size(rates, k, strides, same):
    """Run the stack on a real 32x32 tensor (F.conv2d): the size the annotation must state."""
    x = torch.zeros(1, 1, V.INPUT_SIZE, V.INPUT_SIZE)
    for d, s in zip(rates, strides):
        pad = d * (k - 1) // 2 if same else 0
        if x.shape[-1] + 2 * pad < d * (k - 1) + 1:
            return None
        x = F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=pad, dilation=d)
    return x.shape[-1]


def check_heatmap(fig, expected, half):
    z = fig.data[0].z
    assert [list(row) for row in z] == expected.tolist()
    xs, ys = fig.data[0].x, fig.data[0].y
    assert len(xs) == expected.shape[1] and len(ys) == expected.shape[0]
    assert xs[0] == -xs[-1] and ys[0] == -ys[-1]  # centred on the output pixel
    assert tuple(fig.layout.xaxis.range) == (-half - 0.5, half + 0.5)
    assert max(xs) <= half  # the largest field of the grid fits the fixed axes


def test_kernel_figure_draws_the_taps():
    half = (max(kernels.effective_kernel_size(p["kernel_size"], p["rate"])
                for p in grid(V.dilated_kernel_figure)) - 1) / 2
    for p in grid(V.dilated_kernel_figure):
        fig = V.dilated_kernel_figure(**p)
        taps = kernels.dilated_footprint([p["rate"]], p["kernel_size"])
        check_heatmap(fig, taps, half)
        span = p["rate"] * (p["kernel_size"] - 1) + 1  # d(k-1)+1 by hand
        assert f"over {span}×{span}" in fig.layout.title.text
        out = real_output_size([p["rate"]], p["kernel_size"], [1], same=False)
        assert f"output {out}×{out}" in fig.layout.annotations[0].text


def test_footprint_figure_draws_the_path_counts():
    half = max(kernels.dilated_footprint(stack(p)[0], p["kernel_size"], stack(p)[1]).shape[0]
               for p in grid(V.footprint_figure)) // 2
    for p in grid(V.footprint_figure):
        rates, strides = stack(p)
        fig = V.footprint_figure(**p)
        fp = kernels.dilated_footprint(rates, p["kernel_size"], strides)
        check_heatmap(fig, fp, half)
        r = fp.shape[0]
        assert f"receptive field {r}×{r}" in fig.layout.title.text
        n_holes = int((fp == 0).sum())
        assert (f"{n_holes} holes" if n_holes else "no holes") in fig.layout.title.text
        note = fig.layout.annotations[0].text
        same = real_output_size(rates, p["kernel_size"], strides, same=True)
        valid = real_output_size(rates, p["kernel_size"], strides, same=False)
        assert f"output {same}×{same} with padding d(k−1)/2" in note
        assert (f"{valid}×{valid} with padding 0" if valid else "none") in note


def test_mixed_rates_figure_shows_holes_and_the_hdc_verdict():
    half = kernels.dilated_footprint([3, 4, 9]).shape[0] // 2  # the largest rates of the grid
    for p in grid(V.mixed_rates_figure):
        rates = [p["r1"], p["r2"], p["r3"]]
        fig = V.mixed_rates_figure(**p)
        check_heatmap(fig, kernels.dilated_footprint(rates), half)
        rep = kernels.gridding_report(rates)
        assert ("passes" if rep.hdc_ok else "fails") in fig.layout.title.text
        assert f"M₂ = {rep.m[1]}" in fig.layout.title.text
    # Wang et al. 2018's two examples: (1, 2, 5) passes with M_2 = 2, (1, 2, 9) fails with 5.
    assert "passes (M₂ = 2" in V.mixed_rates_figure(1, 2, 5).layout.title.text
    assert "fails (M₂ = 5" in V.mixed_rates_figure(1, 2, 9).layout.title.text
    assert "no holes" in V.mixed_rates_figure(1, 2, 5).layout.title.text


def test_hole_colour_is_reserved_for_zero():
    # Colour 0 (holes) is separated from 1 path by a hard step at 0.5 on the z scale.
    for fig in (V.footprint_figure(2, 3), V.dilated_kernel_figure(2, 3)):
        trace = fig.data[0]
        stops = [(s * (trace.zmax - trace.zmin), c) for s, c in trace.colorscale]
        assert all(c == V.HOLE for v, c in stops if v < 0.5 - 1e-9)
        assert all(c != V.HOLE for v, c in stops if v > 0.5 + 1e-9)


def test_live_explorer_redraws_from_kernels():
    ex = Explorer(V.footprint_figure)
    before = ex.figure
    ex.controls["layers"].value = 1
    ex.controls["rate"].value = 3
    assert [list(r) for r in ex.figure.data[0].z] == kernels.dilated_footprint([3]).tolist()
    ex.controls["layers"].value = 3
    expected = kernels.dilated_footprint([3, 3, 3])
    assert [list(r) for r in ex.figure.data[0].z] == expected.tolist()
    assert "3 layers of 3×3, d = 3" in ex.figure.layout.title.text
    assert ex.figure is before  # one live figure, updated in place


def test_calls_off_the_grid_still_fit_their_axes():
    # A reader in a live kernel may ask for values no slider offers: the axes grow to fit.
    fig = V.footprint_figure(rate=7, layers=3)
    fp = kernels.dilated_footprint([7, 7, 7])
    assert fig.layout.xaxis.range[1] >= fp.shape[0] // 2
    fig = V.dilated_kernel_figure(rate=7, kernel_size=5)
    assert fig.layout.xaxis.range[1] >= (7 * 4) / 2
