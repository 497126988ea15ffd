"""The counting rules behind :func:`kernels.model_cost`, one per kind of layer (private to it).

:func:`count_node` takes one traced node, the values every node took on the shape-only run,
and the set of parameters already counted, and returns the node's
``(output_shape, params, macs, other_ops, memory_access)``, or ``None`` for a node that yields
no tensor (``x.size(0)``, arithmetic on sizes). The conventions are those of
:mod:`kernels.model_cost`'s docstring:

    macs          N C_out H_out W_out (C_in / g) k_h k_w    conv;   numel(out) C_in   linear
    other_ops     one per output element (bias, BN, activation, add); pooling per window
    memory_access numel(inputs) + numel(output) + numel(weights), 0 for a view
"""
from __future__ import annotations

import math

import torch
import torch.fx as fx
import torch.nn as nn

from .channel_shuffle import ChannelShuffle
from .conv import Conv2d
from .layer_graph import ELEMENTWISE, WINDOWED, arg, fetch, node_name, op_name
from .separable_conv import SeparableConv2d

__all__ = ["LEAVES", "count_node"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, Conv2d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)  # folded: a x + b per channel
_ACT = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
        nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus)
_FREE = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout,
         nn.FeatureAlphaDropout)  # the identity at inference: no copy
_RESHAPE = (nn.Flatten, nn.Unflatten)  # a view of a contiguous tensor, else a copy
_COPY = (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d,
         nn.ChannelShuffle, ChannelShuffle)
_MAX = (nn.MaxPool1d, nn.MaxPool2d)
_AVG = (nn.AvgPool1d, nn.AvgPool2d)
_ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d,
             nn.AdaptiveMaxPool2d)
LEAVES = tuple({*ELEMENTWISE, *WINDOWED, *_CONV, *_CONV_T, *_NORM, *_ACT, *_FREE, *_RESHAPE,
                *_COPY, *_MAX, *_AVG, *_ADAPTIVE, SeparableConv2d})

# Function and method names, as torch.fx records them (F.relu, torch.relu, x.relu() -> "relu").
_F_CONV = {"conv1d", "conv2d", "conv3d"}
_F_MATMUL = {"linear", "matmul", "mm", "bmm"}
_F_ELEMENTWISE = {  # one operation per output element
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu",
    "gelu", "silu", "mish", "hardswish", "hardsigmoid", "hardtanh", "hardtanh_", "sigmoid",
    "sigmoid_", "tanh", "tanh_", "softplus", "clamp", "clamp_", "clip", "abs", "neg", "exp",
    "prelu", "batch_norm", "add", "add_", "iadd", "sub", "sub_", "isub", "rsub", "mul", "mul_",
    "imul", "truediv", "div", "div_", "maximum", "minimum"}
_F_FREE = {"view", "view_as", "transpose", "permute", "t", "unsqueeze", "squeeze", "expand",
           "expand_as", "narrow", "getitem", "chunk", "split", "unbind", "unflatten", "detach",
           "dropout", "dropout1d", "dropout2d", "alpha_dropout", "feature_alpha_dropout", "to",
           "float", "type_as"}
_F_RESHAPE = {"reshape", "flatten", "contiguous"}
_F_COPY = {"cat", "concat", "concatenate", "stack", "channel_shuffle", "native_channel_shuffle",
           "pad", "clone"}
_F_MAX = {"max_pool1d", "max_pool2d"}
_F_AVG = {"avg_pool1d", "avg_pool2d"}
_F_ADAPTIVE = {"adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
               "adaptive_max_pool2d"}
_F_REDUCE = {"mean", "sum", "amax", "amin"}
# Interpolation weighs 2, 4 or 16 input values per output (fvcore counts bilinear as 4);
# nearest copies one.
_TAPS = {"linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8, "nearest": 0,
         "nearest-exact": 0}


