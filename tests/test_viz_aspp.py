"""The ASPP chapter's views draw what the kernels compute; its explorers fit a static page."""
import json
import math

import pytest
import torch

import kernels
from kernels.viz import Explorer
from kernels.viz import aspp as V

RATES = V.valid_weights_figure.params["rate"].values
FEATURE_SIZES = V.valid_weights_figure.params["feature_size"].values


def _explorer():
    return Explorer(V.valid_weights_figure)


def _filled(trace):
    return sum(s == "circle" for s in trace.marker.symbol)


def _check_valid_weights(fig, rate, n):
    heat, taps, bars = fig.data
    counts = kernels.valid_weight_map(n, rate)
    assert torch.equal(torch.tensor(heat.z), counts)
    torch.testing.assert_close(torch.tensor(bars.y, dtype=torch.float64),
                               kernels.valid_weight_counts(n, rate).double(), rtol=0, atol=1e-4)
    # The centre position's taps drawn filled are exactly its count in the map.
    assert len(taps.x) == 9 and _filled(taps) == counts[n // 2, n // 2]


@pytest.mark.parametrize("rate, n", [(1, 9), (6, 65), (40, 65), (96, 9), (18, 33)])
def test_valid_weights_figure_draws_kernel_numbers(rate, n):
    _check_valid_weights(V.valid_weights_figure(rate=rate, feature_size=n), rate, n)


def test_hollow_taps_are_off_the_map():
    fig = V.valid_weights_figure(rate=40, feature_size=65)
    taps = fig.data[1]
    for text, symbol in zip(taps.text, taps.marker.symbol):
        assert ("zero padding" in text) == (symbol == "circle-open")
    # Taps beyond the view are clamped to its edge; the view is fixed for a given map size.
    lo, hi = fig.layout.xaxis.range
    assert all(lo <= x <= hi for x in taps.x)
    assert fig.layout.xaxis.range == V.valid_weights_figure(96, 65).layout.xaxis.range


@pytest.mark.parametrize("rate, n", [(6, 65), (24, 33)])
def test_histogram_is_the_colour_key_of_the_map(rate, n):
    """No colorbar (a second axis, redrawn on every frame switch): bar i has the colour the map
    gives count i, read from the heatmap's own colorscale at z = i."""
    heat, _, bars = V.valid_weights_figure(rate=rate, feature_size=n).data
    assert heat.showscale is False
    for i, colour in enumerate(bars.marker.color):
        frac = (i - heat.zmin) / (heat.zmax - heat.zmin)
        bands = [c for (lo, c), (hi, _) in zip(heat.colorscale, heat.colorscale[1:])
                 if lo <= frac <= hi and lo < hi]
        assert bands == [colour], (i, frac)
    assert bars.marker.color[0] == "#ffffff" and bars.marker.line.width > 0  # 0 stays visible


def test_live_explorer_redraws_from_the_kernels():
    ex = _explorer()
    ex.controls["rate"].value = 48
    ex.controls["feature_size"].value = 33
    _check_valid_weights(ex.figure, 48, 33)
    ex.controls["rate"].value = 2
    _check_valid_weights(ex.figure, 2, 33)


def test_grid_fits_a_static_page():
    ex = _explorer()
    assert math.prod(len(p.values) for p in ex.params.values()) == 64 <= 512
    payload = ex.payload()
    assert len(payload["frames"]) == 64
    assert len(json.dumps(payload)) < 600_000


def test_curves_reproduce_figure_4():
    fig = V.valid_weight_curves_figure(feature_size=65, max_rate=80)
    by_name = {t.name: t for t in fig.data}
    # Paper (Chen et al. 2017, Fig. 4): "1 valid weight" reaches 1 at rate 65, 9 valid at rate 1.
    one, nine = by_name["1 valid weight"], by_name["9 valid weights"]
    assert one.y[one.x.index(65)] == 1 and one.y[one.x.index(64)] < 1
    assert nine.y[0] == pytest.approx((63 / 65) ** 2, abs=1e-4)
    for t in fig.data:
        i = int(t.name.split()[0])
        want = [kernels.valid_weight_counts(65, r)[i].item() for r in t.x]
        assert t.y == pytest.approx(want, abs=1e-4)
    # Only products of per-axis counts (1, 2, 3) occur: 5, 7 and 8 never, 3 not on a square map.
    assert sorted(int(t.name.split()[0]) for t in fig.data) == [1, 2, 4, 6, 9]


@pytest.mark.parametrize("output_stride, n, rates", [(16, 33, (6, 12, 18)), (8, 65, (12, 24, 36))])
@pytest.mark.parametrize("position", ["centre", "edge", "corner"])
def test_fields_figure_uses_the_trace(output_stride, n, rates, position):
    fig = V.aspp_fields_figure(output_stride=output_stride, position=position)
    assert [t.name.split(":")[0] for t in fig.data] == ["1x1 conv"] + [
        f"3x3 conv, rate {r}" for r in rates]
    fields = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert [round(s.x1 - s.x0) for s in fields] == [1] + [2 * r + 1 for r in rates]
    x0 = [s for s in fig.layout.shapes if s.fillcolor][0]
    assert (x0.x1 - x0.x0, x0.y1 - x0.y0) == (n, n)  # the image-pooling branch: whole map
    assert len(fig.data[0].x) == 1 and all(len(t.x) == 9 for t in fig.data[1:])
