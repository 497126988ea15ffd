"""kernels.roi_boxes, the box formats and entry checks RoI Pool and RoI Align share: both box
formats against rows built here by hand, and every error naming its argument."""
import pytest
import torch

from kernels.roi_boxes import (check_roi_args, check_scale, check_single_box,
                               convert_boxes_to_rois, geometry_dtype, to_input_layout)

NAN, INF = float("nan"), float("inf")


# -------------------------------------------------------------------- convert_boxes_to_rois
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tensor_boxes_pass_through_detached(device, dtype):
    x = torch.zeros(2, 1, 4, 4, dtype=dtype, device=device)
    boxes = torch.tensor([[1, 0, 0, 2, 2], [0, 1.5, 1, 3, 2]], dtype=dtype, device=device)
    rois = convert_boxes_to_rois(boxes.requires_grad_(), x)
    assert torch.equal(rois, boxes.detach()) and not rois.requires_grad
    assert rois.dtype == dtype and rois.device == boxes.device


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("as_tuple", [False, True])
def test_list_boxes_get_batch_indices_in_order(device, dtype, as_tuple):
    x = torch.zeros(4, 1, 4, 4, dtype=dtype, device=device)
    per_image = [[[0, 0, 1, 1], [1, 1, 2, 3]], [], [[0.5, 0, 3, 3]]]  # image 1 has no box
    boxes = [torch.tensor(b, dtype=dtype, device=device).reshape(-1, 4) for b in per_image]
    rois = convert_boxes_to_rois(tuple(boxes) if as_tuple else boxes, x)
    expected = [[i, *b] for i, bs in enumerate(per_image) for b in bs]  # image 3: no tensor
    assert torch.equal(rois, torch.tensor(expected, dtype=dtype, device=device))
    assert rois.dtype == dtype and rois.device == x.device


def test_empty_boxes(device):
    x = torch.zeros(2, 1, 4, 4, dtype=torch.float64, device=device)
    for boxes in ([], [torch.zeros(0, 4, dtype=x.dtype, device=device)],
                  torch.zeros(0, 5, dtype=x.dtype, device=device)):
        rois = convert_boxes_to_rois(boxes, x)
        assert rois.shape == (0, 5) and rois.dtype == x.dtype and rois.device == x.device


X = torch.zeros(2, 1, 4, 4)


@pytest.mark.parametrize("boxes,err,match", [
    ("boxes", TypeError, r"boxes must be Tensor\[K, 5\] or a list of Tensor\[L, 4\], got str"),
    (torch.zeros(3, 4), ValueError, r"boxes must be Tensor\[K, 5\] .*got shape \(3, 4\)"),
    (torch.zeros(5), ValueError, r"boxes must be Tensor\[K, 5\] .*got shape \(5,\)"),
    (torch.zeros(1, 5, dtype=torch.float64), TypeError, "boxes has dtype torch.float64 but input"),
    ([torch.zeros(1, 4), [0, 0, 1, 1]], TypeError, r"boxes\[1\] must be a torch.Tensor"),
    ([torch.zeros(1, 5)], ValueError, r"boxes\[0\] must be Tensor\[L, 4\].*got shape \(1, 5\)"),
    ([torch.zeros(1, 4), torch.zeros(4)], ValueError, r"boxes\[1\] must be Tensor\[L, 4\]"),
    ([torch.zeros(1, 4, dtype=torch.float16)], TypeError, r"boxes\[0\] has dtype torch.float16"),
    ([torch.zeros(1, 4)] * 3, ValueError, "boxes is a list of 3 tensors .* only 2 images"),
    (torch.tensor([[0, 0, 0, NAN, 1]]), ValueError, r"boxes must have finite .* rows \[0\]"),
    ([torch.zeros(1, 4), torch.tensor([[0, -INF, 1, 1]])], ValueError,
     r"boxes must have finite .* rows \[1\]"),
    (torch.tensor([[0, 0, 0, 1, 1], [0.5, 0, 0, 1, 1]]), ValueError,
     r"boxes\[:, 0\] must be an integral batch index in \[0, 2\), got 0.5 in row 1"),
    (torch.tensor([[-1.0, 0, 0, 1, 1]]), ValueError, r"boxes\[:, 0\] .* got -1.0 in row 0"),
    (torch.tensor([[2.0, 0, 0, 1, 1]]), ValueError, r"boxes\[:, 0\] .* got 2.0 in row 0"),
])
def test_convert_boxes_errors_name_the_argument(boxes, err, match):
    with pytest.raises(err, match=match):
        convert_boxes_to_rois(boxes, X)


def test_convert_boxes_device_mismatch_names_both():
    # the meta device stands in for a second device on a machine without a GPU
    x = torch.zeros(1, 1, 4, 4, device="meta")
    with pytest.raises(ValueError, match="boxes is on cpu but input is on meta"):
        convert_boxes_to_rois(torch.zeros(1, 5), x)
    with pytest.raises(ValueError, match=r"boxes\[0\] is on cpu but input is on meta"):
        convert_boxes_to_rois([torch.zeros(1, 4)], x)


# ----------------------------------------------------------------------------- check_scale
@pytest.mark.parametrize("scale", [1, 0.0625, 2.5])
def test_check_scale_returns_a_float(scale):
    out = check_scale(scale)
    assert type(out) is float and out == scale


