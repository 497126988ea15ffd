"""Views of book/intro.md: the convolution-arithmetic figure reads its taps from kernels.conv2d."""
import pytest
import torch
import torch.nn.functional as F

import kernels
from kernels.viz import Explorer
from kernels.viz.intro import SIZE, conv_arithmetic_figure, read_positions

GRID = conv_arithmetic_figure.params


def _taps_by_loop(size, k, s, p, d):
    """Input index read by output o through tap j, straight from the definition (-1 = padding)."""
    o = (size + 2 * p - d * (k - 1) - 1) // s + 1
    return [[(s * i - p + d * j) if 0 <= s * i - p + d * j < size else -1 for j in range(k)]
            for i in range(o)]


@pytest.mark.parametrize("k", GRID["kernel_size"].values)
@pytest.mark.parametrize("s", GRID["stride"].values)
@pytest.mark.parametrize("p", GRID["padding"].values)
@pytest.mark.parametrize("d", GRID["dilation"].values)
def test_read_positions_match_the_definition(k, s, p, d):
    if kernels.effective_kernel_size(k, d) > SIZE + 2 * p:
        with pytest.raises(ValueError):
            read_positions(SIZE, k, s, p, d)
        return
    assert read_positions(SIZE, k, s, p, d).tolist() == _taps_by_loop(SIZE, k, s, p, d)


def test_axes_hold_every_frame_of_the_declared_grid():
    rows = max(F.conv1d(torch.zeros(1, 1, SIZE), torch.zeros(1, 1, k), stride=s, padding=p,
                        dilation=d).shape[-1]
               for k in GRID["kernel_size"].values for s in GRID["stride"].values
               for p in GRID["padding"].values for d in GRID["dilation"].values
               if d * (k - 1) + 1 <= SIZE + 2 * p)
    pad = max(GRID["padding"].values)
    for kw in ({}, dict(kernel_size=1, padding=pad), dict(kernel_size=5, dilation=3, padding=3)):
        fig = conv_arithmetic_figure(**kw)
        assert tuple(fig.layout.yaxis.range) == (-rows - 0.6, 0.8)
        assert fig.layout.xaxis.range[0] < -pad and fig.layout.xaxis.range[1] > SIZE + pad - 1
        taps = [x for x in fig.data[1].x]
        assert all(-pad <= x <= SIZE + pad - 1 for x in taps)
        assert all(-rows <= y <= -1 for y in fig.data[1].y)


def test_invalid_setting_says_why():
    fig = conv_arithmetic_figure(kernel_size=5, dilation=3, padding=0)
    assert "invalid" in fig.layout.title.text and len(fig.data[1].x) == 0


def test_live_slider_redraws_the_taps():
    ex = Explorer(conv_arithmetic_figure)
    fig = ex.figure
    ex.controls["stride"].value = 2
    ex.controls["dilation"].value = 2
    assert ex.figure is fig  # one widget, updated in place
    taps = read_positions(SIZE, 3, 2, 0, 2)  # [O, K] input index read by each tap
    assert list(fig.data[1].text) == [f"x[{i}]" for i in taps.flatten().tolist()]
    assert fig.layout.title.text == conv_arithmetic_figure(SIZE, 3, 2, 0, 2).layout.title.text
    assert fig.layout.title.text.endswith("= 2")
