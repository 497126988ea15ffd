"""kernels.roi_align: the shared RoI tests (tests/roi_op_tester.py) against the loop reference
(tests/roi_reference.py), plus F.grid_sample, hand computations, the sample grid, border
cells, chunking, and its own input checks."""
import importlib
import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import strategies as st

import kernels
from kernels.roi_bags import chunk_slices
from roi_op_tester import INF, NAN, RoIOpTester
from roi_reference import random_rois, roi_align_ref

roi_align_module = importlib.import_module("kernels.roi_align")  # kernels.roi_align: the function


class TestRoIAlign(RoIOpTester):
    op = staticmethod(kernels.roi_align)
    module = kernels.RoIAlign
    reference = staticmethod(roi_align_ref)
    configs = [dict(sampling_ratio=s, aligned=a, mode=m)
               for a, s, m in itertools.product([False, True], [-1, 2], ["avg", "max"])]
    nonfinite = (NAN, INF, -INF)
    gradcheck_configs = [dict(sampling_ratio=2, aligned=False, mode="avg"),
                         dict(sampling_ratio=-1, aligned=True, mode="avg"),
                         dict(sampling_ratio=2, aligned=False, mode="max")]

    @staticmethod
    def draw_config(draw):
        return dict(sampling_ratio=draw(st.sampled_from([-1, 0, 1, 2, 3])),
                    aligned=draw(st.booleans()), mode=draw(st.sampled_from(["avg", "max"])))

    @pytest.mark.parametrize("kw,err,match", [
        (dict(sampling_ratio=1.5), TypeError, "sampling_ratio must be an int"),
        (dict(sampling_ratio=True), TypeError, "sampling_ratio must be an int"),
        (dict(aligned=1), TypeError, "aligned must be a bool"),
        (dict(mode="mean"), ValueError, "mode must be 'avg' or 'max'"),
    ])
    def test_bad_config(self, kw, err, match):
        cfg = {**dict(sampling_ratio=2, aligned=False, mode="avg"), **kw}
        with pytest.raises(err, match=match):
            kernels.roi_align(torch.randn(1, 2, 5, 5), torch.tensor([[0, 0, 0, 2, 2.0]]), 2,
                              1.0, **cfg)
        with pytest.raises(err, match=match):  # the module checks its configuration once
            kernels.RoIAlign(2, 1.0, **cfg)

    def test_module_repr(self):
        m = kernels.RoIAlign(2, 0.5, 2, aligned=True, mode="max")
        assert repr(m) == ("RoIAlign(output_size=2, spatial_scale=0.5, sampling_ratio=2, "
                           "aligned=True, mode='max')")


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_nonfinite_border_cell_outside_samples_read_nothing(mode, value):
    # issue 9, defect 4: a sample beyond one cell outside the map reads no cell (torchvision:
    # bilinear_interpolate returns 0); it used to read x[0, 0] with weight 0, and 0 * nan = nan
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    x[0, 0, 0, 0] = value
    boxes = torch.tensor([[0, -3., -3., -2., -2.]], dtype=torch.float64)  # sample at (-2.5, -2.5)
    out, grad = _with_grad(x, boxes, 1, sampling_ratio=1, mode=mode)
    assert out.item() == 0.0 and torch.equal(grad, torch.zeros_like(x))
    # the loop reference applies torchvision's rule on its own
    ref_out, ref_grad = roi_align_ref(x, boxes, 1, sampling_ratio=1, mode=mode)
    assert ref_out.item() == 0.0 and torch.equal(ref_grad, torch.zeros_like(x))
    # a sample inside the map still reads the cell: x[0, 0] at (0.5, 0.5), weight 1
    out = kernels.roi_align(x, torch.tensor([[0, 0, 0, 1, 1.0]], dtype=x.dtype), 1,
                            sampling_ratio=1, mode=mode)
    torch.testing.assert_close(out, torch.full_like(out, value), equal_nan=True)


def _with_grad(x, boxes, size, grad_out=None, **kw):
    x = x.detach().clone().requires_grad_()
    out = kernels.roi_align(x, boxes, size, **kw)
    out.backward(torch.ones_like(out) if grad_out is None else grad_out)
    return out, x.grad


