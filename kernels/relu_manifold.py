"""ReLU and low-dimensional manifolds (流形): why MobileNet v2's bottlenecks are linear.

Sandler et al., "MobileNetV2", arXiv:1801.04381, Figure 1 and Appendix A. Chapter:
``book/mobilenet.md``.

**Figure 1.** A 2-D spiral ``x`` is embedded into ``n`` dimensions by a random Gaussian matrix
``T: [n, 2]``, passed through a ReLU and mapped back with the pseudo-inverse ``T^+``:

    x  ->  T^+ ReLU(T x)                                             (relu_roundtrip)

For ``n = 2, 3`` whole arcs of the spiral collapse onto lines or the origin; for ``n = 15,
30`` the spiral comes back bent but whole. The bend is the pseudo-inverse's doing (``T^+``
fits all ``n`` coordinates, zeros included); the information is still there:
:func:`relu_recover` fits only the coordinates the ReLU let through and returns ``x`` exactly.

**When is ReLU(T x) invertible?** ``y = ReLU(T x)`` keeps coordinate ``i`` when ``t_i . x >
0`` (row ``t_i`` of ``T``); the kept ones are ``y_A = T_A x`` (the decoder sees ``A``: the
positive entries of ``y``). ``x`` is determined by ``y`` exactly when the active rows ``T_A``
have rank 2 (:func:`invertible_mask`); with fewer, the point collapses onto the line of its one
active row, or onto the origin. For Gaussian ``T`` any two rows are independent (almost
surely), so "rank 2" means "at least 2 active rows". For a fixed direction ``x`` each ``t_i . x``
is a centred Gaussian, positive with probability 1/2, independently across rows, so the
number of active rows is Binomial(n, 1/2) and

    P(invertible) = 1 - P(0 active) - P(1 active) = 1 - (1 + n) / 2^n

(:func:`expected_invertible_fraction`; the paper's Appendix A, for a 2-D input). ``n = 2``:
1/4; ``n = 3``: 1/2; ``n = 5``: 0.81; ``n = 15``: 0.9995. The probability is over ``T``; one
fixed ``T`` cuts the circle of directions into ``2n`` arcs and its own fraction varies around
this mean (for ``n = 2`` it is ``(pi - angle(t_1, t_2)) / 2 pi``, anywhere in [0, 1/2]).

**The linear bottleneck.** :func:`bottleneck_roundtrip_error` passes ``d``-dimensional data
through an inverted-residual-like map -- expand ``d -> expand * d`` with a ReLU, project back
to ``d`` -- with or without a ReLU after the projection, and asks how well the input can still
be read out. The ReLU in the wide space loses little; a ReLU on the ``d``-dimensional output
zeroes every negative coordinate and loses the point's sign there for good.
"""
from __future__ import annotations

import math

import torch

from ._checks import check_int, check_tensor

__all__ = ["spiral", "random_embedding", "relu_roundtrip", "relu_recover", "invertible_mask",
           "invertible_fraction", "expected_invertible_fraction", "bottleneck_roundtrip_error"]


def spiral(n_points: int = 1000, turns: float = 2.0) -> torch.Tensor:
    """An Archimedean spiral ``r = 0.1 + 0.9 s``, angle ``2 pi turns s``, ``s`` in [0, 1]:
    ``Tensor[n_points, 2]`` (float64), radius 0.1 to 1, never through the origin."""
    n_points = check_int(n_points, "n_points", min_value=2)
    if isinstance(turns, bool) or not isinstance(turns, (int, float)) or not turns > 0:
        raise ValueError(f"turns must be a positive number, got {turns!r}")
    s = torch.linspace(0, 1, n_points, dtype=torch.float64)
    r, angle = 0.1 + 0.9 * s, 2 * math.pi * turns * s
    return torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)  # [P, 2]


def random_embedding(n: int, seed: int = 0, dim: int = 2) -> torch.Tensor:
    """``T: Tensor[n, dim]``, float64, entries N(0, 1), the same for the same ``seed``."""
    n = check_int(n, "n", min_value=1)
    dim = check_int(dim, "dim", min_value=1)
    g = torch.Generator().manual_seed(check_int(seed, "seed", min_value=0))
    return torch.randn(n, dim, generator=g, dtype=torch.float64)


