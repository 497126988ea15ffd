"""Receptive fields measured with autograd: the exact field, and the effective field.

Book chapter: ``book/receptive_field.md``.

*Exact field.* Input pixel ``x_q`` can influence output unit ``y_p`` iff some path of nonzero
weights joins them. Gradients of a trained or random network can hide such pixels: positive
and negative paths cancel, a ReLU or a max-pool passes no gradient where it is off. So
:func:`empirical_receptive_field` differentiates a *linearised copy*: every convolution tap
weighs ``1 / (C_in / groups)``, biases are 0, activations and BatchNorm become the identity and
max-pools become sum-pools over the same windows. Then every path carries a positive product
and ``dy_p / dx_q`` (summed over input channels, averaged over output channels) is the number
of spatial paths from ``q`` to ``p``: positive exactly on the field, holes included.

*Effective field* (W. Luo, Y. Li, R. Urtasun, R. Zemel, "Understanding the Effective Receptive
Field in Deep Convolutional Neural Networks", NeurIPS 2016, arXiv:1701.04128): the mean of
``|dy_p / dx|`` over random weights and random inputs. It is roughly Gaussian; for ``n`` layers
its width grows like ``sqrt(n)`` while the field itself grows like ``n``: for ``n`` uniform
``k``-tap kernels the path counts are an ``n``-fold convolution of a box, with standard
deviation ``sqrt(n (k^2 - 1) / 12)`` by the central limit theorem.
"""
from __future__ import annotations

import copy

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from . import _rf_graph as _g

__all__ = ["empirical_receptive_field", "effective_receptive_field", "erf_moments", "erf_profile",
           "uniform_erf_std", "erf_growth"]


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
    c, (h, w) = _g.parse_input_size(input_size)
    gm = _linearised(model)
    c = c or _in_channels(gm)
    device = next((p.device for p in gm.parameters()), torch.device("cpu"))
    x = torch.ones(1, c, h, w, dtype=torch.float64, device=device, requires_grad=True)
    y = gm(x)
    target = _pick(y, position)
    (grad,) = torch.autograd.grad(target, x)
    return grad[0].sum(0).detach()  # [C, H, W] -> [H, W]


