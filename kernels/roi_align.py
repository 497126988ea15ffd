r"""RoI Align: RoI pooling without rounding, by bilinear sampling (Mask R-CNN).

He, Gkioxari, Dollár, Girshick, *Mask R-CNN*, ICCV 2017 (arXiv:1703.06870), section 3. RoI Pool
(Fast R-CNN) rounds the box and its bins to whole feature cells, which shifts the pooled
feature by up to half a stride; RoI Align keeps every coordinate real:

* the box ``(x1, y1, x2, y2)`` becomes ``s*x - o`` on the map (``s = spatial_scale``,
  ``o = 0.5`` when ``aligned`` so that pixel centres line up, else ``0``); without ``aligned``
  a box is widened to at least 1 x 1 cell;
* bin ``(i, j)`` of size ``b_h x b_w = (h / PH) x (w / PW)`` holds a ``g_h x g_w`` grid of sample
  points ``y = y1 + i b_h + (u + 1/2) b_h / g_h``, ``g = sampling_ratio``, or
  ``ceil(b_h)`` when ``sampling_ratio <= 0`` (about one sample per cell);
* each sample is bilinear: with ``y0 = floor(y)``, ``ly = y - y0`` and so on,
  ``v(y, x) = sum_{corners} (1-ly|ly)(1-lx|lx) x[y0 (+1), x0 (+1)]``; a sample with
  ``y < -1`` or ``y > H`` (or ``x`` likewise) is 0, one in ``[-1, 0]`` or ``[H-1, H]`` takes the
  edge row;
* ``mode="avg"`` (torchvision, Detectron) averages the bin's samples; ``mode="max"`` (offered by
  mmcv, allowed by the paper) keeps the largest.

.. math::
    y_{rcij} = \frac{1}{g_h g_w} \sum_{u,v} \sum_{(h,w)} \beta_{hw}(p_{ijuv})\, x_{b(r)chw},
    \qquad \frac{\partial L}{\partial x_{bchw}} = \sum_{r,i,j} \frac{1}{g_h g_w}
    \sum_{u,v} \beta_{hw}(p_{ijuv})\, \frac{\partial L}{\partial y_{rcij}}

where :math:`\beta_{hw}(p)` is the bilinear weight of cell ``(h, w)`` for point ``p``. In max
mode the gradient flows through the first sample attaining the maximum only. Semantics follow
torchvision's ``roi_align`` kernel. See :doc:`roi_pooling_align`.

Implementation: the weights do not depend on the channel, so every bin is a "bag" of
``(cell, weight)`` pairs over the feature map laid out as a ``[N*H*W, C]`` table
(:mod:`kernels.roi_bags`); ``torch.embedding_bag`` sums all bags of a chunk of RoIs in one call.
A sample outside the map points at a spare row of zeros, so it reads no cell (a NaN on the
border stays out of it). The backward pass is the same sparse matrix transposed: bags of output
rows per input cell. RoIs are pooled in chunks of about ``_CHUNK_BYTES`` of bags, each built,
used and dropped, then rebuilt in backward: memory stays bounded however many and however large
the boxes are (a call that fits in one chunk keeps its bags for backward instead).
No Python loop over bins or samples, and no per-RoI copy of the map.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._checks import as_pair, check_int
from .roi_bags import BagMax, chunk_slices, feature_table, ragged_arange
from .roi_boxes import (check_roi_args, check_scale, check_single_box, geometry_dtype,
                        to_input_layout)

__all__ = ["roi_align", "RoIAlign", "roi_align_grid"]


class AlignGrid(NamedTuple):
    """Where RoI Align samples one box (see :func:`roi_align_grid`)."""

    y_edges: torch.Tensor  # Tensor[PH + 1] bin edges on the map
    x_edges: torch.Tensor  # Tensor[PW + 1]
    ys: torch.Tensor       # Tensor[PH, g_h] sample rows of each bin row
    xs: torch.Tensor       # Tensor[PW, g_w] sample columns of each bin column


_CHUNK_BYTES = 64 * 2**20  # working memory of one chunk of RoIs
# a tap (one entry of a bag) is a row index and a weight; building the bags and transposing them
# in backward (sort, bag of each entry) holds about six such 8-byte numbers per tap at once
_BYTES_PER_TAP = 48


def _bin_grid(length, pooled, sampling_ratio, aligned):
    """Per RoI along one axis: bin size and samples per bin (``Tensor[K]`` each)."""
    if not aligned:
        length = length.clamp(min=1.0)  # torchvision: "force malformed RoIs to be 1x1"
    size = length / pooled  # [K] bin size
    grid = (torch.full_like(size, sampling_ratio).long() if sampling_ratio > 0
            else torch.ceil(size).clamp(min=0).long())  # [K] samples per bin along this axis
    return size, grid


def _scaled(rois, scale, aligned, dt):
    """``Tensor[K, 4]`` box corners on the map, ``s * x - o``."""
    return rois[:, 1:].to(dt) * torch.tensor(scale, dtype=dt) - (0.5 if aligned else 0.0)


def _samples(start, length, pooled, sampling_ratio, aligned, dt):
    """Sample coordinates along one axis for every RoI at once (ragged: RoI k has
    ``pooled * grid[k]`` of them, bin-major). Returns ``(coords, owner RoI, bin size, grid)``."""
    size, grid = _bin_grid(length, pooled, sampling_ratio, aligned)
    k, pos = ragged_arange(grid * pooled)
    p, u = pos // grid[k], pos % grid[k]
    # same operation order as the C++ kernel: (start + p * b) + ((u + .5) * b) / g
    v = (start[k] + p.to(dt) * size[k]) + ((u.to(dt) + 0.5) * size[k]) / grid[k].to(dt)
    return v, k, size, grid


def _taps(v, limit, dt):
    """Bilinear taps along one axis: ``(cells Tensor[2, M], weights Tensor[2, M], valid
    Tensor[M])``, low/high; a sample beyond one cell outside the map is not valid (reads 0)."""
    valid = (v >= -1) & (v <= limit)
    v = v.clamp(0, limit)
    lo = v.long()
    edge = lo >= limit - 1  # on or past the last cell centre: take the edge, no interpolation
    lo = torch.where(edge, limit - 1, lo)
    frac = torch.where(edge, lo.to(dt), v) - lo
    taps = torch.stack([lo, torch.where(edge, lo, lo + 1)])  # [2, M]
    return taps, torch.stack([1 - frac, frac]) * valid, valid  # [2, M], [2, M], [M]


def _plan(rois, size, scale, sampling_ratio, aligned, shape, dtype, mode):
    """The bags of ``rois``: ``(index, weight, offsets)``, entries ``(table row, weight)``
    ordered (bin, sample row, sample column, y tap, x tap), one bag per bin (avg) or one bag
    of 4 taps per sample (max). Row ``N*H*W`` is the spare zero row of an invalid sample."""
    ph, pw = size
    n, _, h, w = shape
    k, dev = rois.shape[0], rois.device
    dt = geometry_dtype(dtype)
    c = _scaled(rois, scale, aligned, dt)
    vy, ky, _, gh = _samples(c[:, 1], c[:, 3] - c[:, 1], ph, sampling_ratio, aligned, dt)
    vx, _, _, gw = _samples(c[:, 0], c[:, 2] - c[:, 0], pw, sampling_ratio, aligned, dt)
    (ty, wy, oky), (tx, wx, okx) = _taps(vy, h, dt), _taps(vx, w, dt)
    spare = n * h * w
    nb = gh * gw  # [K] samples per bin
    if mode == "avg":
        wy = wy / nb.clamp(min=1)[ky]  # fold the 1 / (g_h g_w) of the average into y
    # an invalid axis points at (or past) the spare row; the clamp below makes it exact
    ry = torch.where(oky, (rois[ky, 0].long() * h + ty) * w, spare).T  # [My, 2] (image, y, 0)
    rx = torch.where(okx, tx, spare).T                                  # [Mx, 2]
    wy, wx = wy.T, wx.T                                                 # [My, 2], [Mx, 2]
    if k and bool((gh == gh[0]).all() & (gw == gw[0]).all()):
        # one grid for every RoI (always so when sampling_ratio > 0): plain broadcasting
        g1, g2 = int(gh[0]), int(gw[0])
        ry, wy = (t.reshape(k, ph, 1, g1, 1, 2, 1) for t in (ry, wy))  # [K, PH, 1, gh, 1, 2, 1]
        rx, wx = (t.reshape(k, 1, pw, 1, g2, 1, 2) for t in (rx, wx))  # [K, 1, PW, 1, gw, 1, 2]
        index, weight = (ry + rx).reshape(-1), (wy * wx).reshape(-1)  # [E], E = 4 B gh gw
    else:  # ragged: RoI k has PH * PW bins of nb[k] samples, 4 taps each
        kb = torch.arange(k, device=dev).repeat_interleave(ph * pw)  # [B] RoI of each bin
        ib = torch.arange(ph, device=dev).repeat_interleave(pw).repeat(k)  # [B] bin row
        jb = torch.arange(pw, device=dev).repeat(k * ph)                   # [B] bin column
        bag, s = ragged_arange(nb[kb])  # [S] bin of each sample, its rank in the bin
        first_y = (torch.cumsum(gh * ph, 0) - gh * ph)[kb] + ib * gh[kb]  # [B] first y sample
        first_x = (torch.cumsum(gw * pw, 0) - gw * pw)[kb] + jb * gw[kb]
        g = gw[kb][bag]
        yi, xi = first_y[bag] + s // g, first_x[bag] + s % g  # [S] sample along each axis
        index = (ry[yi][:, :, None] + rx[xi][:, None, :]).reshape(-1)  # [S, 2, 2] -> [E]
        weight = (wy[yi][:, :, None] * wx[xi][:, None, :]).reshape(-1)
    index.clamp_(max=spare)
    # weight = torchvision's w1..w4 = hy*hx, hy*lx, ly*hx, ly*lx (divided by g_h g_w for avg)
    counts = nb.repeat_interleave(ph * pw)  # [B] samples per bin
    bag_sizes = (4 * counts if mode == "avg"
                 else torch.full((int(counts.sum()),), 4, device=dev))
    return index, weight.to(dtype), torch.cumsum(bag_sizes, 0) - bag_sizes


class _BilinearBags(torch.autograd.Function):
    """``out[b] = sum_e weight[e] * table[index[e]]`` over the entries ``e`` of bag ``b`` (a bin,
    or in max mode a sample) of one chunk of RoIs. With ``keep`` (the call is one chunk, so
    its bags fit the budget) the bags are saved for backward; otherwise only the RoIs are, and
    backward rebuilds the bags, so that no chunk's bags outlive its own step."""

    @staticmethod
    def forward(ctx, table, rois, geometry, keep):
        index, weight, offsets = _plan(rois, *geometry)
        ctx.save_for_backward(rois, *((index, weight, offsets) if keep else ()))
        ctx.geometry, ctx.rows = geometry, table.shape[0]
        return torch.embedding_bag(table, index, offsets, False, 0, False, weight)[0]  # [B, C]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        rois, *bags = ctx.saved_tensors
        index, weight, offsets = bags or _plan(rois, *ctx.geometry)  # [E], [E], [B]
        sizes = torch.diff(offsets, append=offsets.new_tensor([index.numel()]))
        bag = torch.repeat_interleave(torch.arange(offsets.numel(), device=index.device), sizes,
                                      output_size=index.numel())  # [E]
        # dL/dtable[r] = sum_{e: index[e] = r} weight[e] * dL/dout[bag[e]]: the transposed
        # bags, one per table row, gathered by sorting the entries by the row they touch
        order = torch.argsort(index, stable=True)
        per_row = torch.bincount(index, minlength=ctx.rows)
        grad = torch.embedding_bag(grad_out.contiguous(), bag[order],
                                   torch.cumsum(per_row, 0) - per_row, False, 0, False,
                                   weight[order])[0]  # [R, C]
        return grad, None, None, None