@pytest.mark.parametrize("sampling_ratio,mode", [(1, "avg"), (2, "avg"), (-1, "avg"),
                                                 (2, "max"), (-1, "max")])
def test_chunks_give_the_same_result(monkeypatch, sampling_ratio, mode):
    # issue 9, defect 7: RoIs are pooled in chunks of about _CHUNK_BYTES; a budget of 1 byte
    # makes every RoI its own chunk. The forward is the same computation per bin, so equal to
    # the bit; the gradient sums the chunks' parts in another order, exact when every term is
    # dyadic (quarter-pixel boxes, a dyadic map and grad_output, 1 or 2 samples per axis)
    gen = torch.Generator().manual_seed(11)
    x = torch.randint(-8, 8, (2, 3, 9, 11), generator=gen).double() / 4
    rois = (random_rois(gen, 2, 40, 9, 11) * 4).round() / 4
    g = torch.randint(-4, 4, (40, 3, 2, 4), generator=gen).double()
    kw = dict(spatial_scale=1.0, sampling_ratio=sampling_ratio, mode=mode)
    whole, grad_whole = _with_grad(x, rois, (2, 4), g, **kw)
    monkeypatch.setattr(roi_align_module, "_CHUNK_BYTES", 1)
    chunks = []
    monkeypatch.setattr(roi_align_module, "chunk_slices",
                        lambda cost, budget: chunks.extend(chunk_slices(cost, budget)) or chunks)
    parts, grad_parts = _with_grad(x, rois, (2, 4), g, **kw)
    assert len(chunks) > 20 and torch.equal(whole, parts)
    if sampling_ratio > 0:
        assert torch.equal(grad_whole, grad_parts)
    torch.testing.assert_close(grad_whole, grad_parts, rtol=1e-14, atol=1e-14)
    ref, ref_grad = roi_align_ref(x, rois, (2, 4), grad_output=g, **kw)
    torch.testing.assert_close(parts, ref)
    torch.testing.assert_close(grad_parts, ref_grad)


def test_linear_ramp_is_exact():
    # By hand: bilinear interpolation reproduces a linear function, so on x[h, w] = w each
    # output is the mean of its samples' column coordinates = the bin's centre. With
    # aligned=True a box edge X sits at X * scale - 0.5 in index space.
    x = torch.arange(12.0).expand(1, 1, 12, 12).contiguous()
    x1, x2 = 3.0, 17.0  # image pixels, scale 1/2 -> 1.0 .. 8.0 cells, minus 0.5
    out = kernels.roi_align(x, torch.tensor([[0, x1, 4, x2, 10.0]]), (1, 4), 0.5,
                            sampling_ratio=3, aligned=True)
    bin_w = (x2 - x1) * 0.5 / 4
    centres = [x1 * 0.5 - 0.5 + (j + 0.5) * bin_w for j in range(4)]
    torch.testing.assert_close(out.flatten(), torch.tensor(centres))


@pytest.mark.parametrize("box,expected", [
    ((3, 3, 5, 5), 16.0),        # sample at (4, 4) = (H, W): on the edge -> x[3, 3]
    ((-2, -2, 0, 0), 1.0),       # sample at (-1, -1): clamped to x[0, 0]
    ((3.5, 3.5, 5, 5), 0.0),     # sample at (4.25, 4.25) > (H, W): outside -> 0
    ((-2.5, 0, 0, 2), 0.0),      # sample at x = -1.25 < -1: outside -> 0
    ((2, 2, 2, 2), 13.5),        # zero size, forced to 1 x 1: sample at (2.5, 2.5)
    ((2, 0.5, 2, 2), 8.5),       # width forced to 1, height 1.5: sample at (1.25, 2.5)
])
def test_boundary_rules_by_hand(box, expected):
    # x[h, w] = 4h + w + 1 on a 4 x 4 map, one bin, one sample at the box centre
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    out = kernels.roi_align(x, torch.tensor([[0.0, *box]]), 1, sampling_ratio=1)
    assert out.item() == pytest.approx(expected)


