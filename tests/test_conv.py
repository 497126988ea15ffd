"""kernels.conv2d against torch.nn.functional.conv2d and a slow loop reference written here."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import kernels
from kernels import Conv2d, conv2d, conv_output_size, effective_kernel_size

TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-12)}


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def loop_conv2d(x, w, b, stride, padding, dilation, groups):
    """The defining sum, one output value at a time, in plain Python (no padding tensor:
    taps that fall outside the input read zero)."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c_in, h, wd = x.shape
    c_out, c_g, kh, kw = w.shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xs, ws = x.tolist(), w.tolist()
    out = torch.zeros(n, c_out, ho, wo, dtype=torch.float64)
    for bi, o, y, xx in itertools.product(range(n), range(c_out), range(ho), range(wo)):
        g = o // (c_out // groups)
        acc = 0.0 if b is None else float(b[o])
        for c, i, j in itertools.product(range(c_g), range(kh), range(kw)):
            r, q = y * sh - ph + i * dh, xx * sw - pw + j * dw
            if 0 <= r < h and 0 <= q < wd:
                acc += ws[o][c][i][j] * xs[bi][g * c_g + c][r][q]
        out[bi, o, y, xx] = acc
    return out


CASES = [  # (N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups)
    (2, 3, 7, 6, 4, 3, 1, 0, 1, 1),
    (1, 2, 9, 9, 2, 3, 1, 2, 2, 1),        # dilated, "same" size by padding = d
    (2, 4, 8, 7, 6, (3, 2), (2, 1), (1, 0), (1, 2), 2),
    (1, 6, 10, 11, 6, 3, 2, 3, 3, 6),      # depthwise, strided, dilated
    (1, 3, 5, 5, 3, 1, 2, 0, 1, 1),        # 1x1 kernel
    (1, 2, 6, 8, 4, (2, 3), 3, (2, 1), (3, 1), 2),
]


def make(case, dtype, device, bias=True):
    n, c, h, w, o, k, s, p, d, g = case
    kh, kw = pair(k)
    x = torch.randn(n, c, h, w, dtype=dtype, device=device)
    wt = torch.randn(o, c // g, kh, kw, dtype=dtype, device=device)
    b = torch.randn(o, dtype=dtype, device=device) if bias else None
    return x, wt, b, dict(stride=s, padding=p, dilation=d, groups=g)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_torch_and_loop(case, dtype, device):
    torch.manual_seed(0)
    x, w, b, cfg = make(case, dtype, device)
    ours = conv2d(x, w, b, **cfg)
    torch.testing.assert_close(ours, F.conv2d(x, w, b, **cfg), **TOL[dtype])
    ref = loop_conv2d(x.cpu().double(), w.cpu().double(), b.cpu().double(), **cfg)
    torch.testing.assert_close(ours.cpu().double(), ref, **TOL[dtype])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), g=st.integers(1, 3), cpg=st.integers(1, 2), opg=st.integers(1, 2),
       h=st.integers(1, 12), w=st.integers(1, 12), kh=st.integers(1, 4), kw=st.integers(1, 4),
       s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       p=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       d=st.tuples(st.integers(1, 3), st.integers(1, 3)), as_int=st.booleans(),
       bias=st.booleans())
