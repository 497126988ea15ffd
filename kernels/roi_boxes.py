"""Boxes for RoI Pool and RoI Align: the two accepted formats, and the checks both ops share.

A detector hands the RoI ops the proposals of a whole batch at once, in one of two formats
(the same two torchvision accepts):

* ``Tensor[K, 5]``: one row ``(batch_index, x1, y1, x2, y2)`` per RoI, the "roi format" the
  kernels work on;
* a list with one ``Tensor[L, 4]`` of ``(x1, y1, x2, y2)`` per image; the batch index of a box
  is the position of its tensor in the list.

Coordinates are in input-image pixels; each op multiplies them by ``spatial_scale`` (1 / the
feature stride, e.g. 1/16 for a VGG16 ``conv5_3`` map) itself. See :doc:`roi_pooling_align`.
"""
from __future__ import annotations

import math
import numbers

import torch

from ._checks import as_pair, check_same_device_dtype, check_tensor

__all__ = ["convert_boxes_to_rois", "check_scale", "check_roi_args", "check_single_box",
           "geometry_dtype", "to_input_layout"]  # shared by roi_pool.py and roi_align.py


def convert_boxes_to_rois(boxes, input: torch.Tensor) -> torch.Tensor:
    """Return ``boxes`` as ``Tensor[K, 5]`` rows ``(batch_index, x1, y1, x2, y2)``, checked.

    ``input`` is the ``Tensor[N, C, H, W]`` feature map the boxes will be pooled from; the boxes
    must share its dtype and device, have finite coordinates, and integral batch indices in
    ``[0, N)``. The result is detached: neither op has a gradient with respect to the boxes.
    """
    if isinstance(boxes, (list, tuple)):
        for i, b in enumerate(boxes):
            check_tensor(b, f"boxes[{i}]")
            if b.dim() != 2 or b.shape[1] != 4:
                raise ValueError(f"boxes[{i}] must be Tensor[L, 4] (x1, y1, x2, y2), "
                                 f"got shape {tuple(b.shape)}")
            check_same_device_dtype(input, "input", b, f"boxes[{i}]")
        if len(boxes) > input.shape[0]:
            raise ValueError(f"boxes is a list of {len(boxes)} tensors (one per image) but "
                             f"input holds only {input.shape[0]} images")
        if not boxes:
            return input.new_zeros((0, 5))
        rois = torch.cat([torch.cat([b.new_full((b.shape[0], 1), i), b], dim=1)
                          for i, b in enumerate(boxes)])  # [K, 5]
    elif isinstance(boxes, torch.Tensor):
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise ValueError("boxes must be Tensor[K, 5] (batch_index, x1, y1, x2, y2) or a "
                             f"list of Tensor[L, 4], got shape {tuple(boxes.shape)}")
        check_same_device_dtype(input, "input", boxes, "boxes")
        rois = boxes
    else:
        raise TypeError("boxes must be Tensor[K, 5] or a list of Tensor[L, 4], got "
                        f"{type(boxes).__name__}")
    rois = rois.detach()
    if rois.shape[0] == 0:
        return rois
    if not bool(torch.isfinite(rois).all()):
        raise ValueError("boxes must have finite coordinates; got inf or NaN in rows "
                         f"{torch.nonzero(~torch.isfinite(rois).all(1)).flatten().tolist()[:5]}")
    index = rois[:, 0]
    bad = (index != index.floor()) | (index < 0) | (index >= input.shape[0])
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0])
        raise ValueError(f"boxes[:, 0] must be an integral batch index in [0, "
                         f"{input.shape[0]}), got {index[k].item()} in row {k}")
    return rois


def check_scale(spatial_scale) -> float:
    """``spatial_scale`` is a finite positive real: feature-map pixels per input pixel."""
    if isinstance(spatial_scale, bool) or not isinstance(spatial_scale, numbers.Real):
        raise TypeError(f"spatial_scale must be a float, got {type(spatial_scale).__name__}")
    if not (math.isfinite(spatial_scale) and spatial_scale > 0):
        raise ValueError(f"spatial_scale must be a finite positive number (1 / feature "
                         f"stride), got {spatial_scale!r}")
    return float(spatial_scale)


def check_roi_args(input, boxes, output_size, spatial_scale):
    """Shared entry checks. Returns ``(rois Tensor[K, 5], (PH, PW), scale)``."""
    check_tensor(input, "input", ndim=4, floating=True)
    size = as_pair(output_size, "output_size", min_value=1)
    scale = check_scale(spatial_scale)
    return convert_boxes_to_rois(boxes, input), size, scale


def check_single_box(box, dtype) -> torch.Tensor:
    """One ``box = (x1, y1, x2, y2)`` (a sequence or ``Tensor[4]``) for the geometry helpers
    :func:`~kernels.roi_pool_bins` and :func:`~kernels.roi_align_grid`, checked and returned as
    a CPU ``Tensor[1, 5]`` roi of image 0 in ``dtype`` (a floating-point ``torch.dtype``)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    try:
        b = torch.as_tensor(box).detach().to("cpu", dtype)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"box must be 4 numbers (x1, y1, x2, y2), got {box!r}") from e
    if b.numel() != 4:
        raise ValueError(f"box must be 4 numbers (x1, y1, x2, y2), got {b.numel()} of them")
    if not bool(torch.isfinite(b).all()):
        raise ValueError(f"box must have finite coordinates, got {b.flatten().tolist()}")
    return torch.cat([b.new_zeros(1), b.flatten()])[None]  # [1, 5]


def geometry_dtype(dtype: torch.dtype) -> torch.dtype:
    """Box arithmetic runs in the input's dtype (as torchvision's C++ kernels do), except for
    half and bfloat16, whose 11 / 8 bits of mantissa would move a box edge at x = 300 by
    0.25 / 2 pixels: those use float32."""
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def to_input_layout(out: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
    """``out`` is ``Tensor[K, C, PH, PW]`` with channels-last strides (a permuted
    ``[K, PH, PW, C]``); make it contiguous like ``input``: a free view for a channels-last
    input, one transposing copy for an ordinary (NCHW-contiguous) one, as PyTorch's ops do."""
    if input.is_contiguous(memory_format=torch.channels_last) and not input.is_contiguous():
        return out
    return out.contiguous()
