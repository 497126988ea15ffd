"""kernels.conv_stack: the layers it builds, its output size against the conv arithmetic, and
its field against the closed form r = 1 + sum_l d_l (k_l - 1) prod_{i<l} s_i."""
import pytest
import torch

import kernels


def test_layout():
    stack = kernels.conv_stack(3, [3, 5, 3], stride=[1, 2, 1], dilation=2, channels=2, relu=True)
    convs = [m for m in stack if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3), (5, 5), (3, 3)]
    assert [c.stride for c in convs] == [(1, 1), (2, 2), (1, 1)]
    assert all(c.dilation == (2, 2) and c.in_channels == 2 for c in convs) and len(stack) == 6
    assert [type(m) for m in stack[:2]] == [torch.nn.Conv2d, torch.nn.ReLU]
    assert all(c.bias is None for c in convs)
    assert all(c.bias is not None for c in kernels.conv_stack(2, bias=True))


@pytest.mark.parametrize("ks, ss, ds, ps", [([3, 3, 3], [1, 1, 1], [1, 1, 1], [0, 0, 0]),
                                            ([3, 5, 2], [2, 1, 2], [1, 2, 1], [1, 0, 2]),
                                            ([(3, 1), 3], [(1, 2), 1], [2, (1, 3)], [0, (1, 0)])])
def test_output_size_and_field_follow_the_arithmetic(ks, ss, ds, ps):
    stack = kernels.conv_stack(len(ks), ks, ss, ds, ps)
    size, want, field, jump = 40, [40, 40], [1, 1], [1, 1]
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    for k, s, d, p in zip(ks, ss, ds, ps):
        for a in range(2):
            k_, s_, d_, p_ = pair(k)[a], pair(s)[a], pair(d)[a], pair(p)[a]
            want[a] = kernels.conv_output_size(want[a], k_, s_, p_, d_)
            field[a] += d_ * (k_ - 1) * jump[a]
            jump[a] *= s_
    assert tuple(stack(torch.randn(1, 1, size, size)).shape) == (1, 1, *want)
    assert kernels.receptive_field(stack, size).size == tuple(field)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(layers=0), ValueError, "layers must be positive"),
    (dict(layers=2.0), TypeError, "layers must be an int"),
    (dict(layers=3, kernel_size=[3, 3]), ValueError,
     r"kernel_size must be an int, a pair, or a list of 3"),
    (dict(layers=2, stride=[1, 0]), ValueError, r"stride\[1\] must be positive"),
    (dict(layers=2, padding=-1), ValueError, r"padding\[0\] must be non-negative"),
    (dict(layers=2, channels=0), ValueError, "channels must be positive"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        kernels.conv_stack(**kwargs)
