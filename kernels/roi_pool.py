r"""RoI Pooling: a fixed-size max-pooled feature for every region proposal (Fast R-CNN).

Girshick, *Fast R-CNN*, ICCV 2015 (arXiv:1504.08083), section 2.1. A proposal ``(x1, y1, x2, y2)``
in image pixels is projected onto a feature map of stride ``1 / spatial_scale`` and divided into
an ``PH x PW`` grid of bins; each bin is max-pooled, channel by channel. Every box, whatever its
size, gives a ``C x PH x PW`` feature for the fully connected head.

Two roundings make it coarse (He et al. 2017 call this *quantisation*; :doc:`roi_pooling_align`
measures it):

1. the scaled box snaps to whole cells, ``x1' = round(spatial_scale * x1)`` (C's ``round``,
   halves away from zero), and covers ``x2' - x1' + 1`` cells, at least one;
2. with ``b_h = (y2' - y1' + 1) / PH``, bin ``(i, j)`` covers rows
   ``[y1' + floor(i b_h), y1' + ceil((i + 1) b_h))`` and the matching columns, clipped to
   the map; neighbouring bins overlap when ``b_h`` is not an integer, an empty bin gives 0.

.. math::
    y_{rcij} = \max_{(h, w) \in \mathrm{bin}_{r}(i, j)} x_{b(r), c, h, w},\qquad
    \frac{\partial L}{\partial x_{bch w}} = \sum_{r, i, j}
    [\,(h, w) = \operatorname{argmax}_{rcij}\,]\;\frac{\partial L}{\partial y_{rcij}}

The argmax is the first maximum in row-major order (torchvision's strict ``>``), so ties and
overlapping bins route each gradient to exactly one cell. Semantics follow torchvision's
``roi_pool`` kernel, NaN input included: ``v > maxval`` is false for a NaN, so a NaN cell never
wins and receives no gradient (a bin of only NaNs gives ``-FLT_MAX``, as in torchvision).

Implementation: every bin is a "bag" of flat pixel indices into the feature map laid out as
a ``[N*H*W, C]`` table, and ``torch.embedding_bag(mode="max")`` pools all bags of all RoIs in
one call, returning the argmax row too. No Python loop over RoIs or bins, no per-RoI copy.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._checks import as_pair, check_int
from .roi_bags import BagMax, feature_table, ragged_arange
from .roi_boxes import (check_roi_args, check_scale, check_single_box, geometry_dtype,
                        to_input_layout)

__all__ = ["roi_pool", "RoIPool", "roi_pool_bins"]

_FLT_MAX = torch.finfo(torch.float32).max  # torchvision starts every non-empty bin at -FLT_MAX


class PoolBins(NamedTuple):
    """Integer geometry of RoI Pool for ``K`` RoIs (see :func:`roi_pool_bins`)."""

    roi: torch.Tensor   # Tensor[K, 4] quantised (x1', y1', x2', y2') in feature cells
    rows: torch.Tensor  # Tensor[K, PH, 2] [start, end) of each bin row, clipped to [0, H]
    cols: torch.Tensor  # Tensor[K, PW, 2] [start, end) of each bin column, clipped to [0, W]


def _c_round(v: torch.Tensor) -> torch.Tensor:
    # torch.round sends halves to even (2.5 -> 2); C's round sends them away from zero (-> 3).
    # v - trunc(v) is exact in floating point, so the comparison with 0.5 is too.
    t = torch.trunc(v)
    return t + torch.where((v - t).abs() >= 0.5, torch.sign(v), torch.zeros_like(v))


def _bins(rois, size, scale, height, width, dtype) -> PoolBins:
    ph, pw = size
    dt = geometry_dtype(dtype)
    q = _c_round(rois[:, 1:].to(dt) * torch.tensor(scale, dtype=dt)).long()  # [K, 4]
    x1, y1, x2, y2 = q.unbind(1)
    roi_w = (x2 - x1 + 1).clamp(min=1)  # +1: the box covers cells x1'..x2' inclusive
    roi_h = (y2 - y1 + 1).clamp(min=1)

    def edges(start, length, pooled, limit):
        b = length.to(dt)[:, None] / pooled                         # [K, 1] bin size
        i = torch.arange(pooled + 1, device=rois.device, dtype=dt)  # [P + 1]
        lo = torch.floor(i[:-1] * b).long()                          # [K, P]
        hi = torch.ceil(i[1:] * b).long()
        return (torch.stack([lo, hi], -1) + start[:, None, None]).clamp(0, limit)  # [K, P, 2]

    return PoolBins(q, edges(y1, roi_h, ph, height), edges(x1, roi_w, pw, width))


def roi_pool_bins(box, output_size, spatial_scale: float = 1.0, *, height: int, width: int,
                  dtype: torch.dtype = torch.float32) -> PoolBins:
    """The quantised RoI and the clipped bin bounds RoI Pool uses for one ``box``.

    ``box`` is ``(x1, y1, x2, y2)`` in image pixels (a sequence or ``Tensor[4]``) on a map of
    ``height x width`` cells. Returns :class:`PoolBins` with ``roi Tensor[4]``,
    ``rows Tensor[PH, 2]``, ``cols Tensor[PW, 2]``: the numbers :func:`roi_pool` pools over
    for an input of ``dtype`` (the box arithmetic runs in that dtype).
    """
    rois = check_single_box(box, dtype)  # [1, 5]
    size = as_pair(output_size, "output_size", min_value=1)
    scale = check_scale(spatial_scale)
    height = check_int(height, "height", min_value=1)
    width = check_int(width, "width", min_value=1)
    bins = _bins(rois, size, scale, height, width, dtype)
    return PoolBins(*(t[0] for t in bins))


def roi_pool(input: torch.Tensor, boxes, output_size, spatial_scale: float = 1.0) -> torch.Tensor:
    """Max-pool every box of ``boxes`` from ``input`` into an ``output_size`` grid (Fast R-CNN).

    Args:
        input: ``Tensor[N, C, H, W]`` feature map (float16, float32 or float64, any device).
        boxes: ``Tensor[K, 5]`` rows ``(batch_index, x1, y1, x2, y2)``, or a list of
            ``Tensor[L, 4]`` per image; image-pixel coordinates, same dtype and device as input.
        output_size: ``int`` or ``(PH, PW)``.
        spatial_scale: feature cells per image pixel, e.g. ``1/16``.

    Returns:
        ``Tensor[K, C, PH, PW]``.
    """
    rois, (ph, pw), scale = check_roi_args(input, boxes, output_size, spatial_scale)
    n, c, h, w = input.shape
    k = rois.shape[0]
    bins = _bins(rois, (ph, pw), scale, h, w, input.dtype)
    rows = bins.rows[:, :, None, :].expand(k, ph, pw, 2).reshape(-1, 2)  # [B, 2], B = K*PH*PW
    cols = bins.cols[:, None, :, :].expand(k, ph, pw, 2).reshape(-1, 2)  # [B, 2]
    bh = (rows[:, 1] - rows[:, 0]).clamp(min=0)
    bw = (cols[:, 1] - cols[:, 0]).clamp(min=0)
    area = bh * bw  # [B] pixels in each bin
    bag, r = ragged_arange(area)  # one entry per (bin, pixel), pixels in row-major order
    image = rois[:, 0].long().repeat_interleave(ph * pw)  # [B]
    safe_w = bw.clamp(min=1)[bag]
    index = (image[bag] * h + rows[bag, 0] + r // safe_w) * w + cols[bag, 0] + r % safe_w  # [E]
    offsets = torch.cumsum(area, 0) - area
    table = feature_table(input)  # [N*H*W, C] one row per pixel
    # torchvision skips a NaN (v > maxval is false); -inf never beats the -FLT_MAX floor either
    table = table.masked_fill(table.isnan(), float("-inf"))
    out = BagMax.apply(table, index, offsets, -_FLT_MAX)  # [B, C]
    out = out.view(k, ph, pw, c).permute(0, 3, 1, 2)  # [K, C, PH, PW]
    return to_input_layout(out, input)


class RoIPool(nn.Module):
    """Module form of :func:`roi_pool`; stores ``output_size`` and ``spatial_scale``."""

    def __init__(self, output_size, spatial_scale: float):
        super().__init__()
        as_pair(output_size, "output_size", min_value=1)  # fail at construction, not first use
        check_scale(spatial_scale)
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input: torch.Tensor, boxes) -> torch.Tensor:
        return roi_pool(input, boxes, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"
