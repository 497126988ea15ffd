"""Receptive field (感受野): which input pixels one output unit of a CNN can see.

Book chapter: ``book/receptive_field.md``. Reference: A. Araujo, W. Norris, J. Sim,
"Computing Receptive Fields of Convolutional Neural Networks", Distill 2019,
doi:10.23915/distill.00021.

For a chain of layers with kernel ``k_l``, stride ``s_l``, padding ``p_l`` and dilation ``d_l``
(write ``k_l`` for the dilated extent ``d_l (k_l - 1) + 1``), the field of output unit ``u`` is
the input interval ``[u S - P, u S - P + r - 1]`` with

    r = 1 + sum_l (k_l - 1) prod_{i<l} s_i      (size; recurrence R_l = R_{l-1} + (k_l - 1) S_{l-1})
    S = prod_l s_l                              (jump, or effective stride)
    P = sum_l p_l prod_{i<l} s_i                (effective padding)

and its centre lies at ``u S - P + (r - 1) / 2``. :func:`receptive_field` follows the real
computation graph (traced with ``torch.fx``, :mod:`kernels.layer_graph`) per axis, so residual
additions, concatenated branches and functional calls are handled: the walk
(:mod:`kernels._receptive_field_walk`) applies one rule per node
(:mod:`kernels._receptive_field_rules`), both private to this module.
:func:`kernels.empirical_receptive_field` measures the exact set of pixels with autograd and is
the check on it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch.nn as nn

from ._receptive_field_walk import TooSmall, walk
from .layer_graph import parse_input_size, trace

__all__ = ["receptive_field", "ReceptiveField", "LayerField", "ReceptiveFieldWarning"]

Pair = tuple  # (h, w)


class ReceptiveFieldWarning(UserWarning):
    """The reported field needs a caveat: branches meet with misaligned field centres (the
    result is the union of their boxes), a convolution pads with real pixels, or adaptive
    pooling has uneven bins."""


@dataclass(frozen=True)
class LayerField:
    """One row of :attr:`ReceptiveField.layers`: the field after the layer ``name``.

    ``kernel``, ``layer_stride`` and ``layer_padding`` are the layer's own (dilated) window,
    stride and left/top padding, ``None`` for elementwise layers; ``output_size`` is ``None``
    once the tensor is flattened. ``stride == (0, 0)`` means every unit sees the same field.
    """
    name: str
    type: str
    output_size: Pair | None
    kernel: Pair | None
    layer_stride: Pair | None
    layer_padding: Pair | None
    size: Pair
    stride: Pair
    padding: Pair
    center: Pair


@dataclass(frozen=True)
class ReceptiveField:
    """Analytic receptive field at a model's output; ``layers`` holds the same per layer."""
    size: Pair
    stride: Pair
    padding: Pair
    center: Pair
    layers: tuple
    input_size: Pair
    output_size: Pair | None

    def box(self, position=(0, 0), clip: bool = False):
        """Inclusive input box ``((top, bottom), (left, right))`` of output unit ``position``.

        With ``clip=True`` the box is cut to the input, i.e. the pixels that exist.
        """
        out = []
        for i in range(2):
            lo = position[i] * self.stride[i] - self.padding[i]
            hi = lo + self.size[i] - 1
            if clip:
                lo, hi = max(lo, 0), min(hi, self.input_size[i] - 1)
            out.append((lo, hi))
        return tuple(out)

    def center_at(self, position=(0, 0)):
        """Centre ``(h, w)`` of output unit ``position``'s field: ``u S - P + (r - 1) / 2``."""
        return tuple(u * s - p + (r - 1) / 2
                     for u, s, p, r in zip(position, self.stride, self.padding, self.size))

    def __str__(self) -> str:
        return _table(self)

    __repr__ = __str__


def receptive_field(model: nn.Module, input_size, *, strict: bool = False) -> ReceptiveField:
    """Analytic receptive field of ``model`` for an input ``Tensor[N, C, H, W]``.

    Args:
        model: any ``nn.Module`` that ``torch.fx`` can trace; weights are never touched.
        input_size: ``H`` (square), ``(H, W)`` or ``(C, H, W)``.
        strict: raise instead of warning when branches meet with misaligned field centres.

    Returns:
        :class:`ReceptiveField` with ``size`` r, ``stride`` (jump) S, effective ``padding`` P
        and ``center`` of output unit (0, 0)'s field, each an (h, w) pair, and one
        :class:`LayerField` per traced node. BatchNorm is taken in eval mode (an affine map).

    Raises:
        TypeError: ``model`` is not a module or cannot be traced.
        ValueError: ``input_size`` is bad or too small for the model, a layer is not
            understood (it is named), or branches disagree in jump.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _, hw = parse_input_size(input_size)
    gm = trace(model)
    try:
        rows, out, notes = walk(gm, hw, strict)
    except TooSmall as e:
        raise ValueError(f"input_size {hw[0]}x{hw[1]} is too small: layer '{e}' gets an empty "
                         f"map; this model needs at least {_minimal_input(gm, hw, strict)}"
                         ) from None
    for note in notes:
        warnings.warn(note, ReceptiveFieldWarning, stacklevel=2)
    layers = tuple(_row(r) for r in rows)
    last = _row(("output", "", None, None, None, None, out))
    return ReceptiveField(last.size, last.stride, last.padding, last.center, layers, hw,
                          None if out.flat else (out.h.length, out.w.length))


def _row(r) -> LayerField:
    name, op, out_hw, k, s, p, f = r
    size, jump = (f.h.size, f.w.size), (f.h.jump, f.w.jump)
    pad = (-f.h.start, -f.w.start)
    center = tuple(a.start + (a.size - 1) / 2 for a in (f.h, f.w))
    return LayerField(name, op, out_hw, k, s, p, size, jump, pad, center)


def _minimal_input(gm, hw, strict):
    """Smallest H (and W) for which no layer gets an empty map, found by bisection."""
    def ok(h, w):
        try:
            walk(gm, (h, w), strict)
            return True
        except ValueError:  # TooSmall, or branches whose lengths differ at this size
            return False

    big = 1 << 20
    h_lo, w_lo = _bisect(lambda n: ok(n, big)), _bisect(lambda n: ok(big, n))
    return f"{h_lo}x{w_lo}"


def _bisect(ok):
    lo, hi = 1, 1 << 20  # ok(hi) holds: no real model shrinks a 1M-pixel axis to nothing
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return lo


def _fmt(pair) -> str:
    if pair is None:
        return "-"
    a, b = (f"{v:g}" if isinstance(v, float) else str(v) for v in pair)
    return a if a == b else f"{a}x{b}"


def _table(rf: ReceptiveField) -> str:
    head = ("layer", "type", "out", "k", "s", "p", "r", "S", "P", "centre")
    rows = [(l.name, l.type, _fmt(l.output_size), _fmt(l.kernel), _fmt(l.layer_stride),
             _fmt(l.layer_padding), _fmt(l.size), _fmt(l.stride), _fmt(l.padding),
             _fmt(l.center)) for l in rf.layers]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    out = [f"ReceptiveField(size={_fmt(rf.size)}, stride={_fmt(rf.stride)}, "
           f"padding={_fmt(rf.padding)}, center={_fmt(rf.center)}, "
           f"input={_fmt(rf.input_size)}, output={_fmt(rf.output_size)})",
           line(head), line(["-" * w for w in widths])]
    return "\n".join(out + [line(r) for r in rows])
