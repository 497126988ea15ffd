"""Feature extractors of four classic CNNs in plain PyTorch: the convolutional part only.

Used by the chapter ``book/receptive_field.md`` to tabulate receptive fields; nothing is
downloaded and no torchvision is needed. Each function returns the convolutional part only
(no classifier), laid out like torchvision's module names where torchvision has the model, so
that its state dict keys line up. ``width_mult`` scales every channel count (as MobileNet's
alpha does): it changes the cost, never the receptive field, which lets tests measure the
field of a thin copy quickly.

* AlexNet: Krizhevsky, Sutskever, Hinton, NeurIPS 2012 (torchvision's one-tower variant).
* VGG-16: Simonyan, Zisserman, ICLR 2015, arXiv:1409.1556 (configuration D).
* ResNet-50: He, Zhang, Ren, Sun, CVPR 2016, arXiv:1512.03385. ``stride_in="3x3"`` puts the
  stride of each stage's first block in its 3x3 conv (torchvision, "ResNet v1.5");
  ``stride_in="1x1"`` puts it in the first 1x1 conv as the paper does. The choice changes the
  receptive field: 427 versus 483 pixels.
* MobileNet v1: Howard et al. 2017, arXiv:1704.04861.

Every conv -> BN -> ReLU (MobileNet's layers, ResNet's stem) and conv -> BN (ResNet's projection
shortcut) is a :class:`kernels.Conv2dNormActivation`, unpacked where torchvision's names or flat
layer names (``1.0`` ... ``1.5`` for MobileNet's first depthwise-separable block) must stay.
AlexNet and VGG-16 have no normalisation and stay plain ``Conv2d, ReLU`` pairs, as in torchvision.
"""
from __future__ import annotations

import torch.nn as nn

from .conv_norm_activation import Conv2dNormActivation

__all__ = ["alexnet_features", "vgg16_features", "resnet50_features", "mobilenet_v1_features"]


def _ch(c: int, width_mult: float) -> int:
    return max(1, int(round(c * width_mult)))


def _check_width(width_mult) -> float:
    if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or width_mult <= 0:
        raise ValueError(f"width_mult must be a positive number, got {width_mult!r}")
    return float(width_mult)


def alexnet_features(width_mult: float = 1.0) -> nn.Sequential:
    """AlexNet's five convolutions and three max-pools.

    ``Tensor[N, 3, H, W] -> Tensor[N, 256, H', W']`` (6 x 6 at 224 x 224).
    """
    c = [_ch(v, _check_width(width_mult)) for v in (64, 192, 384, 256, 256)]
    return nn.Sequential(
        nn.Conv2d(3, c[0], 11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2))


def vgg16_features(width_mult: float = 1.0) -> nn.Sequential:
    """VGG-16 (configuration D): 13 3x3 convolutions, 5 2x2 max-pools, through pool5."""
    width_mult = _check_width(width_mult)
    layers, c_in = [], 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, stride=2))
        else:
            c = _ch(v, width_mult)
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(inplace=True)]
            c_in = c
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 residual block; ``out = relu(F(x) + shortcut(x))``."""
    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1, stride_in: str = "3x3"):
        super().__init__()
        s1, s3 = (stride, 1) if stride_in == "1x1" else (1, stride)
        c_out = planes * self.expansion
        self.conv1 = nn.Conv2d(c_in, planes, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=s3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:  # projection shortcut: 1x1 conv -> BN, no activation
            self.downsample = Conv2dNormActivation(c_in, c_out, 1, stride, activation_layer=None)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNetFeatures(nn.Module):
    """ResNet stem and four stages (torchvision names ``conv1`` ... ``layer4``), no head."""

    def __init__(self, blocks=(3, 4, 6, 3), width_mult: float = 1.0, stride_in: str = "3x3"):
        super().__init__()
        c = _ch(64, width_mult)
        # The stem's 7x7 conv (padding 3) -> BN -> ReLU, unpacked to keep torchvision's names.
        self.conv1, self.bn1, self.relu = Conv2dNormActivation(3, c, 7, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for i, (n, planes) in enumerate(zip(blocks, (64, 128, 256, 512))):
            planes = _ch(planes, width_mult)
            stage = []
            for j in range(n):
                stage.append(Bottleneck(c, planes, 2 if (i > 0 and j == 0) else 1, stride_in))
                c = planes * Bottleneck.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def resnet50_features(width_mult: float = 1.0, stride_in: str = "3x3") -> ResNetFeatures:
    """ResNet-50 through ``layer4``: ``Tensor[N, 3, H, W] -> [N, 2048, H/32, W/32]``."""
    if stride_in not in ("3x3", "1x1"):
        raise ValueError(f"stride_in must be '3x3' (torchvision) or '1x1' (He et al. 2016), "
                         f"got {stride_in!r}")
    return ResNetFeatures((3, 4, 6, 3), _check_width(width_mult), stride_in)


def mobilenet_v1_features(width_mult: float = 1.0) -> nn.Sequential:
    """MobileNet v1 through Conv2d_13_pointwise: one 3x3 conv, 13 depthwise-separable blocks."""
    width_mult = _check_width(width_mult)

    c = _ch(32, width_mult)
    blocks = [Conv2dNormActivation(3, c, 3, stride=2)]  # layers 0.0 (conv), 0.1 (BN), 0.2 (ReLU)
    for v, s in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                 (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)):
        c_out = _ch(v, width_mult)
        # Depthwise 3x3 (groups = channels), then pointwise 1x1, each conv -> BN -> ReLU; the
        # two blocks unpacked into one Sequential keep the layer names flat (1.0 ... 1.5).
        blocks.append(nn.Sequential(*Conv2dNormActivation(c, c, 3, stride=s, groups=c),
                                    *Conv2dNormActivation(c, c_out, 1)))
        c = c_out
    return nn.Sequential(*blocks)
