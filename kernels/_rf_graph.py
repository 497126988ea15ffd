"""The graph walk behind :func:`kernels.receptive_field`: trace with ``torch.fx``, then map
every node (module call, function call, method call) to a field rule of :mod:`._rf_layers`.

Following the traced graph, not the order in which modules were registered or hooks fired,
is what makes residual additions, concatenated branches, reused modules and functional calls
inside ``forward`` come out right.
"""
from __future__ import annotations

import torch
import torch.fx as fx
import torch.nn as nn

from ._checks import check_int
from ._rf_layers import (ELEMENTWISE, NONE3, WINDOWED, Axis, Field, ReceptiveFieldWarning,
                         TooSmall, adaptive, linear, module, pad, pair, pool_len, union,
                         unsupported, upsample, window)

__all__ = ["ReceptiveFieldWarning", "TooSmall", "trace", "walk", "parse_input_size", "fetch",
           "op_name", "pair", "pool_len", "ELEMENTWISE", "UNARY"]

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


class Shape(tuple):
    """Sizes of a traced ``x.shape`` that the walk knows (H, W), None for the others; lets
    ``F.interpolate(y, size=x.shape[-2:])`` (torchvision's ASPP pooling branch) be followed."""


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


# ------------------------------------------------------------------------------------ tracing
class _Tracer(fx.Tracer):
    def is_leaf_module(self, m, qualname):
        return isinstance(m, ELEMENTWISE + WINDOWED) or super().is_leaf_module(m, qualname)


def trace(model: nn.Module) -> fx.GraphModule:
    if isinstance(model, ELEMENTWISE + WINDOWED) or (
            type(model).__module__.startswith("torch.nn") and not isinstance(model, nn.Sequential)):
        model = nn.Sequential(model)  # the tracer would otherwise step inside a lone layer
    try:
        graph = _Tracer().trace(model)
    except Exception as e:  # fx raises many kinds; all mean the same thing here
        raise TypeError(f"model could not be traced with torch.fx ({type(e).__name__}: {e}); "
                        "receptive_field needs a forward() without data-dependent control flow"
                        ) from e
    return fx.GraphModule(model, graph)


def fetch(gm: nn.Module, target: str) -> torch.Tensor:
    """The parameter or buffer that a ``get_attr`` node names."""
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def node_name(node: fx.Node) -> str:
    if node.op == "call_module":
        return node.target
    stack = node.meta.get("nn_module_stack") or {}
    scope = next(reversed(stack.values()))[0] if stack else ""
    return f"{scope}.{node.name}" if scope else node.name


def op_name(node: fx.Node, gm: fx.GraphModule) -> str:
    if node.op == "call_module":
        return type(gm.get_submodule(node.target)).__name__
    if node.op == "call_method":
        return node.target
    return getattr(node.target, "__name__", str(node.target))


# ------------------------------------------------------------------------------------ the walk
def walk(gm: fx.GraphModule, hw: tuple[int, int], strict: bool):
    """Propagate fields through ``gm`` for an input of spatial size ``hw``.

    Returns ``(rows, out)``: rows are ``(name, op, out_hw, k, s, p, Field)`` per node, the
    first for the input; ``out`` is the Field of the model's single tensor output.
    """
    env, rows, out, seen_input = {}, [], None, False
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if seen_input:
                env[node] = None  # extra arguments (with defaults) carry no field
                continue
            seen_input = True
            env[node] = f = Field(Axis(1, 1, 0, hw[0]), Axis(1, 1, 0, hw[1]))
            rows.append(("input", "input", hw, None, None, None, f))
        elif node.op == "get_attr":
            env[node] = None
        elif node.op == "output":
            outs = _fields(node.args[0], env)
            if len(outs) != 1:
                raise ValueError(f"model returns {len(outs)} tensors; receptive_field needs a "
                                 "model with exactly one output (wrap it to pick one)")
            out = outs[0]
        else:
            name = node_name(node)
            f, geom = _apply(node, gm, env, name, strict, hw)
            env[node] = f
            if isinstance(f, Field):
                out_hw = None if f.flat else (f.h.length, f.w.length)
                rows.append((name, op_name(node, gm), out_hw, *geom, f))
    return rows, out


