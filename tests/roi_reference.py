"""Slow loop references for RoI Pool and RoI Align, written from torchvision's C++ semantics.

One Python loop per RoI, bin and sample (and pixel), scalar arithmetic only for the geometry,
written independently of ``kernels/`` (no shared helper, no vectorised trick) from the facts
of ``roi_pool_kernel.cpp`` and ``roi_align_kernel.cpp`` in torchvision:

* box arithmetic runs in the input's C type ``T`` (float or double; here numpy scalars of that
  type, so every product rounds as C would; half inputs use float, as our kernels do);
* RoI Pool: C ``round`` (halves away from zero) of ``x * scale``, ``+1`` inclusive size forced
  to >= 1, ``floor`` / ``ceil`` bin bounds clipped to the map, empty bin -> 0, otherwise
  the maximum starting from ``-FLT_MAX`` with a strict ``>`` (first maximum wins);
* RoI Align: ``x * scale - 0.5*aligned``, size forced to >= 1 unless aligned, grid
  ``sampling_ratio`` or ``ceil(size / pooled)``, samples at ``(iy + .5) * bin / grid``,
  bilinear with torchvision's boundary rules (a sample with ``y < -1``, ``y > H``, ``x < -1``
  or ``x > W`` reads no cell and is 0, even next to a NaN), average divided by
  ``max(gh * gw, 1)``;
  ``mode="max"`` (mmcv's variant) keeps the first largest sample.

Each function returns ``(output, grad_input)`` where the gradient is accumulated by looping
over the same bins, for a given ``grad_output`` (ones when not given; ``roi_align_ref`` skips
it with ``backward=False``, for timing). Values are float64.
"""
from __future__ import annotations

import math

import numpy as np
import torch

FLT_MAX = float(np.finfo(np.float32).max)


def _ctype(dtype):
    return np.float64 if dtype == torch.float64 else np.float32


def _c_round(v: float) -> int:
    a = abs(v)
    r = math.floor(a)
    if a - r >= 0.5:
        r += 1
    return int(r if v >= 0 else -r)


def _prepare(input, rois, output_size, grad_output):
    x = input.detach().double().cpu().numpy()
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    k = len(rois)
    g = (np.ones((k, x.shape[1], ph, pw)) if grad_output is None
         else grad_output.detach().double().cpu().numpy())
    return x, ph, pw, g, np.zeros((k, x.shape[1], ph, pw)), np.zeros_like(x)


def roi_pool_ref(input, rois, output_size, spatial_scale=1.0, grad_output=None):
    T = _ctype(input.dtype)
    x, ph_, pw_, g, out, grad = _prepare(input, rois, output_size, grad_output)
    _, C, H, W = x.shape
    for k, roi in enumerate(rois.tolist()):
        b = int(roi[0])
        sx, sy, ex, ey = (_c_round(float(T(v) * T(spatial_scale))) for v in roi[1:])
        rw, rh = max(ex - sx + 1, 1), max(ey - sy + 1, 1)
        bh, bw = T(rh) / T(ph_), T(rw) / T(pw_)
        for ph in range(ph_):
            for pw in range(pw_):
                h0 = min(max(math.floor(T(ph) * bh) + sy, 0), H)
                h1 = min(max(math.ceil(T(ph + 1) * bh) + sy, 0), H)
                w0 = min(max(math.floor(T(pw) * bw) + sx, 0), W)
                w1 = min(max(math.ceil(T(pw + 1) * bw) + sx, 0), W)
                empty = h1 <= h0 or w1 <= w0
                for c in range(C):
                    best, arg = (0.0 if empty else -FLT_MAX), None
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            if x[b, c, h, w] > best:
                                best, arg = x[b, c, h, w], (h, w)
                    out[k, c, ph, pw] = best
                    if arg is not None:
                        grad[b, c, arg[0], arg[1]] += g[k, c, ph, pw]
    return torch.from_numpy(out), torch.from_numpy(grad)


