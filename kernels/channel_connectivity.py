"""Channel connectivity (通道连通性): which input channels each output channel of a stack sees.

Chapter: ``book/group_separable_convolution.md``.

A grouped ``1 x 1`` convolution with ``g`` groups over ``C`` channels connects output ``o`` to
input ``i`` only when both lie in the same block of ``n = C / g``: its connectivity is the
block-diagonal mask ``B_g[o, i] = [o // n == i // n]``. A stack composes: output ``o`` depends
on input ``i`` when some chain of connections leads from ``i`` to ``o``, i.e. the boolean
product of the layers' masks (a shuffle contributes its permutation matrix). Zhang et al.
(ShuffleNet, arXiv:1707.01083, Figure 1) make the point with it:

* without shuffles, grouped layers with ``g_1, ..., g_L`` groups keep every output inside one
  contiguous block of ``C / gcd(g_1, ..., g_L)`` inputs: with equal groups, one group's inputs;
* with a channel shuffle (``g`` groups) between two ``g``-grouped layers, output ``o`` sees the
  blocks ``(o // n) n + t mod g`` for ``t < n``: ``min(g, n)`` blocks, ``min(g, n) n`` inputs,
  all ``C`` of them exactly when ``n >= g``, i.e. ``g^2 <= C``;
* with a shuffle after each of ``L`` ``g``-grouped layers but the last, every output sees
  ``min(C, n^L)`` inputs (each further layer multiplies the reach by ``n``; the tests check it
  for every ``g`` dividing ``C`` up to 36 channels and 4 layers).

:func:`channel_connectivity` does not reason about layers at all: it measures dependence on the
real module, as the receptive-field chapter does for pixels. On a ``[1, C_in, 1, 1]`` input the
Jacobian ``J[o, i] = d out[o] / d in[i]`` is zero exactly where no path joins ``i`` to ``o`` --
provided no two paths cancel. To rule that out it runs a float64 copy of the model (the model
itself is left alone) whose every parameter is redrawn positive, in ``[0.5, 1.5]``, on positive
inputs: then every path through convolutions (non-negative weights), shuffles, sums,
concatenations and ReLU-like activations (positive slope on positive input) contributes a
product of positive factors, and a sum of positive terms is never zero. For layers without that
property (a subtraction, a negative slope) ``|J|`` is summed over ``draws`` random inputs, so
a cancellation would have to happen at every draw. The answer is the architecture's
connectivity, which the model's current weights (some possibly zero) do not change.

:func:`grouped_pointwise_stack` builds the stacks of the figure.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from ._checks import check_int
from .channel_shuffle import ChannelShuffle
from .conv import Conv2d

__all__ = ["channel_connectivity", "grouped_pointwise_stack"]


def channel_connectivity(model, in_channels, draws=3, seed=0):
    """Which input channels each output channel of ``model`` depends on.

    Args:
        model: an ``nn.Module`` mapping ``Tensor[1, C_in, 1, 1]`` to ``Tensor[1, C_out, 1, 1]``
            (or ``Tensor[1, C_out]``), e.g. a stack of ``1 x 1`` (grouped) convolutions and
            channel shuffles; a ``k x k`` layer with padding ``k // 2`` counts its centre tap.
        in_channels: ``C_in``, a positive int.
        draws: positive int, how many random positive inputs ``|J|`` is summed over.
        seed: the seed of the redrawn weights and inputs (the result does not depend on it).

    Returns:
        bool ``Tensor[C_out, C_in]`` on the CPU: ``[o, i]`` is True when output channel ``o``
        depends on input channel ``i``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    in_channels = check_int(in_channels, "in_channels", min_value=1)
    draws = check_int(draws, "draws", min_value=1)
    seed = check_int(seed, "seed")
    gen = torch.Generator().manual_seed(seed)
    probe = copy.deepcopy(model).double().eval()  # eval: no batch statistics, no dropout
    device = next((t.device for t in probe.parameters()), torch.device("cpu"))
    with torch.no_grad():
        for t in probe.parameters():
            t.copy_(0.5 + torch.rand(t.shape, generator=gen, dtype=torch.float64))
    total = None
    for _ in range(draws):
        x = (0.5 + torch.rand(1, in_channels, 1, 1, generator=gen, dtype=torch.float64))
        x = x.to(device).requires_grad_()  # [1, C_in, 1, 1]
        try:
            y = probe(x)
        except (RuntimeError, ValueError) as err:  # torch: RuntimeError, kernels: ValueError
            raise ValueError(f"model could not run on a Tensor[1, in_channels, 1, 1] = "
                             f"Tensor[1, {in_channels}, 1, 1] input: {err}") from err
        if y.dim() not in (2, 4) or y.shape[0] != 1 or y.shape[2:] not in ((), (1, 1)):
            raise ValueError(f"model must map Tensor[1, C_in, 1, 1] to Tensor[1, C_out, 1, 1] "
                             f"or Tensor[1, C_out], got output shape {tuple(y.shape)}")
        y = y.reshape(-1)  # [C_out]
        rows = [torch.autograd.grad(y[o], x, retain_graph=True)[0].reshape(in_channels)
                for o in range(y.shape[0])]
        jac = torch.stack(rows).abs().cpu()  # [C_out, C_in]
        total = jac if total is None else total + jac
    return total != 0


def grouped_pointwise_stack(channels, groups_per_layer: Sequence[int], shuffle=True):
    """``len(groups_per_layer)`` grouped ``1 x 1`` convolutions ``channels -> channels``
    (:class:`kernels.Conv2d`, no bias), with, when ``shuffle``, a :class:`ChannelShuffle` after
    every layer but the last, with that layer's groups (ShuffleNet's GConv -> shuffle order).

    Args:
        channels: ``C``, a positive int divisible by every entry of ``groups_per_layer``.
        groups_per_layer: non-empty sequence of positive ints, one per layer.
        shuffle: bool, whether to shuffle between layers.

    Returns:
        ``nn.Sequential`` mapping ``Tensor[N, C, H, W]`` to ``Tensor[N, C, H, W]``.
    """
    channels = check_int(channels, "channels", min_value=1)
    if isinstance(groups_per_layer, (str, bytes)) or not isinstance(groups_per_layer, Sequence):
        raise TypeError(f"groups_per_layer must be a sequence of ints, got "
                        f"{type(groups_per_layer).__name__}")
    if len(groups_per_layer) == 0:
        raise ValueError("groups_per_layer must name at least one layer, got an empty sequence")
    groups = [check_int(g, f"groups_per_layer[{k}]", min_value=1)
              for k, g in enumerate(groups_per_layer)]
    for k, g in enumerate(groups):
        if channels % g:
            raise ValueError(f"groups_per_layer[{k}]={g} must divide channels={channels}")
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool, got {type(shuffle).__name__}")
    layers = []
    for k, g in enumerate(groups):
        layers.append(Conv2d(channels, channels, 1, groups=g, bias=False))
        if shuffle and k < len(groups) - 1:
            layers.append(ChannelShuffle(g))
    return nn.Sequential(*layers)
