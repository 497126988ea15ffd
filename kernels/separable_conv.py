"""Depthwise-separable convolution (深度可分离卷积): filter each channel, then mix channels.

Chapter: ``book/group_separable_convolution.md``.

A standard ``k x k`` convolution from ``C_in`` to ``C_out`` channels filters space and mixes
channels at once, with ``C_out C_in k^2`` weights. The depthwise-separable convolution of
Chollet ("Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
arXiv:1610.02357) and Howard et al. ("MobileNets", arXiv:1704.04861) does one then the other:

1. **depthwise**: a grouped convolution with ``groups = C_in``; each input channel ``i`` gets
   its own ``M`` filters (``M`` = *depth multiplier*), giving ``C_in M`` channels, of which
   ``i M + m`` (``m < M``) come from channel ``i``: weight ``D: Tensor[C_in M, 1, k, k]``;
2. **pointwise**: a ``1 x 1`` convolution mixing the ``C_in M`` channels into ``C_out``:
   weight ``P: Tensor[C_out, C_in M, 1, 1]`` (plus the layer's bias, if any).

Both steps are linear, so their composition is one ordinary convolution, with weight

    W[o, i] = sum_{m < M} P[o, i M + m] * D[i M + m]        (a k x k filter)

(:func:`separable_to_full_weight`). For each input channel ``i`` the ``[C_out, k^2]`` matrix
``W[:, i]`` is a product ``[C_out, M] @ [M, k^2]``: its rank is at most ``M``. "Separable"
means exactly this: a full convolution whose weight is constrained to that low-rank structure.
The price falls from ``C_out C_in k^2`` to ``C_in (k^2 M + M C_out)`` weights: for a 3x3 layer
from 128 to 256 channels, 294,912 against 128 (9·4 + 4·256) = 135,680 with ``M = 4`` (46 %),
and 128 (9 + 256) = 33,920 with ``M = 1`` (11.5 %).

Both steps run on :func:`kernels.conv2d`; stride, padding and dilation belong to the depthwise
step (the pointwise one is ``1 x 1``, stride 1), as in Keras's ``SeparableConv2D``.
"""
from __future__ import annotations

import torch
from torch import nn

from ._checks import check_int, check_same_device_dtype, check_tensor
from .conv import Conv2d, conv2d

__all__ = ["separable_conv2d", "SeparableConv2d", "separable_to_full_weight"]


def _check_weights(depthwise_weight, pointwise_weight):
    """The weights' shapes agree: ``D: [C_in M, 1, k_h, k_w]``, ``P: [C_out, C_in M, 1, 1]``."""
    check_tensor(depthwise_weight, "depthwise_weight", ndim=4, floating=True)
    check_tensor(pointwise_weight, "pointwise_weight", ndim=4, floating=True)
    check_same_device_dtype(depthwise_weight, "depthwise_weight", pointwise_weight,
                            "pointwise_weight")
    if depthwise_weight.shape[1] != 1:
        raise ValueError(f"depthwise_weight must be Tensor[C_in * M, 1, k_h, k_w] (one input "
                         f"channel per filter), got shape {tuple(depthwise_weight.shape)}")
    if (pointwise_weight.shape[1] != depthwise_weight.shape[0]
            or tuple(pointwise_weight.shape[2:]) != (1, 1)):
        raise ValueError(f"pointwise_weight must be Tensor[C_out, C_in * M, 1, 1] with C_in * M "
                         f"= depthwise_weight.shape[0] = {depthwise_weight.shape[0]}, got shape "
                         f"{tuple(pointwise_weight.shape)}")


