"""How one layer, or one join of branches, changes a receptive field: the rules behind
:func:`kernels.receptive_field`, used by its graph walk (:mod:`kernels._receptive_field_walk`)
only. Book chapter ``book/receptive_field.md``; reference: Araujo, Norris, Sim, "Computing
Receptive Fields of Convolutional Neural Networks", Distill 2019.

Along one spatial axis every feature map carries four integers (Araujo et al. 2019):

* ``size``  r: how many input pixels the bounding box of one unit's field spans;
* ``jump``  S: how far (in input pixels) the fields of neighbouring units lie apart;
  0 means every unit sees the same field (after global pooling, flatten or a broadcast);
* ``start`` -P: the first input pixel of unit 0's field (P is the effective padding);
* ``length`` n: how many units the map has.

A window of extent ``k = d(k0 - 1) + 1`` (kernel ``k0``, dilation ``d``), stride ``s`` and left
padding ``p`` maps ``(r, S, -P)`` to ``(r + (k - 1) S,  s S,  -P - p S)``. Where branches meet
(add, mul, cat) the fields are united; that is one affine family only if they share the jump.

Each rule returns the new :class:`Field` and the layer's own ``(kernel, stride, padding)``.
A map may come out empty (``length < 1``); the walk reports that as an input too small.
Rules never warn themselves: where the result needs a caveat they append a message to
``notes``, and :func:`kernels.receptive_field` turns each into a ``ReceptiveFieldWarning`` at
its caller's line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn as nn

from .layer_graph import ELEMENTWISE, pair, window_length

__all__ = ["Axis", "Field", "NONE3", "unsupported", "module", "window", "adaptive", "pad",
           "upsample", "linear", "union"]


@dataclass(frozen=True)
class Axis:
    size: int
    jump: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.size - 1

    def window(self, k: int, s: int, p: int, length: int) -> "Axis":
        # R_l = R_{l-1} + (k_l - 1) S_{l-1};  S_l = s_l S_{l-1};  P_l = P_{l-1} + p_l S_{l-1}
        return Axis(self.size + (k - 1) * self.jump, self.jump * s, self.start - p * self.jump,
                    length)

    def whole(self) -> "Axis":
        # one unit that reads all n units: its box runs from unit 0's start to unit n-1's end
        return Axis((self.length - 1) * self.jump + self.size, 0, self.start, 1)


@dataclass(frozen=True)
class Field:
    h: Axis
    w: Axis
    flat: bool = False  # Tensor[N, F] after flatten: no spatial axes left

    def whole(self, flat: bool) -> "Field":
        return Field(self.h.whole(), self.w.whole(), flat)


SUPPORTED = ("Conv2d, MaxPool2d, AvgPool2d, Adaptive{Avg,Max}Pool2d, ZeroPad2d, Flatten, Linear, "
             "add/mul/cat, upsampling of a 1x1 map, and elementwise layers (BatchNorm2d, "
             "activations, Dropout)")
NONE3 = (None, None, None)  # (kernel, stride, padding) of a layer without a window


def unsupported(name, what, why=""):
    return ValueError(f"receptive_field cannot reason about layer '{name}' ({what}){why}; "
                      f"supported: {SUPPORTED}")


def module(m, f, name, notes):
    """Field after module ``m`` and its own (kernel, stride, padding)."""
    if isinstance(m, ELEMENTWISE):
        return f, NONE3
    if isinstance(m, nn.Conv2d):
        if m.padding_mode != "zeros" and m.padding not in ((0, 0), "valid"):
            notes.append(f"layer '{name}' pads with '{m.padding_mode}': near the border its "
                         "padding repeats real pixels, so border units see more than the box "
                         "cut to the input")
        return window(f, name, m.kernel_size, m.stride, m.padding, m.dilation)
    if isinstance(m, nn.MaxPool2d):
        return window(f, name, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    if isinstance(m, nn.AvgPool2d):
        return window(f, name, m.kernel_size, m.stride, m.padding, 1, m.ceil_mode)
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return adaptive(f, m.output_size, name, notes)
    if isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d)):
        return pad(f, m.padding, name)
    if isinstance(m, nn.Flatten):
        if m.start_dim in (0, 1) or f.flat:
            return f.whole(flat=True), NONE3
        raise unsupported(name, "Flatten", f" with start_dim={m.start_dim}")
    if isinstance(m, nn.Linear):
        return linear(f), NONE3
    if isinstance(m, nn.Upsample):
        return upsample(f, m.size, m.scale_factor, name)
    why = ""
    if isinstance(m, (nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)):
        why = ": its statistics pool over the whole map"
    raise unsupported(name, type(m).__name__, why)


def window(f, name, k, s, p, d, ceil_mode=False):
    """Convolution or pooling window: kernel ``k``, stride ``s``, padding ``p``, dilation ``d``."""
    if f.flat:
        raise unsupported(name, "a window", " on a flattened tensor")
    k, s, d = pair(k), pair(s if s is not None else k), pair(d)
    keff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
    if p == "valid":
        p = (0, 0)
    if p == "same":  # torch puts the odd pixel of padding on the right
        pl = tuple((ke - 1) // 2 for ke in keff)
        pr = tuple(ke - 1 - l for ke, l in zip(keff, pl))
    else:
        pl = pr = pair(p)
    axes = []
    for i, a in enumerate((f.h, f.w)):
        n = window_length(a.length, keff[i], s[i], pl[i], pr[i], ceil_mode)  # torch's rule
        axes.append(a.window(keff[i], s[i], pl[i], n))
    return Field(*axes), (keff, s, pl)


def adaptive(f, output_size, name, notes):
    """Adaptive pooling to ``output_size``: exact when the bins are equal, else unit 0 only."""
    axes, ks = [], []
    for o, a in zip(pair(output_size), (f.h, f.w)):
        o = a.length if o is None else o
        if o == 1:
            axes.append(a.whole())
            ks.append(a.length)
        elif a.length % o == 0:  # equal bins: exactly a pool with k = s = n / o
            k = a.length // o
            axes.append(a.window(k, k, 0, o))
            ks.append(k)
        else:
            k = math.ceil(a.length / o)  # bin 0 is [0, ceil(n/o)); later bins drift
            notes.append(f"layer '{name}': adaptive pooling {a.length} -> {o} has uneven bins; "
                         f"the field of unit 0 is exact (k={k}) but the jump is not constant")
            axes.append(a.window(k, a.length // o, 0, o))
            ks.append(k)
    return Field(*axes), (tuple(ks), None, None)


def pad(f, padding, name):
    """Explicit padding ``(left, right, top, bottom)``: shifts unit 0's field, grows the map."""
    padding = pair(padding) * 2 if isinstance(padding, int) else tuple(padding)
    if len(padding) != 4:
        raise unsupported(name, f"pad {padding}", ": only (left, right, top, bottom) of H, W")
    l, r, t, b = padding
    h = Axis(f.h.size, f.h.jump, f.h.start - t * f.h.jump, f.h.length + t + b)
    w = Axis(f.w.size, f.w.jump, f.w.start - l * f.w.jump, f.w.length + l + r)
    return Field(h, w), (None, None, (t, l))