def _check_align_args(sampling_ratio, aligned, mode):
    check_int(sampling_ratio, "sampling_ratio")
    if not isinstance(aligned, bool):
        raise TypeError(f"aligned must be a bool, got {type(aligned).__name__}")
    if mode not in ("avg", "max"):
        raise ValueError(f"mode must be 'avg' or 'max', got {mode!r}")


def roi_align(input: torch.Tensor, boxes, output_size, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False, mode: str = "avg") -> torch.Tensor:
    """Bilinear RoI pooling of every box of ``boxes`` into an ``output_size`` grid (Mask R-CNN).

    Args:
        input: ``Tensor[N, C, H, W]`` feature map (float16, float32 or float64, any device).
        boxes: ``Tensor[K, 5]`` rows ``(batch_index, x1, y1, x2, y2)``, or a list of
            ``Tensor[L, 4]`` per image; image-pixel coordinates, same dtype and device as input.
        output_size: ``int`` or ``(PH, PW)``.
        spatial_scale: feature cells per image pixel, e.g. ``1/16``.
        sampling_ratio: samples per bin along each axis; ``<= 0``: ``ceil(box size / output
            size)`` per RoI.
        aligned: shift the box by -0.5 cell so that sample points sit on pixel centres.
        mode: ``"avg"`` (torchvision) or ``"max"`` over the bin's bilinear samples.

    Returns:
        ``Tensor[K, C, PH, PW]``.
    """
    rois, size, scale = check_roi_args(input, boxes, output_size, spatial_scale)
    _check_align_args(sampling_ratio, aligned, mode)
    c = input.shape[1]
    ph, pw = size
    corners = _scaled(rois, scale, aligned, geometry_dtype(input.dtype))  # [K, 4]
    per_bin = (_bin_grid(corners[:, 3] - corners[:, 1], ph, sampling_ratio, aligned)[1]
               * _bin_grid(corners[:, 2] - corners[:, 0], pw, sampling_ratio, aligned)[1])
    samples = per_bin * (ph * pw)  # [K] samples of each RoI, 4 taps each
    cost = samples * 4 * _BYTES_PER_TAP  # [K] bytes the bags of each RoI need at their peak
    if mode == "max":
        cost = cost + samples * 2 * c * input.element_size()  # samples [S, C], their gradient
    table = feature_table(input, spare_row=True)  # [N*H*W + 1, C]
    geometry = (size, scale, sampling_ratio, aligned, input.shape, input.dtype, mode)
    outs = []
    parts = chunk_slices(cost, _CHUNK_BYTES)
    for part in parts:
        out = _BilinearBags.apply(table, rois[part], geometry, len(parts) == 1)  # avg: [B, C]
        if mode == "max":
            counts = per_bin[part].repeat_interleave(ph * pw)  # [B] samples per bin
            out = BagMax.apply(out, torch.arange(out.shape[0], device=out.device),
                               torch.cumsum(counts, 0) - counts)  # [S, C] samples -> [B, C]
        outs.append(out)
    out = outs[0] if len(outs) == 1 else torch.cat(outs)  # [K*PH*PW, C]
    out = out.view(rois.shape[0], ph, pw, c).permute(0, 3, 1, 2)  # [K, C, PH, PW]
    return to_input_layout(out, input)


