"""Atrous Spatial Pyramid Pooling (ASPP), the head of DeepLabV3.

Chen, Papandreou, Schroff, Adam, *Rethinking Atrous Convolution for Semantic Image
Segmentation*, arXiv:1706.05587 (2017), section 3.3. Chapter: ``book/aspp.md``.

ASPP looks at one backbone feature map ``x`` (``Tensor[N, C_in, H, W]``, output stride 16 or 8)
through parallel branches, each ``conv -> BN -> ReLU`` with ``C_out`` channels and no conv bias
(the BN shift plays that role):

    b_0   = 1x1 conv(x)                                  field 1x1
    b_r   = 3x3 conv with dilation r, padding r (x)      field (2r+1)x(2r+1), one per rate r
    b_img = upsample(1x1 conv(mean_{h,w} x))             field: the whole map   (after ParseNet)
    y     = ReLU(BN(1x1 conv(concat[b_0, b_r..., b_img])))      (R+2)*C_out -> C_out channels

Every branch keeps ``H x W``, so the output is ``Tensor[N, C_out, H, W]``. The rates (6, 12, 18)
suit output stride 16; at output stride 8 the same field in pixels needs them doubled.

Why the image-level branch (paper, Figure 4): a 3x3 filter of rate r with 'same' zero padding
on an n x n map has only ``c(y) * c(x)`` of its 9 taps on real pixels, where ``c(p)`` counts
the taps ``p - r, p, p + r`` inside ``[0, n)``. Once ``r >= n`` every position keeps only its
centre tap: the atrous branch has degenerated into a 1x1 conv. :func:`valid_weight_counts`
computes that histogram; global pooling gives the head the image-wide context that large rates
fail to deliver.

Design choices:

* Built on ``nn.Conv2d``, not on :func:`kernels.conv2d`: this chapter teaches how the branches are
  wired, not the convolution (the conv chapter tests that), the 2048-channel forward at output
  stride 8 must stay fast, and the submodule layout (``convs.{i}``, ``project``) is exactly
  torchvision's ``DeepLabHead`` ASPP, so its ``state_dict`` loads unchanged. torchvision adds a
  parameter-free ``Dropout(0.5)`` after ``project``; the paper does not, and neither do we.
* Every ``conv -> BN -> ReLU`` is a :class:`kernels.Conv2dNormActivation` (its default padding
  ``d(k - 1) / 2`` keeps ``H x W``, no conv bias before BN) with ``inplace=False``: a plain
  ``ReLU()`` as in torchvision's ASPP. Its layers sit at indices 0-2 as in torchvision's
  ``nn.Sequential`` branches; :class:`ASPPPooling` unpacks it after its pooling layer.
* Signature ``ASPP(in_channels, out_channels=256, atrous_rates=(6, 12, 18))`` (torchvision's is
  ``ASPP(in_channels, atrous_rates, out_channels=256)``): pass keywords to use either.
* Batch norm of the pooled branch sees one value per channel per image. In training mode with a
  batch of one image its batch variance is undefined and PyTorch refuses ("Expected more than 1
  value per channel when training"); :class:`ASPPPooling` then normalises with the running
  statistics instead (frozen BN for that branch and step), which keeps the torchvision layout.
"""
from __future__ import annotations

import collections.abc
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import as_pair, check_int, check_same_device_dtype, check_tensor
from .conv_arithmetic import effective_kernel_size
from .conv_norm_activation import Conv2dNormActivation

__all__ = ["ASPP", "TraceRow", "aspp_trace", "atrous_offsets", "valid_weight_map",
           "valid_weight_counts"]


