"""kernels.dilated_footprint / gridding_report against brute-force path enumeration, the
gradient of a real all-ones conv stack, and published numbers."""
import itertools
import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from kernels import dilated_footprint, gridding_report

CONTEXT_RATES = [1, 1, 2, 4, 8, 16, 1]  # Yu & Koltun 2016, Table 1: the 3x3 layers 1-7


def brute_paths(dilations, kernel_size=3, strides=1):
    """Enumerate every choice of one (row, col) tap per layer and count where each lands."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    strides = [strides] * len(dilations) if isinstance(strides, int) else strides
    jumps = [math.prod(strides[:i]) for i in range(len(dilations))]  # input pixels per step
    taps = list(itertools.product(range(kh), range(kw)))
    hits = Counter()
    for path in itertools.product(taps, repeat=len(dilations)):
        y = sum(j * d * t[0] for j, d, t in zip(jumps, dilations, path))
        x = sum(j * d * t[1] for j, d, t in zip(jumps, dilations, path))
        hits[y, x] += 1
    rh = max(y for y, _ in hits) + 1
    rw = max(x for _, x in hits) + 1
    out = torch.zeros(rh, rw, dtype=torch.int64)
    for (y, x), c in hits.items():
        out[y, x] = c
    return out


def conv_stack_gradient(dilations, kernel_size=3, strides=1):
    """d out / d input of a stack of all-ones F.conv2d layers with one output pixel: with
    weights 1 the output is the sum over paths, so each input pixel's gradient is its count."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    strides = [strides] * len(dilations) if isinstance(strides, int) else strides
    rh, rw = 1, 1
    for d, s in zip(reversed(dilations), reversed(strides)):  # input size giving a 1x1 output
        rh, rw = (rh - 1) * s + d * (kh - 1) + 1, (rw - 1) * s + d * (kw - 1) + 1
    x = torch.zeros(1, 1, rh, rw, dtype=torch.float64, requires_grad=True)
    y = x
    for d, s in zip(dilations, strides):
        y = F.conv2d(y, torch.ones(1, 1, kh, kw, dtype=torch.float64), stride=s, dilation=d)
    assert y.shape == (1, 1, 1, 1)
    y.sum().backward()
    return x.grad[0, 0].round().long()


@pytest.mark.parametrize("dilations,k,strides", [
    ([1], 3, 1), ([2], 3, 1), ([1, 2, 5], 3, 1), ([2, 2, 2], 3, 1), ([1, 2, 3], 3, 1),
    ([1, 2, 9], 3, 1), ([3, 1], 2, 1), ([1, 2], (3, 2), 1), ([1, 1], (1, 3), [2, 1]),
    ([1, 2], 3, [2, 1]), ([2, 1, 3], 3, [1, 2, 1]), ([2, 3], 5, 1),
])
def test_footprint_equals_brute_force_and_conv_gradient(dilations, k, strides):
    ours = dilated_footprint(dilations, kernel_size=k, strides=strides)
    assert ours.dtype == torch.int64
    assert torch.equal(ours, brute_paths(dilations, k, strides))
    assert torch.equal(ours, conv_stack_gradient(dilations, k, strides))


@pytest.mark.property
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 3)), min_size=1, max_size=4),
       st.integers(1, 4))
def test_random_stacks_equal_conv_gradient(layers, k):
    dilations, strides = [d for d, _ in layers], [s for _, s in layers]
    assert torch.equal(dilated_footprint(dilations, k, strides),
                       conv_stack_gradient(dilations, k, strides))


def test_context_module_receptive_field_and_no_holes():
    # Published: 65x65 after the six layers with rates 1,1,2,4,8,16 and 67x67 after the
    # seventh (rate 1) layer (Yu & Koltun 2016, Table 1).
    assert dilated_footprint(CONTEXT_RATES[:6]).shape == (65, 65)
    fp = dilated_footprint(CONTEXT_RATES)
    assert fp.shape == (67, 67)
    # 3^14 2-D paths are too many to list; paths factor per axis (one tap row and one tap
    # column per layer), so enumerate the 3^7 1-D paths and the real conv stack instead.
    line = Counter(sum(d * t for d, t in zip(CONTEXT_RATES, p))
                   for p in itertools.product(range(3), repeat=7))
    assert sorted(line) == list(range(67))  # every offset 0..66 is reached
    line_t = torch.tensor([line[i] for i in range(67)])
    assert torch.equal(fp, line_t[:, None] * line_t[None, :])
    assert torch.equal(fp, conv_stack_gradient(CONTEXT_RATES))
    rep = gridding_report(CONTEXT_RATES)
    assert rep.receptive_field == 67 and not rep.has_holes and rep.hole_fraction == 0


def test_footprint_hand_facts():
    # (2, 2, 2): every offset is even, so of 13 offsets per axis only the 7 even ones are seen.
    fp = dilated_footprint([2, 2, 2])
    assert fp.shape == (13, 13)
    assert (fp[1::2] == 0).all() and (fp[:, 1::2] == 0).all() and (fp[::2, ::2] > 0).all()
    # Every path lands somewhere: (k_h k_w)^n paths in total.
    assert int(dilated_footprint([1, 3, 2], kernel_size=(3, 2)).sum()) == 6 ** 3
    # One layer: the kernel's own taps, d(k-1)+1 wide.
    one = torch.zeros(5, 5, dtype=torch.int64)
    one[::2, ::2] = 1
    assert torch.equal(dilated_footprint([2]), one)


