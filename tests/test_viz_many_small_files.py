"""The copy-time figure draws exactly what was measured, on fixed axes, and drives live.

The drawing is checked against stand-in timings (so the test is exact and fast); one test
measures a real, tiny point to check that :func:`measure` returns what kernels.time_copy does.
"""
import math

import pytest

import kernels
from kernels.viz import Explorer
from kernels.viz import many_small_files as V


def fake_measure(n_files, file_size):
    """Stand-in timings with a known cost model: 1 ms + b·N + 1 ns/byte, b per method."""
    per_file = {"cp": 20e-6, "copytree": 60e-6, "tar_pipe": 40e-6, "archive": 0.0}
    return {m: kernels.CopyTiming(m, n_files, n_files * file_size,
                                  1e-3 + b * n_files + 1e-9 * n_files * file_size)
            for m, b in per_file.items()}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(V, "measure", fake_measure)
    V.fits.cache_clear(), V._time_axis.cache_clear()
    yield
    V.fits.cache_clear(), V._time_axis.cache_clear()


def test_bars_are_the_measured_times_and_diamonds_the_fit(fake):
    for n in V.N_FILES:
        for s in V.FILE_SIZES:
            fig = V.copy_time_figure(n, s)
            want = fake_measure(n, s)
            assert list(fig.data[0].x) == [V.LABELS[m] for m in kernels.COPY_METHODS]
            assert list(fig.data[0].y) == pytest.approx([t.seconds * 1e3 for t in want.values()])
            # the stand-in times follow the model exactly, so the fit reproduces them
            assert list(fig.data[1].y) == pytest.approx(list(fig.data[0].y), rel=1e-6)
            speedup = want["cp"].seconds / want["archive"].seconds
            assert f"{speedup:.3g}× faster" in fig.layout.title.text
            assert "measured on the machine that built this page" in fig.layout.title.text


def test_fits_recover_the_per_file_cost(fake):
    fit = V.fits()
    assert fit["copytree"].per_file == pytest.approx(60e-6)
    assert fit["cp"].per_byte == pytest.approx(1e-9)
    assert fit["archive"].fixed == pytest.approx(1e-3)


def test_time_axis_is_fixed_by_the_grid(fake):
    ms = [t.seconds * 1e3 for n in V.N_FILES for s in V.FILE_SIZES
          for t in fake_measure(n, s).values()]
    lo, hi = V.copy_time_figure(min(V.N_FILES), min(V.FILE_SIZES)).layout.yaxis.range
    assert V.copy_time_figure(max(V.N_FILES), max(V.FILE_SIZES)).layout.yaxis.range == (lo, hi)
    assert lo <= math.log10(min(ms)) and hi >= math.log10(max(ms))


def test_live_explorer_redraws_from_the_measurements(fake):
    ex = Explorer(V.copy_time_figure)
    bars = ex.figure
    ex.controls["n_files"].value = 16
    ex.controls["file_size"].value = 4096
    want = fake_measure(16, 4096)
    # the live figure rounds floats as the static page does (5 significant digits)
    assert list(ex.figure.data[0].y) == pytest.approx([t.seconds * 1e3 for t in want.values()],
                                                      rel=1e-4)
    assert "16 files × 4,096 B (64 KiB)" in ex.figure.layout.title.text
    assert ex.figure is bars  # one live figure, updated in place


def test_measure_times_every_method_on_a_real_tree():
    got = V.measure.__wrapped__(3, 100)
    assert list(got) == list(kernels.COPY_METHODS)
    for m, t in got.items():
        assert (t.method, t.n_files, t.n_bytes, len(t.runs)) == (m, 3, 300, V.REPEAT)
        assert t.seconds > 0
