"""ResNeXt's block in its three equivalent forms: many paths, early concatenation, one grouped
convolution (分组卷积).

Chapter: ``book/group_separable_convolution.md``.

Xie et al. ("Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017,
arXiv:1611.05431) replace the ResNet bottleneck (1x1 reduce -> 3x3 -> 1x1 expand, plus the
shortcut) by ``C`` parallel thin bottlenecks, ``C`` being the *cardinality*, summed:

    y = relu(x + sum_{p < C} T_p(x)),   T_p = 1x1 (D -> d) -> relu -> 3x3 (d -> d) -> relu
                                               -> 1x1 (d -> D)

with ``D = in_channels`` and ``d = bottleneck_width``; the paper's block has ``D = 256``,
``C = 32``, ``d = 4``. Their Figure 3 draws three forms that compute the same function:

(a) :class:`ResNeXtSummedPaths`: the ``C`` paths as written, their outputs summed;
(b) :class:`ResNeXtEarlyConcat`: the paths stop after the 3x3 layer; their ``C d`` channels are
    concatenated and one ``1x1`` layer ``C d -> D`` does the last step for all of them, since
    ``sum_p P_p z_p = [P_0 ... P_{C-1}] [z_0; ...; z_{C-1}]``;
(c) :class:`ResNeXtBlock`: the first layers of all paths are stacked into one ``1x1`` layer
    ``D -> C d`` (path ``p`` owns channels ``p d .. p d + d - 1``), and their 3x3 layers into
    one convolution with ``groups = C``: group ``p`` reads exactly the channels of path ``p``.

The ReLUs between layers act channel by channel, so they commute with the stacking and the
equivalence is exact (not approximate: only the order of floating-point sums changes). Form
(c) is what is built in practice; ``from_grouped`` derives (a) and (b) from it, weight slice by
weight slice. Cardinality 1 and width 64 give back ResNet's bottleneck 256 -> 64 -> 64 -> 256.

Parameters (no bias, no BatchNorm): ``D C d + 9 C d^2 + C d D``:
256·128 + 9·128·128/32 + 128·256 = 70,144 for ResNeXt's 32x4d against
256·64 + 9·64·64 + 64·256 = 69,632 for the ResNet bottleneck -- the same budget.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ._checks import check_int
from .conv import Conv2d

__all__ = ["ResNeXtBlock", "ResNeXtSummedPaths", "ResNeXtEarlyConcat"]


def _check_sizes(in_channels, cardinality, bottleneck_width):
    return (check_int(in_channels, "in_channels", min_value=1),
            check_int(cardinality, "cardinality", min_value=1),
            check_int(bottleneck_width, "bottleneck_width", min_value=1))


def _path_head(in_channels, width):
    """One path's first two layers: 1x1 ``D -> d``, relu, 3x3 ``d -> d``, relu."""
    return nn.Sequential(Conv2d(in_channels, width, 1, bias=False), nn.ReLU(),
                         Conv2d(width, width, 3, padding=1, bias=False), nn.ReLU())


def _check_block(block):
    if not isinstance(block, ResNeXtBlock):
        raise TypeError(f"block must be a kernels.ResNeXtBlock (form (c)), got "
                        f"{type(block).__name__}")
    return block


def _with_path_heads(cls, block):
    """A new form-(a) or form-(b) module whose path ``p`` holds rows ``p d .. p d + d - 1`` of
    the form-(c) ``block``'s ``conv1`` and ``conv2`` (its 1x1 and 3x3 of group ``p``)."""
    block = _check_block(block)
    d = block.bottleneck_width
    w = block.conv1.weight
    out = cls(block.in_channels, block.cardinality, d).to(device=w.device, dtype=w.dtype)
    with torch.no_grad():
        for p, path in enumerate(out.paths):
            rows = slice(p * d, (p + 1) * d)
            path[0].weight.copy_(block.conv1.weight[rows])  # [d, D, 1, 1]
            path[2].weight.copy_(block.conv2.weight[rows])  # [d, d, 3, 3]
    return out, block


