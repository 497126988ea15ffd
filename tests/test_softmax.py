"""kernels.softmax / log_softmax / cross_entropy against torch and a slow loop reference.

Two oracles for every function: the PyTorch builtin (float64, within 1e-10) and a plain-Python
loop over positions and classes (``math.exp``, log-sum-exp) written from the definitions below.
The hand-written backward passes are checked against torch's autograd and with ``gradcheck``.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import kernels

TOL = dict(rtol=0, atol=1e-10)


# ---------------------------------------------------------------- slow loop reference
def _rows(x, dim=1):
    """Tensor with classes on ``dim`` -> list of per-position class vectors."""
    x = x.detach().cpu().movedim(dim, -1)
    return x.reshape(-1, x.shape[-1]).tolist()  # [positions, C]


def _lse(z):
    m = max(z)
    return m + math.log(sum(math.exp(v - m) for v in z))


def ref_softmax(z):
    return [math.exp(v - _lse(z)) for v in z]


def ref_cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """-sum_c q_c w_c log p_c per position; q = (1-eps) y + eps/C; mean divides by the sum of the
    target weights (index targets) or by the number of positions (probability targets)."""
    if input.dim() == 1:  # unbatched: [C] with [] or [C] -> a batch of one
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    zs = _rows(input)
    n_cls = len(zs[0])
    w = [1.0] * n_cls if weight is None else weight.tolist()
    prob = target.dim() == input.dim()
    ts = _rows(target) if prob else target.detach().cpu().reshape(-1).tolist()
    losses, denom = [], 0.0
    for z, t in zip(zs, ts):
        nlog = [_lse(z) - v for v in z]  # -log p_c
        if prob:
            losses.append(sum(w[c] * ((1 - eps) * t[c] + eps / n_cls) * nlog[c]
                              for c in range(n_cls)))
            denom += 1
        elif t == ignore_index:
            losses.append(0.0)
        else:
            losses.append((1 - eps) * w[t] * nlog[t]
                          + eps / n_cls * sum(w[c] * nlog[c] for c in range(n_cls)))
            denom += w[t]
    if reduction == "none":
        return losses
    total = math.fsum(losses)
    if reduction == "sum":
        return total
    return total / denom if denom else math.nan


# ---------------------------------------------------------------- softmax / log_softmax
SHAPES_DIMS = [((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 4, 3, 2), 1), ((2, 4, 3, 2), -1)]


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_softmax_and_log_softmax_match_torch_and_loop(device, shape, dim):
    x = 3 * torch.randn(shape, dtype=torch.float64, device=device)
    p, logp = kernels.softmax(x, dim), kernels.log_softmax(x, dim)
    torch.testing.assert_close(p, F.softmax(x, dim), **TOL)
    torch.testing.assert_close(logp, F.log_softmax(x, dim), **TOL)
    ref = [ref_softmax(z) for z in _rows(x, dim)]
    torch.testing.assert_close(torch.tensor(_rows(p, dim), dtype=torch.float64),
                               torch.tensor(ref, dtype=torch.float64), **TOL)
    ref_log = [[v - _lse(z) for v in z] for z in _rows(x, dim)]
    torch.testing.assert_close(torch.tensor(_rows(logp, dim), dtype=torch.float64),
                               torch.tensor(ref_log, dtype=torch.float64), **TOL)


@pytest.mark.parametrize("fn,ref", [(kernels.softmax, F.softmax),
                                    (kernels.log_softmax, F.log_softmax)])
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


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=6), st.floats(-1e3, 1e3))
def test_softmax_is_shift_invariant(values, shift):
    z = torch.tensor(values, dtype=torch.float64)
    torch.testing.assert_close(kernels.softmax(z + shift, 0), kernels.softmax(z, 0),
                               rtol=1e-9, atol=1e-12)
    assert abs(kernels.softmax(z, 0).sum().item() - 1) < 1e-12


# ---------------------------------------------------------------- cross_entropy
SHAPES = {"NC": (4, 5), "spatial": (3, 4, 2, 3), "unbatched": (5,)}


def _make_case(shape, kind, device, with_weight):
    shape = SHAPES[shape]
    c = shape[0] if len(shape) == 1 else shape[1]
    x = 2 * torch.randn(shape, dtype=torch.float64, device=device)
    if kind == "prob":  # unnormalised on purpose: torch accepts any non-negative target
        t = torch.rand(shape, dtype=torch.float64, device=device)
    else:
        idx_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
        t = torch.randint(0, c, idx_shape, device=device)
        if t.dim() > 0:
            t.view(-1)[1] = -100  # one ignored position
    w = torch.rand(c, dtype=torch.float64, device=device) + 0.5 if with_weight else None
    return x, t, w


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.25])
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_cross_entropy_all_options(device, shape, kind, with_weight, eps, reduction):
    x, t, w = _make_case(shape, kind, device, with_weight)
    kw = dict(weight=w, reduction=reduction, label_smoothing=eps)
    x.requires_grad_(True)
    t.requires_grad_(kind == "prob")
    ours = kernels.cross_entropy(x, t, **kw)
    theirs = F.cross_entropy(x, t, **kw)
    torch.testing.assert_close(ours, theirs, **TOL)
    ref = torch.tensor(ref_cross_entropy(x, t, w, reduction=reduction, eps=eps),
                       dtype=torch.float64)
    torch.testing.assert_close(ours.detach().cpu().reshape(-1), ref.reshape(-1), **TOL)

    inputs = (x, t) if kind == "prob" else (x,)
    g = torch.randn_like(ours)
    torch.testing.assert_close(torch.autograd.grad(ours, inputs, g),
                               torch.autograd.grad(theirs, inputs, g), **TOL)
    if kind == "prob":
        assert torch.autograd.gradcheck(lambda a, b: kernels.cross_entropy(a, b, **kw), (x, t))
    else:
        assert torch.autograd.gradcheck(lambda a: kernels.cross_entropy(a, t, **kw), (x,))


def test_gradient_is_p_minus_y():
    # The chapter's derivation, computed independently: mean over N of softmax(z) − y_smooth.
    n, c, eps = 6, 4, 0.1
    z = torch.randn(n, c, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, c, (n,))
    kernels.cross_entropy(z, y, label_smoothing=eps).backward()
    y_smooth = (1 - eps) * F.one_hot(y, c).double() + eps / c
    torch.testing.assert_close(kernels.smooth_one_hot(y, c, eps, torch.float64), y_smooth, **TOL)
    torch.testing.assert_close(z.grad, (F.softmax(z.detach(), 1) - y_smooth) / n, **TOL)


def test_smooth_one_hot_is_the_smoothed_target(device):
    # By hand: C = 4, ε = 0.2 -> 0.8 on the class plus 0.05 everywhere.
    t = torch.tensor([2, 0], device=device)
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]],
                            dtype=torch.float64, device=device)
    y = kernels.smooth_one_hot(t, 4, 0.2, dtype=torch.float64)
    torch.testing.assert_close(y, expected, **TOL)
    # Index targets with smoothing == probability targets equal to the smoothed one-hot.
    z = torch.randn(2, 4, dtype=torch.float64, device=device)
    torch.testing.assert_close(F.cross_entropy(z, t, label_smoothing=0.2), F.cross_entropy(z, y),
                               **TOL)


@pytest.mark.parametrize("ignore_index", [2, -1])
def test_ignore_index_any_value(device, ignore_index):
    x = torch.randn(8, 3, dtype=torch.float64, device=device, requires_grad=True)
    t = torch.tensor([0, 1, 2, 2, 1, 0, 2, 1], device=device)
    if ignore_index == -1:
        t[::3] = -1
    w = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64, device=device)
    for eps in (0.0, 0.3):
        ours = kernels.cross_entropy(x, t, w, ignore_index=ignore_index, label_smoothing=eps)
        theirs = F.cross_entropy(x, t, w, ignore_index=ignore_index, label_smoothing=eps)
        torch.testing.assert_close(ours, theirs, **TOL)
        torch.testing.assert_close(torch.autograd.grad(ours, x), torch.autograd.grad(theirs, x),
                                   **TOL)


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_all_ignored_batch(device, eps):
    x = torch.randn(3, 4, dtype=torch.float64, device=device, requires_grad=True)
    t = torch.full((3,), -100, device=device)
    mean = kernels.cross_entropy(x, t, label_smoothing=eps)
    assert torch.isnan(mean) and torch.isnan(F.cross_entropy(x, t, label_smoothing=eps))
    grad, = torch.autograd.grad(mean, x)
    assert torch.equal(grad, torch.zeros_like(x))  # torch also gives zeros, not nan
    assert kernels.cross_entropy(x, t, reduction="sum").item() == 0.0
    assert torch.equal(kernels.cross_entropy(x, t, reduction="none"), torch.zeros(3).double()
                       .to(device))


def test_label_smoothing_one_and_empty_batch():
    x = torch.randn(5, 3, dtype=torch.float64)
    t = torch.randint(0, 3, (5,))
    torch.testing.assert_close(kernels.cross_entropy(x, t, label_smoothing=1.0),
                               F.cross_entropy(x, t, label_smoothing=1.0), **TOL)
    empty = torch.randn(0, 3, dtype=torch.float64)
    assert torch.isnan(kernels.cross_entropy(empty, torch.zeros(0, dtype=torch.long)))
    assert torch.isnan(kernels.cross_entropy(empty, torch.zeros(0, 3, dtype=torch.float64)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_huge_logits_stay_finite(device, dtype):
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype,
                     device=device, requires_grad=True)
    t = torch.tensor([1, 2, 0], device=device)
    p = torch.tensor([[0.2, 0.5, 0.3]] * 3, dtype=dtype, device=device)
    assert torch.equal(kernels.softmax(x, 1)[0].detach(),
                       torch.tensor([1.0, 0.0, 0.0], dtype=dtype, device=device))
    for target in (t, p):
        for eps in (0.0, 0.1):
            loss = kernels.cross_entropy(x, target, label_smoothing=eps)
            grad, = torch.autograd.grad(loss, x)
            assert torch.isfinite(loss) and torch.isfinite(grad).all()
            torch.testing.assert_close(loss, F.cross_entropy(x, target, label_smoothing=eps))
    logp = kernels.log_softmax(x, 1)
    assert torch.isfinite(logp).all()  # log(softmax) would give -inf here
    assert logp[0, 1].item() == -2e4  # -1e4 − logsumexp = -1e4 − 1e4 (by hand)


def test_minus_inf_logit_masking():
    # A −inf logit (a masked class) costs nothing for a class-index target, as in torch ...
    z = torch.tensor([[0.0, -math.inf, 1.0]], dtype=torch.float64, requires_grad=True)
    ours = kernels.cross_entropy(z, torch.tensor([0]))
    torch.testing.assert_close(ours, F.cross_entropy(z, torch.tensor([0])), **TOL)
    assert torch.isfinite(torch.autograd.grad(ours, z)[0]).all()
    # ... while smoothing puts mass on it (loss inf), and a probability target computes
    # 0 · (−inf) = nan: torch's semantics, matched.
    z = z.detach()
    assert kernels.cross_entropy(z, torch.tensor([0]), label_smoothing=0.1).item() == math.inf
    soft = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    assert kernels.cross_entropy(z, soft).isnan() and F.cross_entropy(z, soft).isnan()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32, torch.int64])
def test_integer_target_dtypes(dtype):
    x = torch.randn(4, 3, dtype=torch.float64)
    t = torch.tensor([0, 2, 1, 2])
    torch.testing.assert_close(kernels.cross_entropy(x, t.to(dtype)), F.cross_entropy(x, t),
                               **TOL)


def test_float32_matches_torch(device):
    x = 5 * torch.randn(64, 10, 3, device=device)
    t = torch.randint(0, 10, (64, 3), device=device)
    w = torch.rand(10, device=device)
    torch.testing.assert_close(kernels.cross_entropy(x, t, w, label_smoothing=0.1),
                               F.cross_entropy(x, t, w, label_smoothing=0.1))


def test_modules_store_config_and_delegate():
    x = torch.randn(6, 4, dtype=torch.float64)
    t = torch.randint(0, 4, (6,))
    w = torch.rand(4, dtype=torch.float64)
    mod = kernels.CrossEntropyLoss(w, reduction="sum", label_smoothing=0.1, ignore_index=3)
    ref = torch.nn.CrossEntropyLoss(w, reduction="sum", label_smoothing=0.1, ignore_index=3)
    torch.testing.assert_close(mod(x, t), ref(x, t), **TOL)
    assert "weight" in dict(mod.named_buffers())
    torch.testing.assert_close(kernels.Softmax(1)(x), F.softmax(x, 1), **TOL)
    torch.testing.assert_close(kernels.LogSoftmax(-1)(x), F.log_softmax(x, -1), **TOL)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 6), spatial=st.integers(0, 2),
       eps=st.sampled_from([0.0, 0.05, 0.5]), reduction=st.sampled_from(["mean", "sum", "none"]),
       seed=st.integers(0, 2**16))
def test_cross_entropy_random_shapes(n, c, spatial, eps, reduction, seed):
    g = torch.Generator().manual_seed(seed)
    dims = tuple(torch.randint(1, 4, (spatial,), generator=g).tolist())
    x = 10 * torch.randn((n, c) + dims, generator=g, dtype=torch.float64)
    t = torch.randint(0, c, (n,) + dims, generator=g)
    kw = dict(reduction=reduction, label_smoothing=eps)
    torch.testing.assert_close(kernels.cross_entropy(x, t, **kw), F.cross_entropy(x, t, **kw),
                               **TOL)


# ---------------------------------------------------------------- bad input
X = torch.randn(4, 3)
T = torch.tensor([0, 1, 2, 1])
BAD = [
    (lambda: kernels.cross_entropy(X, torch.tensor([0, 1, 3, 1])), ValueError,
     r"class index 3, outside \[0, 3\)"),
    (lambda: kernels.cross_entropy(X, torch.tensor([0, -2, 1, 1])), ValueError,
     r"class index -2"),
    (lambda: kernels.cross_entropy(X, torch.tensor([0, 1, 2])), ValueError,
     r"class indices of shape \(4,\) or class probabilities of shape \(4, 3\)"),
    (lambda: kernels.cross_entropy(X, torch.rand(4, 4)), ValueError,
     r"got shape \(4, 4\)"),
    (lambda: kernels.cross_entropy(X.long(), T), TypeError, r"input must have a floating"),
    (lambda: kernels.cross_entropy(X, T.float()), TypeError, r"integer dtype"),
    (lambda: kernels.cross_entropy(X, torch.ones(4, 3, dtype=torch.long)), TypeError,
     r"probabilities and must be floating point"),
    (lambda: kernels.cross_entropy(X, torch.rand(4, 3), ignore_index=1), ValueError,
     r"ignore_index is not supported"),
    (lambda: kernels.cross_entropy(X, torch.rand(4, 3).double()), TypeError, r"target has dtype"),
    (lambda: kernels.cross_entropy(X, T, weight=torch.ones(4)), ValueError, r"weight must be"),
    (lambda: kernels.cross_entropy(X, T, weight=torch.ones(3).double()), TypeError,
     r"weight has dtype"),
    (lambda: kernels.cross_entropy(X, T, weight=torch.ones(3, requires_grad=True)), ValueError,
     r"weight must not require grad"),
    (lambda: kernels.cross_entropy(X, T, reduction="avg"), ValueError, r"reduction must be"),
    (lambda: kernels.cross_entropy(X, T, label_smoothing=1.5), ValueError, r"label_smoothing"),
    (lambda: kernels.cross_entropy(X, T, label_smoothing="0.1"), TypeError, r"label_smoothing"),
    (lambda: kernels.cross_entropy(torch.tensor(1.0), T), ValueError, r"0-D"),
    (lambda: kernels.cross_entropy(X.tolist(), T), TypeError, r"input must be a torch.Tensor"),
    (lambda: kernels.smooth_one_hot(T, 2), ValueError, r"class indices in \[0, 2\)"),
    (lambda: kernels.smooth_one_hot(T.float(), 3), TypeError, r"integer dtype"),
    (lambda: kernels.smooth_one_hot(T, 0), ValueError, r"num_classes must be positive"),
    (lambda: kernels.softmax(X, 2), ValueError, r"dim must be in \[-2, 1\]"),
    (lambda: kernels.softmax(X, 1.0), TypeError, r"dim must be an int"),
    (lambda: kernels.log_softmax(X.int(), 1), TypeError, r"floating-point"),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