class ASPPConv(Conv2dNormActivation):
    """One atrous branch: 3x3 conv (dilation = padding = ``rate``, no bias) -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, rate: int):
        super().__init__(in_channels, out_channels, 3, dilation=rate, inplace=False)


class ASPPPooling(nn.Sequential):
    """Image-level branch: global average pool -> 1x1 conv -> BN -> ReLU -> bilinear upsample.

    ``Tensor[N, C_in, H, W] -> Tensor[N, C_out, H, W]``. Bilinear upsampling of a 1x1 map is a
    broadcast (every output pixel gets the one value); ``F.interpolate`` states the intent.
    """

    def __init__(self, in_channels: int, out_channels: int):
        # The block unpacked: pool, conv, BN, ReLU sit flat at 0-3, as in torchvision.
        super().__init__(nn.AdaptiveAvgPool2d(1),
                         *Conv2dNormActivation(in_channels, out_channels, 1, inplace=False))

    def pooled(self, input: torch.Tensor) -> torch.Tensor:
        """The branch before upsampling: ``Tensor[N, C_out, 1, 1]``."""
        pool, conv, bn, relu = self
        y = conv(pool(input))  # [N, C_out, 1, 1]
        if bn.training and y.shape[0] == 1:
            # One value per channel: its batch variance is 0 (biased) or 0/0 (unbiased, for the
            # running update), so use the running statistics and leave them untouched.
            y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                             training=False, eps=bn.eps)
        else:
            y = bn(y)
        return relu(y)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.pooled(input), size=input.shape[-2:], mode="bilinear",
                             align_corners=False)


class ASPP(nn.Module):
    """DeepLabV3 ASPP head: ``Tensor[N, in_channels, H, W] -> Tensor[N, out_channels, H, W]``.

    Args:
        in_channels: channels of the backbone feature map (2048 for ResNet-50/101).
        out_channels: channels of every branch and of the output (256 in the paper).
        atrous_rates: one 3x3 atrous branch per rate; (6, 12, 18) at output stride 16,
            (12, 24, 36) at output stride 8.
    """

    def __init__(self, in_channels: int, out_channels: int = 256,
                 atrous_rates: collections.abc.Sequence[int] = (6, 12, 18)):
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", min_value=1)
        self.out_channels = check_int(out_channels, "out_channels", min_value=1)
        if isinstance(atrous_rates, (str, bytes)) or not isinstance(atrous_rates,
                                                                   collections.abc.Sequence):
            raise TypeError("atrous_rates must be a sequence of positive ints such as (6, 12, 18), "
                            f"got {type(atrous_rates).__name__} {atrous_rates!r}")
        if len(atrous_rates) == 0:
            raise ValueError("atrous_rates must hold at least one rate, got an empty sequence")
        self.atrous_rates = tuple(check_int(r, f"atrous_rates[{i}]", min_value=1)
                                  for i, r in enumerate(atrous_rates))
        c_in, c_out = self.in_channels, self.out_channels
        self.convs = nn.ModuleList([Conv2dNormActivation(c_in, c_out, 1, inplace=False),
                                    *(ASPPConv(c_in, c_out, r) for r in self.atrous_rates),
                                    ASPPPooling(c_in, c_out)])
        self.project = Conv2dNormActivation(len(self.convs) * c_out, c_out, 1, inplace=False)

    def _check_input(self, input) -> None:
        """Raise naming ``input`` unless it is ``Tensor[N, in_channels, H, W]`` like the weights."""
        check_tensor(input, "input", ndim=4, floating=True)
        if input.shape[1] != self.in_channels:
            raise ValueError(f"input must be Tensor[N, {self.in_channels}, H, W] (in_channels="
                             f"{self.in_channels}), got shape {tuple(input.shape)}")
        check_same_device_dtype(self.project[0].weight, "ASPP's weights", input, "input")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input(input)
        n, _, h, w = input.shape
        if self.training and n * h * w == 1:
            raise ValueError("in training mode BatchNorm needs more than one value per channel; "
                             f"input of shape {tuple(input.shape)} gives one (use eval mode, "
                             "a larger map, or a batch of at least two images)")
        return self.project(torch.cat([branch(input) for branch in self.convs], dim=1))

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"atrous_rates={self.atrous_rates}")


class TraceRow(NamedTuple):
    """One line of :func:`aspp_trace`: a stage, its output shape, parameters, field on the map."""
    name: str
    shape: tuple[int, ...]
    params: int
    receptive_field: tuple[int, int]


def aspp_trace(module: ASPP, input: torch.Tensor) -> list[TraceRow]:
    """Run ``module``'s stages on ``input`` (eval mode, no grad) and list each one's output.

    ``params`` counts the stage's own parameters (the rows sum to the module's total);
    ``receptive_field`` is its extent on the feature map, ``d(k - 1) + 1`` per axis for a conv of
    kernel k and dilation d, and all of ``H x W`` from the image pooling onwards.
    """
    if not isinstance(module, ASPP):
        raise TypeError(f"module must be a kernels.ASPP, got {type(module).__name__}")
    module._check_input(input)
    whole = tuple(input.shape[-2:])
    rows = [TraceRow("input", tuple(input.shape), 0, (1, 1))]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            outs = []
            for branch in module.convs:
                outs.append(branch(input))
                shape, p = tuple(outs[-1].shape), _count(branch)
                if isinstance(branch, ASPPPooling):
                    rows += [TraceRow("image pooling: mean, 1x1 conv",
                                      tuple(branch.pooled(input).shape), p, whole),
                             TraceRow("image pooling: upsampled", shape, 0, whole)]
                else:
                    conv = branch[0]
                    name = (f"3x3 conv, rate {conv.dilation[0]}" if conv.kernel_size[0] == 3
                            else "1x1 conv")
                    field = effective_kernel_size(conv.kernel_size, conv.dilation)  # d(k-1)+1
                    rows.append(TraceRow(name, shape, p, field))
            cat = torch.cat(outs, dim=1)  # [N, (R + 2) * C_out, H, W]
            rows.append(TraceRow("concat", tuple(cat.shape), 0, whole))
            rows.append(TraceRow("project 1x1", tuple(module.project(cat).shape),
                                 _count(module.project), whole))
    finally:
        module.train(was_training)
    return rows


def _count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def atrous_offsets(rate: int, kernel_size: int = 3) -> torch.Tensor:
    """Offsets ``Tensor[k]`` (int64) from an output position to the inputs its k taps read.

    With dilation ``rate`` and torch's ``padding='same'`` (total ``rate * (k - 1)``, the smaller
    half first) tap j reads ``p + rate * j - left``; for odd k that is ``rate * (j - k // 2)``.
    """
    rate = check_int(rate, "rate", min_value=1)
    k = check_int(kernel_size, "kernel_size", min_value=1)
    return rate * torch.arange(k) - rate * (k - 1) // 2  # [k]


def valid_weight_map(feature_size, rate: int, kernel_size: int = 3) -> torch.Tensor:
    """Count, per output position, the taps of a k x k 'same'-padded filter on real pixels.

    The count is separable: ``c(y) * c(x)`` with ``c(p)`` the number of taps of
    :func:`atrous_offsets` that keep ``p + offset`` inside ``[0, n)``. ``feature_size`` is n or
    (H, W). Returns ``Tensor[H, W]`` (int64) with values in ``0..k*k``.
    """
    size = as_pair(feature_size, "feature_size", min_value=1)
    offsets = atrous_offsets(rate, kernel_size)  # [k]
    per_axis = []
    for n in size:
        taps = torch.arange(n)[:, None] + offsets  # [n, k] input index of every tap
        per_axis.append(((taps >= 0) & (taps < n)).sum(dim=1))  # [n] taps inside the map
    return per_axis[0][:, None] * per_axis[1][None, :]  # [H, W]


def valid_weight_counts(feature_size, rate: int, kernel_size: int = 3) -> torch.Tensor:
    """Fraction of output positions whose filter has exactly i valid weights, i = 0..k*k.

    Figure 4 of Chen et al. (2017) plots these fractions for a 3x3 filter on a 65x65 map as the
    rate grows. Returns ``Tensor[k*k + 1]`` (default float dtype) summing to 1.
    """
    counts = valid_weight_map(feature_size, rate, kernel_size)
    k = check_int(kernel_size, "kernel_size", min_value=1)
    hist = torch.bincount(counts.flatten(), minlength=k * k + 1)  # [k*k + 1]
    return hist.to(torch.get_default_dtype()) / counts.numel()
