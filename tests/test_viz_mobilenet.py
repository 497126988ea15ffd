"""The MobileNet figures draw what kernels computes, on fixed axes, and redraw live.

Expected values come from kernels.model_cost / peak_activation_memory / relu_manifold called
here directly, and from hand formulas for a few layers, not from the view's own helpers.
"""
import itertools
import math

import pytest
import torch

import kernels
from kernels.viz import Explorer
from kernels.viz import mobilenet as V


def grid(fn):
    g = {name: p.values for name, p in fn.params.items()}
    return [dict(zip(g, combo)) for combo in itertools.product(*g.values())]


def meta(network, width):
    with torch.device("meta"):
        return {"v1": kernels.mobilenet_v1, "v2": kernels.mobilenet_v2}[network](width)


@pytest.mark.parametrize("network, width, size", [("v1", 1.0, 224), ("v1", 0.25, 128),
                                                  ("v2", 1.0, 224), ("v2", 0.5, 160)])
def test_cost_figure_draws_model_cost_and_peak_activation_memory(network, width, size):
    fig = V.cost_figure(network, width, size)
    model = meta(network, width)
    cost = kernels.model_cost(model, (1, 3, size, size))
    memory = kernels.peak_activation_memory(model, size)
    macs, params, alive = ([v * s for v in t.y] for t, s in zip(fig.data, (1e6, 1e3, 1e3)))
    assert len(fig.data) == 3 and len(macs) == len(memory.operators)
    assert round(sum(macs)) == cost.macs and round(sum(params)) == cost.params
    assert sum(p.numel() for p in model.parameters()) == cost.params
    assert [round(a) for a in alive] == [op.alive for op in memory.operators]
    assert list(fig.data[0].customdata) == [op.name for op in memory.operators]
    # the first operator, the stem 3x3 conv by hand: 3 -> C channels at half the size
    c = model.features[0][0].out_channels
    assert round(macs[0]) == 3 * c * 9 * (size // 2) ** 2
    title = fig.layout.title.text
    assert f"{cost.macs / 1e6:.1f} M multiply-adds" in title
    assert (f"peak {memory.elements:,} elements alive (input + output) at {memory.peak.name}"
            in title)


def test_cost_figure_at_the_published_points():
    v1, v2 = V.cost_figure("v1", 1.0, 224), V.cost_figure("v2", 1.0, 224)
    assert "568.7 M multiply-adds, 4.23 M parameters" in v1.layout.title.text
    assert "peak 1,204,224 elements alive (input + output) at features.1.3" in v1.layout.title.text
    assert "300.8 M multiply-adds, 3.50 M parameters" in v2.layout.title.text
    assert "peak 602,112 elements alive (input + output) at features.1<" in v2.layout.title.text


def test_cost_figure_axes_are_fixed_over_the_grid():
    ranges = set()
    for p in grid(V.cost_figure):
        if p["resolution"] not in (128, 224):  # the corners suffice: counts grow monotonically
            continue
        fig = V.cost_figure(**p)
        lay = fig.layout
        ranges.add(tuple(tuple(getattr(lay, a).range) for a in
                         ("xaxis", "xaxis2", "xaxis3", "yaxis", "yaxis2", "yaxis3")))
        for trace, axis in zip(fig.data, ("yaxis", "yaxis2", "yaxis3")):
            assert max(trace.y) <= getattr(lay, axis).range[1]  # nothing is cut off
    assert len(ranges) == 1


@pytest.mark.parametrize("n, seed", [(2, 0), (3, 1), (5, 2), (30, 3)])
def test_manifold_figure_draws_the_round_trip_and_the_recovery(n, seed):
    fig = V.manifold_figure(n, seed)
    x = kernels.spiral(V.SPIRAL_POINTS)
    ok = kernels.invertible_mask(x, n, seed)

    def xy(trace):
        return torch.tensor([list(trace.x), list(trace.y)], dtype=torch.float64).T

    torch.testing.assert_close(xy(fig.data[0]), x, rtol=0, atol=1e-4)
    torch.testing.assert_close(xy(fig.data[1]), kernels.relu_roundtrip(x, n, seed),
                               rtol=0, atol=1e-4)
    # exact recovery: the invertible points, in order, one line broken where x is not invertible
    recovered = fig.data[3]
    assert recovered.mode == "lines"
    gaps = [i for i, v in enumerate(recovered.x) if v is None]
    assert gaps == [i for i, v in enumerate(recovered.y) if v is None]
    drawn = torch.tensor([(a, b) for a, b in zip(recovered.x, recovered.y) if a is not None],
                         dtype=torch.float64).view(-1, 2)
    torch.testing.assert_close(drawn, x[ok].double(), rtol=0, atol=1e-4)
    assert len(gaps) == sum(bool(ok[k - 1]) and not bool(ok[k]) for k in range(1, len(ok)))
    # collapsed points: each drawn once (marks within 0.01, about a pixel, coincide), none lost
    collapsed = kernels.relu_recover(x, n, seed)[~ok].double()
    marks = xy(fig.data[4])
    assert len(marks) == len({(round(a / 0.01), round(b / 0.01)) for a, b in collapsed.tolist()})
    if len(collapsed):
        nearest = torch.cdist(collapsed, marks).min(dim=1).values
        assert nearest.max() <= 0.01 / 2 ** 0.5 + 1e-4  # every collapsed point is marked
    else:
        assert len(marks) == 0
    title = fig.layout.title.text
    assert f"invertible on {kernels.invertible_fraction(x, n, seed):.1%}" in title
    assert f"{1 - (n + 1) / 2 ** n:.2%}" in title


def test_manifold_figure_axes_are_fixed_and_points_outside_are_counted():
    x = kernels.spiral(V.SPIRAL_POINTS)
    figs = {(p["n"], p["seed"]): V.manifold_figure(**p) for p in grid(V.manifold_figure)}
    assert len({tuple(f.layout.xaxis.range) + tuple(f.layout.yaxis2.range)
                for f in figs.values()}) == 1
    lim = V.FRAME
    for (n, seed), f in figs.items():
        # the recovery never leaves the spiral's disc: a projection is no longer than x
        drawn = [[abs(v) for v in t.x + t.y if v is not None] for t in f.data[2:]]  # None: a break
        assert all(max(d) <= lim for d in drawn if d)
        out = int((kernels.relu_roundtrip(x, n, seed).abs().max(1).values > lim).sum())
        assert (f"({out} of its points lie outside the frame)" in f.layout.title.text) == (out > 0)
    assert "outside the frame" in figs[(2, 0)].layout.title.text  # an ill-conditioned T


def test_static_figures_draw_their_inputs():
    fig = V.fraction_figure([1, 2, 3], [0.0, 0.3, 0.5], [0.0, 0.1, 0.4], [0.0, 0.5, 0.6])
    assert list(fig.data[1].y) == [0.0, 0.3, 0.5]
    assert list(fig.data[2].y) == [0, 0.25, 0.5]  # 1 - (n + 1)/2^n
    assert list(fig.data[0].y) == [0.0, 0.5, 0.6, 0.4, 0.1, 0.0]
    fig = V.bottleneck_figure([1, 6], [0.4, 0.001], [0.45, 0.43])
    assert [list(t.y) for t in fig.data] == [[0.4, 0.001], [0.45, 0.43]]


def test_live_explorers_redraw_from_kernels():
    ex = Explorer(V.manifold_figure)
    before = ex.figure
    ex.controls["n"].value = 30
    x = kernels.spiral(V.SPIRAL_POINTS)
    got = torch.tensor([list(ex.figure.data[1].x), list(ex.figure.data[1].y)]).T
    torch.testing.assert_close(got.double(), kernels.relu_roundtrip(x, 30, 0), rtol=0, atol=1e-4)
    assert len(ex.figure.data[4].x) == 0  # n = 30: nothing collapses on this spiral
    assert ex.figure is before  # one live figure, updated in place
    ex = Explorer(V.cost_figure)
    ex.controls["network"].value = "v2"
    memory = kernels.peak_activation_memory(meta("v2", 1.0), 224)
    assert len(ex.figure.data[2].y) == len(memory.operators)
    # drawn values carry 5 significant digits
    assert math.isclose(sum(ex.figure.data[0].y) * 1e6, 300_774_272, rel_tol=1e-4)