def _bilinear(y, x, H, W, T):
    """The four ``(h, w, weight)`` taps of torchvision's bilinear_interpolate; [] outside."""
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return []
    y, x = max(y, T(0)), max(x, T(0))
    yl, xl = int(y), int(x)
    if yl >= H - 1:
        yl = yh = H - 1
        y = T(yl)
    else:
        yh = yl + 1
    if xl >= W - 1:
        xl = xh = W - 1
        x = T(xl)
    else:
        xh = xl + 1
    ly, lx = y - T(yl), x - T(xl)
    hy, hx = T(1) - ly, T(1) - lx
    return [(yl, xl, hy * hx), (yl, xh, hy * lx), (yh, xl, ly * hx), (yh, xh, ly * lx)]


@np.errstate(invalid="ignore")  # 0 * inf and inf - inf are NaN, as in C; no warning
def roi_align_ref(input, rois, output_size, spatial_scale=1.0, sampling_ratio=-1,
                  aligned=False, mode="avg", grad_output=None, backward=True):
    T = _ctype(input.dtype)
    x, ph_, pw_, g, out, grad = _prepare(input, rois, output_size, grad_output)
    _, C, H, W = x.shape
    off = T(0.5) if aligned else T(0)
    for k, roi in enumerate(rois.tolist()):
        b = int(roi[0])
        sx, sy, ex, ey = (T(v) * T(spatial_scale) - off for v in roi[1:])
        rw, rh = ex - sx, ey - sy
        if not aligned:
            rw, rh = max(rw, T(1)), max(rh, T(1))
        bh, bw = rh / T(ph_), rw / T(pw_)
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / T(ph_))
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / T(pw_))
        count = max(gh * gw, 1)
        for ph in range(ph_):
            for pw in range(pw_):
                samples = []  # (value over channels, taps)
                for iy in range(gh):
                    y = sy + T(ph) * bh + T(iy + 0.5) * bh / T(gh)
                    for ix in range(gw):
                        xx = sx + T(pw) * bw + T(ix + 0.5) * bw / T(gw)
                        taps = _bilinear(y, xx, H, W, T)
                        val = np.zeros(C)
                        for h, w, wt in taps:
                            val += float(wt) * x[b, :, h, w]
                        samples.append((val, taps))
                if not samples:
                    continue  # empty grid: output 0, no gradient
                if mode == "avg":
                    out[k, :, ph, pw] = sum(v for v, _ in samples) / count
                    for _, taps in samples if backward else ():
                        for h, w, wt in taps:
                            grad[b, :, h, w] += float(wt) / count * g[k, :, ph, pw]
                    continue
                for c in range(C):
                    best = 0  # first sample with the largest value
                    for s in range(1, len(samples)):
                        if samples[s][0][c] > samples[best][0][c]:
                            best = s
                    out[k, c, ph, pw] = samples[best][0][c]
                    for h, w, wt in samples[best][1] if backward else ():
                        grad[b, c, h, w] += float(wt) * g[k, c, ph, pw]
    return torch.from_numpy(out), torch.from_numpy(grad)


def random_rois(gen: torch.Generator, n_images: int, k: int, height: int, width: int,
                spatial_scale: float = 1.0, dtype=torch.float64) -> torch.Tensor:
    """``Tensor[K, 5]`` test boxes in image pixels: mostly inside the map, some partly or fully
    outside, some of zero or negative size, many coordinates on exact halves."""
    img_h, img_w = height / spatial_scale, width / spatial_scale
    b = torch.randint(0, n_images, (k, 1), generator=gen).double()
    x1 = torch.rand(k, 1, generator=gen, dtype=torch.float64) * 1.4 * img_w - 0.2 * img_w
    y1 = torch.rand(k, 1, generator=gen, dtype=torch.float64) * 1.4 * img_h - 0.2 * img_h
    bw = torch.rand(k, 1, generator=gen, dtype=torch.float64) * 0.8 * img_w - 0.1 * img_w
    bh = torch.rand(k, 1, generator=gen, dtype=torch.float64) * 0.8 * img_h - 0.1 * img_h
    boxes = torch.cat([x1, y1, x1 + bw, y1 + bh], 1)
    # snap some coordinates to exact halves on the feature map (n + 0.5 cells), where C's round
    # and torch.round disagree; exact in binary when spatial_scale is a power of two
    halves = torch.rand(k, 4, generator=gen) < 0.3
    snapped = (torch.floor(boxes * spatial_scale) + 0.5) / spatial_scale
    boxes = torch.where(halves, snapped, boxes)
    return torch.cat([b, boxes], 1).to(dtype)
