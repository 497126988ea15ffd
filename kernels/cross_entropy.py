"""Cross-entropy on logits, fused with log-softmax, with a hand-written backward pass.

Cross-entropy against a target distribution y is ℓ = −Σ_c y_c log p_c with p = softmax(z).
Composed with the softmax it has the famously simple gradient

    ∂ℓ/∂z = p − y        (when Σ_c y_c = 1),

which is why frameworks fuse the two into one layer (Caffe's ``SoftmaxWithLoss``, Jia et al.
2014; PyTorch's ``cross_entropy``): the backward never forms the C×C softmax Jacobian
diag(p) − p pᵀ, and the forward works in log space (:func:`kernels.log_softmax`).

Class weights w and label smoothing ε (Szegedy et al. 2016) only change the target: each
position gets the weighted vector a_c = w_c ((1 − ε) y_c + ε / C), and in general

    ℓ = Σ_c a_c (−log p_c),        ∂ℓ/∂z = (Σ_c a_c) p − a.

Positions whose class index is ``ignore_index`` have a = 0, and their logits are replaced by
zeros before any arithmetic: a NaN or ±inf there (masked logits are common in segmentation)
would otherwise turn 0 · log p into NaN. Shapes, reductions, ``ignore_index`` and the weighted
mean follow ``torch.nn.functional.cross_entropy``. Chapter: ``book/softmax_cross_entropy.md``.
"""
from __future__ import annotations

import numbers

import torch
from torch import nn

from ._checks import check_int, check_same_device_dtype, check_tensor
from .softmax import log_softmax

__all__ = ["cross_entropy", "smooth_one_hot", "CrossEntropyLoss"]

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, divisor, reduction):
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / divisor if reduction == "mean" else loss


def _upstream(g, divisor, reduction):
    """dL/dℓ_i for every position, shaped to broadcast against [N, C, *]."""
    if reduction == "none":
        return g.unsqueeze(1)  # [N, 1, *]
    if reduction == "sum":
        return g
    # mean: an all-ignored batch has divisor 0 (loss nan) and, as in torch, zero gradient; the
    # inner where keeps 0/0 out of the graph too (its backward would give 0 · nan)
    kept = divisor > 0
    return torch.where(kept, g / torch.where(kept, divisor, 1.0), 0.0)


def _with_logp_grad(grad_z, g_logp, logp):
    """Add the gradient that reaches the second output, log p (only in a double backward)."""
    if g_logp is None:
        return grad_z
    lg = g_logp - logp.exp() * g_logp.sum(1, keepdim=True)  # ∂ log p_i/∂z_j = δ_ij − p_j
    return lg if grad_z is None else grad_z + lg


# Both Functions return log p as a second output (the public function drops it) and save it:
# a saved *output* is on the autograd graph, so with create_graph=True autograd can
# differentiate the backward below (second order, as torch); a saved intermediate would not be.
class _CrossEntropyProbFn(torch.autograd.Function):
    """Probability targets: ℓ_i = Σ_c a_ic (−log p_ic), a = w ⊙ ((1 − ε) t + ε / C) [N, C, *]."""

    @staticmethod
    def forward(ctx, z, a, divisor, reduction):
        logp = log_softmax(z, 1)
        ctx.reduction = reduction
        ctx.set_materialize_grads(False)  # a first-order backward gets g_logp = None, not zeros
        ctx.save_for_backward(logp, a, divisor)
        return _reduce(-(a * logp).sum(1), divisor, reduction), logp  # ℓ: [N, *] before reducing

    @staticmethod
    def backward(ctx, g, g_logp):
        logp, a, divisor = ctx.saved_tensors
        grad_z = grad_a = None
        if g is not None:
            up = _upstream(g, divisor, ctx.reduction)
            if ctx.needs_input_grad[0]:
                # ∂ℓ/∂z_k = Σ_c a_c (p_k − δ_ck) = (Σ_c a_c) p_k − a_k;  = p − y when Σ a = 1
                grad_z = (a.sum(1, keepdim=True) * logp.exp() - a) * up
            if ctx.needs_input_grad[1]:
                grad_a = -logp * up  # ∂ℓ/∂a_c = −log p_c
        if ctx.needs_input_grad[0]:
            grad_z = _with_logp_grad(grad_z, g_logp, logp)
        return grad_z, grad_a, None, None


