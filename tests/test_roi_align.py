"""kernels.roi_align against the loop reference (tests/roi_reference.py), F.grid_sample,
hand computations, gradcheck, and its input checks."""
import itertools

import pytest
import torch
import torch.nn.functional as F

import kernels
from roi_reference import random_rois, roi_align_ref

CONFIGS = list(itertools.product([False, True], [-1, 0, 2, 3], ["avg", "max"]))


def _align_with_grad(x, boxes, size, grad_out=None, **kw):
    x = x.detach().clone().requires_grad_()
    out = kernels.roi_align(x, boxes, size, **kw)
    out.backward(torch.ones_like(out) if grad_out is None else grad_out)
    return out, x.grad


@pytest.mark.parametrize("aligned,sampling_ratio,mode", CONFIGS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_random_boxes_match_reference(device, dtype, aligned, sampling_ratio, mode):
    # forward and backward: several images, boxes in and out of the map, zero and negative
    # sizes, exact halves, a random grad_output; overlapping bins and RoIs accumulate
    gen = torch.Generator().manual_seed(sampling_ratio + 10 * aligned)
    scale, size = (0.5, (3, 2)) if aligned else (1.0, 2)
    x = torch.randn(3, 2, 7, 9, generator=gen, dtype=dtype)
    rois = random_rois(gen, 3, 25, 7, 9, scale, dtype)
    grad_out = torch.randn(25, 2, *((size,) * 2 if isinstance(size, int) else size),
                           generator=gen, dtype=dtype)
    kw = dict(spatial_scale=scale, sampling_ratio=sampling_ratio, aligned=aligned, mode=mode)
    out, grad = _align_with_grad(x.to(device), rois.to(device), size, grad_out.to(device), **kw)
    ref_out, ref_grad = roi_align_ref(x, rois, size, grad_output=grad_out, **kw)
    assert out.dtype == dtype and out.device.type == device
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out.cpu().double(), ref_out, **tol)
    torch.testing.assert_close(grad.cpu().double(), ref_grad, **tol)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_many_rois(device, mode):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 1, 10, 10, generator=gen, dtype=torch.float64)
    rois = random_rois(gen, 2, 250, 10, 10)
    out, grad = _align_with_grad(x.to(device), rois.to(device), 2, mode=mode)
    ref_out, ref_grad = roi_align_ref(x, rois, 2, mode=mode)
    torch.testing.assert_close(out.cpu(), ref_out)
    torch.testing.assert_close(grad.cpu(), ref_grad)


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


@pytest.mark.parametrize("aligned,mode", [(False, "avg"), (True, "avg"), (False, "max")])
def test_gradcheck(device, aligned, mode):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 2, 6, 7, generator=gen, dtype=torch.float64).to(device)
    rois = random_rois(gen, 2, 5, 6, 7).to(device)
    torch.autograd.gradcheck(
        lambda t: kernels.roi_align(t, rois, (2, 3), 1.0, 2, aligned, mode),
        (x.requires_grad_(),))


def test_half(device):
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(2, 2, 8, 8, generator=gen)
    rois = random_rois(gen, 2, 20, 8, 8, dtype=torch.float32).half()
    out = kernels.roi_align(x.half().to(device), rois.to(device), 2, sampling_ratio=2)
    ref, _ = roi_align_ref(x.half(), rois, 2, sampling_ratio=2)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.cpu().double(), ref, rtol=1e-2, atol=1e-2)


def test_list_of_boxes_and_empty(device):
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(2, 3, 6, 6, generator=gen).to(device)
    a, b = torch.rand(2, 4, generator=gen) * 6, torch.rand(3, 4, generator=gen) * 6
    rois = torch.cat([torch.cat([torch.full((2, 1), 0.0), a], 1),
                      torch.cat([torch.full((3, 1), 1.0), b], 1)])
    torch.testing.assert_close(kernels.roi_align(x, [a.to(device), b.to(device)], 2),
                               kernels.roi_align(x, rois.to(device), 2))
    for mode in ("avg", "max"):
        out, grad = _align_with_grad(x, [], (2, 3), mode=mode)
        assert out.shape == (0, 3, 2, 3) and grad.abs().sum() == 0


def test_memory_format_follows_input():
    gen = torch.Generator().manual_seed(10)
    x = torch.randn(2, 3, 8, 8, generator=gen, dtype=torch.float64)
    rois = random_rois(gen, 2, 10, 8, 8)
    a = kernels.roi_align(x, rois, 2)
    b, grad = _align_with_grad(x.to(memory_format=torch.channels_last), rois, 2)
    assert a.is_contiguous() and b.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(grad, _align_with_grad(x, rois, 2)[1])


def test_boxes_are_constants():
    # like torchvision, no gradient flows to the boxes: a box that requires grad is detached
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    boxes = torch.tensor([[0, 0.5, 1, 4, 5]], dtype=torch.float64, requires_grad=True)
    kernels.roi_align(x, boxes, 2).sum().backward()
    assert boxes.grad is None and x.grad is not None


def test_module():
    x = torch.randn(1, 2, 8, 8)
    boxes = [torch.tensor([[1, 1, 6, 5.0]])]
    m = kernels.RoIAlign(2, 0.5, 2, aligned=True, mode="max")
    assert torch.equal(m(x, boxes), kernels.roi_align(x, boxes, 2, 0.5, 2, True, "max"))
    assert repr(m) == ("RoIAlign(output_size=2, spatial_scale=0.5, sampling_ratio=2, "
                       "aligned=True, mode='max')")


@pytest.mark.parametrize("kw,err,match", [
    (dict(sampling_ratio=1.5), TypeError, "sampling_ratio must be an int"),
    (dict(aligned=1), TypeError, "aligned must be a bool"),
    (dict(mode="mean"), ValueError, "mode must be 'avg' or 'max'"),
    (dict(output_size=(0, 2)), ValueError, r"output_size\[0\] must be positive"),
    (dict(spatial_scale=-0.5), ValueError, "spatial_scale must be a finite positive"),
    (dict(spatial_scale=float("inf")), ValueError, "spatial_scale must be a finite positive"),
    (dict(boxes=torch.tensor([[0, 1, 1, float("inf"), 2]])), ValueError, "finite"),
    (dict(boxes=torch.tensor([[-1, 1, 1, 2, 2.0]])), ValueError, r"batch index in \[0, 1\)"),
    (dict(boxes=[torch.zeros(1, 4)] * 2), ValueError, "list of 2 tensors"),
    (dict(boxes=torch.zeros(3, 4)), ValueError, r"Tensor\[K, 5\]"),
    (dict(boxes=torch.zeros(1, 5, dtype=torch.float64)), TypeError, "dtype"),
])
def test_bad_input(kw, err, match):
    args = dict(input=torch.randn(1, 2, 5, 5), boxes=torch.tensor([[0, 0, 0, 2, 2.0]]),
                output_size=2)
    args.update(kw)
    with pytest.raises(err, match=match):
        kernels.roi_align(**args)
    if "boxes" not in kw:  # the module checks its configuration when it is built
        with pytest.raises(err, match=match):
            kernels.RoIAlign(kw.get("output_size", 2), kw.get("spatial_scale", 1.0),
                             kw.get("sampling_ratio", 2), kw.get("aligned", False),
                             kw.get("mode", "avg"))
