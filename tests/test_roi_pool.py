"""kernels.roi_pool against the loop reference (tests/roi_reference.py), adaptive_max_pool2d,
hand computations, gradcheck, and its input checks."""
import pytest
import torch
import torch.nn.functional as F

import kernels
from roi_reference import FLT_MAX, random_rois, roi_pool_ref


def _pool_with_grad(x, boxes, size, scale, grad_out=None):
    x = x.detach().clone().requires_grad_()
    out = kernels.roi_pool(x, boxes, size, scale)
    out.backward(torch.ones_like(out) if grad_out is None else grad_out)
    return out, x.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size,scale", [((3, 2), 1.0), (2, 0.5), ((1, 4), 0.25)])
def test_random_boxes_match_reference(device, dtype, size, scale):
    # forward and backward, several images, boxes in and out of the map, zero and negative
    # sizes, exact halves; a random grad_output so that accumulation order matters
    gen = torch.Generator().manual_seed(hash((size, scale)) % 1000)
    x = torch.randn(3, 2, 9, 11, generator=gen, dtype=dtype)
    rois = random_rois(gen, 3, 40, 9, 11, scale, dtype)
    grad_out = torch.randn(40, 2, *((size,) * 2 if isinstance(size, int) else size),
                           generator=gen, dtype=dtype)
    out, grad = _pool_with_grad(x.to(device), rois.to(device), size, scale, grad_out.to(device))
    ref_out, ref_grad = roi_pool_ref(x, rois, size, scale, grad_out)
    assert out.dtype == dtype and out.device.type == device
    torch.testing.assert_close(out.cpu().double(), ref_out, rtol=0, atol=0)  # max is exact
    torch.testing.assert_close(grad.cpu().double(), ref_grad)


def test_many_rois_and_ties(device):
    # 300 RoIs on an integer-valued map: many ties and overlapping bins/RoIs, all routed to
    # the first maximum and accumulated
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 3, (2, 1, 12, 12), generator=gen).double()
    rois = random_rois(gen, 2, 300, 12, 12)
    out, grad = _pool_with_grad(x.to(device), rois.to(device), 3, 1.0)
    ref_out, ref_grad = roi_pool_ref(x, rois, 3)
    torch.testing.assert_close(out.cpu(), ref_out, rtol=0, atol=0)
    torch.testing.assert_close(grad.cpu(), ref_grad, rtol=0, atol=1e-12)


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
    x = torch.full((1, 1, 4, 4), -float("inf"))
    x[0, 0, 3, 3] = 1.0
    boxes = torch.tensor([[0, 0, 0, 1, 1.0],     # all -inf: torchvision's -FLT_MAX, no argmax
                          [0, 10, 10, 12, 12],   # fully outside: empty bin -> 0
                          [0, 2, 2, 9, 9]])      # partly outside: clipped to (3, 3)
    out, grad = _pool_with_grad(x, boxes, 1, 1.0)
    assert out.flatten().tolist() == [-FLT_MAX, 0.0, 1.0]
    ref_out, ref_grad = roi_pool_ref(x, boxes, 1)
    assert out.flatten().tolist() == ref_out.flatten().tolist()
    torch.testing.assert_close(grad.double(), ref_grad)


def test_list_of_boxes_and_empty(device):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 6, 6, generator=gen).to(device)
    a, b = torch.rand(2, 4, generator=gen) * 6, torch.rand(3, 4, generator=gen) * 6
    rois = torch.cat([torch.cat([torch.full((2, 1), 0.0), a], 1),
                      torch.cat([torch.full((3, 1), 1.0), b], 1)])
    torch.testing.assert_close(kernels.roi_pool(x, [a.to(device), b.to(device)], 2),
                               kernels.roi_pool(x, rois.to(device), 2))
    for empty in ([], torch.zeros(0, 5, device=device)):
        out, grad = _pool_with_grad(x, empty, (2, 3), 1.0)
        assert out.shape == (0, 3, 2, 3) and grad.abs().sum() == 0