def _embed(points, n, seed):
    """``(T, y = ReLU(x T^T))`` for ``points: [P, d]``."""
    check_tensor(points, "points", ndim=2, floating=True)
    t = random_embedding(n, seed, points.shape[1])
    return t, torch.relu(points.double() @ t.T)  # [P, n]


def relu_roundtrip(points: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``T^+ ReLU(T x)`` for every row ``x`` of ``points: Tensor[P, d]`` (the paper's Figure 1);
    returns ``Tensor[P, d]`` (float64). Exact where every coordinate is active (then
    ``ReLU(T x) = T x``); elsewhere bent, even where :func:`relu_recover` is exact."""
    t, y = _embed(points, n, seed)
    return y @ torch.linalg.pinv(t).T  # [P, n] @ [n, d]


def _active_gram(points, n, seed):
    """Per point the Gram matrix of its active rows ``G = T_A^T T_A`` and ``b = T_A^T y_A``."""
    t, y = _embed(points, n, seed)
    active = (y > 0).double()                                 # [P, n]: ReLU let it through
    gram = torch.einsum("pi,ia,ib->pab", active, t, t)        # [P, d, d]
    return gram, y @ t                                        # b: [P, d] (zeros add nothing)


def relu_recover(points: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """The best reconstruction of each ``x`` from ``y = ReLU(T x)`` knowing ``T``: the
    minimum-norm least-squares solution of ``T_A z = y_A`` over the active rows ``A``.
    ``Tensor[P, d]``, float64. Equal to ``x`` where :func:`invertible_mask` holds; with one
    active row ``t`` it is ``x``'s projection ``t (t . x) / |t|^2`` onto that row's line, with
    none it is 0: the collapses of Figure 1."""
    gram, b = _active_gram(points, n, seed)
    return (torch.linalg.pinv(gram, hermitian=True) @ b.unsqueeze(-1)).squeeze(-1)  # [P, d]


def invertible_mask(points: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``Tensor[P]`` of bools: True where the active rows of ``T`` have full rank ``d`` (for a
    2-D input: at least 2 active coordinates with independent rows), so ``x`` is recoverable."""
    gram, _ = _active_gram(points, n, seed)
    rank = torch.linalg.matrix_rank(gram, hermitian=True, rtol=1e-9)  # rounding, not geometry
    return rank == points.shape[1]


def invertible_fraction(points: torch.Tensor, n: int, seed: int = 0) -> float:
    """The fraction of ``points`` for which ``ReLU(T x)`` is invertible."""
    return invertible_mask(points, n, seed).double().mean().item()


def expected_invertible_fraction(n: int) -> float:
    """``1 - (n + 1) / 2^n``: the probability over a Gaussian ``T: [n, 2]`` that ``ReLU(T x)``
    keeps at least two coordinates, i.e. that a 2-D point survives (module docstring)."""
    n = check_int(n, "n", min_value=1)
    return 1 - (n + 1) / 2 ** n


def bottleneck_roundtrip_error(x: torch.Tensor, expand: int, relu_after_projection: bool,
                               seed: int = 0) -> float:
    """Relative error ``|x_hat - x|^2 / |x|^2`` of reading ``x`` back through a bottleneck.

    ``x: Tensor[P, d]`` is expanded to ``m = expand * d`` channels with a ReLU,
    ``h = ReLU(x E^T)`` (``E = random_embedding(m, seed, d)``), projected back to ``d`` with
    the least-squares projection ``W`` (the best any linear projection can do), ``z = h W``,
    optionally followed by a ReLU, ``z = ReLU(h W)``; ``x_hat = z D`` with ``D`` again the best
    linear read-out. No biases: a learned shift could lift ``z`` away from zero, and the
    question here is what the ReLU itself removes. float64 throughout.
    """
    check_tensor(x, "x", ndim=2, floating=True)
    expand = check_int(expand, "expand", min_value=1)
    if not isinstance(relu_after_projection, bool):
        raise TypeError(f"relu_after_projection must be True or False, got "
                        f"{relu_after_projection!r}")
    x = x.double()
    e = random_embedding(expand * x.shape[1], seed, x.shape[1])
    h = torch.relu(x @ e.T)                                  # [P, m]: the expanded tensor
    z = h @ torch.linalg.lstsq(h, x).solution                # [P, d]: the bottleneck
    if relu_after_projection:
        z = torch.relu(z)
    x_hat = z @ torch.linalg.lstsq(z, x).solution            # [P, d]: best linear read-out
    return ((x_hat - x).square().sum() / x.square().sum()).item()