def _fields(arg, env):
    if isinstance(arg, fx.Node):
        return [env[arg]] if isinstance(env.get(arg), Field) else []
    if isinstance(arg, (tuple, list)):
        return [f for a in arg for f in _fields(a, env)]
    if isinstance(arg, dict):
        return [f for a in arg.values() for f in _fields(a, env)]
    return []


def _arg(node, i, key, default=None):
    return node.args[i] if len(node.args) > i else node.kwargs.get(key, default)


def _apply(node, gm, env, name, strict, hw):
    """Field of one node's output and the layer's own (kernel, stride, padding) or Nones."""
    inputs = _fields(list(node.args) + list(node.kwargs.values()), env)
    value = env.get(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
    first = value if isinstance(value, Field) else None  # the feature map the op works on
    op = op_name(node, gm)
    if op == "getitem" and isinstance(value, Shape):
        part = value[node.args[1]]
        return (Shape(part) if isinstance(part, tuple) else part), NONE3
    if not inputs:
        return None, NONE3  # shape arithmetic, constants
    if node.op == "call_module":
        return module(gm.get_submodule(node.target), inputs[0], name)
    if op in META and first is not None:
        known = Shape((None,) * 2 + ((first.h.length, first.w.length) if not first.flat else ()))
        if (op, node.args[1:]) == ("getattr", ("shape",)) or (op == "size" and len(node.args) == 1
                                                               and not node.kwargs):
            return known, NONE3
        dim = _arg(node, 1, "dim")
        if op == "size" and isinstance(dim, int) and -len(known) <= dim < len(known):
            return known[dim], NONE3
    if op in META:
        return None, NONE3
    if op in UNARY and first is not None:
        return first, NONE3
    if op in BINARY:
        return union(inputs, name, strict, hw), NONE3
    if op in ("cat", "concat", "concatenate"):
        dim = _arg(node, 1, "dim", 0)
        if not (inputs[0].flat and dim in (1, -1)) and dim not in (1, -3):
            raise unsupported(name, f"cat along dim {dim}", ": only channel concatenation keeps "
                              "the spatial layout")
        return union(inputs, name, strict, hw), NONE3
    if first is None:
        raise unsupported(name, op, ": its first argument is not the feature map")
    if op == "conv2d":
        w = _arg(node, 1, "weight")
        if not (isinstance(w, fx.Node) and w.op == "get_attr"):
            raise unsupported(name, "conv2d", " with a computed weight")
        k = tuple(fetch(gm, w.target).shape[-2:])
        return window(first, name, k, _arg(node, 3, "stride", 1), _arg(node, 4, "padding", 0),
                      _arg(node, 5, "dilation", 1))
    if op in ("max_pool2d", "avg_pool2d"):
        k = _arg(node, 1, "kernel_size")
        s = _arg(node, 2, "stride", None) or k
        d = _arg(node, 4, "dilation", 1) if op == "max_pool2d" else 1
        ceil = _arg(node, 5 if op == "max_pool2d" else 4, "ceil_mode", False)
        return window(first, name, k, s, _arg(node, 3, "padding", 0), d, ceil)
    if op in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        return adaptive(first, _arg(node, 1, "output_size"), name)
    if op == "pad":
        return pad(first, _arg(node, 1, "pad"), name)
    if op == "flatten" and (_arg(node, 1, "start_dim", 0) in (0, 1) or first.flat):
        return first.whole(flat=True), NONE3
    if op in ("view", "reshape"):  # understood when the new shape is (N, -1)
        shape = node.args[1:] if len(node.args) > 2 else _arg(node, 1, "shape")
        if isinstance(shape, (tuple, list)) and len(shape) <= 2:
            return first.whole(flat=True), NONE3
    if op in REDUCE:
        dims = _arg(node, 1, "dim")
        dims = {2, 3} if dims is None or first.flat else {
            d % 4 for d in (dims if isinstance(dims, (tuple, list)) else (dims,))}
        if {2, 3} <= dims:
            return first.whole(flat=not _arg(node, 2, "keepdim", False)), NONE3
    if op == "linear":
        return linear(first), NONE3
    if op == "interpolate":
        size = _arg(node, 1, "size")
        size = env.get(size) if isinstance(size, fx.Node) else size
        return upsample(first, size, _arg(node, 2, "scale_factor"), name)
    if op in ("softmax", "log_softmax") and (first.flat or _arg(node, 1, "dim") in (1, -3)):
        return first, NONE3
    raise unsupported(name, op)