def test_aligned_zero_size():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    box = torch.tensor([[0, 2, 2, 2, 2.0]])
    # adaptive grid ceil(0 / 1) = 0 samples: output 0; one sample at (1.5, 1.5): 4*1.5 + 1.5
    assert kernels.roi_align(x, box, 1, aligned=True).item() == 0.0
    assert kernels.roi_align(x, box, 1, sampling_ratio=1, aligned=True).item() == 7.5


@pytest.mark.parametrize("aligned", [False, True])
def test_matches_grid_sample(aligned):
    # the builtin bilinear sampler with border padding agrees with torchvision's rule on
    # [-1, H] (edge value); beyond that torchvision gives 0, so those samples are masked out
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(1, 3, 8, 10, generator=gen, dtype=torch.float64)
    rois = random_rois(gen, 1, 30, 8, 10)
    out = kernels.roi_align(x, rois, (2, 3), sampling_ratio=2, aligned=aligned)
    grid = kernels.roi_align_grid  # sample coordinates per RoI, one RoI at a time
    for k, roi in enumerate(rois):
        g = grid(roi[1:], (2, 3), sampling_ratio=2, aligned=aligned, dtype=torch.float64)
        ys, xs = g.ys.reshape(-1), g.xs.reshape(-1)  # [4], [6]
        gy, gx = torch.meshgrid((2 * ys + 1) / 8 - 1, (2 * xs + 1) / 10 - 1, indexing="ij")
        v = F.grid_sample(x, torch.stack([gx, gy], -1)[None], align_corners=False,
                          padding_mode="border")[0]  # [C, 4, 6]
        inside = ((ys >= -1) & (ys <= 8))[:, None] & ((xs >= -1) & (xs <= 10))[None, :]
        v = (v * inside).view(3, 2, 2, 3, 2).mean((2, 4))  # [C, PH, PW]
        torch.testing.assert_close(out[k], v)


def test_grid_of_notes_example():
    # By hand: box (0, 3)-(7, 8), 2 x 2 output: bins 2.5 rows x 3.5 columns, adaptive grid
    # ceil(2.5) = 3 by ceil(3.5) = 4 samples, the first at 3 + 0.5 * 2.5 / 3
    g = kernels.roi_align_grid((0, 3, 7, 8), 2)
    torch.testing.assert_close(g.y_edges, torch.tensor([3.0, 5.5, 8.0]))
    torch.testing.assert_close(g.x_edges, torch.tensor([0.0, 3.5, 7.0]))
    assert g.ys.shape == (2, 3) and g.xs.shape == (2, 4)
    torch.testing.assert_close(g.ys[0], 3 + (torch.arange(3) + 0.5) * 2.5 / 3)
    torch.testing.assert_close(g.xs[1], 3.5 + (torch.arange(4) + 0.5) * 3.5 / 4)


@pytest.mark.parametrize("kw,err,match", [
    # issue 9, defect 6: every argument of roi_align_grid is checked at the entry, by name
    (dict(box=(0, 0, 2)), ValueError, "box must be 4 numbers"),
    (dict(box="abcd"), TypeError, "box must be 4 numbers"),
    (dict(box=(0, 0, NAN, 2)), ValueError, "box must have finite coordinates"),
    (dict(output_size=0), ValueError, "output_size must be positive"),
    (dict(output_size=(2, 1.5)), TypeError, r"output_size\[1\] must be an int"),
    (dict(spatial_scale=-1.0), ValueError, "spatial_scale must be a finite positive"),
    (dict(sampling_ratio=0.5), TypeError, "sampling_ratio must be an int"),
    (dict(aligned="yes"), TypeError, "aligned must be a bool"),
    (dict(dtype=torch.int64), TypeError, "dtype must be a floating-point torch.dtype"),
    (dict(dtype="float32"), TypeError, "dtype must be a floating-point torch.dtype"),
])
def test_grid_bad_arguments(kw, err, match):
    args = dict(box=(0, 0, 2, 2), output_size=2)
    args.update(kw)
    with pytest.raises(err, match=match):
        kernels.roi_align_grid(**args)