def separable_conv2d(input, depthwise_weight, pointwise_weight, bias=None, stride=1, padding=0,
                     dilation=1):
    """Depthwise convolution (``groups = C_in``, no bias), then a ``1 x 1`` pointwise one.

    Args:
        input: ``Tensor[N, C_in, H, W]`` (or unbatched ``Tensor[C_in, H, W]``).
        depthwise_weight: ``Tensor[C_in M, 1, k_h, k_w]``; filters ``i M .. i M + M - 1``
            read input channel ``i``.
        pointwise_weight: ``Tensor[C_out, C_in M, 1, 1]``.
        bias: optional ``Tensor[C_out]``, added by the pointwise step.
        stride, padding, dilation: as :func:`kernels.conv2d`, for the depthwise step.

    Returns:
        ``Tensor[N, C_out, H_out, W_out]``, ``H_out`` as for a ``k_h x k_w`` convolution.
    """
    _check_weights(depthwise_weight, pointwise_weight)
    check_tensor(input, "input", ndim=(3, 4), floating=True)
    c_in = input.shape[-3]
    if c_in == 0 or depthwise_weight.shape[0] % c_in:
        raise ValueError(f"depthwise_weight.shape[0] = {depthwise_weight.shape[0]} must be a "
                         f"multiple C_in * M of the input channels input.shape[-3] = {c_in}")
    mid = conv2d(input, depthwise_weight, None, stride, padding, dilation, groups=c_in)
    return conv2d(mid, pointwise_weight, bias)  # [N, C_out, H_out, W_out]


def separable_to_full_weight(depthwise_weight, pointwise_weight, in_channels):
    """The weight of the one ordinary convolution equal to the separable one.

    ``in_channels`` is needed because ``Tensor[C_in M, 1, k, k]`` alone does not tell ``C_in``
    from the depth multiplier ``M``.

    Args:
        depthwise_weight: ``Tensor[C_in M, 1, k_h, k_w]``.
        pointwise_weight: ``Tensor[C_out, C_in M, 1, 1]``.
        in_channels: ``C_in``, a positive int dividing ``depthwise_weight.shape[0]``.

    Returns:
        ``Tensor[C_out, C_in, k_h, k_w]`` with ``W[o, i] = sum_m P[o, i M + m] D[i M + m]``;
        ``F.conv2d(x, W, bias, stride, padding, dilation)`` equals :func:`separable_conv2d`.
    """
    _check_weights(depthwise_weight, pointwise_weight)
    in_channels = check_int(in_channels, "in_channels", min_value=1)
    cm, _, kh, kw = depthwise_weight.shape
    if cm % in_channels:
        raise ValueError(f"in_channels={in_channels} must divide depthwise_weight.shape[0]={cm} "
                         f"(= C_in * depth multiplier)")
    m = cm // in_channels
    c_out = pointwise_weight.shape[0]
    d = depthwise_weight.reshape(in_channels, m, kh, kw)  # [C_in, M, k_h, k_w]: filter i M + m
    p = pointwise_weight.reshape(c_out, in_channels, m)   # [C_out, C_in, M]: column i M + m
    return torch.einsum("oim,imhw->oihw", p, d)           # [C_out, C_in, k_h, k_w]


class SeparableConv2d(nn.Module):
    """Depthwise ``k x k`` convolution with ``depth_multiplier`` filters per input channel, then
    a pointwise ``1 x 1`` convolution to ``out_channels``; both are :class:`kernels.Conv2d`
    layers (torch's initialisation), kept as ``self.depthwise`` and ``self.pointwise``.

    Parameters: ``C_in M k_h k_w`` (depthwise) ``+ C_in M C_out`` (pointwise) ``+ C_out`` (bias).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 depth_multiplier=1, bias=True, device=None, dtype=None):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", min_value=1)
        out_channels = check_int(out_channels, "out_channels", min_value=1)
        depth_multiplier = check_int(depth_multiplier, "depth_multiplier", min_value=1)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.depth_multiplier = depth_multiplier
        kw = {"device": device, "dtype": dtype}
        # Conv2d checks kernel_size, stride, padding, dilation and bias, naming each.
        self.depthwise = Conv2d(in_channels, in_channels * depth_multiplier, kernel_size, stride,
                                padding, dilation, groups=in_channels, bias=False, **kw)
        self.pointwise = Conv2d(in_channels * depth_multiplier, out_channels, 1, bias=bias, **kw)

    def forward(self, input):
        dw = self.depthwise
        return separable_conv2d(input, dw.weight, self.pointwise.weight, self.pointwise.bias,
                                dw.stride, dw.padding, dw.dilation)

    def full_weight(self):
        """``Tensor[C_out, C_in, k_h, k_w]``: this layer as one ordinary convolution's weight."""
        return separable_to_full_weight(self.depthwise.weight, self.pointwise.weight,
                                        self.in_channels)

    def extra_repr(self):
        return f"depth_multiplier={self.depth_multiplier}"