def roi_align_grid(box, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1,
                   aligned: bool = False, *, dtype: torch.dtype = torch.float32) -> AlignGrid:
    """Bin edges and sample points of :func:`roi_align` for one ``box = (x1, y1, x2, y2)``.

    Coordinates are in feature-map cells (cell ``h`` spans ``[h, h+1)``, its centre is
    ``h + 0.5``); the arithmetic runs in ``dtype`` as it would for an input of that dtype.
    """
    rois = check_single_box(box, dtype)  # [1, 5]
    ph, pw = as_pair(output_size, "output_size", min_value=1)
    scale = check_scale(spatial_scale)
    _check_align_args(sampling_ratio, aligned, "avg")
    dt = geometry_dtype(dtype)
    c = _scaled(rois, scale, aligned, dt)[0]
    out = []
    for lo, hi, pooled in ((c[1], c[3], ph), (c[0], c[2], pw)):
        v, _, size, grid = _samples(lo[None], (hi - lo)[None], pooled, sampling_ratio, aligned,
                                    dt)
        edges = lo + torch.arange(pooled + 1, dtype=dt) * size  # [P + 1]
        out += [edges, v.view(pooled, int(grid[0]))]           # [P, g]
    return AlignGrid(out[0], out[2], out[1], out[3])


class RoIAlign(nn.Module):
    """Module form of :func:`roi_align`; stores the configuration, checks it once."""

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int,
                 aligned: bool = False, mode: str = "avg"):
        super().__init__()
        as_pair(output_size, "output_size", min_value=1)  # fail at construction, not first use
        check_scale(spatial_scale)
        _check_align_args(sampling_ratio, aligned, mode)
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned
        self.mode = mode

    def forward(self, input: torch.Tensor, boxes) -> torch.Tensor:
        return roi_align(input, boxes, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned, self.mode)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}, "
                f"mode={self.mode!r}")
