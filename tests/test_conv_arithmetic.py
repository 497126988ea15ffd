"""kernels.conv_output_size and kernels.effective_kernel_size against the shapes torch's own
convolutions produce (F.conv1d over a full grid, F.conv2d per axis and at random), hand-worked
values, and errors that name the argument."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import kernels
from kernels import conv_output_size, effective_kernel_size

FIT = "kernel_size: effective kernel size"  # the error when no kernel position fits


def torch_size_1d(i, k, s, p, d):
    """Output length of F.conv1d on a length-``i`` input, or None when torch refuses the layer."""
    try:
        return F.conv1d(torch.zeros(1, 1, i), torch.zeros(1, 1, k), stride=s, padding=p,
                        dilation=d).shape[-1]
    except RuntimeError:
        return None


def torch_size_2d(size, kernel_size, stride, padding, dilation):
    """Output (H, W) of F.conv2d, or None when torch refuses the layer."""
    (h, w), (kh, kw) = (pair(size), pair(kernel_size))
    try:
        out = F.conv2d(torch.zeros(1, 1, h, w), torch.zeros(1, 1, kh, kw), stride=stride,
                       padding=padding, dilation=dilation)
    except RuntimeError:
        return None
    return tuple(out.shape[-2:])


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list, torch.Size)) else (v, v)


def test_output_size_matches_conv1d_over_a_grid():
    grid = itertools.product(range(1, 10), range(1, 5), range(1, 4), range(0, 4), range(1, 4))
    for i, k, s, p, d in grid:
        want = torch_size_1d(i, k, s, p, d)
        if want is None:
            with pytest.raises(ValueError, match=FIT):
                conv_output_size(i, k, s, p, d)
        else:
            got = conv_output_size(i, k, s, p, d)
            assert (got, type(got)) == (want, int), (i, k, s, p, d)


def test_empty_input_is_refused_as_torch_does():
    """Regression: size 0 with padding gave an output size (2 here); torch refuses the layer."""
    assert torch_size_1d(0, 1, 1, 1, 1) is None and torch_size_2d((0, 4), 1, 1, 1, 1) is None
    for size in (0, (0, 4), (4, 0)):
        with pytest.raises(ValueError, match=r"size(\[\d\])? must be positive"):
            conv_output_size(size, 1, padding=1)


@pytest.mark.parametrize("k,d", list(itertools.product(range(1, 6), range(1, 5))))
def test_effective_kernel_size_is_the_smallest_input_torch_accepts(k, d):
    """Without padding the kernel fits from input size d(k-1)+1 on, with one output there."""
    smallest = next(i for i in itertools.count(1) if torch_size_1d(i, k, 1, 0, d) is not None)
    assert effective_kernel_size(k, d) == smallest
    assert torch_size_1d(smallest, k, 1, 0, d) == 1


@pytest.mark.parametrize("args", [
    ((32, 20), (3, 5), 2, (1, 0), (2, 1)),
    ((9, 9), 3, (1, 2), 1, (3, 1)),
    (7, (1, 3), 1, 0, 2),                 # an int size with a pair kernel gives a pair
    ([12, 5], 2, 3, [2, 0], 1),           # lists as torch takes them
    (torch.Size([6, 11]), (2, 4), 1, 2, (1, 3)),
    ((65, 65), 3, 1, 6, 6),               # the DeepLab rate-6 branch: "same" at p = d
])
def test_pairs_match_conv2d_per_axis(args):
    got = conv_output_size(*args)
    assert isinstance(got, tuple) and got == torch_size_2d(*args)


def test_hand_values():
    # floor((i + 2p - d(k-1) - 1)/s) + 1, worked by hand.
    assert conv_output_size(32, 3) == 30
    assert conv_output_size(32, 3, padding=2, dilation=2) == 32
    assert conv_output_size(7, 3, stride=2, padding=1) == 4
    assert conv_output_size(4, 3, dilation=2, padding=1) == 2  # k_eff = 5 fits in 4 + 2
    assert conv_output_size((32, 20), (3, 5), 2, (1, 0), (2, 1)) == (15, 8)
    assert isinstance(conv_output_size(8, 3), int)
    assert conv_output_size(8, (3, 3)) == (6, 6)
    assert effective_kernel_size(3, 2) == 5 and effective_kernel_size(3, 1) == 3
    assert effective_kernel_size(1, 7) == 1  # one tap reaches one pixel, whatever the rate
    assert effective_kernel_size((3, 5), 3) == (7, 13)
    assert effective_kernel_size(3, (1, 4)) == (3, 9)


@st.composite
def layers(draw):
    """Per axis (i, k, s, p, d); each argument passed as an int (both axes equal) or a pair."""
    axes = [[draw(st.integers(1, 40)), draw(st.integers(1, 6)), draw(st.integers(1, 4)),
             draw(st.integers(0, 5)), draw(st.integers(1, 5))] for _ in range(2)]
    args = []
    for n in range(5):
        if draw(st.booleans()):
            args.append(axes[0][n])
            axes[1][n] = axes[0][n]
        else:
            args.append((axes[0][n], axes[1][n]))
    return args, axes


@pytest.mark.property
@given(layers())
def test_random_layers_match_conv2d(case):
    args, axes = case
    want = torch_size_2d(*args)
    if want is None:
        with pytest.raises(ValueError, match=FIT):
            conv_output_size(*args)
        return
    got = conv_output_size(*args)
    any_pair = any(isinstance(a, tuple) for a in args)
    assert got == (want if any_pair else want[0])
    k_eff = effective_kernel_size(args[1], args[4])
    assert pair(k_eff) == tuple(a[4] * (a[1] - 1) + 1 for a in axes)
    # The output is the number of kernel positions: the last one still ends inside the input.
    for (i, k, s, p, d), o, e in zip(axes, want, pair(k_eff)):
        assert (o - 1) * s + e <= i + 2 * p < o * s + e


@pytest.mark.parametrize("call,error,match", [
    (lambda: conv_output_size(4, 3, dilation=2), ValueError, FIT + " 5"),
    (lambda: conv_output_size((9, 4), 3, dilation=(1, 2)), ValueError, FIT + " 5"),
    (lambda: conv_output_size(-1, 3), ValueError, "size must be positive"),
    (lambda: conv_output_size(8.0, 3), TypeError, "size must be an int"),
    (lambda: conv_output_size((8, -2), 3), ValueError, r"size\[1\] must be positive"),
    (lambda: conv_output_size(8, 0), ValueError, "kernel_size must be positive"),
    (lambda: conv_output_size(8, (3, 3, 3)), ValueError, "kernel_size must be an int or a pair"),
    (lambda: conv_output_size(8, "3"), TypeError, "kernel_size must be an int"),
    (lambda: conv_output_size(8, 3, stride=0), ValueError, "stride must be positive"),
    (lambda: conv_output_size(8, 3, stride=(1, 0)), ValueError, r"stride\[1\] must be positive"),
    (lambda: conv_output_size(8, 3, padding=-1), ValueError, "padding must be non-negative"),
    (lambda: conv_output_size(8, 3, padding="same"), TypeError, "padding must be an int"),
    (lambda: conv_output_size(8, 3, dilation=0), ValueError, "dilation must be positive"),
    (lambda: conv_output_size(8, 3, dilation=True), TypeError, "dilation must be an int"),
    (lambda: effective_kernel_size(0, 1), ValueError, "kernel_size must be positive"),
    (lambda: effective_kernel_size(3.0, 1), TypeError, "kernel_size must be an int"),
    (lambda: effective_kernel_size(3, 0), ValueError, "dilation must be positive"),
    (lambda: effective_kernel_size(3, (1, 2, 3)), ValueError, "dilation must be an int or a pair"),
])
def test_bad_arguments_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_public_api():
    assert kernels.conv_output_size is conv_output_size
    assert kernels.effective_kernel_size is effective_kernel_size
