"""A CNN as a graph of layers: what the three receptive-field modules share.

Book chapter: ``book/receptive_field.md``. Used by :mod:`kernels.receptive_field` (the analytic
field), :mod:`kernels.empirical_receptive_field` (the exact field, from autograd) and
:mod:`kernels.effective_receptive_field` (Luo et al.); nothing here is public in ``kernels``.

* :func:`trace` records a model's ``forward`` with ``torch.fx``, keeping every layer that
  changes the spatial layout as one node (a leaf), so residual additions, concatenated branches,
  reused modules and functional calls appear as they run, not as they were registered.
* :data:`ELEMENTWISE`, :data:`WINDOWED`, :data:`UNARY`, :data:`BINARY`, :data:`META` and
  :data:`REDUCE` sort the nodes: an elementwise node keeps the field, a windowed one grows it.
* :func:`window_length` is torch's output length of a convolution or pooling window along one
  axis (``aten/src/ATen/native/Pool.h``, ``pooling_output_shape_pad_lr``)::

      n_out = floor((n + p_l + p_r - d (k - 1) - 1 + (s - 1 if ceil_mode)) / s) + 1

  and, with ``ceil_mode``, one window less if the last one would start at or after
  ``n + p_l`` (inside the right padding): a ceil-mode window may run past the input, but it
  must start inside the input or the left padding.
"""
from __future__ import annotations

import torch
import torch.fx as fx
import torch.nn as nn

from ._checks import check_int

__all__ = ["ELEMENTWISE", "WINDOWED", "UNARY", "BINARY", "META", "REDUCE", "trace", "fetch",
           "node_name", "op_name", "arg", "pair", "window_length", "parse_input_size",
           "in_channels"]

# Modules that act on each pixel alone (BatchNorm in eval mode is an affine map per channel).
ELEMENTWISE = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU,
               nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardswish,
               nn.Hardsigmoid, nn.Hardtanh, nn.Softplus, nn.Identity, nn.Dropout, nn.Dropout2d,
               nn.AlphaDropout, nn.FeatureAlphaDropout)
# Modules that move or mix pixels.
WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
            nn.ZeroPad2d, nn.ConstantPad2d, nn.Flatten, nn.Linear, nn.Upsample)
# Function and method names (fx records e.g. torch.relu, F.relu and x.relu() as "relu").
UNARY = {"relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu",
         "gelu", "silu", "mish", "hardswish", "hardsigmoid", "hardtanh", "hardtanh_", "sigmoid",
         "sigmoid_", "tanh", "tanh_", "softplus", "dropout", "dropout2d", "alpha_dropout",
         "feature_alpha_dropout", "clamp", "clamp_", "clip", "contiguous", "float", "double",
         "half", "to", "type_as", "detach", "clone", "abs", "neg", "exp", "batch_norm", "prelu"}
BINARY = {"add", "add_", "iadd", "sub", "sub_", "isub", "mul", "mul_", "imul", "truediv", "div",
          "div_", "maximum", "minimum"}
META = {"size", "dim", "getattr", "numel"}  # shape queries: no field, maybe known sizes
REDUCE = {"mean", "sum", "amax", "amin"}


# ------------------------------------------------------------------------------------ tracing
class _Tracer(fx.Tracer):
    def is_leaf_module(self, m, qualname):
        return isinstance(m, ELEMENTWISE + WINDOWED) or super().is_leaf_module(m, qualname)


def trace(model: nn.Module) -> fx.GraphModule:
    """``model`` as an ``fx.GraphModule`` whose layers are leaves; ``TypeError`` if untraceable."""
    if isinstance(model, ELEMENTWISE + WINDOWED) or (
            type(model).__module__.startswith("torch.nn") and not isinstance(model, nn.Sequential)):
        model = nn.Sequential(model)  # the tracer would otherwise step inside a lone layer
    try:
        graph = _Tracer().trace(model)
    except Exception as e:  # fx raises many kinds; all mean the same thing here
        raise TypeError(f"model could not be traced with torch.fx ({type(e).__name__}: {e}); "
                        "receptive fields need a forward() without data-dependent control flow"
                        ) from e
    return fx.GraphModule(model, graph)


def fetch(gm: nn.Module, target: str) -> torch.Tensor:
    """The parameter or buffer that a ``get_attr`` node names."""
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def node_name(node: fx.Node) -> str:
    """The module path of a module call; ``<enclosing module>.<node>`` for a function call."""
    if node.op == "call_module":
        return node.target
    stack = node.meta.get("nn_module_stack") or {}
    scope = next(reversed(stack.values()))[0] if stack else ""
    return f"{scope}.{node.name}" if scope else node.name


def op_name(node: fx.Node, gm: fx.GraphModule) -> str:
    """The module's class name, or the function / method name (``"max_pool2d"``, ``"add"``)."""
    if node.op == "call_module":
        return type(gm.get_submodule(node.target)).__name__
    if node.op == "call_method":
        return node.target
    return getattr(node.target, "__name__", str(node.target))


def arg(node: fx.Node, i: int, key: str, default=None):
    """Argument ``i`` of a call node, passed by position or as ``key=``."""
    return node.args[i] if len(node.args) > i else node.kwargs.get(key, default)


def in_channels(gm: fx.GraphModule) -> int:
    """``C`` of the input, told by the first Conv2d; ``ValueError`` if the graph cannot tell."""
    for node in gm.graph.nodes:
        if node.op == "call_module":
            m = gm.get_submodule(node.target)
            if isinstance(m, nn.Conv2d):
                return m.in_channels
            if isinstance(m, nn.Linear):
                raise ValueError("input_size must be (C, H, W): the first layer is Linear")
    raise ValueError("input_size must be (C, H, W): no Conv2d tells the number of input channels")


# ----------------------------------------------------------------------------- window arithmetic
def pair(v):
    """``v`` or ``(v, v)``: torch's int-or-pair layer arguments as an ``(h, w)`` tuple."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def window_length(n: int, k: int, s: int, p_left: int, p_right: int,
                  ceil_mode: bool = False) -> int:
    """torch's output length along one axis for a window of (dilated) extent ``k``, stride
    ``s`` and padding ``p_left`` / ``p_right`` on ``n`` units; ``< 1`` where torch refuses."""
    q = n + p_left + p_right - k
    out = (q + (s - 1 if ceil_mode else 0)) // s + 1  # // rounds down, as torch's div_rtn
    if ceil_mode and (out - 1) * s >= n + p_left:  # the last window starts in the right padding
        out -= 1
    return out


def parse_input_size(input_size):
    """``H`` | ``(H, W)`` | ``(C, H, W)`` -> ``(C or None, (H, W))``, checked."""
    if isinstance(input_size, (tuple, list)) and len(input_size) in (2, 3):
        names = ("input_size[C]", "input_size[H]", "input_size[W]")[3 - len(input_size):]
        vals = [check_int(v, n, min_value=1) for v, n in zip(input_size, names)]
        return (vals[0] if len(vals) == 3 else None), tuple(vals[-2:])
    if isinstance(input_size, (tuple, list)):
        raise ValueError(f"input_size must be H, (H, W) or (C, H, W), got {tuple(input_size)}")
    n = check_int(input_size, "input_size", min_value=1)
    return None, (n, n)
