"""kernels.cross_entropy / smooth_one_hot against torch and a slow loop reference.

Two oracles: ``F.cross_entropy`` (float64, within 1e-10) and a plain-Python loop over positions
and classes (``math.exp``, log-sum-exp) written from the definition below. The hand-written
backward is checked against torch's autograd and with ``gradcheck``; its second order with
``gradgradcheck`` and a gradient penalty compared with torch's.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import kernels

TOL = dict(rtol=0, atol=1e-10)


# ---------------------------------------------------------------- slow loop reference
def _rows(x):
    """Tensor with classes on dim 1 -> list of per-position class vectors."""
    x = x.detach().cpu().movedim(1, -1)
    return x.reshape(-1, x.shape[-1]).tolist()  # [positions, C]


def _lse(z):
    m = max(z)
    return m + math.log(sum(math.exp(v - m) for v in z))


def ref_cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """-sum_c q_c w_c log p_c per position; q = (1-eps) y + eps/C; mean divides by the sum of the
    target weights (index targets) or by the number of positions (probability targets). The
    logits of an ignored position are never read."""
    if input.dim() == 1:  # unbatched: [C] with [] or [C] -> a batch of one
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    zs = _rows(input)
    n_cls = len(zs[0]) if zs else input.shape[1]
    w = [1.0] * n_cls if weight is None else weight.tolist()
    prob = target.dim() == input.dim()
    ts = _rows(target) if prob else target.detach().cpu().reshape(-1).tolist()
    losses, denom = [], 0.0
    for z, t in zip(zs, ts):
        if not prob and t == ignore_index:
            losses.append(0.0)
            continue
        nlog = [_lse(z) - v for v in z]  # -log p_c
        if prob:
            losses.append(sum(w[c] * ((1 - eps) * t[c] + eps / n_cls) * nlog[c]
                              for c in range(n_cls)))
            denom += 1
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


def _assert_matches_loop(ours, x, t, w=None, ignore_index=-100, reduction="mean", eps=0.0):
    ref = torch.tensor(ref_cross_entropy(x, t, w, ignore_index, reduction, eps),
                       dtype=torch.float64)
    torch.testing.assert_close(ours.detach().cpu().reshape(-1), ref.reshape(-1), equal_nan=True,
                               **TOL)


# ---------------------------------------------------------------- every option, both oracles
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
    _assert_matches_loop(ours, x, t, w, reduction=reduction, eps=eps)

    inputs = (x, t) if kind == "prob" else (x,)
    g = torch.randn_like(ours)
    torch.testing.assert_close(torch.autograd.grad(ours, inputs, g),
                               torch.autograd.grad(theirs, inputs, g), **TOL)
    if kind == "prob":
        assert torch.autograd.gradcheck(lambda a, b: kernels.cross_entropy(a, b, **kw), (x, t))
    else:
        assert torch.autograd.gradcheck(lambda a: kernels.cross_entropy(a, t, **kw), (x,))


# ---------------------------------------------------------------- second order (issue 9, defect 3)
def _penalty(fn, x, t, kw):
    """loss + ||∂loss/∂x||², the gradient penalty, and its gradient with respect to x (and t)."""
    loss = fn(x, t, **kw)
    inputs = (x, t) if t.is_floating_point() else (x,)
    grads = torch.autograd.grad(loss.sum(), inputs, create_graph=True)
    assert all(g.requires_grad for g in grads)  # was False: the penalty term was dropped
    value = loss.sum() + sum(g.square().sum() for g in grads)
    return (value,) + torch.autograd.grad(value, inputs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", ["plain", "weight+smoothing"])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("shape", ["NC", "spatial"])
def test_double_backward_matches_torch(device, shape, kind, options, reduction):
    x, t, w = _make_case(shape, kind, device, with_weight=options != "plain")
    kw = dict(weight=w, reduction=reduction, label_smoothing=0.0 if options == "plain" else 0.2)
    x.requires_grad_(True)
    t.requires_grad_(kind == "prob")  # index targets already hold one ignored position
    torch.testing.assert_close(_penalty(kernels.cross_entropy, x, t, kw),
                               _penalty(F.cross_entropy, x, t, kw), **TOL)
    if kind == "prob":
        assert torch.autograd.gradgradcheck(lambda a, b: kernels.cross_entropy(a, b, **kw),
                                            (x, t))
    else:
        assert torch.autograd.gradgradcheck(lambda a: kernels.cross_entropy(a, t, **kw), (x,))


def test_hessian_is_diag_p_minus_ppT():
    # The chapter's exercise: the Hessian of the loss in z is the softmax Jacobian.
    z = torch.randn(4, dtype=torch.float64)
    h = torch.autograd.functional.hessian(
        lambda t: kernels.cross_entropy(t[None], torch.tensor([2])), z)
    p = F.softmax(z, 0)
    torch.testing.assert_close(h, torch.diag(p) - torch.outer(p, p), **TOL)


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_all_ignored_batch(device, eps):
    x = torch.randn(3, 4, dtype=torch.float64, device=device, requires_grad=True)
    t = torch.full((3,), -100, device=device)
    mean = kernels.cross_entropy(x, t, label_smoothing=eps)
    assert torch.isnan(mean) and torch.isnan(F.cross_entropy(x, t, label_smoothing=eps))
    grad, = torch.autograd.grad(mean, x, create_graph=True)
    assert torch.equal(grad.detach(), torch.zeros_like(x))  # torch also gives zeros, not nan
    assert torch.equal(torch.autograd.grad(grad.square().sum(), x)[0], torch.zeros_like(x))
    assert kernels.cross_entropy(x, t, reduction="sum").item() == 0.0
    assert torch.equal(kernels.cross_entropy(x, t, reduction="none"),
                       torch.zeros(3, dtype=torch.float64, device=device))


# ---------------------------------------------------------------- ignore_index (issue 9, defect 1)
# What an ignored row may hold (masked logits are common in segmentation) and the smoothing that
# made the old code read it: a nan or +inf anywhere, a −inf in class 0 (the class gathered for an
# ignored row), any −inf once ε > 0 (it enters Σ_c log p_c).
POISONS = {"nan": ([0], math.nan, 0.0), "+inf": ([-1], math.inf, 0.0),
           "-inf class 0": ([0], -math.inf, 0.0), "-inf, smoothing": ([-1], -math.inf, 0.1),
           "all nan, smoothing": ([0, 1, -1], math.nan, 0.3)}


def _poison(x, ignored, classes, value):
    """A copy of x [N, C, *] with ``value`` in ``classes`` at the ignored positions [N, *]."""
    x = x.detach().clone()
    for c in classes:
        x.select(1, c % x.shape[1])[ignored] = value
    return x


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("shape", ["NC", "spatial"])
@pytest.mark.parametrize("poison", list(POISONS))
def test_ignored_rows_with_non_finite_logits(device, poison, shape, with_weight, reduction):
    classes, value, eps = POISONS[poison]
    clean, t, w = _make_case(shape, "index", device, with_weight)
    ignored = t == -100
    x = _poison(clean, ignored, classes, value).requires_grad_(True)
    clean.requires_grad_(True)
    kw = dict(weight=w, reduction=reduction, label_smoothing=eps)
    ours = kernels.cross_entropy(x, t, **kw)
    assert torch.isfinite(ours).all()  # was nan
    torch.testing.assert_close(ours, F.cross_entropy(x, t, **kw), **TOL)  # torch: finite too
    if reduction == "none":
        assert torch.equal(ours[ignored], torch.zeros_like(ours[ignored]))  # torch gives 0 there
    _assert_matches_loop(ours, x, t, w, reduction=reduction, eps=eps)
    # Gradient: exactly 0 in ignored rows (torch's own is nan there for nan / +inf) and torch's
    # elsewhere, which does not depend on what ignored rows hold: compare with the clean input.
    grad, = torch.autograd.grad(ours.sum(), x)
    assert torch.equal(grad.movedim(1, -1)[ignored], torch.zeros_like(grad.movedim(1, -1)[ignored]))
    torch.testing.assert_close(grad, torch.autograd.grad(F.cross_entropy(clean, t, **kw).sum(),
                                                         clean)[0], **TOL)
    # ... and the second order too.
    torch.testing.assert_close(_penalty(kernels.cross_entropy, x, t, kw),
                               _penalty(F.cross_entropy, clean, t, kw), **TOL)


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


# ---------------------------------------------------------------- the chapter's formulas
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
    torch.testing.assert_close(kernels.cross_entropy(z, t, label_smoothing=0.2),
                               kernels.cross_entropy(z, y), **TOL)
    torch.testing.assert_close(F.cross_entropy(z, t, label_smoothing=0.2), F.cross_entropy(z, y),
                               **TOL)


# ---------------------------------------------------------------- edge cases
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
    for target in (t, p):
        for eps in (0.0, 0.1):
            loss = kernels.cross_entropy(x, target, label_smoothing=eps)
            grad, = torch.autograd.grad(loss, x)
            assert torch.isfinite(loss) and torch.isfinite(grad).all()
            torch.testing.assert_close(loss, F.cross_entropy(x, target, label_smoothing=eps))
    assert kernels.cross_entropy(x[:1], t[:1]).item() == 2e4  # −log p_1 = 1e4 + 1e4 (by hand)


def test_minus_inf_logit_masking():
    # A −inf logit (a masked class) costs nothing for a class-index target, as in torch ...
    z = torch.tensor([[0.0, -math.inf, 1.0]], dtype=torch.float64, requires_grad=True)
    ours = kernels.cross_entropy(z, torch.tensor([0]))
    torch.testing.assert_close(ours, F.cross_entropy(z, torch.tensor([0])), **TOL)
    assert torch.isfinite(torch.autograd.grad(ours, z)[0]).all()
    # ... while smoothing puts mass on it (loss inf), and a probability target computes
    # 0 · (−inf) = nan: torch's semantics, matched (these rows are kept, not ignored).
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


def test_module_stores_config_and_delegates():
    x = torch.randn(6, 4, dtype=torch.float64)
    t = torch.randint(0, 4, (6,))
    w = torch.rand(4, dtype=torch.float64)
    mod = kernels.CrossEntropyLoss(w, reduction="sum", label_smoothing=0.1, ignore_index=3)
    ref = torch.nn.CrossEntropyLoss(w, reduction="sum", label_smoothing=0.1, ignore_index=3)
    torch.testing.assert_close(mod(x, t), ref(x, t), **TOL)
    assert "weight" in dict(mod.named_buffers())


# ---------------------------------------------------------------- property: random cases
@st.composite
def _cases(draw):
    """Random shape, target kind, options and ignore pattern; ignored rows may hold nan / ±inf."""
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    dims = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    kind = draw(st.sampled_from(["index", "prob"]))
    ignore_index = draw(st.sampled_from([-100, -1] + ([c - 1] if kind == "index" else [])))
    options = dict(reduction=draw(st.sampled_from(["mean", "sum", "none"])),
                   label_smoothing=draw(st.sampled_from([0.0, 0.05, 0.5, 1.0])),
                   ignore_index=ignore_index)
    return (n, c, dims, kind, draw(st.booleans()), draw(st.floats(0, 1)), options,
            draw(st.sampled_from([None, math.nan, math.inf, -math.inf])),
            draw(st.integers(0, 2**16)))


@pytest.mark.property
@given(_cases())
def test_cross_entropy_random_cases(case):
    n, c, dims, kind, with_weight, p_ignore, kw, poison, seed = case
    g = torch.Generator().manual_seed(seed)
    x = 10 * torch.randn((n, c) + dims, generator=g, dtype=torch.float64)
    w = torch.rand(c, generator=g, dtype=torch.float64) + 0.1 if with_weight else None
    if kind == "prob":
        t = torch.rand(x.shape, generator=g, dtype=torch.float64)
        dirty = x
    else:
        t = torch.randint(0, c, (n,) + dims, generator=g)
        ignored = torch.rand(t.shape, generator=g) < p_ignore
        t[ignored] = kw["ignore_index"]
        ignored = t == kw["ignore_index"]
        dirty = x if poison is None else _poison(x, ignored, range(c), poison)
    x.requires_grad_(True)
    dirty.requires_grad_(True)
    t.requires_grad_(kind == "prob")
    ours = kernels.cross_entropy(dirty, t, w, **kw)
    torch.testing.assert_close(ours, F.cross_entropy(dirty, t, w, **kw), equal_nan=True, **TOL)
    _assert_matches_loop(ours, dirty, t, w, kw["ignore_index"], kw["reduction"],
                         kw["label_smoothing"])
    # the gradient is torch's on the clean input, whatever ignored rows hold
    grad, = torch.autograd.grad(ours.sum(), dirty)
    torch.testing.assert_close(grad, torch.autograd.grad(F.cross_entropy(x, t, w, **kw).sum(),
                                                         x)[0], **TOL)
    kw["weight"] = w
    torch.testing.assert_close(_penalty(kernels.cross_entropy, dirty, t, kw),
                               _penalty(F.cross_entropy, x, t, kw), equal_nan=True, **TOL)


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
    (lambda: kernels.cross_entropy(X, T.bool()), TypeError, r"integer dtype"),
    (lambda: kernels.cross_entropy(X, T.tolist()), TypeError, r"target must be a torch.Tensor"),
    (lambda: kernels.cross_entropy(X, torch.ones(4, 3, dtype=torch.long)), TypeError,
     r"probabilities and must be floating point"),
    (lambda: kernels.cross_entropy(X, torch.rand(4, 3), ignore_index=1), ValueError,
     r"ignore_index is not supported"),
    (lambda: kernels.cross_entropy(X, T, ignore_index=-1.0), TypeError,
     r"ignore_index must be an int"),
    (lambda: kernels.cross_entropy(X, torch.rand(4, 3).double()), TypeError, r"target has dtype"),
    (lambda: kernels.cross_entropy(X, T, weight=torch.ones(4)), ValueError, r"weight must be"),
    (lambda: kernels.cross_entropy(X, T, weight=torch.ones(1, 3)), ValueError,
     r"weight must be 1-D"),
    (lambda: kernels.cross_entropy(X, T, weight=torch.ones(3).double()), TypeError,
     r"weight has dtype"),
    (lambda: kernels.cross_entropy(X, T, weight=torch.ones(3, requires_grad=True)), ValueError,
     r"weight must not require grad"),
    (lambda: kernels.cross_entropy(X, T, reduction="avg"), ValueError, r"reduction must be"),
    (lambda: kernels.CrossEntropyLoss(reduction="avg")(X, T), ValueError, r"reduction must be"),
    (lambda: kernels.cross_entropy(X, T, label_smoothing=1.5), ValueError, r"label_smoothing"),
    (lambda: kernels.cross_entropy(X, T, label_smoothing="0.1"), TypeError, r"label_smoothing"),
    (lambda: kernels.cross_entropy(X, T, label_smoothing=True), TypeError, r"label_smoothing"),
    (lambda: kernels.cross_entropy(torch.tensor(1.0), T), ValueError, r"0-D"),
    (lambda: kernels.cross_entropy(torch.randn(4, 0), T), ValueError, r"at least one class"),
    (lambda: kernels.cross_entropy(X.tolist(), T), TypeError, r"input must be a torch.Tensor"),
    (lambda: kernels.smooth_one_hot(T, 2), ValueError, r"class indices in \[0, 2\)"),
    (lambda: kernels.smooth_one_hot(T.float(), 3), TypeError, r"integer dtype"),
    (lambda: kernels.smooth_one_hot(T, 0), ValueError, r"num_classes must be positive"),
    (lambda: kernels.smooth_one_hot(T, 3.0), TypeError, r"num_classes must be an int"),
    (lambda: kernels.smooth_one_hot(T, 3, -0.1), ValueError, r"label_smoothing"),
    (lambda: kernels.smooth_one_hot(T.tolist(), 3), TypeError, r"target must be a torch.Tensor"),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
