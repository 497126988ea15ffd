"""Independent references for the receptive-field tests, written from the formulas and torch's
documentation, not from ``kernels/``; plus the random conv/pool stacks the property tests draw.

* :func:`window_length_ref`: the output length that ``nn.MaxPool2d`` / ``nn.AvgPool2d`` /
  ``nn.Conv2d`` document, ``floor`` or ``ceil`` of ``(n + 2p - d (k - 1) - 1) / s`` plus one, in
  exact rational arithmetic, minus the last window if it would start in the right padding
  (the note under ``nn.MaxPool2d``: "sliding windows that would start in the right padded
  region are ignored");
* :func:`chain_closed_form`: ``r``, ``S``, ``P`` of a chain by the closed forms of Araujo et al.;
* :func:`chain_counts_1d`: the number of paths from each input index to one output unit along
  one axis, by walking every tap of every window backwards (taps on padding reach no pixel).

Separable windows make the 2-D path counts the product of the two axes' counts.
"""
from __future__ import annotations

import math
from fractions import Fraction

import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import strategies as st


def window_length_ref(n, k, s, p, d, ceil_mode):
    x = Fraction(n + 2 * p - d * (k - 1) - 1, s)
    out = (math.ceil(x) if ceil_mode else math.floor(x)) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def chain_closed_form(layers):
    """r = 1 + sum_l (k_l - 1) prod_{i<l} s_i, S = prod_l s_l, P = sum_l p_l prod_{i<l} s_i,
    with k_l the dilated extent d (k - 1) + 1; ``layers`` are (k, s, p, d, ...) along one axis."""
    keff = [layer[3] * (layer[0] - 1) + 1 for layer in layers]
    s = [layer[1] for layer in layers]
    r = 1 + sum((keff[l] - 1) * math.prod(s[:l]) for l in range(len(layers)))
    P = sum(layers[l][2] * math.prod(s[:l]) for l in range(len(layers)))
    return r, math.prod(s), P


def chain_lengths(layers, n):
    """Map lengths along one axis after each layer of (k, s, p, d, ceil_mode)."""
    lens = [n]
    for k, s, p, d, ceil in layers:
        lens.append(window_length_ref(lens[-1], k, s, p, d, ceil))
    return lens


def chain_counts_1d(layers, n, u):
    """Number of paths from each input index to output unit ``u``: ``Tensor[n]`` (float64)."""
    lens = chain_lengths(layers, n)
    counts = {u: 1}
    for (k, s, p, d, _), n_in in zip(reversed(layers), reversed(lens[:-1])):
        nxt = {}
        for j, c in counts.items():
            for t in range(k):
                i = j * s - p + t * d
                if 0 <= i < n_in:  # taps on padding reach no pixel
                    nxt[i] = nxt.get(i, 0) + c
        counts = nxt
    out = torch.zeros(n, dtype=torch.float64)
    for i, c in counts.items():
        out[i] = c
    return out


def bbox(mask):
    """Inclusive ``((top, bottom), (left, right))`` of the nonzero entries of ``Tensor[H, W]``."""
    nz = (mask > 0).nonzero()
    return ((nz[:, 0].min().item(), nz[:, 0].max().item()),
            (nz[:, 1].min().item(), nz[:, 1].max().item()))


# ------------------------------------------------------------------------ random conv/pool stacks
def _axis(kind):
    """(k, s, p, d) along one axis; torch refuses pool padding beyond half the kernel."""
    k_max, d_max = (4, 3) if kind == "conv" else (3, 2 if kind == "max" else 1)
    return st.integers(1, k_max).flatmap(lambda k: st.tuples(
        st.just(k), st.integers(1, 3), st.integers(0, 2 if kind == "conv" else k // 2),
        st.integers(1, d_max)))


layer_st = st.sampled_from(["conv", "max", "avg"]).flatmap(lambda kind: st.tuples(
    st.just(kind), st.just(False) if kind == "conv" else st.booleans(), _axis(kind), _axis(kind)))
stack_st = st.lists(layer_st, min_size=1, max_size=4)


def axis_layers(spec, axis):
    """The chain along ``axis`` (0 = h, 1 = w) as (k, s, p, d, ceil_mode) per layer."""
    return [(*geo[axis], ceil) for _, ceil, *geo in spec]


class FunctionalStack(nn.Module):
    """The same stack written with ``F.conv2d`` / ``F.max_pool2d`` / ``F.avg_pool2d`` calls."""

    def __init__(self, spec, channels):
        super().__init__()
        self.spec = spec
        for i, (kind, _, h, w) in enumerate(spec):
            if kind == "conv":
                setattr(self, f"w{i}", nn.Parameter(torch.randn(channels, channels, h[0], w[0])))

    def forward(self, x):
        for i, (kind, ceil, h, w) in enumerate(self.spec):
            (kh, sh, ph, dh), (kw, sw, pw, dw) = h, w
            if kind == "conv":
                x = F.conv2d(x, getattr(self, f"w{i}"), None, (sh, sw), (ph, pw), (dh, dw))
            elif kind == "max":
                x = F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil)
            else:
                x = F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil)
        return x


def build(spec, channels=2, functional=False):
    """``nn.Sequential`` of Conv2d / MaxPool2d / AvgPool2d for ``spec`` (or the functional twin)."""
    if functional:
        return FunctionalStack(spec, channels)
    mods = []
    for kind, ceil, h, w in spec:
        (kh, sh, ph, dh), (kw, sw, pw, dw) = h, w
        if kind == "conv":
            mods.append(nn.Conv2d(channels, channels, (kh, kw), (sh, sw), (ph, pw), (dh, dw)))
        elif kind == "max":
            mods.append(nn.MaxPool2d((kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode=ceil))
        else:
            mods.append(nn.AvgPool2d((kh, kw), (sh, sw), (ph, pw), ceil_mode=ceil))
    return nn.Sequential(*mods)
