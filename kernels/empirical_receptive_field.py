"""The exact receptive field, measured with autograd: every input pixel that can influence one
output unit, holes included.

Book chapter: ``book/receptive_field.md``; it is the check on the analytic
:func:`kernels.receptive_field`, and :mod:`kernels.effective_receptive_field` weighs it.

Input pixel ``x_q`` can influence output unit ``y_p`` iff some path of nonzero
weights joins them. Gradients of a trained or random network can hide such pixels: positive
and negative paths cancel, a ReLU or a max-pool passes no gradient where it is off. So
:func:`empirical_receptive_field` differentiates a *linearised copy*: every convolution tap
weighs ``1 / (C_in / groups)``, biases are 0, activations and BatchNorm become the identity and
max-pools become sum-pools over the same windows. Then every path carries a positive product
and ``dy_p / dx_q`` (summed over input channels, averaged over output channels) is the number
of spatial paths from ``q`` to ``p``: positive exactly on the field, holes included:

    dy_p / dx_q = sum over paths q -> p of prod_l w_l = #paths(q -> p) * prod_l 1

A pooling window keeps torch's own geometry (:func:`kernels.layer_graph.window_length`), also
with ``ceil_mode=True``, where the last window may run past the input.
"""
from __future__ import annotations

import copy

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from .layer_graph import (ELEMENTWISE, UNARY, fetch, in_channels, op_name, pair,
                          parse_input_size, trace, window_length)

__all__ = ["empirical_receptive_field"]


