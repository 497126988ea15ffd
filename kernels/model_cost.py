"""The cost of any model (模型开销): parameters, multiply-adds and memory traffic per layer.

Book chapters: ``book/group_separable_convolution.md`` (why depthwise and grouped convolutions
save arithmetic but not time) and ``book/mobilenet.md`` (MobileNet's published costs).

:func:`model_cost` traces a model with ``torch.fx`` (the layers as leaves, as the
receptive-field calculator does, :mod:`kernels.layer_graph`), runs the traced graph once on a
shape-only ``meta`` tensor to learn every node's input and output shape (no arithmetic, no
memory, the model's own weights untouched), and counts, per layer as it runs:

* **params**: the numbers the layer learns, ``sum(p.numel())``, each tensor counted once, at its
  first use (a module called twice is counted once; the total equals the model's own count).
* **macs** (multiply-accumulates, *multiply-adds*): the products-and-sums of convolutions and
  fully connected layers, *bias not counted* -- the count of the MobileNet papers (Howard et al.
  2017, arXiv:1704.04861, Tables 1-8; Sandler et al. 2018, arXiv:1801.04381) and ResNet's
  "FLOPs" (He et al. 2016, arXiv:1512.03385). A convolution with ``C_in -> C_out`` channels,
  ``groups`` g and a ``k_h x k_w`` kernel (any stride, padding or dilation) costs

      macs = N * C_out * H_out * W_out * (C_in / g) * k_h * k_w

  (a depthwise layer, g = C_in = C_out, costs ``N C H_out W_out k_h k_w``; a 1x1 one
  ``N H W C_in C_out``), a ``Linear(C_in, C_out)`` costs ``N C_in C_out``, a transposed
  convolution ``N C_in H_in W_in (C_out / g) k_h k_w``, a matrix product ``numel(out) * K``.
* **other_ops**: the arithmetic the papers leave out, one operation per element it produces:
  a bias add per output element; BatchNorm one per element (at inference it is the per-channel
  affine ``a x + b``, which folds into the convolution before it); an activation one per
  element; an elementwise add / multiply (a residual connection) one per output element; max
  pooling ``k_h k_w - 1`` comparisons per output, average pooling ``k_h k_w`` (adds and one
  divide) per output -- the nominal window, padding included; adaptive pooling the same over
  its actual bins; ``mean`` one per input element; interpolation one per input value it
  weighs (4 per output for bilinear, as fvcore; nearest is a copy).
* **memory_access**: the elements a layer reads and writes, ``numel(inputs) + numel(output) +
  numel(weights)`` (weights: its parameters and BatchNorm's running mean and variance) --
  ShuffleNet v2's "MAC" (Ma et al. 2018, arXiv:1807.11164, Sec. 2), named in full here so that
  it is never confused with the multiply-accumulates above. For a 1x1 convolution on ``h x w``
  with ``c1 -> c2`` channels it is ``hw (c1 + c2) + c1 c2``. Views (``view``, ``transpose``, a
  ``reshape`` or ``flatten`` of a contiguous tensor, ``Dropout`` and ``Identity`` at inference)
  move nothing and cost 0; a copy (``cat``, padding, channel shuffle, a ``reshape`` or
  ``contiguous`` of a transposed tensor) reads and writes every element but does no
  arithmetic. A layer's weights are read again at every call. Counts are in elements:
  multiply by the bytes per element.

``flops`` is ``2 * macs + other_ops``. The common counters disagree on these conventions:
fvcore counts one fused multiply-add as one "flop", ignores biases, counts BatchNorm (1 per
element, 2 with an affine) and skips elementwise adds, activations and max pooling; ptflops
reports "MACs" but adds the bias (1 per output element) and counts BN, ReLU and pooling per
element; thop counts conv and linear multiply-adds without bias, BN per element and ReLU as
zero. This module's ``macs`` equals the conv + linear part of fvcore's and thop's counts and the
papers' figures; every other operation is kept apart in ``other_ops``, so that no convention is
hidden in the headline total. Measured here (``tests/test_model_cost.py``), with a global
average pool and a 1000-way ``Linear`` on the ``kernels`` feature extractors, at 224 x 224:

    MobileNet v1 1.0      568,740,352 multiply-adds    4,231,976 params  (paper: 569 M, 4.2 M)
    ResNet-50 (v1.5)    4,089,184,256                 25,557,032         (torchvision: 4.09 G)
    VGG-16             15,470,264,320                138,357,544         (15.5 G)

The model is costed in eval mode (BatchNorm's running statistics, Dropout the identity) and
its modes are restored; its forward hooks run, on shape-only tensors. Every public function of
``kernels`` (``kernels.conv2d``, ``kernels.channel_shuffle``, ...) is traced as one node,
however the forward calls it. A layer or function with no rule raises ``TypeError`` naming
it, e.g. ``model_cost: cannot count layer 'head.0' of type LSTM``: better no number than a
wrong one. The first call in a process loads torch's shape functions (a few seconds).
The rules, one per kind of layer, live in :mod:`kernels._model_cost_rules`.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

import torch
import torch.fx as fx
import torch.nn as nn

from ._checks import check_int
from ._model_cost_rules import LEAVES, count_node
from .layer_graph import in_channels, node_name, op_name

__all__ = ["model_cost", "ModelCost", "LayerCost"]


@dataclass(frozen=True)
class LayerCost:
    """One row of :class:`ModelCost`: the cost of one call of one layer (or function).

    ``name`` is the module path (``"features.3.0"``) or ``<enclosing module>.<function>``;
    ``type`` the module's class or the function's name; ``output_shape`` includes the batch.
    """
    name: str
    type: str
    output_shape: tuple
    params: int
    macs: int
    other_ops: int
    memory_access: int


@dataclass(frozen=True)
class ModelCost:
    """The per-layer table returned by :func:`model_cost`: a sequence of :class:`LayerCost`
    rows with totals (``params``, ``macs``, ``other_ops``, ``memory_access``, ``flops``)."""
    layers: tuple
    input_shape: tuple

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    @property
    def params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def macs(self) -> int:
        """Multiply-adds of convolutions and linear layers, bias excluded: the papers' count."""
        return sum(r.macs for r in self.layers)

    @property
    def other_ops(self) -> int:
        return sum(r.other_ops for r in self.layers)

    @property
    def memory_access(self) -> int:
        return sum(r.memory_access for r in self.layers)

    @property
    def flops(self) -> int:
        """``2 * macs + other_ops``: a multiply-add is two floating-point operations."""
        return 2 * self.macs + self.other_ops

    @property
    def output_shape(self) -> tuple:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def table(self) -> str:
        """The rows and a total line as aligned text, numbers with thousands separators."""
        head = ("layer", "type", "output", "params", "mult-adds", "other ops", "memory access")
        cells = [(r.name, r.type, "x".join(map(str, r.output_shape)), r.params, r.macs,
                  r.other_ops, r.memory_access) for r in self.layers]
        cells.append(("total", "", "x".join(map(str, self.output_shape)), self.params,
                      self.macs, self.other_ops, self.memory_access))
        cells = [tuple(f"{c:,}" if isinstance(c, int) else c for c in row) for row in cells]
        widths = [max(len(row[i]) for row in [head, *cells]) for i in range(len(head))]

        def line(row):
            return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        rule = "-" * len(line(head))
        return "\n".join([line(head), rule, *map(line, cells[:-1]), rule, line(cells[-1])])

    def __str__(self):
        return self.table()


