"""kernels.channel_shuffle against torch's builtin (F.channel_shuffle / nn.ChannelShuffle) and
against ShuffleNet's index formula written as a loop; its inverse and its gradient."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st
from torch import nn

from kernels import ChannelShuffle, channel_shuffle


def loop_shuffle(x, groups):
    """Output channel i takes input channel (i mod g)·(C/g) + floor(i/g), one channel at a time."""
    c = x.shape[1]
    out = torch.empty_like(x)
    for i in range(c):
        out[:, i] = x[:, (i % groups) * (c // groups) + i // groups]
    return out


DTYPES = [torch.float32, torch.float64, torch.float16, torch.int64, torch.bool]


CASES = [  # (shape, groups): 1-D, 2-D and 3-D spatial, g = 1, g = C, and in between
    ((2, 6, 3), 1), ((2, 6, 3), 2), ((2, 6, 3), 6), ((2, 12, 4, 5), 3), ((2, 12, 4, 5), 4),
    ((1, 8, 2, 3, 2), 2), ((1, 8, 2, 3, 2), 8), ((3, 6, 1, 1), 3), ((0, 4, 2, 2), 2),
]


@pytest.mark.parametrize("shape,groups", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch_and_loop(shape, groups, dtype, device):
    x = torch.randint(0, 100, shape, device=device).to(dtype)
    ours = channel_shuffle(x, groups)
    assert ours.dtype == dtype and ours.shape == x.shape
    assert torch.equal(ours, F.channel_shuffle(x, groups))
    assert torch.equal(ChannelShuffle(groups)(x), nn.ChannelShuffle(groups)(x))
    assert torch.equal(ours, loop_shuffle(x, groups))


def test_two_dim_input_which_torch_refuses():
    # Tensor[N, C]: the builtin wants > 2 dims; the formula still defines the permutation.
    x = torch.arange(12.).view(2, 6)
    assert torch.equal(channel_shuffle(x, 3), loop_shuffle(x, 3))
    assert channel_shuffle(x, 2)[0].tolist() == [0., 3., 1., 4., 2., 5.]


def test_the_notes_example_by_hand():
    # g = 3 blocks of n = 2: [a0 a1 | b0 b1 | c0 c1] -> [a0 b0 c0 a1 b1 c1]
    x = torch.arange(6).view(1, 6, 1, 1)
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_channels_last_input(device):
    x = torch.randn(2, 6, 3, 4, device=device).contiguous(memory_format=torch.channels_last)
    assert torch.equal(channel_shuffle(x, 3), F.channel_shuffle(x.contiguous(), 3))


@pytest.mark.property
@given(g=st.integers(1, 6), n=st.integers(1, 6), batch=st.integers(0, 2),
       spatial=st.lists(st.integers(1, 3), min_size=0, max_size=3), seed=st.integers(0, 2**16))
def test_property_matches_loop_and_is_inverted_by_the_other_factor(g, n, batch, spatial, seed):
    torch.manual_seed(seed)
    x = torch.randn(batch, g * n, *spatial, dtype=torch.float64)
    y = channel_shuffle(x, g)
    assert torch.equal(y, loop_shuffle(x, g))
    if spatial:  # the builtin needs > 2 dims
        assert torch.equal(y, F.channel_shuffle(x, g))
    # a transpose of a g x n matrix of channels, undone by the transpose of the n x g one
    assert torch.equal(channel_shuffle(y, n), x)
    assert torch.equal(channel_shuffle(channel_shuffle(x, n), g), x)


def test_it_is_a_permutation_the_same_every_call():
    x = torch.randn(4, 12, 3, 3)
    y1, y2 = channel_shuffle(x, 4), channel_shuffle(x, 4)
    assert torch.equal(y1, y2)  # fixed, not random
    assert sorted(channel_shuffle(torch.arange(12).view(1, 12), 4)[0].tolist()) == list(range(12))


@pytest.mark.parametrize("g,n", [(2, 3), (3, 4), (4, 1), (1, 5)])
def test_gradient_is_the_inverse_permutation(g, n, device):
    x = torch.randn(2, g * n, 3, dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: channel_shuffle(t, g), (x,))
    grad_out = torch.randn(2, g * n, 3, dtype=torch.float64, device=device)
    (grad,) = torch.autograd.grad(channel_shuffle(x, g), x, grad_out)
    assert torch.equal(grad, channel_shuffle(grad_out, n))  # the shuffle with C/g groups


def test_module_has_no_parameters_and_a_repr():
    m = ChannelShuffle(3)
    assert list(m.parameters()) == [] and "groups=3" in repr(m)


def test_bad_input_names_the_argument():
    x = torch.randn(2, 6, 3)
    with pytest.raises(ValueError, match=r"groups=4 must divide .*input.shape\[1\]=6"):
        channel_shuffle(x, 4)
    with pytest.raises(ValueError, match="groups must be positive"):
        channel_shuffle(x, 0)
    with pytest.raises(ValueError, match="groups must be positive"):
        ChannelShuffle(-2)
    with pytest.raises(TypeError, match="groups must be an int"):
        channel_shuffle(x, 2.0)
    with pytest.raises(TypeError, match="groups must be an int"):
        ChannelShuffle(True)
    with pytest.raises(ValueError, match="input must be Tensor"):
        channel_shuffle(torch.randn(6), 2)
    with pytest.raises(ValueError, match="input must be Tensor"):
        channel_shuffle(torch.tensor(1.0), 1)
    with pytest.raises(TypeError, match="input must be a torch.Tensor"):
        channel_shuffle([[1, 2]], 1)
