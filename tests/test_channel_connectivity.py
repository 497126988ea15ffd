"""kernels.channel_connectivity (the Jacobian's support on a real module) against brute-force
reasoning over groups written here: block-diagonal masks and shuffle permutation matrices
multiplied as boolean matrices; and ShuffleNet's Figure 1 statements, derived and checked."""
import math

import pytest
import torch
from hypothesis import given, strategies as st
from torch import nn

from kernels import ChannelShuffle, channel_connectivity, grouped_pointwise_stack


def block_mask(c, g):
    """A g-grouped 1x1 conv: output o reads input i iff both are in the same block of C/g."""
    mask = torch.zeros(c, c, dtype=torch.bool)
    n = c // g
    for b in range(g):
        mask[b * n:(b + 1) * n, b * n:(b + 1) * n] = True
    return mask


def shuffle_matrix(c, g):
    """The shuffle as a 0/1 matrix: output i is input (i mod g)(C/g) + i // g."""
    perm = torch.zeros(c, c, dtype=torch.bool)
    for i in range(c):
        perm[i, (i % g) * (c // g) + i // g] = True
    return perm


def bool_matmul(a, b):
    return (a.int() @ b.int()) > 0


def brute_force(c, groups, shuffle):
    """Compose layer by layer: reach[o, i] = some path joins input i to output o."""
    reach = torch.eye(c, dtype=torch.bool)
    for k, g in enumerate(groups):
        reach = bool_matmul(block_mask(c, g), reach)
        if shuffle and k < len(groups) - 1:
            reach = bool_matmul(shuffle_matrix(c, g), reach)
    return reach


def divisors(c):
    return [g for g in range(1, c + 1) if c % g == 0]


@pytest.mark.parametrize("c,groups,shuffle", [
    (12, [3, 3], False), (12, [3, 3], True), (12, [4, 4], True), (12, [2, 3], False),
    (12, [2, 3], True), (8, [8, 8], True), (16, [4, 2, 4], True), (6, [1, 6], False),
])
def test_matches_brute_force(c, groups, shuffle, device):
    torch.manual_seed(0)
    stack = grouped_pointwise_stack(c, groups, shuffle).to(device)
    got = channel_connectivity(stack, c)
    assert got.dtype == torch.bool and got.shape == (c, c) and got.device.type == "cpu"
    assert torch.equal(got, brute_force(c, groups, shuffle))


@pytest.mark.property
@given(data=st.data())
def test_property_matches_brute_force(data):
    c = data.draw(st.sampled_from([1, 2, 4, 6, 8, 9, 12, 16]))
    groups = data.draw(st.lists(st.sampled_from(divisors(c)), min_size=1, max_size=4))
    shuffle = data.draw(st.booleans())
    stack = grouped_pointwise_stack(c, groups, shuffle)
    assert torch.equal(channel_connectivity(stack, c, draws=1), brute_force(c, groups, shuffle))


@pytest.mark.parametrize("c,g", [(12, 3), (12, 4), (16, 4), (8, 8), (9, 3)])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_without_shuffle_each_output_sees_only_its_own_group(c, g, layers):
    # Figure 1(a): equal groups never mix, however many layers.
    got = channel_connectivity(grouped_pointwise_stack(c, [g] * layers, shuffle=False), c)
    assert torch.equal(got, block_mask(c, g))
    assert got.sum(1).tolist() == [c // g] * c


@pytest.mark.parametrize("c,groups", [(12, [2, 4]), (12, [6, 4, 2]), (24, [6, 4]),
                                      (12, [2, 3]), (18, [3, 9, 6])])
def test_without_shuffle_outputs_stay_in_their_gcd_block(c, groups):
    # Unequal groups: every layer's blocks refine the blocks of d = gcd(groups), so no output
    # leaves its block of C/d inputs; and every mask holds the diagonal, so the stack reaches
    # at least each layer's own block, the coarsest (fewest groups) included.
    got = channel_connectivity(grouped_pointwise_stack(c, groups, shuffle=False), c)
    d = math.gcd(*groups)
    assert not (got & ~block_mask(c, d)).any()
    assert not (block_mask(c, min(groups)) & ~got).any()
    assert torch.equal(got, brute_force(c, groups, False))


@pytest.mark.parametrize("c", [4, 6, 8, 9, 12, 16, 18, 24, 25, 36])
def test_one_shuffle_between_two_grouped_layers(c):
    # Output o (block h = o // n) reads shuffled channels h n .. h n + n - 1, which come from
    # blocks (h n + t) mod g: min(g, n) blocks, min(g, n) n inputs, all of them iff g^2 <= C.
    for g in divisors(c):
        n = c // g
        got = channel_connectivity(grouped_pointwise_stack(c, [g, g]), c)
        for o in range(c):
            blocks = {(o // n * n + t) % g for t in range(n)}
            want = [i // n in blocks for i in range(c)]
            assert got[o].tolist() == want
        assert got.sum(1).tolist() == [min(g, n) * n] * c
        assert bool(got.all()) == (g * g <= c)


@pytest.mark.parametrize("c", [8, 12, 16, 20, 24, 27, 32, 36])
@pytest.mark.parametrize("layers", [2, 3, 4])
def test_stack_with_shuffles_reaches_min_of_c_and_n_to_the_layers(c, layers):
    # Each further shuffled layer multiplies the inputs an output sees by n = C/g, until all C.
    for g in divisors(c):
        got = brute_force(c, [g] * layers, True)
        assert got.sum(1).tolist() == [min(c, (c // g) ** layers)] * c
        if c <= 20:  # the measured module agrees (the larger ones are covered above)
            stack = grouped_pointwise_stack(c, [g] * layers)
            assert torch.equal(channel_connectivity(stack, c, draws=1), got)


def test_shufflenet_unit_and_nonlinear_layers(device):
    # GConv -> BN -> ReLU -> shuffle -> 3x3 depthwise -> BN -> GConv: the depthwise conv
    # keeps channels apart and BN / ReLU are per channel, so it connects like two GConvs.
    c, g = 12, 3
    unit = nn.Sequential(nn.Conv2d(c, c, 1, groups=g), nn.BatchNorm2d(c), nn.ReLU(),
                         ChannelShuffle(g), nn.Conv2d(c, c, 3, padding=1, groups=c),
                         nn.BatchNorm2d(c), nn.Conv2d(c, c, 1, groups=g)).to(device)
    assert torch.equal(channel_connectivity(unit, c), brute_force(c, [g, g], True))


def test_measures_the_architecture_not_the_current_weights():
    stack = grouped_pointwise_stack(8, [2, 2])
    with torch.no_grad():
        stack[0].weight.zero_()  # a trained-to-zero layer: the model is unchanged below
    before = [t.clone() for t in stack.parameters()]
    assert torch.equal(channel_connectivity(stack, 8), brute_force(8, [2, 2], True))
    assert all(torch.equal(a, b) for a, b in zip(before, stack.parameters()))
    assert stack[0].weight.dtype == torch.float32


class TakeFirstTwo(nn.Module):
    def forward(self, x):  # [1, C, 1, 1] -> [1, 2]: depends on channels 0 and 1 only
        return (x[:, :2] - 2 * x[:, :2] ** 2).flatten(1)


def test_other_modules_and_outputs():
    got = channel_connectivity(TakeFirstTwo(), 5)
    assert got.tolist() == [[True, False, False, False, False], [False, True, False, False, False]]
    full = channel_connectivity(nn.Conv2d(3, 4, 1), 3)
    assert full.all() and full.shape == (4, 3)
    assert torch.equal(channel_connectivity(ChannelShuffle(2), 6), shuffle_matrix(6, 2))


def test_stack_layers():
    stack = grouped_pointwise_stack(12, [3, 4, 2])
    kinds = [type(m).__name__ for m in stack]
    assert kinds == ["Conv2d", "ChannelShuffle", "Conv2d", "ChannelShuffle", "Conv2d"]
    assert [stack[0].groups, stack[1].groups, stack[2].groups, stack[3].groups] == [3, 3, 4, 4]
    assert stack[0].bias is None
    assert len(grouped_pointwise_stack(12, [3, 4, 2], shuffle=False)) == 3
    assert stack(torch.randn(2, 12, 3, 3)).shape == (2, 12, 3, 3)


def test_bad_arguments_name_themselves():
    stack = grouped_pointwise_stack(6, [2])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        channel_connectivity(lambda x: x, 6)
    with pytest.raises(ValueError, match="in_channels must be positive"):
        channel_connectivity(stack, 0)
    with pytest.raises(ValueError, match=r"model could not run on .*Tensor\[1, 4, 1, 1\]"):
        channel_connectivity(stack, 4)
    with pytest.raises(ValueError, match="draws must be positive"):
        channel_connectivity(stack, 6, draws=0)
    with pytest.raises(ValueError, match=r"got output shape \(1, 6, 3, 3\)"):
        channel_connectivity(nn.Upsample(scale_factor=3), 6)
    with pytest.raises(ValueError, match=r"groups_per_layer\[1\]=4 must divide channels=6"):
        grouped_pointwise_stack(6, [2, 4])
    with pytest.raises(ValueError, match=r"groups_per_layer\[0\] must be positive"):
        grouped_pointwise_stack(6, [0])
    with pytest.raises(ValueError, match="groups_per_layer must name at least one layer"):
        grouped_pointwise_stack(6, [])
    with pytest.raises(TypeError, match="groups_per_layer must be a sequence"):
        grouped_pointwise_stack(6, 2)
    with pytest.raises(ValueError, match="channels must be positive"):
        grouped_pointwise_stack(0, [1])
    with pytest.raises(TypeError, match="shuffle must be a bool"):
        grouped_pointwise_stack(6, [2, 3], shuffle=1)
