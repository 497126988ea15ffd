"""Peak activation memory (激活内存峰值) of an inference pass, as MobileNet v2 defines it.

Sandler et al., "MobileNetV2", arXiv:1801.04381, Section 5.1 and Table 3. Chapter:
``book/mobilenet.md``.

At inference a layer's input can be freed once the layer has run, so the memory a network needs
is not the sum of its tensors but the most that must be alive *at once*. Section 5.1 writes it
for a computation graph run in order ``pi`` as

    M(G) = max_i ( sum_{A in R(i)} |A| + size(pi_i) )

with ``R(i)`` the tensors produced before operator ``i`` and still needed by it or later ones,
and ``size(pi_i)`` the operator's own scratch memory. For a chain of operators ``R(i)`` is the
operator's input, and its output has to be there too: alive at operator ``i`` are exactly
``input_i`` and ``output_i``, and ``M = max_i (|input_i| + |output_i|)``.

What counts as one operator decides the answer; here:

* a **convolution, linear layer or pooling layer** (a module). BatchNorm and activations
  that follow a convolution are folded into it (BN's affine map folds into the weights at
  inference, ReLU runs in place), and dropout and flatten are views: none of them adds a
  tensor. A function called inside a ``forward`` (MobileNet v2's global average pool) is not
  seen: its input and output are the neighbours' output and input.
* an **inverted residual block** (:class:`kernels.InvertedResidual`) as a whole. Section 5.1:
  its expanded ``t k``-channel tensor never has to exist whole, because expansion, depthwise
  filter and projection can run on one slice of channels at a time, adding each slice's
  projection into the output; ``size(pi_i)`` is one slice, ``O(H W)``, neglected here. The
  residual's input is the block's input, alive anyway until the sum.
* with ``fuse_first=True`` the first operator joins the second (the note under Table 3: "for
  the first layer of MobileNetV2 ... we can employ the trick described in Section 5"): the
  stem's 32 channels at 112 x 112 are made one at a time and fed into the first block's
  depthwise filter, so that tensor is never whole either.

:func:`peak_activation_memory` runs the model once (``torch.no_grad``, eval mode) with forward
hooks on these operators and returns every operator's input and output shapes. Measured at
224 x 224 (``tests/test_activation_memory.py``):

    MobileNet v1   peak 1,204,224 elements at features.1.3 (first pointwise conv):
                   its input 32 x 112 x 112 and output 64 x 112 x 112; largest tensor 802,816
    MobileNet v2   peak   602,112 at features.1 (first block): input 32 x 112 x 112 (the stem's
                   output), output 16 x 112 x 112; largest tensor 401,408 (the stem's output)
    v2 fuse_first  peak   351,232 at features.0.0+features.1: the image 3 x 224 x 224 and
                   16 x 112 x 112; largest tensor 200,704

The paper's Table 3 ("1600K" for v1, "400K" for v2, at 16 bits) lists the *largest single
tensor* that must be materialised: 802,816 x 2 bytes = 1.6 MB for v1 and, with the first-layer
trick, 200,704 x 2 bytes = 0.4 MB for v2 -- ``largest_tensor`` here. By Section 5.1's own
definition (input and output alive together) the peaks are 2.4 MB and 0.70 MB (1.2 MB without
the trick): v2 still needs 3.4 times less than v1, not 4 times.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ._checks import check_int
from .inverted_residual import InvertedResidual

__all__ = ["peak_activation_memory", "ActivationMemory", "OperatorMemory"]

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d,
           nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class OperatorMemory:
    """One operator: its name (module path), type, and the shapes of its input and output."""
    name: str
    type: str
    input_shape: tuple
    output_shape: tuple

    @property
    def alive(self) -> int:
        """Elements alive while it runs: its input and its output."""
        return math.prod(self.input_shape) + math.prod(self.output_shape)


@dataclass(frozen=True)
class ActivationMemory:
    """The result of :func:`peak_activation_memory`: one :class:`OperatorMemory` per operator,
    in the order they run, with the peak (``elements``, at operator ``peak``) and the largest
    single tensor (``largest_tensor``, the quantity in Sandler et al.'s Table 3)."""
    operators: tuple
    input_shape: tuple

    @property
    def peak(self) -> OperatorMemory:
        return max(self.operators, key=lambda op: op.alive)  # the first of equal ones

    @property
    def elements(self) -> int:
        return self.peak.alive

    @property
    def largest_tensor(self) -> int:
        return max(math.prod(s) for op in self.operators
                   for s in (op.input_shape, op.output_shape))

    def bytes(self, bytes_per_element: int = 2) -> int:
        """The peak in bytes (default 2: the paper's 16-bit activations)."""
        return self.elements * check_int(bytes_per_element, "bytes_per_element", min_value=1)


def _operators(model: nn.Module):
    """``(name, module)`` of every operator: inverted residual blocks whole, other layers
    among ``_LAYERS`` (not inside such a block)."""
    skip = ()
    for name, m in model.named_modules():
        if skip and name.startswith(skip):
            continue
        if isinstance(m, InvertedResidual):
            skip = (name + ".",)
            yield name, m
        elif isinstance(m, _LAYERS):
            yield name, m


def _input_shape(input_size, model) -> tuple:
    """``H`` | ``(H, W)`` | ``(C, H, W)`` | ``(N, C, H, W)`` -> ``(N, C, H, W)``."""
    size = tuple(input_size) if isinstance(input_size, (tuple, list)) else (input_size,)
    if not 1 <= len(size) <= 4:
        raise ValueError(f"input_size must be H, (H, W), (C, H, W) or (N, C, H, W), got {size}")
    size = tuple(check_int(v, "input_size", min_value=1) for v in size)
    if len(size) == 1:
        size = size * 2
    if len(size) == 2:
        first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        if first is None:
            raise ValueError("input_size must give the channels, (C, H, W): model has no Conv2d")
        size = (first.in_channels, *size)
    return size if len(size) == 4 else (1, *size)


def peak_activation_memory(model: nn.Module, input_size, *,
                           fuse_first: bool = False) -> ActivationMemory:
    """The most activation elements alive at once in one inference pass of ``model``.

    Args:
        model: a network whose operators run in a chain (each one's output feeds the next),
            such as :func:`kernels.mobilenet_v1` and :func:`kernels.mobilenet_v2`.
        input_size: ``H`` (square), ``(H, W)``, ``(C, H, W)`` or ``(N, C, H, W)``; batch 1 and
            the first conv's channels when not given.
        fuse_first: compute the first operator slice by slice inside the second, so that its
            output is never materialised (MobileNet v2's first-layer trick).

    Returns:
        :class:`ActivationMemory`; ``.elements`` is ``max_i (|input_i| + |output_i|)``, the
        operator at the peak is ``.peak`` and its two tensors are the ones alive.

    Raises:
        TypeError: ``model`` is not a module. ValueError: bad ``input_size``, a model without
        operators, or one that rejects the input (MobileNets need at least 32 x 32).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    shape = _input_shape(input_size, model)
    ref = next(model.parameters(), None)
    x = torch.zeros(shape, device=ref.device if ref is not None else None,
                    dtype=ref.dtype if ref is not None and ref.is_floating_point() else None)
    rows, hooks = [], []

    def record(name):
        def hook(m, args, out):
            rows.append(OperatorMemory(name, type(m).__name__, tuple(args[0].shape),
                                       tuple(out.shape)))
        return hook

    modes = [(m, m.training) for m in model.modules()]
    try:
        for name, m in _operators(model):
            hooks.append(m.register_forward_hook(record(name)))
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
        for m, mode in modes:
            m.train(mode)
    if not rows:
        raise ValueError("model has no operator that peak_activation_memory knows (Conv, "
                         "Linear, pooling, InvertedResidual)")
    if fuse_first and len(rows) > 1:
        a, b = rows[0], rows[1]
        rows[:2] = [OperatorMemory(f"{a.name}+{b.name}", f"{a.type}+{b.type}", a.input_shape,
                                   b.output_shape)]
    return ActivationMemory(tuple(rows), shape)
