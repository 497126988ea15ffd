"""kernels.roi_pool: the shared RoI tests (tests/roi_op_tester.py) against the loop reference
(tests/roi_reference.py), plus adaptive_max_pool2d, hand computations of the quantised bins,
torchvision's -FLT_MAX rule, and the checks of roi_pool_bins."""
import pytest
import torch
import torch.nn.functional as F

import kernels
from roi_op_tester import INF, NAN, RoIOpTester
from roi_reference import FLT_MAX, roi_pool_ref


class TestRoIPool(RoIOpTester):
    op = staticmethod(kernels.roi_pool)
    module = kernels.RoIPool
    reference = staticmethod(roi_pool_ref)
    exact = True  # a max of input values: no rounding anywhere
    nonfinite = (INF, -INF, NAN)  # torchvision's strict > skips a NaN; so does the reference

    def make_input(self, gen, shape, dtype=torch.float64):
        # small integers: many ties, each routed to the first maximum in row-major order
        return torch.randint(0, 4, shape, generator=gen).to(dtype)

    def test_nan_first_in_its_bin_is_skipped(self):
        # regression: a NaN that started a bin used to keep every later value out (-FLT_MAX)
        x = torch.zeros(1, 1, 2, 2)
        x[0, 0, 0, 0], x[0, 0, 0, 1] = NAN, 2.0
        x.requires_grad_()
        out = kernels.roi_pool(x, torch.tensor([[0, 0, 0, 1, 0.0]]), 1)
        out.sum().backward()
        assert out.item() == 2.0
        assert x.grad.tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]]
        only_nan = torch.full((1, 1, 2, 2), NAN)
        assert kernels.roi_pool(only_nan, torch.tensor([[0, 0, 0, 1, 1.0]]), 1).item() == \
            -torch.finfo(torch.float32).max  # torchvision's empty maximum, not NaN

    def test_module_repr(self):
        assert repr(kernels.RoIPool((2, 3), 0.5)) == "RoIPool(output_size=(2, 3), spatial_scale=0.5)"


def test_notes_worked_example_bins():
    # By hand: a 5 x 7 region (rows 0..4, cols 0..6 inclusive: box (0, 0, 6, 4)) pooled to
    # 2 x 2 has bin heights 5/2 = 2.5 -> rows [0, ceil 2.5) = [0:3], [floor 2.5, 5) = [2:5];
    # widths 7/2 = 3.5 -> cols [0:4], [3:7]: the bins overlap by one row and one column.
    bins = kernels.roi_pool_bins((0, 0, 6, 4), 2, height=8, width=8)
    assert bins.rows.tolist() == [[0, 3], [2, 5]]
    assert bins.cols.tolist() == [[0, 4], [3, 7]]
    x = torch.arange(64.0).view(1, 1, 8, 8)  # value = 8 * row + col: max at a bin's last cell
    out = kernels.roi_pool(x, torch.tensor([[0, 0, 0, 6, 4.0]]), 2)
    assert out.flatten().tolist() == [8 * 2 + 3, 8 * 2 + 6, 8 * 4 + 3, 8 * 4 + 6]


def test_c_round_halves_away_from_zero():
    # C's round(2.5) = 3, round(-0.5) = -1, round(3.5) = 4 (Python's round gives 2, 0, 4)
    assert kernels.roi_pool_bins((2.5, -0.5, 3.5, 0.5), 1, height=8, width=8).roi.tolist() == \
        [3, -1, 4, 1]
    x = torch.arange(64.0).view(1, 1, 8, 8)
    out = kernels.roi_pool(x, torch.tensor([[0, 2.5, 2.5, 2.5, 2.5]]), 1)
    assert out.item() == 8 * 3 + 3  # the one cell (3, 3), not (2, 2)


@pytest.mark.parametrize("seed", range(3))
def test_matches_adaptive_max_pool_inside_the_map(seed):
    # for a box inside the map RoI Pool is adaptive max pooling of the quantised crop: the
    # builtin uses the same floor/ceil bins and routes ties to the first maximum
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 4, (1, 3, 16, 16), generator=gen).double().requires_grad_()
    x1, y1 = torch.randint(0, 8, (2,), generator=gen).tolist()
    x2, y2 = x1 + int(torch.randint(0, 8, (1,), generator=gen)), y1 + 5
    out = kernels.roi_pool(x, torch.tensor([[0.0, x1, y1, x2, y2]], dtype=x.dtype), (3, 4))
    ref = F.adaptive_max_pool2d(x[:, :, y1:y2 + 1, x1:x2 + 1], (3, 4))
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    g = torch.randn(ref.shape, generator=gen, dtype=x.dtype)
    got, = torch.autograd.grad(out, x, g)
    want, = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(got, want)


def test_edge_values():
    x = torch.full((1, 1, 4, 4), -INF, requires_grad=True)
    with torch.no_grad():
        x[0, 0, 3, 3] = 1.0
    boxes = torch.tensor([[0, 0, 0, 1, 1.0],     # all -inf: torchvision's -FLT_MAX, no argmax
                          [0, 10, 10, 12, 12],   # fully outside: empty bin -> 0
                          [0, 2, 2, 9, 9]])      # partly outside: clipped to (3, 3)
    out = kernels.roi_pool(x, boxes, 1)
    out.sum().backward()
    assert out.flatten().tolist() == [-FLT_MAX, 0.0, 1.0]
    ref_out, ref_grad = roi_pool_ref(x, boxes, 1)
    assert out.flatten().tolist() == ref_out.flatten().tolist()
    torch.testing.assert_close(x.grad.double(), ref_grad)


@pytest.mark.parametrize("kw,err,match", [
    # issue 9, defect 6: height=-1 used to raise torch's "negative dimension" from deep inside
    (dict(height=-1), ValueError, "height must be positive, got -1"),
    (dict(width=0), ValueError, "width must be positive, got 0"),
    (dict(height=2.5), TypeError, "height must be an int"),
    (dict(width=None), TypeError, "width must be an int"),
    (dict(box=(0, 0, 2)), ValueError, "box must be 4 numbers"),
    (dict(box=[[0, 0], [2]]), TypeError, "box must be 4 numbers"),
    (dict(box=(0, INF, 2, 2)), ValueError, "box must have finite coordinates"),
    (dict(output_size=(2, 0)), ValueError, r"output_size\[1\] must be positive"),
    (dict(spatial_scale=0), ValueError, "spatial_scale must be a finite positive"),
    (dict(spatial_scale=NAN), ValueError, "spatial_scale must be a finite positive"),
    (dict(dtype=torch.int32), TypeError, "dtype must be a floating-point torch.dtype"),
])
def test_bins_bad_arguments(kw, err, match):
    args = dict(box=(0, 0, 2, 2), output_size=2, height=4, width=4)
    args.update(kw)
    with pytest.raises(err, match=match):
        kernels.roi_pool_bins(**args)
