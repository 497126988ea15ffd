"""Conv -> norm -> activation: the block every modern CNN repeats, as one ``nn.Sequential``.

Since batch normalisation (Ioffe, Szegedy, ICML 2015, arXiv:1502.03167) nearly every
convolution of a CNN is followed by a normalisation and a nonlinearity:

    y = act(norm(W * x))        e.g. ReLU(BN(conv(x)))

The conv carries no bias when a norm follows it: BN subtracts the batch mean, which removes any
constant the conv adds, and its own shift beta plays that role. ``padding=None`` picks
``(k - 1) // 2 * dilation`` per axis, which keeps ``H x W`` at stride 1 for odd ``k``
("same" padding, ``d(k - 1) / 2`` on each side).

Name, argument order and defaults are torchvision's ``Conv2dNormActivation``
(``torchvision/ops/misc.py``), so either can stand in for the other, and so are the submodule
names: ``0`` the conv, ``1`` the norm, then the activation (indices shift down when the norm is
``None``). A model that needs those three layers flat among its own, to keep its checkpoint keys
or its layer names, unpacks the block: ``nn.Sequential(pool, *Conv2dNormActivation(c, d, 1))``.

Used by ASPP (``kernels/aspp.py``, chapter ``book/aspp.md``) and MobileNet v1 / the ResNet
downsample (``kernels/classic_networks.py``, chapter ``book/receptive_field.md``).
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from ._checks import as_pair, check_int

__all__ = ["Conv2dNormActivation"]


def _layer_factory(value, name: str):
    # A module instance is callable too, but calling it runs its forward: ask for the class.
    if value is not None and (not callable(value) or isinstance(value, nn.Module)):
        raise TypeError(f"{name} must be a callable that builds an nn.Module (such as the class "
                        f"nn.{'BatchNorm2d' if name == 'norm_layer' else 'ReLU'}) or None, "
                        f"got {type(value).__name__} {value!r}")
    return value


def _optional_bool(value, name: str):
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None, got {type(value).__name__} "
                        f"{value!r}")
    return value


class Conv2dNormActivation(nn.Sequential):
    """Conv2d -> norm -> activation: ``Tensor[N, C_in, H, W] -> Tensor[N, C_out, H', W']``.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, dilation: an int or an (h, w) pair, as for ``nn.Conv2d``.
        padding: an int or pair, ``"same"`` / ``"valid"``, or ``None`` (default) for
            ``(kernel_size - 1) // 2 * dilation`` per axis.
        groups: as for ``nn.Conv2d``; ``groups=in_channels`` makes a depthwise conv.
        norm_layer: called as ``norm_layer(out_channels)``; ``None`` for no norm.
        activation_layer: called as ``activation_layer(inplace=inplace)`` (without arguments
            when ``inplace`` is ``None``); ``None`` for no activation.
        inplace: passed to the activation.
        bias: the conv's bias; ``None`` (default) means a bias only when there is no norm.

    ``H' = floor((H + 2p - d(k - 1) - 1) / s) + 1`` per axis, as for any conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1,
                 padding=None, groups: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
                 activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
                 dilation=1, inplace: bool | None = True, bias: bool | None = None):
        in_channels = check_int(in_channels, "in_channels", min_value=1)
        out_channels = check_int(out_channels, "out_channels", min_value=1)
        k = as_pair(kernel_size, "kernel_size", min_value=1)
        d = as_pair(dilation, "dilation", min_value=1)
        stride = as_pair(stride, "stride", min_value=1)
        groups = check_int(groups, "groups", min_value=1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups must divide in_channels and out_channels, got groups="
                             f"{groups} for {in_channels} -> {out_channels} channels")
        if padding is None:
            padding = tuple((k[i] - 1) // 2 * d[i] for i in range(2))  # 'same' for odd k
        elif isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be an int, a pair, 'same', 'valid' or None, "
                                 f"got {padding!r}")
            if padding == "same" and stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1 (as in torch), got stride "
                                 f"{stride}")
        else:
            padding = as_pair(padding, "padding", min_value=0)
        norm_layer = _layer_factory(norm_layer, "norm_layer")
        activation_layer = _layer_factory(activation_layer, "activation_layer")
        inplace = _optional_bool(inplace, "inplace")
        bias = _optional_bool(bias, "bias")
        if bias is None:
            bias = norm_layer is None  # a norm's shift makes the conv's bias redundant

        layers = [nn.Conv2d(in_channels, out_channels, k, stride, padding, d, groups=groups,
                            bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(**({} if inplace is None else {"inplace": inplace})))
        super().__init__(*layers)
        self.out_channels = out_channels