class ResNeXtBlock(nn.Module):
    """Form (c): 1x1 ``D -> C d``, relu, 3x3 grouped (``groups = C``) ``C d -> C d``, relu,
    1x1 ``C d -> D``; add the input, relu. ``Tensor[N, D, H, W] -> Tensor[N, D, H, W]``."""

    def __init__(self, in_channels=256, cardinality=32, bottleneck_width=4):
        super().__init__()
        d_in, c, d = _check_sizes(in_channels, cardinality, bottleneck_width)
        self.in_channels, self.cardinality, self.bottleneck_width = d_in, c, d
        self.conv1 = Conv2d(d_in, c * d, 1, bias=False)
        self.conv2 = Conv2d(c * d, c * d, 3, padding=1, groups=c, bias=False)
        self.conv3 = Conv2d(c * d, d_in, 1, bias=False)

    def forward(self, input):
        y = F.relu(self.conv1(input))         # [N, C d, H, W]: path p is channels p d .. p d + d-1
        y = F.relu(self.conv2(y))             # [N, C d, H, W]: group p sees path p only
        return F.relu(input + self.conv3(y))  # [N, D, H, W]

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, cardinality={self.cardinality}, "
                f"bottleneck_width={self.bottleneck_width}")


class ResNeXtSummedPaths(nn.Module):
    """Form (a): ``relu(x + sum_p T_p(x))`` with ``cardinality`` separate paths
    ``T_p`` = 1x1 ``D -> d``, relu, 3x3 ``d -> d``, relu, 1x1 ``d -> D``."""

    def __init__(self, in_channels=256, cardinality=32, bottleneck_width=4):
        super().__init__()
        d_in, c, d = _check_sizes(in_channels, cardinality, bottleneck_width)
        self.in_channels, self.cardinality, self.bottleneck_width = d_in, c, d
        self.paths = nn.ModuleList(
            nn.Sequential(*_path_head(d_in, d), Conv2d(d, d_in, 1, bias=False)) for _ in range(c))

    def forward(self, input):
        return F.relu(input + sum(path(input) for path in self.paths))  # [N, D, H, W]

    @classmethod
    def from_grouped(cls, block):
        """Form (a) with the weights of the form-(c) ``block``: path ``p`` takes rows
        ``p d .. p d + d - 1`` of ``conv1`` and ``conv2`` and those columns of ``conv3``."""
        out, block = _with_path_heads(cls, block)
        d = block.bottleneck_width
        with torch.no_grad():
            for p, path in enumerate(out.paths):
                path[4].weight.copy_(block.conv3.weight[:, p * d:(p + 1) * d])  # [D, d, 1, 1]
        return out


class ResNeXtEarlyConcat(nn.Module):
    """Form (b): each path's 1x1 ``D -> d``, relu, 3x3 ``d -> d``, relu; the ``C d`` channels
    concatenated; one 1x1 ``C d -> D``; add the input, relu."""

    def __init__(self, in_channels=256, cardinality=32, bottleneck_width=4):
        super().__init__()
        d_in, c, d = _check_sizes(in_channels, cardinality, bottleneck_width)
        self.in_channels, self.cardinality, self.bottleneck_width = d_in, c, d
        self.paths = nn.ModuleList(_path_head(d_in, d) for _ in range(c))
        self.conv3 = Conv2d(c * d, d_in, 1, bias=False)

    def forward(self, input):
        y = torch.cat([path(input) for path in self.paths], dim=1)  # [N, C d, H, W]
        return F.relu(input + self.conv3(y))                        # [N, D, H, W]

    @classmethod
    def from_grouped(cls, block):
        """Form (b) with the weights of the form-(c) ``block``: path ``p`` takes rows
        ``p d .. p d + d - 1`` of ``conv1`` and ``conv2``; ``conv3`` is shared as it is."""
        out, block = _with_path_heads(cls, block)
        with torch.no_grad():
            out.conv3.weight.copy_(block.conv3.weight)  # [D, C d, 1, 1]
        return out
