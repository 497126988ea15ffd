"""The conversion-cost figure draws the measured grid exactly, on fixed axes, and drives live.

Timings are never checked: a fake grid with known numbers stands in for the measurement where
the test needs exact values; the real measurement is only checked for its sharing verdicts.
"""
import itertools
import math

import pytest
import torch

import kernels
from kernels.tensor_numpy import ConversionTimes
from kernels.viz import Explorer, set_mode
from kernels.viz import tensor_numpy as V

NAMES = list(kernels.CONVERSIONS)
SHARES = {"tensor.numpy()": True, "torch.from_numpy(array)": True,
          "to_numpy(tensor, copy=True)": False, "torch.tensor(array)": False}


def fake_grid():
    """Known times: sharing 1 µs flat; copies grow with bytes (1 ns and 2 ns per byte)."""
    out = {}
    for d, n in itertools.product(V.DTYPES, V.SIZES):
        nbytes = n * getattr(torch, d).itemsize
        secs = {NAMES[0]: 1e-6, NAMES[1]: 1e-6, NAMES[2]: 1e-9 * nbytes, NAMES[3]: 2e-9 * nbytes}
        out[(d, n)] = ConversionTimes(n, getattr(torch, d), secs, dict(SHARES))
    return out


@pytest.fixture
def fake(monkeypatch):
    grid = fake_grid()
    monkeypatch.setattr(V, "measured_grid", lambda: grid)
    return grid


def test_each_line_is_the_measurement_of_its_dtype(fake):
    for d, n in itertools.product(V.DTYPES, V.SIZES[::3]):
        fig = V.conversion_cost_figure(size=n, dtype=d)
        assert len(fig.data) == len(NAMES) + 1  # same traces in every frame
        for trace, name in zip(fig.data, NAMES):
            assert list(trace.x) == list(V.SIZES)
            assert list(trace.y) == [fake[(d, m)].seconds[name] * 1e6 for m in V.SIZES]
            assert trace.name == f"{name}: {'shares' if SHARES[name] else 'copies'}"
        marker = fig.data[-1]
        assert set(marker.x) == {n}
        assert list(marker.y) == [fake[(d, n)].seconds[name] * 1e6 for name in NAMES]


def test_title_reports_the_chosen_point(fake):
    fig = V.conversion_cost_figure(size=4 ** 10, dtype="float64")
    title = fig.layout.title.text
    nbytes = 4 ** 10 * 8
    assert "float64, 1,048,576 elements (8 MiB)" in title
    assert f"copying ≥ {nbytes * 1e-6:.3g} ms" in title  # the faster copy: 1 ns per byte
    assert "sharing ≤ 1 µs" in title and "1 GB/s" in title


def test_axes_are_fixed_by_the_whole_grid(fake):
    ranges = {(tuple(f.layout.xaxis.range), tuple(f.layout.yaxis.range))
              for f in (V.conversion_cost_figure(n, d)
                        for d, n in itertools.product(V.DTYPES, V.SIZES))}
    assert len(ranges) == 1
    (x0, x1), (y0, y1) = ranges.pop()
    assert x0 < math.log10(min(V.SIZES)) and x1 > math.log10(max(V.SIZES))
    biggest = max(r.seconds[NAMES[3]] for r in fake.values()) * 1e6
    assert y0 < 0 < math.log10(biggest) < y1  # 1 µs and the slowest copy both inside


def test_label_says_where_it_was_measured(fake):
    try:
        set_mode("static")
        assert "measured on the machine that built this page" in \
            V.conversion_cost_figure().layout.title.text
        set_mode("live")
        assert "measured on this machine" in V.conversion_cost_figure().layout.title.text
    finally:
        set_mode(None)


def test_live_explorer_redraws_in_place(fake):
    ex = Explorer(V.conversion_cost_figure)
    widget = ex.figure
    ex.controls["dtype"].value = "float16"
    ex.controls["size"].value = V.SIZES[-1]
    assert ex.figure is widget  # one live figure, updated in place
    want = [fake[("float16", m)].seconds[NAMES[0]] * 1e6 for m in V.SIZES]
    assert list(ex.figure.data[0].y) == want
    assert set(ex.figure.data[-1].x) == {V.SIZES[-1]}


def test_the_real_measurement_is_cached_and_shares_as_documented():
    V.measured_grid.cache_clear()
    V.REPEATS, saved = 1, V.REPEATS
    try:
        grid = V.measured_grid()
        assert V.measured_grid() is grid  # measured once: every frame draws the same numbers
        assert set(grid) == set(itertools.product(V.DTYPES, V.SIZES))
        assert all(r.shares == SHARES for r in grid.values())
    finally:
        V.REPEATS = saved
        V.measured_grid.cache_clear()