def test_random_configs_match_torch(n, g, cpg, opg, h, w, kh, kw, s, p, d, as_int, bias):
    cfg = dict(stride=s[0] if as_int else s, padding=p[0] if as_int else p,
               dilation=d[0] if as_int else d, groups=g)
    (ph, pw), (dh, dw) = pair(cfg["padding"]), pair(cfg["dilation"])
    if h + 2 * ph < dh * (kh - 1) + 1 or w + 2 * pw < dw * (kw - 1) + 1:
        return  # the kernel does not fit: test_bad_arguments_name_the_argument covers this
    torch.manual_seed(0)
    x = torch.randn(n, g * cpg, h, w, dtype=torch.float64)
    wt = torch.randn(g * opg, cpg, kh, kw, dtype=torch.float64)
    b = torch.randn(g * opg, dtype=torch.float64) if bias else None
    ours = conv2d(x, wt, b, **cfg)
    torch.testing.assert_close(ours, F.conv2d(x, wt, b, **cfg), **TOL[torch.float64])
    assert ours.shape[-2:] == conv_output_size((h, w), (kh, kw), cfg["stride"], cfg["padding"],
                                               cfg["dilation"])


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("k,d", [(3, 1), (3, 2), (2, 1), ((2, 4), (3, 1)), (4, 3)])
def test_string_padding_matches_torch(padding, k, d, device):
    torch.manual_seed(0)
    kh, kw = pair(k)
    x = torch.randn(2, 4, 13, 12, dtype=torch.float64, device=device)
    w = torch.randn(6, 2, kh, kw, dtype=torch.float64, device=device)
    ours = conv2d(x, w, padding=padding, dilation=d, groups=2)
    torch.testing.assert_close(ours, F.conv2d(x, w, padding=padding, dilation=d, groups=2))
    if padding == "same":
        assert ours.shape[-2:] == x.shape[-2:]


def test_unbatched_noncontiguous_and_empty_batch(device):
    torch.manual_seed(0)
    w = torch.randn(3, 2, 3, 3, device=device)
    x3 = torch.randn(2, 8, 8, device=device)
    torch.testing.assert_close(conv2d(x3, w, dilation=2), F.conv2d(x3, w, dilation=2))
    x = torch.randn(2, 2, 9, 7, device=device).transpose(2, 3)  # strides not row-major
    torch.testing.assert_close(conv2d(x, w, padding=1), F.conv2d(x, w, padding=1), **TOL[x.dtype])
    xc = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(conv2d(xc, w, stride=2), F.conv2d(xc, w, stride=2), **TOL[x.dtype])
    assert conv2d(torch.randn(0, 2, 8, 8, device=device), w).shape == (0, 3, 6, 6)


@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[5]])
def test_gradcheck(case, device):
    torch.manual_seed(0)
    x, w, b, cfg = make(case, torch.float64, device)
    x, w, b = (t.requires_grad_() for t in (x, w, b))
    assert torch.autograd.gradcheck(lambda x, w, b: conv2d(x, w, b, **cfg), (x, w, b))


def test_gradients_match_torch(device):
    torch.manual_seed(0)
    x, w, b, cfg = make(CASES[3], torch.float32, device)
    grads = []
    for fn in (conv2d, F.conv2d):
        leaves = [t.detach().clone().requires_grad_() for t in (x, w, b)]
        fn(*leaves, **cfg).square().sum().backward()
        grads.append([t.grad for t in leaves])
    for ours, ref in zip(*grads):
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_module_matches_torch_module(device):
    torch.manual_seed(0)
    ours = Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(2, 1), groups=2, device=device)
    ref = torch.nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(2, 1), groups=2,
                          device=device)
    assert [p.shape for p in ours.parameters()] == [p.shape for p in ref.parameters()]
    bound = 1 / (2 * 3 * 2) ** 0.5  # torch's init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert ours.weight.abs().max() <= bound and ours.bias.abs().max() <= bound
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 9, 9, device=device)
    torch.testing.assert_close(ours(x), ref(x), **TOL[torch.float32])
    assert "dilation=(2, 1)" in repr(ours)
    assert Conv2d(2, 2, 3, padding="same", bias=False)(torch.randn(1, 2, 5, 5)).shape[-2:] == (5, 5)


def test_dilation_adds_no_parameters():
    sizes = {sum(p.numel() for p in Conv2d(8, 8, 3, dilation=d).parameters()) for d in (1, 2, 4)}
    assert sizes == {8 * 8 * 9 + 8}


def test_output_size_and_effective_kernel_hand_values():
    # floor((i + 2p - d(k-1) - 1)/s) + 1, worked by hand.
    assert conv_output_size(32, 3) == 30
    assert conv_output_size(32, 3, padding=2, dilation=2) == 32
    assert conv_output_size(7, 3, stride=2, padding=1) == 4
    assert conv_output_size((32, 20), (3, 5), 2, (1, 0), (2, 1)) == (15, 8)
    assert isinstance(conv_output_size(8, 3), int)
    assert conv_output_size(8, (3, 3)) == (6, 6)
    assert effective_kernel_size(3, 2) == 5 and effective_kernel_size(3, 1) == 3
    assert effective_kernel_size((3, 5), 3) == (7, 13)