class _CrossEntropyIndexFn(torch.autograd.Function):
    """Class-index targets: the same ℓ with a = b·onehot(y) + k·(ε / C)·w, never made dense.

    y [N, *] class per position (0 where ignored); k [N, *] 1 kept, 0 ignored; b = (1 − ε) w_y k;
    w [1, C, 1, ...] class weights or None (all ones).
    """

    @staticmethod
    def forward(ctx, z, y, b, k, w, eps, divisor, reduction):
        logp = log_softmax(z, 1)
        loss = -b * logp.gather(1, y.unsqueeze(1)).squeeze(1)  # (1 − ε) w_y (−log p_y): [N, *]
        if eps > 0:
            wlogp = logp if w is None else w * logp
            loss = loss - (eps / z.shape[1]) * k * wlogp.sum(1)  # + ε/C Σ_c w_c (−log p_c)
        ctx.eps, ctx.reduction = eps, reduction
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(logp, y, b, k, w, divisor)
        return _reduce(loss, divisor, reduction), logp

    @staticmethod
    def backward(ctx, g, g_logp):
        logp, y, b, k, w, divisor = ctx.saved_tensors
        grad = None
        if g is not None:
            n_classes, eps = logp.shape[1], ctx.eps
            w_sum = n_classes if w is None else w.sum()
            s = b + (eps / n_classes) * k * w_sum  # Σ_c a_c per position: [N, *]
            grad = s.unsqueeze(1) * logp.exp()  # (Σ_c a_c) p
            if eps > 0:
                grad -= (eps / n_classes) * k.unsqueeze(1) * (1.0 if w is None else w)  # − ε w / C
            grad.scatter_add_(1, y.unsqueeze(1), -b.unsqueeze(1))  # − (1 − ε) w_y onehot(y)
            # ∂ℓ/∂z = (Σ_c a_c) p − a, which is p − y without weights and ε = 0
            grad = grad * _upstream(g, divisor, ctx.reduction)
        return (_with_logp_grad(grad, g_logp, logp),) + (None,) * 7


def _check_smoothing(label_smoothing) -> float:
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"label_smoothing must be a float, got {type(label_smoothing).__name__}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    return float(label_smoothing)


def smooth_one_hot(target: torch.Tensor, num_classes: int, label_smoothing: float = 0.0,
                   dtype: torch.dtype | None = None) -> torch.Tensor:
    """The distribution ``cross_entropy(..., label_smoothing=ε)`` compares against.

    Args:
        target: ``Tensor[*]`` class indices in ``[0, num_classes)``.
    Returns:
        ``Tensor[*, C]`` (classes last, as ``F.one_hot``): ``(1 − ε) onehot(target) + ε / C``.
    """
    check_tensor(target, "target")
    num_classes = check_int(num_classes, "num_classes", min_value=1)
    eps = _check_smoothing(label_smoothing)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target must have an integer dtype, got {target.dtype}")
    if target.numel() and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(f"target must hold class indices in [0, {num_classes}), got values in "
                         f"[{target.min().item()}, {target.max().item()}]")
    one_hot = nn.functional.one_hot(target.long(), num_classes)  # [*, C]
    return one_hot.to(dtype or torch.get_default_dtype()) * (1 - eps) + eps / num_classes


def _index_cross_entropy(input, target, weight, ignore_index, eps, reduction):
    n_classes = input.shape[1]
    target = target.long()  # uint8 / int32 too; comparisons with a negative ignore_index need sign
    keep = target != ignore_index  # [N, *]
    bad = keep & ((target < 0) | (target >= n_classes))
    if bad.any():
        raise ValueError(f"target holds class index {target[bad][0].item()}, outside "
                         f"[0, {n_classes}) and not ignore_index={ignore_index}")
    if not keep.all():
        # Ignored rows never enter the arithmetic: a NaN / ±inf there would make 0 · log p = NaN
        # in the loss and the gradient. masked_fill's backward gives them exactly 0 gradient.
        input = input.masked_fill(~keep.unsqueeze(1), 0.0)  # [N, C, *]
    y = target.masked_fill(~keep, 0)  # ignored positions: any class, weight 0 below
    k = keep.to(input.dtype)  # as 0/1 floats: a bool tensor times a float computes in float32
    w_y = k if weight is None else weight[y] * k  # [N, *]
    shape = (1, n_classes) + (1,) * (input.dim() - 2)
    w = None if weight is None else weight.view(shape)  # [1, C, 1, ...]
    # mean divides by Σ w_y over kept positions (torch's nll_loss convention, also with ε > 0)
    loss, _ = _CrossEntropyIndexFn.apply(input, y, (1 - eps) * w_y, k, w, eps, w_y.sum(),
                                         reduction)
    return loss


