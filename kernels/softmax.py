"""Softmax and log-softmax, each with a hand-written backward pass.

Softmax (Bridle, 1990) maps logits z ∈ R^C to probabilities

    p_c = exp(z_c) / Σ_k exp(z_k),        ∂p_i/∂z_j = p_i (δ_ij − p_j),

so the Jacobian is J = diag(p) − p pᵀ (symmetric), and a backward pass never needs to form it:
Jᵀg = p ⊙ (g − Σ_k g_k p_k). Softmax is shift invariant, so the forward subtracts m = max z
first: every exp argument is then ≤ 0 (no overflow; float32 overflows at z > 88.7) and the
largest term is 1. Log-softmax is computed directly in log space (log-sum-exp),

    log p = (z − m) − log Σ_k exp(z_k − m),        ∂ log p_i / ∂z_j = δ_ij − p_j,

which stays finite where ``log(softmax(z))`` gives log 0 = −inf.

Each backward saves the function's *output* (p or log p), so under ``create_graph=True`` the
backward is itself on the autograd graph and second derivatives (Hessians, gradient penalties)
come out right. The cross-entropy that fuses log-softmax with the loss lives in
:mod:`kernels.cross_entropy`. Chapter: ``book/softmax_cross_entropy.md``.
"""
from __future__ import annotations

import torch
from torch import nn

from ._checks import check_int, check_tensor

__all__ = ["softmax", "log_softmax", "Softmax", "LogSoftmax"]


class _SoftmaxFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, dim):
        e = (z - z.amax(dim, keepdim=True)).exp()  # exp(z - m): softmax is shift invariant
        p = e / e.sum(dim, keepdim=True)
        ctx.dim = dim
        ctx.save_for_backward(p)  # an output: connected to the graph, so double backward works
        return p

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved_tensors
        # J = diag(p) − p pᵀ is symmetric: Jᵀg = p ⊙ g − p (pᵀg) = p ⊙ (g − Σ_k g_k p_k)
        return p * (g - (g * p).sum(ctx.dim, keepdim=True)), None


class _LogSoftmaxFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, dim):
        # Subtracting m = max z makes every exp argument <= 0: no overflow, and the largest term
        # is 1, so the log never sees 0 (log-sum-exp).
        shifted = z - z.amax(dim, keepdim=True)
        logp = shifted - shifted.exp().sum(dim, keepdim=True).log()
        ctx.dim = dim
        ctx.save_for_backward(logp)  # an output: connected to the graph, so double backward works
        return logp

    @staticmethod
    def backward(ctx, g):
        (logp,) = ctx.saved_tensors
        # ∂ log p_i / ∂z_j = δ_ij − p_j  ⇒  grad_z = g − p Σ_i g_i
        return g - logp.exp() * g.sum(ctx.dim, keepdim=True), None


def _check_dim(input: torch.Tensor, dim) -> int:
    dim = check_int(dim, "dim")
    nd = max(input.dim(), 1)
    if not -nd <= dim < nd:
        raise ValueError(f"dim must be in [{-nd}, {nd - 1}] for a {input.dim()}-D input, got {dim}")
    return dim % nd


def softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    """Softmax along ``dim``: ``exp(x) / exp(x).sum(dim)``, computed without overflow.

    Args:
        input: floating-point tensor of any shape, e.g. ``Tensor[N, C]``.
        dim: the dimension that sums to one.
    Returns:
        Tensor of the shape of ``input``; differentiable to any order.
    """
    check_tensor(input, "input", floating=True)
    dim = _check_dim(input, dim)
    if input.numel() == 0:
        return input.clone()
    return _SoftmaxFn.apply(input, dim)


def log_softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    """``log(softmax(input, dim))`` computed directly as ``x − logsumexp(x)``: finite for any
    finite input (the naive composition gives −inf once a probability underflows to 0)."""
    check_tensor(input, "input", floating=True)
    dim = _check_dim(input, dim)
    if input.numel() == 0:
        return input.clone()
    return _LogSoftmaxFn.apply(input, dim)


class Softmax(nn.Module):
    """``softmax(input, dim)`` as a layer."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = check_int(dim, "dim")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return softmax(input, self.dim)


class LogSoftmax(Softmax):
    """``log_softmax(input, dim)`` as a layer."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return log_softmax(input, self.dim)