@pytest.mark.parametrize("scale,err,match", [
    (True, TypeError, "spatial_scale must be a float, got bool"),
    ("1", TypeError, "spatial_scale must be a float, got str"),
    (torch.tensor(1.0), TypeError, "spatial_scale must be a float, got Tensor"),
    (0.0, ValueError, "spatial_scale must be a finite positive number .* got 0.0"),
    (-0.5, ValueError, "spatial_scale must be a finite positive number .* got -0.5"),
    (INF, ValueError, "spatial_scale must be a finite positive number .* got inf"),
    (NAN, ValueError, "spatial_scale must be a finite positive number .* got nan"),
])
def test_check_scale_errors(scale, err, match):
    with pytest.raises(err, match=match):
        check_scale(scale)


# -------------------------------------------------------------------------- check_roi_args
def test_check_roi_args_returns_rois_size_and_scale():
    rois, size, scale = check_roi_args(X, [torch.zeros(1, 4), torch.ones(1, 4)], (2, 3), 1)
    assert torch.equal(rois, torch.tensor([[0, 0, 0, 0, 0], [1, 1, 1, 1, 1.0]]))
    assert size == (2, 3) and scale == 1.0 and type(scale) is float
    assert check_roi_args(X, torch.zeros(0, 5), 4, 0.5)[1:] == ((4, 4), 0.5)


@pytest.mark.parametrize("kw,err,match", [
    (dict(input=X.numpy()), TypeError, "input must be a torch.Tensor, got ndarray"),
    (dict(input=X[0]), ValueError, r"input must be 4-D, got 3-D with shape \(1, 4, 4\)"),
    (dict(input=X.long()), TypeError, "input must have a floating-point dtype, got torch.int64"),
    (dict(output_size=0), ValueError, "output_size must be positive, got 0"),
    (dict(output_size=(2, 0)), ValueError, r"output_size\[1\] must be positive, got 0"),
    (dict(output_size=(2, 2, 2)), ValueError, "output_size must be an int or a pair of ints"),
    (dict(output_size=2.0), TypeError, "output_size must be an int, got float"),
    (dict(output_size=(2, True)), TypeError, r"output_size\[1\] must be an int, got bool"),
    (dict(spatial_scale=-1.0), ValueError, "spatial_scale must be a finite positive"),
    (dict(spatial_scale=None), TypeError, "spatial_scale must be a float, got NoneType"),
    (dict(boxes=torch.zeros(1, 4)), ValueError, r"boxes must be Tensor\[K, 5\]"),
])
def test_check_roi_args_errors(kw, err, match):
    args = {**dict(input=X, boxes=torch.zeros(1, 5), output_size=2, spatial_scale=1.0), **kw}
    with pytest.raises(err, match=match):
        check_roi_args(**args)


# ------------------------------------------------------------------------ check_single_box
@pytest.mark.parametrize("box", [(1, 2, 3, 4), [1.0, 2.0, 3.0, 4.0], torch.tensor([1, 2, 3, 4]),
                                 torch.tensor([1.0, 2, 3, 4], requires_grad=True)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_check_single_box_is_a_roi_of_image_0(box, dtype):
    roi = check_single_box(box, dtype)
    assert torch.equal(roi, torch.tensor([[0, 1, 2, 3, 4]], dtype=dtype))
    assert roi.device.type == "cpu" and not roi.requires_grad


@pytest.mark.parametrize("box,dtype,err,match", [
    ((0, 0, 1, 1), torch.int64, TypeError, "dtype must be a floating-point torch.dtype"),
    ((0, 0, 1, 1), "float32", TypeError, "dtype must be a floating-point torch.dtype"),
    ("abcd", torch.float32, TypeError, r"box must be 4 numbers \(x1, y1, x2, y2\), got 'abcd'"),
    (None, torch.float32, TypeError, "box must be 4 numbers"),
    ((0, 0, 1), torch.float32, ValueError, "box must be 4 numbers .* got 3 of them"),
    ((0, 0, 1, 1, 1), torch.float32, ValueError, "box must be 4 numbers .* got 5 of them"),
    ((0, NAN, 1, 1), torch.float32, ValueError, "box must have finite coordinates"),
    ((0, 0, INF, 1), torch.float64, ValueError, "box must have finite coordinates"),
])
def test_check_single_box_errors(box, dtype, err, match):
    with pytest.raises(err, match=match):
        check_single_box(box, dtype)


# --------------------------------------------------------- geometry_dtype, to_input_layout
@pytest.mark.parametrize("dtype,geometry", [
    (torch.float32, torch.float32), (torch.float64, torch.float64),
    (torch.float16, torch.float32), (torch.bfloat16, torch.float32)])
def test_geometry_dtype(dtype, geometry):
    assert geometry_dtype(dtype) == geometry


@pytest.mark.parametrize("channels_last", [False, True])
def test_to_input_layout_matches_the_input(device, channels_last):
    x = torch.randn(2, 3, 4, 5, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    out = torch.randn(6, 2, 2, 3, device=device).permute(0, 3, 1, 2)  # [K, C, PH, PW], NHWC
    result = to_input_layout(out, x)
    assert torch.equal(result, out)
    if channels_last:  # a free view: the op's own result, untouched
        assert result is out
    else:
        assert result.is_contiguous()