def empirical_receptive_field(model: nn.Module, input_size, position=None) -> torch.Tensor:
    """Exact set of input pixels that can influence one output unit, from autograd.

    Args:
        model: an ``nn.Module`` that ``torch.fx`` can trace; it is copied, never changed.
        input_size: ``(C, H, W)``, or ``H`` / ``(H, W)`` when the first layer tells ``C``.
        position: ``(i, j)`` of the output unit; default the centre ``((H'-1)//2, (W'-1)//2)``.
            Must be ``None`` when the model's output is ``Tensor[N, F]``.

    Returns:
        ``Tensor[H, W]`` (float64): the number of spatial paths from each input pixel to the
        unit; ``> 0`` is the field as a mask.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    c, (h, w) = parse_input_size(input_size)
    gm = _linearised(model)
    c = c or in_channels(gm)
    device = next((p.device for p in gm.parameters()), torch.device("cpu"))
    x = torch.ones(1, c, h, w, dtype=torch.float64, device=device, requires_grad=True)
    try:
        y = gm(x)
    except RuntimeError as e:  # torch's own shape errors: the input does not fit the model
        raise ValueError(f"input_size {(c, h, w)} does not fit the model: {e}") from e
    target = unit_output(y, position)
    (grad,) = torch.autograd.grad(target, x)
    return grad[0].sum(0).detach()  # [C, H, W] -> [H, W]


# ------------------------------------------------------------------------------------ helpers
def unit_output(y, position, mean=True):
    """Scalar to differentiate: unit ``position`` of ``y`` (``Tensor[1, C, H', W']`` or
    ``Tensor[1, F]``), averaged (``mean``) or summed over its channels; checks ``position``.
    Also used by :func:`kernels.effective_receptive_field`, which differentiates the same unit."""
    reduce = torch.mean if mean else torch.sum
    if y.dim() == 2:
        if position is not None:
            raise ValueError("position must be None: the model's output is Tensor[N, F]")
        return reduce(y[0])
    if y.dim() != 4:
        raise ValueError(f"model output must be Tensor[N, C, H, W] or [N, F], got {tuple(y.shape)}")
    ho, wo = y.shape[-2:]
    if position is None:
        position = ((ho - 1) // 2, (wo - 1) // 2)
    if (not isinstance(position, (tuple, list)) or len(position) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in position)):
        raise TypeError(f"position must be a pair of ints (i, j), got {position!r}")
    i, j = position
    if not (0 <= i < ho and 0 <= j < wo):
        raise ValueError(f"position {tuple(position)} is outside the output map of size {ho}x{wo}")
    return reduce(y[0, :, i, j])


def _sum_max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                  return_indices=False):
    """Sum over max_pool2d's windows: same taps, every tap passes gradient.

    torch's windows (``window_length``, ceil mode included) start at ``o s - p``; the input is
    zero-padded on the right as far as the last window reaches, past the input in ceil mode.
    """
    k, d, p = pair(kernel_size), pair(dilation), pair(padding)
    s = pair(stride or kernel_size)
    ke = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    out = [window_length(n, ke[i], s[i], p[i], p[i], ceil_mode)
           for i, n in enumerate(x.shape[-2:])]
    if min(out) < 1:
        raise ValueError(f"input_size is too small: a pooling window of extent {tuple(ke)} gets "
                         f"an empty map from a {tuple(x.shape[-2:])} input")
    right = [(o - 1) * s[i] + ke[i] - n - p[i] for i, (o, n) in enumerate(zip(out, x.shape[-2:]))]
    x = F.pad(x, (p[1], max(right[1], 0), p[0], max(right[0], 0)))  # zeros: pads hold no pixel
    ones = x.new_ones(x.shape[1], 1, *k)  # [C, 1, kh, kw] depthwise window
    y = F.conv2d(x, ones, stride=s, dilation=d, groups=x.shape[1])  # [N, C, >= out_h, >= out_w]
    return y[..., :out[0], :out[1]]


def _sum_avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, *args, **kwargs):
    return _sum_max_pool(x, kernel_size, stride, padding, 1, ceil_mode)


def _linearised(model: nn.Module) -> fx.GraphModule:
    """Traced float64 copy with positive constant weights and linear activations."""
    gm = trace(copy.deepcopy(model)).double().eval()
    with torch.no_grad():
        for p in gm.parameters():
            p.fill_(1.0)
        for m in gm.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan = m.in_channels // m.groups if isinstance(m, nn.Conv2d) else m.in_features
                m.weight.fill_(1.0 / fan)  # channel mixing averages, spatial taps count 1
                if m.bias is not None:
                    m.bias.zero_()
    graph = gm.graph
    for node in list(graph.nodes):
        if node.op not in ("call_module", "call_function", "call_method"):
            continue
        op = op_name(node, gm)
        mod = gm.get_submodule(node.target) if node.op == "call_module" else None
        if isinstance(mod, ELEMENTWISE) or (mod is None and op in UNARY):
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
            continue
        new = None
        with graph.inserting_after(node):
            if isinstance(mod, nn.MaxPool2d):
                new = graph.call_function(_sum_max_pool, (node.args[0], mod.kernel_size,
                                          mod.stride, mod.padding, mod.dilation, mod.ceil_mode))
            elif isinstance(mod, nn.AvgPool2d):
                new = graph.call_function(_sum_max_pool, (node.args[0], mod.kernel_size,
                                          mod.stride, mod.padding, 1, mod.ceil_mode))
            elif isinstance(mod, nn.AdaptiveMaxPool2d):
                new = graph.call_function(F.adaptive_avg_pool2d, (node.args[0], mod.output_size))
            elif mod is None and op in ("max_pool2d", "avg_pool2d", "adaptive_max_pool2d",
                                        "amax", "amin"):
                fn = {"max_pool2d": _sum_max_pool, "avg_pool2d": _sum_avg_pool,
                      "adaptive_max_pool2d": F.adaptive_avg_pool2d}.get(op)
                new = (graph.call_function(fn, node.args, node.kwargs) if fn else
                       graph.call_method("mean", node.args, node.kwargs))
            elif mod is None and op in ("conv2d", "linear"):
                _constant_weight(gm, node)
        if new is not None:
            node.replace_all_uses_with(new)
            graph.erase_node(node)
    graph.lint()
    gm.recompile()
    return gm


def _constant_weight(gm, node):
    """Functional conv2d / linear on a stored weight: give it the same positive constants."""
    w = node.args[1] if len(node.args) > 1 else node.kwargs.get("weight")
    b = node.args[2] if len(node.args) > 2 else node.kwargs.get("bias")
    with torch.no_grad():
        if isinstance(w, fx.Node) and w.op == "get_attr":
            t = fetch(gm, w.target)
            t.fill_(1.0 / t.shape[1])  # [O, I/g, kh, kw] or [O, I]
        if isinstance(b, fx.Node) and b.op == "get_attr":
            fetch(gm, b.target).zero_()
