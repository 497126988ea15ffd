"""The graph walk behind :func:`kernels.receptive_field`, private to it: follow the traced
graph of a model (:mod:`kernels.layer_graph`) node by node and apply each node's field rule
(:mod:`kernels._receptive_field_rules`).

Book chapter: ``book/receptive_field.md``. Following the traced graph, not the order in which
modules were registered or hooks fired, is what makes residual additions, concatenated
branches, reused modules and functional calls inside ``forward`` come out right. Module calls
go to :func:`~kernels._receptive_field_rules.module`; functional and method calls (``F.conv2d``,
``F.max_pool2d``, ``x + y``, ``torch.cat``, ``x.mean((2, 3))``, ``F.interpolate``) are read
here, from their arguments.
"""
from __future__ import annotations

import torch.fx as fx

from ._receptive_field_rules import (NONE3, Axis, Field, adaptive, linear, module, pad, union,
                                     unsupported, upsample, window)
from .layer_graph import BINARY, META, REDUCE, UNARY, arg, fetch, node_name, op_name

__all__ = ["walk", "TooSmall"]


class TooSmall(ValueError):
    """A layer produced an empty map; caught by receptive_field to find the minimal input."""


class Shape(tuple):
    """Sizes of a traced ``x.shape`` that the walk knows (H, W), None for the others; lets
    ``F.interpolate(y, size=x.shape[-2:])`` (torchvision's ASPP pooling branch) be followed."""


# ------------------------------------------------------------------------------------ the walk
def walk(gm: fx.GraphModule, hw: tuple[int, int], strict: bool):
    """Propagate fields through ``gm`` for an input of spatial size ``hw``.

    Returns ``(rows, out, notes)``: rows are ``(name, op, out_hw, k, s, p, Field)`` per node,
    the first for the input; ``out`` is the Field of the model's single tensor output;
    ``notes`` the caveats (messages) that the caller should warn about.
    """
    env, rows, out, seen_input, notes = {}, [], None, False, []
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
            f, geom = _apply(node, gm, env, name, strict, hw, notes)
            if isinstance(f, Field) and not f.flat and min(f.h.length, f.w.length) < 1:
                raise TooSmall(name)
            env[node] = f
            if isinstance(f, Field):
                out_hw = None if f.flat else (f.h.length, f.w.length)
                rows.append((name, op_name(node, gm), out_hw, *geom, f))
    return rows, out, notes


def _fields(arg, env):
    if isinstance(arg, fx.Node):
        return [env[arg]] if isinstance(env.get(arg), Field) else []
    if isinstance(arg, (tuple, list)):
        return [f for a in arg for f in _fields(a, env)]
    if isinstance(arg, dict):
        return [f for a in arg.values() for f in _fields(a, env)]
    return []


def _apply(node, gm, env, name, strict, hw, notes):
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
        return module(gm.get_submodule(node.target), inputs[0], name, notes)
    if op in META and first is not None:
        known = Shape((None,) * 2 + ((first.h.length, first.w.length) if not first.flat else ()))
        if (op, node.args[1:]) == ("getattr", ("shape",)) or (op == "size" and len(node.args) == 1
                                                               and not node.kwargs):
            return known, NONE3
        dim = arg(node, 1, "dim")
        if op == "size" and isinstance(dim, int) and -len(known) <= dim < len(known):
            return known[dim], NONE3
    if op in META:
        return None, NONE3
    if op in UNARY and first is not None:
        return first, NONE3
    if op in BINARY:
        return union(inputs, name, strict, hw, notes), NONE3
    if op in ("cat", "concat", "concatenate"):
        dim = arg(node, 1, "dim", 0)
        if not (inputs[0].flat and dim in (1, -1)) and dim not in (1, -3):
            raise unsupported(name, f"cat along dim {dim}", ": only channel concatenation keeps "
                              "the spatial layout")
        return union(inputs, name, strict, hw, notes), NONE3
    if first is None:
        raise unsupported(name, op, ": its first argument is not the feature map")
    if op == "conv2d":
        w = arg(node, 1, "weight")
        if not (isinstance(w, fx.Node) and w.op == "get_attr"):
            raise unsupported(name, "conv2d", " with a computed weight")
        k = tuple(fetch(gm, w.target).shape[-2:])
        return window(first, name, k, arg(node, 3, "stride", 1), arg(node, 4, "padding", 0),
                      arg(node, 5, "dilation", 1))
    if op in ("max_pool2d", "avg_pool2d"):
        k = arg(node, 1, "kernel_size")
        s = arg(node, 2, "stride", None) or k
        d = arg(node, 4, "dilation", 1) if op == "max_pool2d" else 1
        ceil = arg(node, 5 if op == "max_pool2d" else 4, "ceil_mode", False)
        return window(first, name, k, s, arg(node, 3, "padding", 0), d, ceil)
    if op in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        return adaptive(first, arg(node, 1, "output_size"), name, notes)
    if op == "pad":
        return pad(first, arg(node, 1, "pad"), name)
    if op == "flatten" and (arg(node, 1, "start_dim", 0) in (0, 1) or first.flat):
        return first.whole(flat=True), NONE3
    if op in ("view", "reshape"):  # understood when the new shape is (N, -1)
        shape = node.args[1:] if len(node.args) > 2 else arg(node, 1, "shape")
        if isinstance(shape, (tuple, list)) and len(shape) <= 2:
            return first.whole(flat=True), NONE3
    if op in REDUCE:
        dims = arg(node, 1, "dim")
        dims = {2, 3} if dims is None or first.flat else {
            d % 4 for d in (dims if isinstance(dims, (tuple, list)) else (dims,))}
        if {2, 3} <= dims:
            return first.whole(flat=not arg(node, 2, "keepdim", False)), NONE3
    if op == "linear":
        return linear(first), NONE3
    if op == "interpolate":
        size = arg(node, 1, "size")
        size = env.get(size) if isinstance(size, fx.Node) else size
        return upsample(first, size, arg(node, 2, "scale_factor"), name)
    if op in ("softmax", "log_softmax") and (first.flat or arg(node, 1, "dim") in (1, -3)):
        return first, NONE3
    raise unsupported(name, op)
