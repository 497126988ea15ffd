"""kernels.effective_receptive_field (Luo et al. 2016) and its measures: erf_moments and
erf_profile by hand, uniform_erf_std against the spread of exact path counts, and the sqrt(n)
growth of the effective field against the linear growth of the field."""
import math

import pytest
import torch
from hypothesis import given, strategies as st
from receptive_field_reference import axis_layers, build, chain_closed_form, stack_st

import kernels
from kernels import empirical_receptive_field, uniform_erf_std


@pytest.mark.property
@given(stack_st, st.integers(0, 4))
def test_path_counts_spread_as_uniform_erf_std_predicts(spec, margin):
    # equal weights: a path's offset is a sum of independent uniform taps, so variances add
    layers = [axis_layers(spec, axis) for axis in (0, 1)]
    forms = [chain_closed_form(chain) for chain in layers]
    hw = tuple(r + 2 * S + margin for r, S, _ in forms)  # room for the centre unit's field
    rf = kernels.receptive_field(build(spec), (2, *hw))
    pos = tuple((n - 1) // 2 for n in rf.output_size)
    assert rf.box(pos) == rf.box(pos, clip=True)  # the centre unit's paths are all real
    field = empirical_receptive_field(build(spec), (2, *hw), pos)
    sd = [uniform_erf_std(*zip(*[(k, s, d) for k, s, _, d, _ in chain]))[-1] for chain in layers]
    assert kernels.erf_moments(field)[1] == pytest.approx(tuple(sd), rel=1e-9, abs=1e-9)


def test_uniform_erf_std_by_hand_and_bad_arguments():
    # k=3 taps at jump 1, then k=3 at jump 2 (after a stride-2 layer): 2/3 + 4 * 2/3
    assert uniform_erf_std([3, 3], [2, 1]) == pytest.approx([math.sqrt(2 / 3), math.sqrt(10 / 3)])
    assert uniform_erf_std([3], dilations=[4]) == pytest.approx([4 * math.sqrt(2 / 3)])
    with pytest.raises(ValueError, match="one entry per layer"):
        uniform_erf_std([3, 3], [1])
    with pytest.raises(ValueError, match="one entry per layer"):
        uniform_erf_std([])


@pytest.mark.parametrize("n,k", [(1, 3), (3, 2), (4, 3), (6, 5)])
def test_uniform_path_counts_spread_like_sqrt_n(n, k):
    # n stacked k-tap boxes: the path counts are the n-fold convolution of a box, whose
    # variance is n times that of a uniform on k points, (k^2 - 1) / 12 (central limit theorem)
    r = 1 + n * (k - 1)
    counts = empirical_receptive_field(kernels.conv_stack(n, k), r + 4)
    (mh, mw), (sh, sw) = kernels.erf_moments(counts)
    assert sh == pytest.approx(math.sqrt(n * (k * k - 1) / 12), rel=1e-9) and sw == sh
    assert counts.sum() == k ** (2 * n)  # every path counted once


def test_erf_moments_by_hand():
    field = torch.zeros(5, 6)
    field[2, 3] = 1.0
    assert kernels.erf_moments(field) == ((2.0, 3.0), (0.0, 0.0))
    field = torch.zeros(5, 6)
    field[0, 1] = field[0, 3] = 2.0  # two equal weights 2 apart: mean between, std 1
    assert kernels.erf_moments(field) == ((0.0, 2.0), (0.0, 1.0))
    with pytest.raises(ValueError, match="2-D Tensor"):
        kernels.erf_moments(torch.ones(2, 2, 2))
    with pytest.raises(ValueError, match="positive mass"):
        kernels.erf_moments(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="axis must be 'h' or 'w'"):
        kernels.erf_profile(torch.ones(3, 3), "x")


def test_effective_field_is_a_reproducible_distribution_inside_the_field(device):
    model = kernels.conv_stack(3, 3, channels=4, relu=True).to(device)
    state = torch.get_rng_state()
    erf = kernels.effective_receptive_field(model, (4, 13, 13), seeds=3)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is untouched
    assert erf.shape == (13, 13) and erf.device.type == device
    assert erf.sum().item() == pytest.approx(1.0) and (erf >= 0).all()
    mask = empirical_receptive_field(model, (4, 13, 13)) > 0
    assert (erf[~mask] == 0).all() and (erf[mask] > 0).sum() > mask.sum() // 2
    torch.testing.assert_close(erf, kernels.effective_receptive_field(model, (4, 13, 13),
                                                                      seeds=[0, 1, 2]))
    with pytest.raises(ValueError, match="seeds must be"):
        kernels.effective_receptive_field(model, (4, 13, 13), seeds=[])


def test_effective_field_grows_like_sqrt_n_and_looks_gaussian():
    g = kernels.erf_growth(depths=(4, 16), channels=4, seeds=6)
    assert g["size"] == [9, 33]  # the field grows like n: 1 + 2n
    ratio = g["erf_std"][1] / g["erf_std"][0]
    assert abs(ratio - 2.0) < 0.4  # sqrt(16 / 4) = 2, far from the field's 33 / 9 = 3.7
    stack = kernels.conv_stack(16, 3, channels=4, relu=True)
    erf = kernels.effective_receptive_field(stack, (4, 37, 37), seeds=6)
    _, marginal, gaussian = kernels.erf_profile(erf, "w")
    assert (marginal - gaussian).abs().sum() < 0.15  # total variation to the fitted Gaussian
