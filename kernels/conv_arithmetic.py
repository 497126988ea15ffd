"""Convolution arithmetic: how big a convolution's output is, and how wide its kernel reaches.

Chapters: ``book/intro.md`` (the formula and its Explorer), ``book/dilated_convolution.md``
(dilation, the effective kernel, "same" padding at rate ``d``).

Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016,
arXiv:1603.07285), work out the output size of a convolution one axis at a time; the axes are
independent, so a 2-D layer is two 1-D problems. Along one axis, take an input of size ``i``,
zero padding ``p`` at both ends, ``k`` kernel taps spaced ``d`` apart (dilation; ``d = 1`` is an
ordinary convolution) and stride ``s``. The taps cover

    k_eff = d (k - 1) + 1                       (the effective kernel size)

pixels: ``k`` taps with ``d - 1`` skipped pixels between neighbours. The kernel's first tap
steps along the padded input, of size ``i + 2p``, in strides of ``s``, and must keep its last tap
inside; the number of positions is the output size

    o = floor((i + 2p - d (k - 1) - 1) / s) + 1 = floor((i + 2p - k_eff) / s) + 1

(their relationship for dilated convolutions; ``d = 1`` gives the one for any padding
and stride). The floor ignores trailing pixels that no further whole step reaches, so
several input sizes share one output size when ``s > 1``. Special cases worth knowing:

* ``p = 0, s = 1``: ``o = i - k_eff + 1`` ("valid"); each layer trims ``k_eff - 1`` pixels.
* odd ``k``, ``s = 1``, ``p = d (k - 1) / 2``: ``o = i`` ("same"), e.g. ``k = 3, p = d``.
* ``p = k_eff - 1, s = 1``: ``o = i + k_eff - 1`` ("full"): every overlap of kernel and input.

When ``i + 2p < k_eff`` no position fits: PyTorch's convolutions refuse such a layer, and so do
these functions. Dilation adds no parameters (still ``k`` taps per axis), only reach.

Arguments are ints or ``(h, w)`` pairs, as torch's layers take them; results follow suit.
"""
from __future__ import annotations

import torch

from ._checks import as_pair

__all__ = ["conv_output_size", "effective_kernel_size"]


def _pair_or_int(value, name, min_value):
    """Return (pair, was_pair): ints stay ints in results, pairs stay pairs."""
    return as_pair(value, name, min_value=min_value), isinstance(value, (tuple, list, torch.Size))


def effective_kernel_size(kernel_size, dilation):
    """Span ``d (k - 1) + 1`` of a kernel with ``k`` taps spaced ``d`` apart.

    ``kernel_size`` and ``dilation`` are ints or ``(h, w)`` pairs; the result is an int when
    both are ints, else a pair. Example: ``effective_kernel_size(3, 2) == 5``.
    """
    (kh, kw), p1 = _pair_or_int(kernel_size, "kernel_size", 1)
    (dh, dw), p2 = _pair_or_int(dilation, "dilation", 1)
    out = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    return out if (p1 or p2) else out[0]


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output size ``floor((i + 2p - d (k - 1) - 1) / s) + 1`` of a convolution.

    Every argument is an int or an ``(h, w)`` pair; the result is an int when all are ints,
    else a pair. Raises ``ValueError``, as ``torch.nn.functional.conv2d`` does, when the
    (effective) kernel does not fit in the padded input or the input is empty (size 0).
    """
    # size >= 1: torch refuses an empty spatial input even when padding would leave room.
    args = [("size", size, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
            ("padding", padding, 0), ("dilation", dilation, 1)]
    pairs, any_pair = {}, False
    for name, value, lo in args:
        pairs[name], was_pair = _pair_or_int(value, name, lo)
        any_pair |= was_pair
    out = []
    for ax in range(2):
        i, k, s, p, d = (pairs[n][ax] for n, _, _ in args)
        span = d * (k - 1) + 1
        if i + 2 * p < span:
            raise ValueError(f"kernel_size: effective kernel size {span} (= d(k-1)+1 with k={k}, "
                             f"d={d}) is larger than the padded input size {i + 2 * p}")
        out.append((i + 2 * p - span) // s + 1)
    return tuple(out) if any_pair else out[0]