class _Tracer(fx.Tracer):
    # kernels' functions check their arguments with isinstance, which a tracing Proxy fails:
    # autowrap records each call of a public kernels function (kernels.conv2d,
    # kernels.channel_shuffle, ...) as one node, whether a forward calls it by its bare name
    # or as kernels.<name>.
    def __init__(self):
        super().__init__(autowrap_modules=(math, importlib.import_module(__package__)))

    def is_leaf_module(self, m, qualname):
        return isinstance(m, LEAVES) or super().is_leaf_module(m, qualname)


def _trace(model: nn.Module) -> fx.GraphModule:
    """:func:`kernels.layer_graph.trace`, with kernels' own layers and functions as leaves."""
    if isinstance(model, LEAVES) or (type(model).__module__.startswith("torch.nn")
                                     and not isinstance(model, nn.Sequential)):
        model = nn.Sequential(model)  # the tracer would otherwise step inside a lone layer
    try:
        return fx.GraphModule(model, _Tracer().trace(model))
    except Exception as e:  # fx raises many kinds; all mean the same thing here
        raise TypeError(f"model could not be traced with torch.fx ({type(e).__name__}: {e}); "
                        "model_cost needs a forward() without data-dependent control flow"
                        ) from e


class _ShapeRecorder(fx.Interpreter):
    """Runs the graph on meta tensors and keeps every node's value (shapes and strides only)."""

    def __init__(self, gm, shape):
        super().__init__(gm, garbage_collect_values=False)
        self.shape = shape

    def run_node(self, n):
        try:
            return super().run_node(n)
        except Exception as e:
            raise ValueError(f"model_cost: layer '{node_name(n)}' ({op_name(n, self.module)}) "
                             f"fails on an input of shape {self.shape}: {type(e).__name__}: {e}"
                             ) from e

    def get_attr(self, target, args, kwargs):
        # a constant fx stored while tracing (not a parameter or buffer) is still real
        value = super().get_attr(target, args, kwargs)
        return value.to("meta") if isinstance(value, torch.Tensor) else value


