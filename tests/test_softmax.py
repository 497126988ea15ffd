"""kernels.softmax / log_softmax against torch and a slow loop reference.

Two oracles for each function: the PyTorch builtin (float64, within 1e-10) and a plain-Python
loop over positions and classes (``math.exp``, log-sum-exp) written from the definitions. The
hand-written backward passes are checked against torch's autograd, with ``gradcheck`` and, for
second order, with ``gradgradcheck`` and a gradient penalty.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import kernels

TOL = dict(rtol=0, atol=1e-10)
OPS = [(kernels.softmax, F.softmax), (kernels.log_softmax, F.log_softmax)]


# ---------------------------------------------------------------- slow loop reference
def _rows(x, dim):
    """Tensor with classes on ``dim`` -> list of per-position class vectors."""
    x = x.detach().cpu().movedim(dim, -1)
    return x.reshape(-1, x.shape[-1]).tolist()  # [positions, C]


def _lse(z):
    m = max(z)
    return m + math.log(sum(math.exp(v - m) for v in z))


def ref_softmax(z):
    return [math.exp(v - _lse(z)) for v in z]


def ref_log_softmax(z):
    return [v - _lse(z) for v in z]


def _check_against_loop(x, dim, p, logp):
    ref = torch.tensor([ref_softmax(z) for z in _rows(x, dim)], dtype=torch.float64)
    ref_log = torch.tensor([ref_log_softmax(z) for z in _rows(x, dim)], dtype=torch.float64)
    torch.testing.assert_close(torch.tensor(_rows(p, dim), dtype=torch.float64), ref, **TOL)
    torch.testing.assert_close(torch.tensor(_rows(logp, dim), dtype=torch.float64), ref_log,
                               **TOL)


# ---------------------------------------------------------------- forward
SHAPES_DIMS = [((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 4, 3, 2), 1), ((2, 4, 3, 2), -1)]


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_softmax_and_log_softmax_match_torch_and_loop(device, shape, dim):
    x = 3 * torch.randn(shape, dtype=torch.float64, device=device)
    p, logp = kernels.softmax(x, dim), kernels.log_softmax(x, dim)
    torch.testing.assert_close(p, F.softmax(x, dim), **TOL)
    torch.testing.assert_close(logp, F.log_softmax(x, dim), **TOL)
    _check_against_loop(x, dim, p, logp)


@pytest.mark.property
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data(),
       scale=st.sampled_from([0.1, 3.0, 50.0]), seed=st.integers(0, 2**16))
def test_softmax_random_shapes_match_torch_and_loop(shape, data, scale, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(shape, generator=g, dtype=torch.float64)
    p, logp = kernels.softmax(x, dim), kernels.log_softmax(x, dim)
    torch.testing.assert_close(p, F.softmax(x, dim), **TOL)
    torch.testing.assert_close(logp, F.log_softmax(x, dim), **TOL)
    _check_against_loop(x, dim, p, logp)


@pytest.mark.property
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=6), st.floats(-1e3, 1e3))
def test_softmax_is_shift_invariant(values, shift):
    z = torch.tensor(values, dtype=torch.float64)
    torch.testing.assert_close(kernels.softmax(z + shift, 0), kernels.softmax(z, 0),
                               rtol=1e-9, atol=1e-12)
    assert abs(kernels.softmax(z, 0).sum().item() - 1) < 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_huge_logits_stay_finite(device, dtype):
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype, device=device)
    assert torch.equal(kernels.softmax(x, 1)[0], torch.tensor([1.0, 0.0, 0.0], dtype=dtype,
                                                              device=device))
    logp = kernels.log_softmax(x, 1)
    assert torch.isfinite(logp).all()  # log(softmax) would give -inf here
    assert logp[0, 1].item() == -2e4  # -1e4 − logsumexp = -1e4 − 1e4 (by hand)
    torch.testing.assert_close(logp, F.log_softmax(x, 1))


def test_empty_input_gives_empty_output():
    x = torch.randn(0, 3, dtype=torch.float64)
    assert kernels.softmax(x, 1).shape == (0, 3) and kernels.log_softmax(x, 0).shape == (0, 3)


# ---------------------------------------------------------------- backward, first and second order
@pytest.mark.parametrize("fn,ref", OPS)
@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_softmax_backward(device, fn, ref, shape, dim):
    x = torch.randn(shape, dtype=torch.float64, device=device, requires_grad=True)
    g = torch.randn(shape, dtype=torch.float64, device=device)
    ours, = torch.autograd.grad(fn(x, dim), x, g)
    theirs, = torch.autograd.grad(ref(x, dim), x, g)
    torch.testing.assert_close(ours, theirs, **TOL)
    assert torch.autograd.gradcheck(lambda t: fn(t, dim), (x,))
    assert torch.autograd.gradgradcheck(lambda t: fn(t, dim), (x,))


def test_softmax_jacobian_is_diag_p_minus_ppT():
    # The chapter's formula: ∂p_i/∂z_j = p_i (δ_ij − p_j).
    z = torch.tensor([1.0, -0.5, 2.0, 0.3], dtype=torch.float64)
    p = F.softmax(z, 0)
    jac = torch.autograd.functional.jacobian(lambda t: kernels.softmax(t, 0), z)
    torch.testing.assert_close(jac, torch.diag(p) - torch.outer(p, p), **TOL)


@pytest.mark.parametrize("fn,ref", OPS)
def test_gradient_penalty_matches_torch(device, fn, ref):
    # Issue 9, defect 3 (found in cross_entropy; guarded here too): the gradient taken with
    # create_graph=True must stay on the graph, so a penalty on it adds its own gradient.
    x = torch.randn(4, 5, dtype=torch.float64, device=device, requires_grad=True)
    w = torch.randn(4, 5, dtype=torch.float64, device=device)

    def penalty(op):
        g, = torch.autograd.grad((op(x, 1) * w).sum(), x, create_graph=True)
        assert g.requires_grad
        value = g.square().sum()
        return value, torch.autograd.grad(value, x)[0]

    for a, b in zip(penalty(fn), penalty(ref)):
        torch.testing.assert_close(a, b, **TOL)
    h = torch.autograd.functional.hessian(lambda t: fn(t, 0)[1], x[0].detach())
    torch.testing.assert_close(h, torch.autograd.functional.hessian(lambda t: ref(t, 0)[1],
                                                                    x[0].detach()), **TOL)


def test_modules_store_dim_and_delegate():
    x = torch.randn(6, 4, dtype=torch.float64)
    torch.testing.assert_close(kernels.Softmax(1)(x), F.softmax(x, 1), **TOL)
    torch.testing.assert_close(kernels.LogSoftmax(-1)(x), F.log_softmax(x, -1), **TOL)
    assert kernels.Softmax(0).dim == 0


# ---------------------------------------------------------------- bad input
X = torch.randn(4, 3)
BAD = [
    (lambda: kernels.softmax(X, 2), ValueError, r"dim must be in \[-2, 1\]"),
    (lambda: kernels.log_softmax(X, -3), ValueError, r"dim must be in \[-2, 1\]"),
    (lambda: kernels.softmax(X, 1.0), TypeError, r"dim must be an int"),
    (lambda: kernels.softmax(X, True), TypeError, r"dim must be an int"),
    (lambda: kernels.log_softmax(X.int(), 1), TypeError, r"floating-point"),
    (lambda: kernels.softmax(X.tolist(), 1), TypeError, r"input must be a torch.Tensor"),
    (lambda: kernels.Softmax("1"), TypeError, r"dim must be an int"),
    (lambda: kernels.LogSoftmax(None), TypeError, r"dim must be an int"),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