def effective_receptive_field(model: nn.Module, input_size, position=None,
                              seeds=8) -> torch.Tensor:
    """Mean ``|d y_p / d x|`` over random re-initialisations and Gaussian inputs (Luo et al.).

    Each seed re-runs every submodule's ``reset_parameters()`` (the layer's default random
    init) on a copy in eval mode and draws ``x ~ N(0, 1)``; the caller's RNG is left as it
    was. ``seeds`` is a count or an iterable of ints. Returns ``Tensor[H, W]`` summing to 1.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds must be a positive count or a non-empty list of ints")
    c, (h, w) = _g.parse_input_size(input_size)
    m = copy.deepcopy(model).eval()
    c = c or _in_channels(_g.trace(m))
    p0 = next(m.parameters(), None)
    device, dtype = (p0.device, p0.dtype) if p0 is not None else (torch.device("cpu"),
                                                                  torch.float32)
    total = torch.zeros(h, w, dtype=torch.float64, device=device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for seed in seeds:
            torch.random.default_generator.manual_seed(seed)  # CPU; the GPU one below
            if device.type == "cuda":
                torch.cuda.manual_seed(seed)
            for mod in m.modules():
                if hasattr(mod, "reset_parameters"):
                    mod.reset_parameters()
            x = torch.randn(1, c, h, w, dtype=dtype, device=device, requires_grad=True)
            (grad,) = torch.autograd.grad(_pick(m(x), position, mean=False), x)
            total += grad[0].abs().sum(0).double()  # [C, H, W] -> [H, W]
    return total / total.sum()


def erf_moments(field: torch.Tensor):
    """Centroid and standard deviation of a non-negative ``Tensor[H, W]`` along h and w.

    Returns ``((mean_h, mean_w), (std_h, std_w))`` in pixels, weighting each pixel by its value.
    """
    if not isinstance(field, torch.Tensor) or field.dim() != 2:
        raise ValueError(f"field must be a 2-D Tensor[H, W], got {getattr(field, 'shape', field)}")
    wgt = field.double().clamp_min(0)
    mass = wgt.sum()
    if mass <= 0:
        raise ValueError("field must have positive mass")
    means, stds = [], []
    for dim in (1, 0):  # marginal along h (sum over w), then along w
        marg = wgt.sum(dim) / mass
        coord = torch.arange(marg.numel(), dtype=torch.float64, device=marg.device)
        mu = (marg * coord).sum()
        means.append(mu.item())
        stds.append(((marg * (coord - mu) ** 2).sum()).sqrt().item())
    return tuple(means), tuple(stds)


def erf_profile(field: torch.Tensor, axis: str = "w"):
    """Marginal of a non-negative ``Tensor[H, W]`` along ``axis`` ("h" or "w") and the Gaussian
    with the same mean and standard deviation, sampled at the pixel centres.

    Returns ``(coords, marginal, gaussian)``, three ``Tensor[L]`` (float64); the last two sum to 1.
    """
    if axis not in ("h", "w"):
        raise ValueError(f"axis must be 'h' or 'w', got {axis!r}")
    (mu_h, mu_w), (sd_h, sd_w) = erf_moments(field)
    i = 0 if axis == "h" else 1
    mu, sd = (mu_h, sd_h) if i == 0 else (mu_w, sd_w)
    marg = field.double().clamp_min(0).sum(1 - i)  # [H, W] -> [L]
    marg = marg / marg.sum()
    coords = torch.arange(marg.numel(), dtype=torch.float64, device=marg.device)
    gauss = torch.exp(-0.5 * ((coords - mu) / max(sd, 1e-12)) ** 2)
    return coords, marg, gauss / gauss.sum()


def uniform_erf_std(kernel_sizes, strides=1, dilations=1):
    """Standard deviation (pixels) of the exact path counts of a chain, after each layer.

    With equal weights a path's input offset is ``sum_l S_{l-1} d_l t_l`` with ``t_l`` uniform
    on ``{0, ..., k_l - 1}`` and independent, so the variances add:

        sigma_L^2 = sum_l (S_{l-1} d_l)^2 (k_l^2 - 1) / 12,

    a sum of squares, where the field size ``r - 1 = sum_l S_{l-1} d_l (k_l - 1)`` is a plain
    sum: hence ``r ~ n`` but ``sigma ~ sqrt(n)`` for ``n`` equal layers. Arguments are lists
    with one int per layer (or one int for every layer); returns a list of floats.
    """
    ks = list(kernel_sizes)
    ss = list(strides) if isinstance(strides, (list, tuple)) else [strides] * len(ks)
    ds = list(dilations) if isinstance(dilations, (list, tuple)) else [dilations] * len(ks)
    if not (len(ks) == len(ss) == len(ds)) or not ks:
        raise ValueError(f"kernel_sizes, strides and dilations must have one entry per layer, "
                         f"got {len(ks)}, {len(ss)}, {len(ds)}")
    out, var, jump = [], 0.0, 1
    for k, s, d in zip(ks, ss, ds):
        var += (jump * d) ** 2 * (k * k - 1) / 12
        out.append(var ** 0.5)
        jump *= s
    return out


def erf_growth(depths=(1, 2, 4, 8, 16), kernel_size: int = 3, channels: int = 4, seeds=8,
               relu: bool = True):
    """Field size versus effective-field width for stacks of ``n`` stride-1 convolutions.

    For each depth ``n``: ``size`` r from :func:`kernels.receptive_field` (``1 + n(k-1)``),
    ``uniform_std`` from :func:`uniform_erf_std` (equal weights) and ``erf_std`` measured on
    :func:`effective_receptive_field` (random weights, ReLU if ``relu``), averaged over h and
    w. Returns a dict of lists keyed ``depth``, ``size``, ``uniform_std``, ``erf_std``.
    """
    from .models import conv_stack
    from .receptive_field import receptive_field

    out = {"depth": [], "size": [], "uniform_std": [], "erf_std": []}
    for n in depths:
        stack = conv_stack(n, kernel_size, channels=channels, relu=relu)
        r = receptive_field(stack, 1 + n * (kernel_size - 1)).size[0]
        side = r + 4  # room on each side so that no path is cut by the border
        erf = effective_receptive_field(stack, (channels, side, side), seeds=seeds)
        out["depth"].append(n)
        out["size"].append(r)
        out["uniform_std"].append(uniform_erf_std([kernel_size] * n)[-1])
        out["erf_std"].append(sum(erf_moments(erf)[1]) / 2)
    return out


# ------------------------------------------------------------------------------------ helpers
def _pick(y, position, mean=True):
    """Scalar to differentiate: unit ``position`` of ``y``, over its channels."""
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


def _in_channels(gm: fx.GraphModule) -> int:
    for node in gm.graph.nodes:
        if node.op == "call_module":
            m = gm.get_submodule(node.target)
            if isinstance(m, nn.Conv2d):
                return m.in_channels
            if isinstance(m, nn.Linear):
                raise ValueError("input_size must be (C, H, W): the first layer is Linear")
    raise ValueError("input_size must be (C, H, W): no Conv2d tells the number of input channels")


def _sum_max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                  return_indices=False):
    """Sum over max_pool2d's windows: same taps, every tap passes gradient."""
    k, d, p = _g.pair(kernel_size), _g.pair(dilation), _g.pair(padding)
    s = _g.pair(stride or kernel_size)
    ke = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    out = [_g.pool_len(n, ke[i], s[i], p[i], ceil_mode, "pool")
           for i, n in enumerate(x.shape[-2:])]
    right = [(o - 1) * s[i] + ke[i] - n - p[i] for i, (o, n) in enumerate(zip(out, x.shape[-2:]))]
    x = F.pad(x, (p[1], max(right[1], 0), p[0], max(right[0], 0)))  # zeros: pads hold no pixel
    ones = x.new_ones(x.shape[1], 1, *k)  # [C, 1, kh, kw] depthwise window
    y = F.conv2d(x, ones, stride=s, dilation=d, groups=x.shape[1])
    return y[..., :out[0], :out[1]]


def _sum_avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, *args, **kwargs):
    return _sum_max_pool(x, kernel_size, stride, padding, 1, ceil_mode)


def _linearised(model: nn.Module) -> fx.GraphModule:
    """Traced float64 copy with positive constant weights and linear activations."""
    gm = _g.trace(copy.deepcopy(model)).double().eval()
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
        op = _g.op_name(node, gm)
        mod = gm.get_submodule(node.target) if node.op == "call_module" else None
        if isinstance(mod, _g.ELEMENTWISE) or (mod is None and op in _g.UNARY):
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
            t = _g.fetch(gm, w.target)
            t.fill_(1.0 / t.shape[1])  # [O, I/g, kh, kw] or [O, I]
        if isinstance(b, fx.Node) and b.op == "get_attr":
            _g.fetch(gm, b.target).zero_()
