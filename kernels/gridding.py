"""Which input pixels one output pixel of a stack of dilated convolutions sees (gridding).

Chapter: ``book/dilated_convolution.md``.

Stack ``n`` convolutions with ``K`` taps per axis, dilations ``d_1..d_n`` and strides
``s_1..s_n`` (layer 1 touches the input). One output pixel is connected to the input pixel at
offset

    x = sum_i J_{i-1} d_i k_i,   k_i in {0, ..., K-1},   J_{i-1} = s_1 s_2 ... s_{i-1}

by one *path* per choice of taps ``(k_1, ..., k_n)``. The *footprint* counts the paths to every
pixel of the receptive field ``R = 1 + (K - 1) sum_i J_{i-1} d_i``. Pixels with zero paths are
holes: the output never sees them however the weights are set. When all the rates share a
factor ``g > 1`` every offset is a multiple of ``g`` and the field is a sparse grid; this is the
*gridding* problem of Wang et al., "Understanding Convolution for Semantic Segmentation",
WACV 2018, arXiv:1702.08502. (It is not the *checkerboard artifact* of transposed
convolutions, Odena et al., Distill 2016.)

Wang et al.'s remedy, hybrid dilated convolution (HDC), picks rates with the test

    M_n = r_n,   M_i = max[M_{i+1} - 2 r_i,  M_{i+1} - 2 (M_{i+1} - r_i),  r_i],   goal M_2 <= K

(``M_i``: largest distance between two seen offsets of layers ``i..n``), plus the advice that the
rates of a group should not share a common factor > 1. :func:`gridding_report` applies the test
verbatim and compares it with the exact footprint. What brute force over every 2- and 3-layer
stack with rates 1..9 and ``K = 3`` shows (``tests/test_gridding.py`` re-checks it):

* ``M_i`` is never below the true largest gap, so with ``r_1 = 1`` (as in every example of the
  paper: the first layer then fills any gap up to ``K``) passing the test guarantees no holes:
  (1, 2, 5) passes, M_2 = 2; (1, 2, 9) fails, M_2 = 5, and does have holes.
* The test itself ignores ``r_1``: (2, 3) passes (M_2 = 3, gcd 1) yet leaves holes, because a
  first layer with rate 2 cannot fill gaps.
* The test depends on the order of the layers, the footprint (stride 1) does not: (1, 3, 1)
  fails (M_2 = 5) although it sees the same pixels as (1, 1, 3), which has no holes.
So the test is a safe design rule for ``r_1 = 1``, not an exact criterion; the footprint is.
A stride multiplies the spacing of every later layer (``J_{i-1} d_i``): a rate-2 layer after a
stride-2 layer spreads its taps 4 input pixels apart, so the report works on these
*effective rates*.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._checks import as_pair, check_int

__all__ = ["dilated_footprint", "gridding_report", "GriddingReport"]


def _rates(dilations, name="dilations"):
    if isinstance(dilations, (str, bytes)) or not hasattr(dilations, "__len__"):
        raise TypeError(f"{name} must be a sequence of positive ints (one per layer), "
                        f"got {type(dilations).__name__}")
    if len(dilations) == 0:
        raise ValueError(f"{name} must name at least one layer, got an empty sequence")
    return tuple(check_int(d, f"{name}[{i}]", min_value=1) for i, d in enumerate(dilations))


def _strides(strides, n):
    if isinstance(strides, (list, tuple)):
        if len(strides) != n:
            raise ValueError(f"strides must be an int or one int per layer ({n}), "
                             f"got {len(strides)} values")
        return tuple(check_int(s, f"strides[{i}]", min_value=1) for i, s in enumerate(strides))
    return (check_int(strides, "strides", min_value=1),) * n


def _footprint_1d(rates, k, strides):
    """Path counts along one axis: ``Tensor[R]`` of int64, offset 0 first."""
    counts = torch.ones(1, dtype=torch.int64)  # the output pixel itself
    # Walk from the top layer down; each step is a transposed convolution of the counts with an
    # all-ones kernel of k taps (stride s, dilation d): tap j of position p lands on s*p + d*j.
    for d, s in zip(reversed(rates), reversed(strides)):
        m = counts.numel()
        below = torch.zeros((m - 1) * s + d * (k - 1) + 1, dtype=torch.int64)
        for j in range(k):
            below[d * j: d * j + (m - 1) * s + 1: s] += counts
        counts = below
    return counts


def dilated_footprint(dilations, kernel_size=3, strides=1):
    """Number of paths from one output pixel to each input pixel of its receptive field.

    Args:
        dilations: one positive int per layer, layer 1 (next to the input) first.
        kernel_size: taps per axis, int or ``(k_h, k_w)`` pair, the same for every layer.
        strides: int or one int per layer.

    Returns:
        int64 ``Tensor[R_h, R_w]`` with ``R = 1 + (k - 1) sum_i J_{i-1} d_i``; entry ``[y, x]``
        counts the paths to the pixel ``(y, x)`` pixels below / right of the field's top-left
        corner. Zeros are holes. The sum of all entries is ``(k_h k_w)^n``.
    """
    rates = _rates(dilations)
    kh, kw = as_pair(kernel_size, "kernel_size", min_value=1)
    ss = _strides(strides, len(rates))
    # Paths factor into a vertical and a horizontal choice of tap per layer, so the 2-D count
    # is the outer product of the two 1-D counts.
    col, row = _footprint_1d(rates, kh, ss), _footprint_1d(rates, kw, ss)
    return col[:, None] * row[None, :]  # [R_h, R_w]


@dataclass(frozen=True)
class GriddingReport:
    """Result of :func:`gridding_report`; ``reason`` says it in one sentence."""

    dilations: tuple
    kernel_size: int
    strides: tuple
    effective_rates: tuple   # J_{i-1} d_i: spacing of layer i's taps on the input
    receptive_field: int     # R: the output sees an R x R window of the input
    has_holes: bool          # exact, from the footprint
    hole_fraction: float     # share of the R x R window never seen
    m: tuple                 # HDC's M_1..M_n (layer order), from the effective rates
    common_factor: int       # gcd of the effective rates
    hdc_ok: bool             # M_2 <= K (n >= 2) and no common factor > 1
    reason: str


def _gaps(counts):
    """Offsets never reached, and the largest distance between two reached offsets."""
    seen = torch.nonzero(counts).flatten().tolist()
    missing = [x for x in range(counts.numel()) if counts[x] == 0]
    return missing, max((b - a for a, b in zip(seen, seen[1:])), default=0)


def _hdc_m(rates):
    m = [0] * len(rates)
    m[-1] = rates[-1]
    for i in range(len(rates) - 2, -1, -1):
        r, nxt = rates[i], m[i + 1]
        m[i] = max(nxt - 2 * r, nxt - 2 * (nxt - r), r)
    return tuple(m)


def _reason(rates, dil, k, line, n_holes, g, m, m2_ok, hdc_ok):
    """One plain sentence: why there are holes or not, and why HDC agrees or not."""
    many = len(rates) > 1
    label = f"rates ({', '.join(map(str, rates))})" if many else f"rate {rates[0]}"
    if rates != dil:
        label = "effective " + label
    r = line.numel()
    lost = (f"{n_holes} of the {r * r} pixels of its {r}\u00d7{r} field "
            f"({100 * n_holes / (r * r):.0f}%) are never seen")
    if g > 1 and n_holes:
        head = f"{label} share the factor {g}" if many else label
        return (f"{head}: every offset the output sees is a multiple of {g} along each axis, "
                f"so {lost}")
    if n_holes:
        missing, _ = _gaps(line)
        shown = ", ".join(map(str, missing[:6])) + (", ..." if len(missing) > 6 else "")
        text = (f"{label} leave{'' if many else 's'} gaps: along each axis the offsets {shown} "
                f"of 0..{r - 1} are never reached, so {lost}")
        if hdc_ok:
            text += (f"; HDC's test passes (M_2 = {m[1]} <= K = {k}) because it assumes the "
                     f"first layer has rate 1 and fills every gap up to K, but here r_1 = "
                     f"{rates[0]}")
        return text
    text = f"{label} reach{'' if many else 'es'} every pixel of the {r}\u00d7{r} field: no holes"
    if not m2_ok:
        _, gap2 = _gaps(_footprint_1d(rates[1:], k, (1,) * (len(rates) - 1)))
        text += (f"; HDC's test fails (M_2 = {m[1]} > K = {k}) because M_2 is only an upper "
                 f"bound on the largest distance between offsets seen by layers 2..n, which "
                 f"is {gap2}" + (": they leave no gaps" if gap2 <= 1 else
                                 f", and the first layer (rate {rates[0]}) fills those gaps"))
    return text


def gridding_report(dilations, kernel_size=3, strides=1):
    """Holes (exact) and the HDC test of Wang et al. 2018 for a stack of dilated layers.

    ``dilations``: one positive int per layer, first layer first; ``kernel_size``: int ``K``;
    ``strides``: int or one per layer. A stride multiplies the spacing of every later layer, so
    the stack sees what a stride-1 stack with the *effective rates* ``J_{i-1} d_i`` sees; the
    HDC test is applied to those.
    """
    dil = _rates(dilations)
    k = check_int(kernel_size, "kernel_size", min_value=1)
    ss = _strides(strides, len(dil))
    rates = tuple(math.prod(ss[:i]) * d for i, d in enumerate(dil))  # J_{i-1} d_i
    line = _footprint_1d(rates, k, (1,) * len(rates))  # [R]
    fp = line[:, None] * line[None, :]                 # [R, R]
    r, n_holes = line.numel(), int((fp == 0).sum())
    g = math.gcd(*rates)
    m = _hdc_m(rates)
    m2_ok = len(rates) < 2 or m[1] <= k
    hdc_ok = m2_ok and g == 1
    reason = _reason(rates, dil, k, line, n_holes, g, m, m2_ok, hdc_ok)
    return GriddingReport(dil, k, ss, rates, r, n_holes > 0, n_holes / (r * r), m, g, hdc_ok,
                          reason)
