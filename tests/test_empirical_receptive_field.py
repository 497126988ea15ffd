"""kernels.empirical_receptive_field (the exact field, from autograd on a linearised copy)
against the independent loop reference of tests/receptive_field_reference.py: every pixel's
number of paths to one output unit, for modules and for functional calls; plus bad input."""
import warnings

import pytest
import torch
import torch.nn as nn
from hypothesis import given, strategies as st
from receptive_field_reference import (axis_layers, build, chain_closed_form, chain_counts_1d,
                                       chain_lengths, stack_st)

from kernels import empirical_receptive_field, receptive_field


@pytest.mark.property
@given(stack_st, st.booleans(), st.data())
def test_exact_field_counts_paths_like_the_loop_reference(spec, functional, data):
    layers = [axis_layers(spec, axis) for axis in (0, 1)]
    hw = []
    for chain in layers:  # an input at least as large as torch needs, drawn up to room to spare
        r, S, _ = chain_closed_form(chain)
        n_min = next(n for n in range(1, r + 1) if min(chain_lengths(chain, n)) >= 1)
        hw.append(data.draw(st.integers(n_min, max(n_min, min(r + 2 * S + 2, 60)))))
    out = [chain_lengths(chain, n)[-1] for chain, n in zip(layers, hw)]
    pos = tuple(data.draw(st.integers(0, o - 1), label="unit") for o in out)
    field = empirical_receptive_field(build(spec, functional=functional), (2, *hw), pos)
    counts = [chain_counts_1d(chain, n, u) for chain, n, u in zip(layers, hw, pos)]
    assert field.shape == tuple(hw) and field.dtype == torch.float64
    torch.testing.assert_close(field, counts[0][:, None] * counts[1][None, :], rtol=1e-12, atol=0)


@pytest.mark.parametrize("functional", [False, True])
def test_ceil_mode_pool_whose_window_runs_past_the_input(functional):
    """Issue 9, defect 5: the exact field failed with an internal error (TooSmall('pool'))
    on a ceil-mode pool whose only window runs past a 2x2 input."""
    spec = [("conv", False, (1, 1, 0, 1), (1, 1, 0, 1)),
            ("max", True, (3, 3, 0, 1), (3, 3, 0, 1))]
    field = empirical_receptive_field(build(spec, channels=1, functional=functional), (1, 2, 2))
    torch.testing.assert_close(field, torch.ones(2, 2, dtype=torch.float64))
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.MaxPool2d(3, stride=3, ceil_mode=True))
    torch.testing.assert_close(empirical_receptive_field(model, 2), field)


def test_empirical_bad_arguments():
    model = nn.Conv2d(2, 2, 3)
    with pytest.raises(ValueError, match=r"position \(9, 0\) is outside the output map of "
                                         r"size 6x6"):
        empirical_receptive_field(model, 8, (9, 0))
    with pytest.raises(TypeError, match="position must be a pair of ints"):
        empirical_receptive_field(model, 8, 3)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        empirical_receptive_field("conv", 8)
    head = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\)"):
        empirical_receptive_field(head, 2)
    with pytest.raises(ValueError, match=r"input_size \(2, 2, 2\) does not fit the model"):
        empirical_receptive_field(model, 2)  # a 3x3 conv on a 2x2 map: torch refuses
    with pytest.raises(ValueError, match="input_size is too small: a pooling window"):
        empirical_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 1), nn.MaxPool2d(3)), 2)


def test_empirical_leaves_the_model_alone_and_runs_on_device(device):
    model = nn.Sequential(nn.Conv2d(2, 2, 3), nn.ReLU(), nn.MaxPool2d(2)).to(device)
    before = [p.detach().clone() for p in model.parameters()]
    field = empirical_receptive_field(model, 10)
    assert field.device.type == device and field.shape == (10, 10)
    for p, q in zip(before, model.parameters()):
        assert torch.equal(p, q)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        receptive_field(model, 10)
