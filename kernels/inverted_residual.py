"""The inverted residual block with a linear bottleneck (倒残差 + 线性瓶颈): MobileNet v2's unit.

Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
CVPR 2018, arXiv:1801.04381, Table 1. Chapter: ``book/mobilenet.md``.

A ResNet bottleneck squeezes wide tensors into a narrow 3x3 stage and widens them again; the
inverted residual does the opposite. Its input and output are the *narrow* tensors (the
bottlenecks, ``k`` and ``k'`` channels) and the block widens in between, by the expansion ratio
``t``:

    1x1 conv  k -> t k,  BN, ReLU6          expansion (omitted when t = 1)
    3x3 depthwise conv, stride s, BN, ReLU6 filtering, one filter per channel
    1x1 conv  t k -> k', BN                 linear projection: no activation
    + x  when s = 1 and k = k'              the shortcut joins the bottlenecks

The projection has no ReLU because a ReLU on a low-dimensional tensor destroys information
(the paper's Figure 1, :mod:`kernels.relu_manifold`); in the wide, expanded space a ReLU keeps
almost all of it. ReLU6, ``min(max(x, 0), 6)``, came from MobileNet v1, for its robustness
under low-precision arithmetic. Per output pixel (stride 1) the block costs
``t k (k + 9 + k')`` multiply-adds; the wide tensor never needs to exist whole, since each of
its channels can be made, filtered and projected in turn (the paper's Section 5.1,
:func:`kernels.peak_activation_memory`).

Module and parameter names are torchvision's (``torchvision/models/mobilenetv2.py``): the
layers live in ``self.conv``, an ``nn.Sequential`` of ``[Conv2dNormActivation (expansion),
Conv2dNormActivation (depthwise), Conv2d (projection), BatchNorm2d]`` (without the first one
when ``t = 1``), so torchvision's state dict keys (``conv.0.0.weight`` ... ``conv.3.bias``)
load unchanged.
"""
from __future__ import annotations

import numbers

from torch import nn

from ._checks import check_int
from .conv_norm_activation import Conv2dNormActivation

__all__ = ["InvertedResidual"]


class InvertedResidual(nn.Module):
    """Expand (1x1), filter (3x3 depthwise), project linearly (1x1), add the input if shapes allow.

    ``Tensor[N, inp, H, W] -> Tensor[N, oup, H', W']`` with ``H' = ceil(H / stride)``.

    Args:
        inp, oup: channels of the input and output bottlenecks.
        stride: 1 or 2, the depthwise conv's stride.
        expand_ratio: ``t``; the wide tensor has ``round(inp * t)`` channels. ``t = 1`` drops
            the expansion conv (MobileNet v2's first block).
        norm_layer: called as ``norm_layer(channels)``; ``None`` means ``nn.BatchNorm2d``.

    ``use_res_connect`` is True exactly when ``stride == 1 and inp == oup``.
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio, norm_layer=None):
        super().__init__()
        inp = check_int(inp, "inp", min_value=1)
        oup = check_int(oup, "oup", min_value=1)
        if check_int(stride, "stride") not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if (isinstance(expand_ratio, bool) or not isinstance(expand_ratio, numbers.Real)
                or not expand_ratio >= 1):
            raise ValueError(f"expand_ratio must be a number >= 1, got {expand_ratio!r}")
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup

        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, 1, norm_layer=norm_layer,
                                               activation_layer=nn.ReLU6))
        layers += [
            Conv2dNormActivation(hidden_dim, hidden_dim, 3, stride, groups=hidden_dim,
                                 norm_layer=norm_layer, activation_layer=nn.ReLU6),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),  # linear: no activation after
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)