def test_reports_on_published_and_hand_cases():
    r = gridding_report([1, 2, 5])  # Wang et al. 2018: "r = [1, 2, 5] ... works as M_2 = 2"
    assert r.m[1] == 2 and r.hdc_ok and not r.has_holes and r.receptive_field == 17
    r = gridding_report([1, 2, 9])  # "... r = [1, 2, 9] does not work as M_2 = 5"
    assert r.m[1] == 5 and not r.hdc_ok and r.has_holes
    # By hand: offsets {0..6} + {0, 9, 18} miss 7, 8, 16, 17, so 21 of 25 per axis are seen.
    assert "7, 8, 16, 17" in r.reason and r.hole_fraction == pytest.approx(1 - 21**2 / 25**2)
    r = gridding_report([1, 2, 3])
    assert r.m == (1, 2, 3) and r.hdc_ok and not r.has_holes
    r = gridding_report([2, 2, 2])  # by hand: 7 of 13 offsets per axis seen
    assert r.has_holes and r.common_factor == 2 and not r.hdc_ok
    assert r.hole_fraction == pytest.approx(120 / 169)
    assert "factor 2" in r.reason and "120 of the 169" in r.reason and "13\u00d713" in r.reason


def test_docstring_claims_on_hdc_hold_by_brute_force():
    """Over every 2- and 3-layer stack with rates 1..9 and K = 3: M_i never underestimates the
    true largest gap; with r_1 = 1 the HDC test implies no holes; has_holes is exact."""
    passes_with_holes = fails_without_holes = 0
    for n in (2, 3):
        for rates in itertools.product(range(1, 10), repeat=n):
            rep = gridding_report(rates)
            seen = {0}
            for r in rates:
                seen = {a + r * t for a in seen for t in range(3)}
            assert rep.has_holes == (len(seen) != max(seen) + 1)
            for i in range(n):
                s = sorted({sum(r * t for r, t in zip(rates[i:], p))
                            for p in itertools.product(range(3), repeat=n - i)})
                assert rep.m[i] >= max((b - a for a, b in zip(s, s[1:])), default=0)
            if rates[0] == 1 and rep.hdc_ok:
                assert not rep.has_holes
            passes_with_holes += rep.hdc_ok and rep.has_holes
            fails_without_holes += (not rep.hdc_ok) and not rep.has_holes
    assert passes_with_holes > 0 and fails_without_holes > 0  # the rule is not exact
    two_three, one_three_one = gridding_report([2, 3]), gridding_report([1, 3, 1])
    assert two_three.hdc_ok and two_three.has_holes and "r_1 = 2" in two_three.reason
    assert not one_three_one.hdc_ok and not one_three_one.has_holes
    assert torch.equal(dilated_footprint([1, 3, 1]), dilated_footprint([1, 1, 3]))


def test_report_with_strides_uses_effective_rates():
    # A stride-2 first layer spaces the next layer's rate-2 taps 4 input pixels apart.
    strided, plain = gridding_report([1, 2], strides=[2, 1]), gridding_report([1, 4])
    assert strided.effective_rates == (1, 4) and strided.strides == (2, 1)
    for field in ("receptive_field", "has_holes", "hole_fraction", "m", "hdc_ok"):
        assert getattr(strided, field) == getattr(plain, field)
    assert "effective rates (1, 4)" in strided.reason


@pytest.mark.property
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3)), min_size=1, max_size=3),
       st.integers(2, 4))
def test_report_holes_agree_with_footprint(layers, k):
    dilations, strides = [d for d, _ in layers], [s for _, s in layers]
    fp = brute_paths(dilations, k, strides)
    rep = gridding_report(dilations, k, strides)
    assert rep.receptive_field == fp.shape[0]
    assert rep.has_holes == bool((fp == 0).any())
    assert rep.hole_fraction == pytest.approx(float((fp == 0).double().mean()))


@pytest.mark.parametrize("call,error,match", [
    (lambda: dilated_footprint([]), ValueError, "dilations must name at least one layer"),
    (lambda: dilated_footprint(2), TypeError, "dilations must be a sequence"),
    (lambda: dilated_footprint([1, 0]), ValueError, r"dilations\[1\] must be positive"),
    (lambda: dilated_footprint([1, 2.5]), TypeError, r"dilations\[1\] must be an int"),
    (lambda: dilated_footprint([1, 2], kernel_size=0), ValueError, "kernel_size must be pos"),
    (lambda: dilated_footprint([1, 2], strides=[1]), ValueError, r"strides must be an int or one"),
    (lambda: dilated_footprint([1, 2], strides=0), ValueError, "strides must be positive"),
    (lambda: gridding_report("125"), TypeError, "dilations must be a sequence"),
    (lambda: gridding_report([1, 2], kernel_size=(3, 3)), TypeError, "kernel_size must be an int"),
    (lambda: gridding_report([1, 2], strides=[1, 2, 1]), ValueError, "strides must be an int or"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