def upsample(f, size, scale, name):
    """Only the broadcast case (ASPP's image pooling): a 1x1 map stretched to H x W."""
    if f.flat or (f.h.length, f.w.length) != (1, 1):
        raise unsupported(name, "interpolate", ": upsampling a map larger than 1x1 spreads one "
                          "unit over several (a fractional stride)")
    n = pair(size) if size is not None else tuple(int(math.floor(v)) for v in pair(scale))
    if not all(isinstance(k, int) for k in n):
        raise unsupported(name, "interpolate", f" to a size it cannot tell ({n})")
    h, w = (Axis(a.size, 0, a.start, k) for a, k in zip((f.h, f.w), n))
    return Field(h, w), NONE3


def linear(f):
    # on Tensor[N, F] it mixes everything; on Tensor[N, C, H, W] it mixes along W
    return f if f.flat else Field(f.h, f.w.whole())


def union(fields, name, strict, hw, notes):
    """Field of an elementwise combination (add, mul, cat) of ``fields``, with broadcasting,
    for an input of spatial size ``hw``; misaligned centres raise if ``strict``, else a note."""
    if any(f.flat for f in fields) and not all(f.flat for f in fields):
        raise unsupported(name, "a flat and a spatial tensor combined")
    return Field(_union_axis([f.h for f in fields], name, strict, "h", hw[0], notes),
                 _union_axis([f.w for f in fields], name, strict, "w", hw[1], notes),
                 fields[0].flat)


def _union_axis(axes, name, strict, which, extent, notes):
    n = max(a.length for a in axes)
    if any(a.length not in (1, n) for a in axes):
        raise ValueError(f"branches meeting at '{name}' have {which}-lengths "
                         f"{sorted({a.length for a in axes})}; they cannot be combined")
    moving = [a for a in axes if a.length > 1 and a.jump > 0]
    fixed = [a for a in axes if not (a.length > 1 and a.jump > 0)]
    if not moving:  # every operand shows one field to every unit (or the map has one unit)
        jumps = {a.jump for a in axes}
        start, end = min(a.start for a in axes), max(a.end for a in axes)
        return Axis(end - start + 1, jumps.pop() if len(jumps) == 1 else 0, start, n)
    jumps = sorted({a.jump for a in moving})
    if len(jumps) > 1:
        raise ValueError(f"branches meeting at '{name}' disagree in jump (effective stride) "
                         f"along {which}: {jumps}; no single receptive field describes the result")
    start, end = min(a.start for a in moving), max(a.end for a in moving)
    centres = sorted({(a.start + a.end) / 2 for a in moving})
    if len(centres) > 1:
        msg = (f"branches meeting at '{name}' have misaligned field centres along {which}: "
               f"{centres} for output unit 0")
        if strict:
            raise ValueError(msg)
        notes.append(msg + "; reporting the union of their boxes")
    moved = Axis(end - start + 1, jumps[0], start, n)
    if not fixed:
        return moved
    fs, fe = min(a.start for a in fixed), max(a.end for a in fixed)
    last = moved.end + (n - 1) * moved.jump  # end of the last unit's field
    if (fs <= moved.start and fe >= last) or (fs <= 0 and fe >= extent - 1):
        # the broadcast field covers every unit's own field, or at least every real pixel:
        # each unit sees the same pixels, all of them
        start, end = min(fs, moved.start), max(fe, last)
        return Axis(end - start + 1, 0, start, n)
    raise ValueError(f"at '{name}' a broadcast operand's field does not cover the other "
                     f"operand's fields along {which}; no single receptive field describes it")