def bad(**changes):
    """Valid arguments for conv2d with some replaced."""
    args = dict(input=torch.randn(1, 4, 8, 8), weight=torch.randn(6, 2, 3, 3), bias=None,
                stride=1, padding=0, dilation=1, groups=2)
    args.update(changes)
    return args


@pytest.mark.parametrize("changes,error,match", [
    (dict(stride=0), ValueError, "stride must be positive"),
    (dict(stride=(1, -2)), ValueError, r"stride\[1\] must be positive"),
    (dict(stride=1.5), TypeError, "stride must be an int"),
    (dict(dilation=0), ValueError, "dilation must be positive"),
    (dict(padding=-1), ValueError, "padding must be non-negative"),
    (dict(padding="full"), ValueError, "padding must be 'valid', 'same'"),
    (dict(padding="same", stride=2), ValueError, "padding='same' needs stride 1"),
    (dict(groups=0), ValueError, "groups must be positive"),
    (dict(input=torch.randn(1, 5, 8, 8), weight=torch.randn(6, 1, 3, 3), groups=3),
     ValueError, "groups=3 must divide the input channels"),
    (dict(weight=torch.randn(5, 2, 3, 3)), ValueError, "groups=2 must divide the output"),
    (dict(input=torch.randn(1, 3, 8, 8), groups=1), ValueError,
     r"input has 3 channels but weight expects weight.shape\[1\] \* groups = 2 \* 1 = 2"),
    (dict(input=torch.randn(8, 8)), ValueError, "input must be 3-D or 4-D, got 2-D"),
    (dict(input=torch.randn(1, 1, 4, 8, 8)), ValueError, "input must be 3-D or 4-D, got 5-D"),
    (dict(weight=torch.randn(6, 2, 3)), ValueError, "weight must be 4-D"),
    (dict(weight=torch.randn(6, 2, 5, 5), dilation=2), ValueError,
     r"effective kernel size \(9, 9\) = d\(k-1\)\+1 is larger than the padded input size"),
    (dict(input=[[1.0]]), TypeError, "input must be a torch.Tensor, got list"),
    (dict(weight="w"), TypeError, "weight must be a torch.Tensor"),
    (dict(input=torch.ones(1, 4, 8, 8, dtype=torch.int64)), TypeError, "input must have a floa"),
    (dict(bias=torch.randn(5)), ValueError, r"bias must be Tensor\[C_out\] = Tensor\[6\]"),
    (dict(bias=torch.randn(6, 1)), ValueError, "bias must be 1-D"),
    (dict(weight=torch.randn(6, 2, 3, 3, dtype=torch.float64)), TypeError,
     "weight has dtype torch.float64 but input has torch.float32"),
    (dict(bias=torch.randn(6, dtype=torch.float64)), TypeError, "bias has dtype"),
    (dict(weight=torch.randn(6, 2, 3, 3, device="meta")), ValueError,
     "weight is on meta but input is on cpu"),
])
def test_bad_arguments_name_the_argument(changes, error, match):
    with pytest.raises(error, match=match):
        conv2d(**bad(**changes))


@pytest.mark.parametrize("call,match", [
    (lambda: conv_output_size(4, 3, dilation=2), "effective kernel size 5"),
    (lambda: conv_output_size(-1, 3), "size must be non-negative"),
    (lambda: conv_output_size(8, (3, 3, 3)), "kernel_size must be an int or a pair"),
    (lambda: effective_kernel_size(3, 0), "dilation must be positive"),
    (lambda: Conv2d(4, 6, 3, groups=4), "groups=4 must divide"),
])
def test_size_helpers_and_module_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_public_api():
    assert kernels.conv2d is conv2d and kernels.Conv2d is Conv2d
