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

__all__: list[str] = []  # private helpers; the public ops live in roi_pool.py / roi_align.py


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


def ragged_arange(counts: torch.Tensor):
    """Flatten ``len(counts)`` ragged ranges: ``(owner, position)`` with ``owner`` repeated
    ``counts[i]`` times and ``position`` running ``0 .. counts[i] - 1`` within each owner.

    This is how both ops enumerate bins, samples and pixels of every RoI at once, without a
    Python loop: ``counts = [2, 0, 3]`` gives ``owner = [0, 0, 2, 2, 2]``,
    ``position = [0, 1, 0, 1, 2]``.
    """
    total = int(counts.sum()) if counts.numel() else 0
    owner = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts,
                                    output_size=total)
    starts = torch.cumsum(counts, 0) - counts  # [len(counts)]
    return owner, torch.arange(total, device=counts.device) - starts[owner]