def _bins(n: int, o: int) -> int:
    """Summed length of adaptive pooling's ``o`` bins on ``n`` units: bin i spans
    ``[floor(i n / o), ceil((i + 1) n / o))``, as in torch."""
    return sum(-(-(i + 1) * n // o) - (i * n // o) for i in range(o))


def _window(kernel_size, d: int) -> int:
    """Elements in a ``d``-dimensional pooling window given torch-style ``kernel_size``."""
    k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * d
    return math.prod(k)


def _adaptive(x, out, d: int, is_max: bool) -> int:
    windows = math.prod(out.shape[:-d])  # one window sum per (N, C) and per output cell
    for n, o in zip(x.shape[-d:], out.shape[-d:]):
        windows *= _bins(n, o)
    return windows - (out.numel() if is_max else 0)  # max: comparisons = window size - 1


def _pool(name: str, x, out, kernel_size=None):
    """other_ops of a pooling layer or function called ``name`` (``MaxPool2d``, ``avg_pool1d``)."""
    d = 2 if "2d" in name.lower() else 1
    is_max = "max" in name.lower()
    if "adaptive" in name.lower():
        return _adaptive(x, out, d, is_max)
    k = _window(kernel_size, d)
    return out.numel() * (k - 1 if is_max else k)  # max: k - 1 comparisons; avg: k - 1 adds, 1 /


def _interpolate(mode, out):
    taps = _TAPS.get(mode)
    if taps is None:
        return None
    return (0, out.numel() * taps, "compute") if taps else (0, 0, "copy")


def _separable(out, depthwise_weight, pointwise_weight, bias):
    """A depthwise then a pointwise convolution in one call: ``N H_out W_out`` positions, each
    costing ``C_in M k_h k_w + C_out C_in M`` (the two weights' sizes); the depthwise output,
    ``N C_in M H_out W_out`` elements, is written and read back inside the call."""
    positions = out.numel() // out.shape[-3]
    return (positions * (depthwise_weight.numel() + pointwise_weight.numel()),
            out.numel() if bias is not None else 0, "compute",
            2 * positions * depthwise_weight.shape[0])


def _module_rule(m: nn.Module, x, out):
    """``(macs, other_ops, moves[, hidden])`` of a leaf module: moves is 'compute', 'copy' or
    'view'; hidden counts elements written and read back inside the layer."""
    n_out = out.numel()
    bias = n_out if getattr(m, "bias", None) is not None else 0  # one add per output element
    if isinstance(m, SeparableConv2d):
        return _separable(out, m.depthwise.weight, m.pointwise.weight, m.pointwise.bias)
    if isinstance(m, _CONV):
        return n_out * m.weight[0].numel(), bias, "compute"  # (C_in/g) k_h k_w per output
    if isinstance(m, _CONV_T):  # each input element scatters into (C_out/g) k_h k_w outputs
        return x.numel() * m.weight[0].numel(), bias, "compute"
    if isinstance(m, nn.Linear):
        return n_out * m.in_features, bias, "compute"
    if isinstance(m, _NORM + _ACT):
        return 0, n_out, "compute"
    if isinstance(m, _MAX + _AVG + _ADAPTIVE):
        return 0, _pool(type(m).__name__, x, out, getattr(m, "kernel_size", None)), "compute"
    if isinstance(m, _FREE):
        return 0, 0, "view"
    if isinstance(m, _RESHAPE):
        return 0, 0, "view" if x.is_contiguous() else "copy"
    if isinstance(m, _COPY):
        return 0, 0, "copy"
    if isinstance(m, nn.Upsample):
        return _interpolate(m.mode, out)
    return None


def _function_rule(name: str, node: fx.Node, value, x, out):
    """``(macs, other_ops, moves)`` of a function or method call; ``value`` reads an argument."""
    n_out = out.numel()
    if name == "separable_conv2d":
        return _separable(out, value(arg(node, 1, "depthwise_weight")),
                          value(arg(node, 2, "pointwise_weight")), arg(node, 3, "bias"))
    if name in _F_CONV or name in _F_MATMUL:
        if name in _F_CONV:
            per_output = value(arg(node, 1, "weight"))[0].numel()  # (C_in/g) k_h k_w
        else:
            per_output = x.shape[-1]  # the summed dimension K of [.., M, K] @ [.., K, N]
        has_bias = name in _F_CONV | {"linear"} and arg(node, 2, "bias") is not None
        return n_out * per_output, n_out if has_bias else 0, "compute"
    if name in _F_ELEMENTWISE:
        return 0, n_out, "compute"
    if name in _F_MAX | _F_AVG | _F_ADAPTIVE:
        return 0, _pool(name, x, out, value(arg(node, 1, "kernel_size"))), "compute"
    if name in _F_REDUCE:
        return 0, x.numel() - (0 if name == "mean" else n_out), "compute"
    if name in _F_FREE:
        return 0, 0, "view"
    if name in _F_RESHAPE:
        return 0, 0, "view" if x.is_contiguous() else "copy"
    if name in _F_COPY:
        return 0, 0, "copy"
    if name == "interpolate":
        return _interpolate(value(arg(node, 3, "mode", "nearest")), out)
    return None


def _tensors(values):
    """The tensors among ``values``, looking inside lists and tuples (``torch.cat``'s input)."""
    for v in values:
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, (tuple, list)):
            yield from _tensors(v)


def _unknown(node: fx.Node, name: str) -> TypeError:
    return TypeError(f"model_cost: cannot count layer '{node_name(node)}' of type {name}; "
                     "build the model from layers model_cost knows (see its docstring) or "
                     "leave this one out of the model you measure")


def count_node(node: fx.Node, gm: fx.GraphModule, env: dict, seen: set):
    """``(output_shape, params, macs, other_ops, memory_access)`` of ``node``, or None."""
    out = env[node]
    name = op_name(node, gm)
    if not isinstance(out, torch.Tensor):
        if any(True for _ in _tensors([out])) and name not in _F_FREE:  # e.g. an LSTM's tuple
            raise _unknown(node, name)
        return None  # a size, a shape, arithmetic on sizes; chunk's tuple (its items are rows)

    def value(a):
        return env[a] if isinstance(a, fx.Node) else a

    args = [*node.args, *node.kwargs.values()]
    # Activations come from other layers; weights are the parameters and buffers it reads.
    ins = list(_tensors(fx.node.map_arg(
        [a for a in args if not (isinstance(a, fx.Node) and a.op == "get_attr")], value)))
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        weights = [*m.parameters(), *(b for b in m.buffers() if b.is_floating_point())]
        rule = _module_rule(m, ins[0] if ins else None, out)
    else:
        weights = [fetch(gm, a.target) for a in args
                   if isinstance(a, fx.Node) and a.op == "get_attr"]
        rule = _function_rule(name, node, value, ins[0] if ins else None, out)
    if rule is None:
        raise _unknown(node, name)
    macs, other_ops, moves, hidden = (*rule, 0)[:4]
    params = 0
    for w in weights:
        if isinstance(w, nn.Parameter) and id(w) not in seen:  # a shared weight counts once
            seen.add(id(w))
            params += w.numel()
    memory = 0 if moves == "view" else (sum(t.numel() for t in ins) + out.numel()
                                        + sum(w.numel() for w in weights) + hidden)
    return tuple(out.shape), params, macs, other_ops, memory
