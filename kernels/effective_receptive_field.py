"""The effective receptive field (W. Luo, Y. Li, R. Urtasun, R. Zemel, "Understanding the
Effective Receptive Field in Deep Convolutional Neural Networks", NeurIPS 2016,
arXiv:1701.04128): how much each input pixel of the field actually matters.

Book chapter: ``book/receptive_field.md``. The effective field of output unit ``p`` is the mean
of ``|dy_p / dx|`` over random weights and random inputs,

    ERF_p(q) = E_{w, x} |dy_p / dx_q|   (normalised to sum to 1),

nonzero only inside the exact field (:func:`kernels.empirical_receptive_field`). It is roughly
Gaussian; for ``n`` layers its width grows like ``sqrt(n)`` while the field itself grows like
``n``: for ``n`` uniform ``k``-tap kernels the path counts are an ``n``-fold convolution of a
box, with standard deviation ``sqrt(n (k^2 - 1) / 12)`` by the central limit theorem.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from .empirical_receptive_field import unit_output
from .layer_graph import in_channels, parse_input_size, trace
from .conv_stack import conv_stack
from .receptive_field import receptive_field

__all__ = ["effective_receptive_field", "erf_moments", "erf_profile", "uniform_erf_std",
           "erf_growth"]


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
    c, (h, w) = parse_input_size(input_size)
    m = copy.deepcopy(model).eval()
    c = c or in_channels(trace(m))
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
            (grad,) = torch.autograd.grad(unit_output(m(x), position, mean=False), x)
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