def test_half(device):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 2, 8, 8, generator=gen)
    rois = random_rois(gen, 2, 20, 8, 8, dtype=torch.float32)
    out = kernels.roi_pool(x.half().to(device), rois.half().to(device), 2)
    ref, _ = roi_pool_ref(x.half(), rois.half(), 2)
    torch.testing.assert_close(out.cpu().double(), ref, rtol=0, atol=0)


def test_gradcheck(device):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 2, 7, 7, generator=gen, dtype=torch.float64).to(device)  # no ties
    rois = random_rois(gen, 2, 6, 7, 7).to(device)
    torch.autograd.gradcheck(lambda t: kernels.roi_pool(t, rois, (2, 3), 1.0),
                             (x.requires_grad_(),))


def test_memory_format_follows_input():
    # a channels-last input gives a channels-last output with no transposing copy; an
    # ordinary input a contiguous one, like torchvision's
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 8, 8, generator=gen, dtype=torch.float64)
    rois = random_rois(gen, 2, 10, 8, 8)
    a = kernels.roi_pool(x, rois, 2)
    b, grad = _pool_with_grad(x.to(memory_format=torch.channels_last), rois, 2, 1.0)
    assert a.is_contiguous() and b.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(grad, _pool_with_grad(x, rois, 2, 1.0)[1])


def test_module():
    x = torch.randn(1, 2, 8, 8)
    boxes = torch.tensor([[0, 1, 1, 6, 5.0]])
    m = kernels.RoIPool((2, 3), 0.5)
    assert torch.equal(m(x, boxes), kernels.roi_pool(x, boxes, (2, 3), 0.5))
    assert repr(m) == "RoIPool(output_size=(2, 3), spatial_scale=0.5)"
    with pytest.raises(ValueError, match="spatial_scale must be"):
        kernels.RoIPool(2, 0)
    with pytest.raises(ValueError, match="output_size must be positive"):
        kernels.RoIPool(0, 1.0)


@pytest.mark.parametrize("call,err,match", [
    (lambda x, b: kernels.roi_pool(x, b[:, 1:], 2), ValueError, r"Tensor\[K, 5\]"),
    (lambda x, b: kernels.roi_pool(x, [b], 2), ValueError, r"boxes\[0\] must be Tensor\[L, 4\]"),
    (lambda x, b: kernels.roi_pool(x, b.numpy(), 2), TypeError, "boxes must be"),
    (lambda x, b: kernels.roi_pool(x, b + torch.tensor([2.0, 0, 0, 0, 0]), 2), ValueError,
     r"batch index in \[0, 2\)"),
    (lambda x, b: kernels.roi_pool(x, b + torch.tensor([0.5, 0, 0, 0, 0]), 2), ValueError,
     "integral batch index"),
    (lambda x, b: kernels.roi_pool(x, b * torch.tensor([1, float("nan"), 1, 1, 1]), 2),
     ValueError, "finite"),
    (lambda x, b: kernels.roi_pool(x, b, 0), ValueError, "output_size must be positive"),
    (lambda x, b: kernels.roi_pool(x, b, (2, -1)), ValueError, r"output_size\[1\]"),
    (lambda x, b: kernels.roi_pool(x, b, 2, 0.0), ValueError, "spatial_scale must be"),
    (lambda x, b: kernels.roi_pool(x, b.double(), 2), TypeError, "dtype"),
    (lambda x, b: kernels.roi_pool(x, b.to("meta"), 2), ValueError, "same device"),
    (lambda x, b: kernels.roi_pool(x[0], b, 2), ValueError, "input must be 4-D"),
    (lambda x, b: kernels.roi_pool(x.long(), b.long(), 2), TypeError, "floating-point"),
])
def test_bad_input(call, err, match):
    x = torch.randn(2, 3, 8, 8)
    b = torch.tensor([[1, 0, 0, 4, 4.0]])
    with pytest.raises(err, match=match):
        call(x, b)