def cross_entropy(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy between ``softmax(input, 1)`` and ``target``, as ``F.cross_entropy``.

    Args:
        input: logits, ``Tensor[N, C]``, ``Tensor[N, C, d1, d2, ...]`` or unbatched ``Tensor[C]``.
        target: class indices ``Tensor[N]`` / ``Tensor[N, d1, ...]`` / ``Tensor[]`` (any integer
            dtype, values in ``[0, C)`` or ``ignore_index``), or class probabilities of the
            shape of ``input`` (floating point; differentiable).
        weight: ``Tensor[C]`` class weights, treated as constants.
        ignore_index: class-index targets equal to it add no loss and no gradient (0 with
            ``reduction="none"``, whatever their logits hold, NaN and ±inf included), and leave
            the mean's divisor. Not supported (must be negative) for probability targets.
        reduction: ``"none"`` (``Tensor[N, d1, ...]``), ``"sum"``, or ``"mean"``: divided by
            Σ w_{y_i} over non-ignored positions for index targets (nan if all are ignored),
            by N·d1·… for probability targets.
        label_smoothing: ε in [0, 1]; the target becomes (1 − ε) y + ε / C.

    The backward pass is hand-written and itself differentiable: with ``create_graph=True``
    (gradient penalties, Hessian-vector products) second derivatives match torch's.
    """
    check_tensor(input, "input", floating=True)
    check_tensor(target, "target")
    if input.dim() == 0:
        raise ValueError("input must be Tensor[C] or Tensor[N, C, d1, ...], got a 0-D tensor")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    ignore_index = check_int(ignore_index, "ignore_index")
    eps = _check_smoothing(label_smoothing)
    n_classes = input.shape[0] if input.dim() == 1 else input.shape[1]
    if n_classes == 0:
        raise ValueError(f"input must have at least one class, got shape {tuple(input.shape)}")
    if weight is not None:
        check_tensor(weight, "weight", ndim=1, floating=True)
        if weight.shape[0] != n_classes:
            raise ValueError(f"weight must be Tensor[{n_classes}] (one per class), "
                             f"got shape {tuple(weight.shape)}")
        check_same_device_dtype(input, "input", weight, "weight")
        if weight.requires_grad and torch.is_grad_enabled():
            raise ValueError("weight must not require grad: class weights are constants here")

    unbatched = input.dim() == 1
    index_shape = (() if unbatched else (input.shape[0],)) + tuple(input.shape[2:])
    if target.shape == input.shape:  # class probabilities
        if not target.is_floating_point():
            raise TypeError(f"target of the shape of input {tuple(input.shape)} holds class "
                            f"probabilities and must be floating point, got {target.dtype}; "
                            f"class indices have shape {index_shape}")
        check_same_device_dtype(input, "input", target, "target")
        if ignore_index >= 0:
            raise ValueError("ignore_index is not supported for class-probability targets "
                             f"(leave it negative), got {ignore_index}")
    elif tuple(target.shape) == index_shape:  # class indices
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise TypeError(f"target of shape {index_shape} holds class indices and must have "
                            f"an integer dtype, got {target.dtype}")
        if target.device != input.device:
            raise ValueError(f"target is on {target.device} but input is on {input.device}")
    else:
        raise ValueError(f"target must be class indices of shape {index_shape} or class "
                         f"probabilities of shape {tuple(input.shape)} for input of shape "
                         f"{tuple(input.shape)}, got shape {tuple(target.shape)}")

    if unbatched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)  # [1, C], [1] or [1, C]
    if target.shape == input.shape:
        a = target * (1 - eps) + eps / n_classes  # smoothed target, [N, C, *]
        if weight is not None:
            a = a * weight.view((1, n_classes) + (1,) * (input.dim() - 2))  # w: [1, C, 1, ...]
        divisor = torch.tensor(input.numel() // n_classes, dtype=input.dtype, device=input.device)
        loss, _ = _CrossEntropyProbFn.apply(input, a, divisor, reduction)  # mean: over N·d1·…
    else:
        loss = _index_cross_entropy(input, target, weight, ignore_index, eps, reduction)
    return loss.squeeze(0) if unbatched and reduction == "none" else loss


class CrossEntropyLoss(nn.Module):
    """``cross_entropy`` with its options stored; ``weight`` is a buffer (moves with ``.to``).

    Options after ``weight`` are keyword-only: torch's positional order has deprecated
    arguments (``size_average``, ``reduce``) in between.
    """

    def __init__(self, weight: torch.Tensor | None = None, *, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                             self.label_smoothing)
