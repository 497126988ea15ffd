"""kernels.relu_manifold: the invertible fraction against 1 - (n + 1)/2^n over many random
embeddings and directions, a loop reference for the mask, exact recovery where invertible (and
the collapse where not), the paper's pseudo-inverse round trip, the bottleneck experiment."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from kernels import (bottleneck_roundtrip_error, expected_invertible_fraction,
                     invertible_fraction, invertible_mask, random_embedding, relu_recover,
                     relu_roundtrip, spiral)


def directions(count, seed):
    """Uniform random unit vectors in the plane (an independent generator from T's)."""
    angle = np.random.default_rng(seed).uniform(0, 2 * np.pi, count)
    return torch.tensor(np.stack([np.cos(angle), np.sin(angle)], 1))


def loop_mask(points, t):
    """x is recoverable iff two active rows (t_i . x > 0) span the plane: a pair with det != 0."""
    out = []
    for x in points.tolist():
        active = [row for row in t.tolist() if row[0] * x[0] + row[1] * x[1] > 0]
        out.append(any(abs(a[0] * b[1] - a[1] * b[0]) > 1e-12
                       for i, a in enumerate(active) for b in active[i + 1:]))
    return torch.tensor(out)


def test_formula_values():
    assert [expected_invertible_fraction(n) for n in (1, 2, 3, 5)] == [0, 1 / 4, 1 / 2, 26 / 32]
    assert expected_invertible_fraction(15) == 1 - 16 / 32768


@pytest.mark.parametrize("n", [2, 3, 5, 15, 30])
def test_fraction_over_random_embeddings_and_directions_matches_the_formula(n):
    # The formula is a probability over T: average one fraction per seed (400 embeddings,
    # 500 directions each) and compare within 4 standard errors of that average.
    fractions = np.array([invertible_fraction(directions(500, 10_000 + s), n, seed=s)
                          for s in range(400)])
    p = expected_invertible_fraction(n)
    se = fractions.std(ddof=1) / math.sqrt(len(fractions))
    assert abs(fractions.mean() - p) <= 4 * se + 1 / fractions.size / 500


def test_one_fixed_embedding_is_not_the_average():
    # n = 2: both rows active on a wedge of angle pi - angle(t1, t2), so this T's own fraction
    # is (pi - angle) / 2 pi, anywhere in [0, 1/2] -- not 1/4.
    t = random_embedding(2, seed=3)
    angle = math.acos(float(t[0] @ t[1] / (t[0].norm() * t[1].norm())))
    got = invertible_fraction(directions(200_000, 0), 2, seed=3)
    assert got == pytest.approx((math.pi - angle) / (2 * math.pi), abs=0.005)


@pytest.mark.parametrize("n, seed", [(2, 0), (3, 1), (5, 2), (30, 4)])
def test_mask_against_a_loop_reference(n, seed):
    points = torch.cat([spiral(300), directions(200, seed)])
    assert torch.equal(invertible_mask(points, n, seed), loop_mask(points, random_embedding(n, seed)))


@pytest.mark.parametrize("n", [2, 3, 5, 15, 30])
def test_recovery_is_exact_where_invertible_and_collapses_where_not(n):
    points, t = spiral(2000), random_embedding(n, 0)
    x_hat, ok = relu_recover(points, n, 0), invertible_mask(points, n, 0)
    torch.testing.assert_close(x_hat[ok], points[ok], rtol=0, atol=1e-12)
    active = (points @ t.T > 0).sum(1)
    assert torch.equal(~ok, active < 2)  # Gaussian rows: rank 2 <=> two active rows
    one = active == 1  # projected onto the line of its one active row: t (t . x) / |t|^2
    row = t[(points @ t.T > 0).double().argmax(1)]
    proj = row * ((row * points).sum(1, keepdim=True) / row.square().sum(1, keepdim=True))
    torch.testing.assert_close(x_hat[one], proj[one], rtol=0, atol=1e-12)
    assert torch.all(x_hat[active == 0] == 0)
    if n <= 3:  # Figure 1's low dimensions lose part of the spiral
        assert (~ok).sum() > 100


def test_the_papers_pseudo_inverse_round_trip():
    points = spiral(2000)
    # exact where ReLU did nothing (all coordinates active): T^+ T x = x
    for n in (2, 3, 30):
        all_on = (points @ random_embedding(n, 0).T > 0).all(1)
        torch.testing.assert_close(relu_roundtrip(points, n)[all_on], points[all_on])
    # n = 2: T is square, so the round trip is exact exactly where ReLU(Tx) is invertible
    exact = (relu_roundtrip(points, 2) - points).norm(dim=1) < 1e-9
    assert torch.equal(exact, invertible_mask(points, 2))
    # n = 30: every point recoverable, yet T^+ bends the spiral (zeros are fitted too)
    assert invertible_fraction(points, 30) == 1
    assert (relu_roundtrip(points, 30) - points).norm(dim=1).mean() > 0.1


def test_seeds_reproduce_and_differ():
    points = spiral(100)
    assert torch.equal(relu_roundtrip(points, 5, 7), relu_roundtrip(points, 5, 7))
    assert not torch.equal(random_embedding(5, 7), random_embedding(5, 8))
    assert invertible_fraction(points, 5, 7) == invertible_fraction(points, 5, 7)


def test_spiral():
    s = spiral(500, turns=3)
    r = s.norm(dim=1)
    assert s.shape == (500, 2) and s.dtype == torch.float64
    assert r.min().item() == pytest.approx(0.1) and r.max().item() == pytest.approx(1.0)


@pytest.mark.property
@given(n=st.integers(1, 12), seed=st.integers(0, 10_000), count=st.integers(1, 50),
       dim=st.integers(1, 3))
def test_recovery_is_exact_wherever_the_mask_says_so(n, seed, count, dim):
    x = torch.randn(count, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    ok = invertible_mask(x, n, seed)
    torch.testing.assert_close(relu_recover(x, n, seed)[ok], x[ok], rtol=1e-9, atol=1e-9)
    assert not ok.any() or n >= dim


def test_linear_bottleneck_keeps_what_a_relu_bottleneck_destroys():
    x = spiral(1000) - spiral(1000).mean(0)
    linear = [bottleneck_roundtrip_error(x, e, False) for e in (2, 6, 20)]
    relu = [bottleneck_roundtrip_error(x, e, True) for e in (2, 6, 20)]
    assert linear[0] > linear[1] > linear[2] and linear[1] < 0.01  # wider: closer to exact
    assert min(relu) > 0.3  # negative coordinates are gone, however wide the expansion
    # expand = 1: the ReLU already acts in 2-D, and both lose the same
    assert bottleneck_roundtrip_error(x, 1, False) == pytest.approx(
        bottleneck_roundtrip_error(x, 1, True), abs=0.01)
    # the same seed, the same E (LAPACK's least squares may differ in the last bit)
    assert bottleneck_roundtrip_error(x, 6, True, seed=1) == pytest.approx(
        bottleneck_roundtrip_error(x, 6, True, seed=1), rel=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda: relu_roundtrip(torch.zeros(5), 3), ValueError, "points"),
    (lambda: relu_roundtrip(torch.zeros(5, 2, dtype=torch.long), 3), TypeError, "points"),
    (lambda: invertible_mask(spiral(5), 0), ValueError, "n"),
    (lambda: relu_recover(spiral(5), 3, seed=-1), ValueError, "seed"),
    (lambda: expected_invertible_fraction(0), ValueError, "n"),
    (lambda: spiral(1), ValueError, "n_points"),
    (lambda: spiral(10, turns=0), ValueError, "turns"),
    (lambda: bottleneck_roundtrip_error(spiral(5), 0, False), ValueError, "expand"),
    (lambda: bottleneck_roundtrip_error(spiral(5), 2, "yes"), TypeError,
     "relu_after_projection"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