class _Run(nn.Module):
    """The recorder as a module, so that ``torch.func.functional_call`` can swap meta tensors
    in for every parameter and buffer for the one run: the weights are never copied or read,
    and BatchNorm's running statistics never change."""

    def __init__(self, gm):
        super().__init__()
        self.gm = gm

    def forward(self, x):
        rec = _ShapeRecorder(self.gm, tuple(x.shape))
        rec.run(x)
        return rec.env


def _input_shape(input_size, gm) -> tuple:
    """``H`` | ``(H, W)`` | ``(C, H, W)`` | ``(N, C, H, W)`` -> ``(N, C, H, W)``, checked."""
    if isinstance(input_size, (tuple, list)):
        if not 2 <= len(input_size) <= 4:
            raise ValueError(f"input_size must be H, (H, W), (C, H, W) or (N, C, H, W), got "
                             f"{tuple(input_size)}")
        names = ("input_size[N]", "input_size[C]", "input_size[H]", "input_size[W]")
        vals = [check_int(v, n, min_value=1)
                for v, n in zip(input_size, names[4 - len(input_size):])]
    else:
        h = check_int(input_size, "input_size", min_value=1)
        vals = [h, h]
    if len(vals) == 2:
        vals.insert(0, in_channels(gm))  # told by the first Conv2d, else a ValueError
    return tuple(vals) if len(vals) == 4 else (1, *vals)


def model_cost(model: nn.Module, input_size) -> ModelCost:
    """Parameters, multiply-adds and memory traffic of every layer of ``model``.

    Args:
        model: any ``nn.Module`` that ``torch.fx`` can trace; its weights are never read.
        input_size: the input ``Tensor[N, C, H, W]``'s shape ``(N, C, H, W)``, or ``(C, H, W)``
            (batch 1), or ``(H, W)`` / ``H`` (batch 1, ``C`` from the first ``Conv2d``).

    Returns:
        :class:`ModelCost`: one :class:`LayerCost` per call of a layer or function, in the
        order they run, with totals; ``print`` it for a table. ``macs`` is the papers' count.

    Raises:
        TypeError: ``model`` is not a module or cannot be traced, or a layer has no rule (it
            is named).
        ValueError: ``input_size`` is malformed, or the model does not run on it (the failing
            layer is named).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()  # trace and run the inference graph; the caller's modes come back below
    try:
        gm = _trace(model)
        shape = _input_shape(input_size, gm)
        ref = next(iter(gm.parameters()), None)
        dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
        meta = {k: torch.empty_like(v, device="meta")
                for k, v in [*gm.named_parameters(), *gm.named_buffers()]}
        env = torch.func.functional_call(_Run(gm), {f"gm.{k}": v for k, v in meta.items()},
                                         (torch.empty(shape, dtype=dtype, device="meta"),))
    finally:
        for m, mode in modes:
            m.train(mode)
    seen, rows = set(), []
    for node in gm.graph.nodes:
        if node.op in ("call_module", "call_function", "call_method"):
            cost = count_node(node, gm, env, seen)
            if cost is not None:
                rows.append(LayerCost(node_name(node), op_name(node, gm), *cost))
    return ModelCost(tuple(rows), shape)
