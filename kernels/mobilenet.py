"""MobileNet v1 and v2 (轻量化网络), whole networks: features, global average pool, classifier.

Chapter: ``book/mobilenet.md``.

* **v1** -- Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
  Vision Applications", arXiv:1704.04861, Table 1: a 3x3 conv (stride 2) and 13
  depthwise-separable blocks (3x3 depthwise, BN, ReLU; 1x1 pointwise, BN, ReLU), global average
  pool, fully connected layer. The features are :func:`kernels.mobilenet_v1_features`. Table 1
  prints the 13th depthwise layer as ``Conv dw / s2`` on a 7x7 input: it runs at stride 1 (the
  output stays 7x7; the reference implementations, TF-slim's ``mobilenet_v1.py`` and Keras's
  ``MobileNet``, use stride 1), and only stride 1 gives the paper's 569 M multiply-adds (stride
  2 would give 533.8 M). Widths ``alpha`` in {0.25, 0.5, 0.75, 1} scale every channel count
  to an integer, so no rounding enters Table 6's counts.
* **v2** -- Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
  arXiv:1801.04381, Table 2: a 3x3 conv (32 channels, stride 2), 17 inverted residual blocks
  (:class:`kernels.InvertedResidual`) in 7 stages ``(t, c, n, s)``, a 1x1 conv to 1280, global
  average pool, dropout and a fully connected layer. Module structure, parameter names and
  initialisation are torchvision's (``torchvision/models/mobilenetv2.py``), so torchvision's
  ``mobilenet_v2`` state dict loads into it: 3,504,872 parameters at width 1. Channels are
  ``make_divisible(c * width_mult, 8)`` (the nearest multiple of 8, never more than 10 % below),
  and the last conv keeps at least 1280 channels for widths below 1, as in the paper.

Both use ReLU6, ``min(max(x, 0), 6)``: v1's paper draws plain ReLUs (its Figure 3), its
reference implementation (TF-slim) uses ReLU6, and v2's paper gives the reason, robustness in
low-precision arithmetic. v1's features are built with ReLU (the receptive-field chapter's
copy) and get ReLU6 here; neither changes a count. Both have an output stride of 32: a
224 x 224 image ends as a 7 x 7 map.
Their inputs must be at least 32 x 32 (checked when the network runs, which includes
:func:`kernels.model_cost` and :func:`kernels.peak_activation_memory`): smaller inputs would
still give a 1 x 1 map (padding 1 turns every stride-2 layer into ``ceil(H / 2)``), but one
whose single unit sees mostly padding.
"""
from __future__ import annotations

import numbers

import torch
from torch import nn

from ._checks import check_int
from .classic_networks import mobilenet_v1_features
from .conv_norm_activation import Conv2dNormActivation
from .inverted_residual import InvertedResidual

__all__ = ["mobilenet_v1", "mobilenet_v2", "MobileNetV1", "MobileNetV2", "make_divisible"]

OUTPUT_STRIDE = 32


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), one step up if rounding lost more than 10 %: torchvision's and TF-slim's
    ``_make_divisible``. ``make_divisible(32 * 0.35) = 16``, ``make_divisible(24 * 0.5) = 16``.
    """
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v  # never round down by more than 10 %


def _check_width(width_mult) -> float:
    if (isinstance(width_mult, bool) or not isinstance(width_mult, numbers.Real)
            or not width_mult > 0):
        raise ValueError(f"width_mult must be a positive number, got {width_mult!r}")
    return float(width_mult)


def _check_input_size(conv, args):
    """Forward pre-hook of the first conv: the input must cover one output stride (32 x 32)."""
    h, w = args[0].shape[-2:]
    if h < OUTPUT_STRIDE or w < OUTPUT_STRIDE:
        raise ValueError(f"input must be at least {OUTPUT_STRIDE}x{OUTPUT_STRIDE} pixels "
                         f"(MobileNet's output stride), got {h}x{w}")


def _init_weights(model: nn.Module) -> None:
    """torchvision's initialisation for MobileNet v2 (applied to v1 too)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")  # std = sqrt(2 / (C_out k^2 / g))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def _head(x, classifier):
    x = nn.functional.adaptive_avg_pool2d(x, (1, 1))  # [N, C, 1, 1]: global average pool
    return classifier(torch.flatten(x, 1))            # [N, C] -> [N, num_classes]


class MobileNetV1(nn.Module):
    """``features`` (:func:`kernels.mobilenet_v1_features`, with ReLU6), global average pool,
    ``classifier`` (one ``nn.Linear``; the paper's Table 1 has no dropout).
    ``Tensor[N, 3, H, W] -> Tensor[N, num_classes]``, ``H, W >= 32``."""

    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width_mult = _check_width(width_mult)
        num_classes = check_int(num_classes, "num_classes", min_value=1)
        self.features = mobilenet_v1_features(width_mult)
        for block in self.features:  # ReLU -> ReLU6, as TF-slim's MobileNet v1 (no weights)
            for i, m in enumerate(block):
                if isinstance(m, nn.ReLU):
                    block[i] = nn.ReLU6(inplace=True)
        self.last_channel = self.features[-1][3].out_channels  # the last pointwise conv
        self.classifier = nn.Linear(self.last_channel, num_classes)
        _init_weights(self)
        self.features[0][0].register_forward_pre_hook(_check_input_size)

    def forward(self, x):
        return _head(self.features(x), self.classifier)


class MobileNetV2(nn.Module):
    """torchvision's ``MobileNetV2``: ``features.0`` the stem, ``features.1`` ..
    ``features.17`` inverted residual blocks, ``features.18`` the 1x1 conv to
    ``last_channel``, then global average pool and ``classifier = [Dropout, Linear]``.
    ``Tensor[N, 3, H, W] -> Tensor[N, num_classes]``, ``H, W >= 32``."""

    # Table 2 of Sandler et al.: expansion t, output channels c, repeats n, first stride s.
    setting = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000, dropout: float = 0.2,
                 round_nearest: int = 8):
        super().__init__()
        width_mult = _check_width(width_mult)
        num_classes = check_int(num_classes, "num_classes", min_value=1)
        round_nearest = check_int(round_nearest, "round_nearest", min_value=1)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout!r}")
        c_in = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, c_in, 3, stride=2, activation_layer=nn.ReLU6)]
        for t, c, n, s in self.setting:
            c_out = make_divisible(c * width_mult, round_nearest)
            for i in range(n):  # only a stage's first block strides (and changes channels)
                features.append(InvertedResidual(c_in, c_out, s if i == 0 else 1, t))
                c_in = c_out
        features.append(Conv2dNormActivation(c_in, self.last_channel, 1,
                                             activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))
        _init_weights(self)
        self.features[0][0].register_forward_pre_hook(_check_input_size)

    def forward(self, x):
        return _head(self.features(x), self.classifier)


def mobilenet_v1(width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV1:
    """MobileNet v1 (Howard et al. 2017): 569 M multiply-adds and 4.2 M parameters at
    ``width_mult=1`` and 224 x 224; see the module docstring for the 7x7 stride-2 misprint."""
    return MobileNetV1(width_mult, num_classes)


def mobilenet_v2(width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV2:
    """MobileNet v2 (Sandler et al. 2018) with torchvision's names: 3,504,872 parameters and
    300 M multiply-adds at ``width_mult=1``, 1000 classes and 224 x 224."""
    return MobileNetV2(width_mult, num_classes)
