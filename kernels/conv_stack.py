"""A stack of plain convolutions: the toy network of the receptive-field chapter.

``conv_stack(n, k)`` is n ``Conv2d`` layers in a row, each with the same (or its own) kernel
size, stride, dilation and padding, and a ReLU after each conv if asked. Its field is known in
closed form, ``r = 1 + sum_l d_l (k_l - 1) prod_{i<l} s_i``, which makes it the test bed for
:func:`kernels.receptive_field`, the exact field from autograd and the effective field
(Luo et al., NeurIPS 2016, arXiv:1701.04128). Chapter: ``book/receptive_field.md``.
"""
from __future__ import annotations

import torch.nn as nn

from ._checks import as_pair, check_int

__all__ = ["conv_stack"]


def conv_stack(layers: int, kernel_size=3, stride=1, dilation=1, padding=0, channels: int = 1,
               relu: bool = False, bias: bool = False) -> nn.Sequential:
    """``layers`` Conv2d layers in a row, for experiments with receptive fields.

    ``kernel_size``, ``stride``, ``dilation`` and ``padding`` are each an int or an (h, w) tuple
    for every layer, or a list with one of those per layer. With ``relu`` a ReLU follows each
    conv. ``Tensor[N, channels, H, W] -> Tensor[N, channels, H', W']``.
    """
    layers = check_int(layers, "layers", min_value=1)
    channels = check_int(channels, "channels", min_value=1)

    def per_layer(v, name, min_value):
        vs = list(v) if isinstance(v, list) else [v] * layers
        if len(vs) != layers:
            raise ValueError(f"{name} must be an int, a pair, or a list of {layers} of them, "
                             f"got {v!r}")
        return [as_pair(x, f"{name}[{i}]", min_value=min_value) for i, x in enumerate(vs)]

    ks, ss = per_layer(kernel_size, "kernel_size", 1), per_layer(stride, "stride", 1)
    ds, ps = per_layer(dilation, "dilation", 1), per_layer(padding, "padding", 0)
    mods = []
    for k, s, d, p in zip(ks, ss, ds, ps):
        mods.append(nn.Conv2d(channels, channels, k, s, p, d, bias=bias))
        if relu:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)
