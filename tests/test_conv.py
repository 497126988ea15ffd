"""kernels.conv2d against torch.nn.functional.conv2d and a slow loop reference written here:
values, gradients and the memory layout of the result (a drop-in must hand the next layer the
same strides F.conv2d would)."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import kernels
from kernels import Conv2d, conv2d, conv_output_size

TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-12)}


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def loop_conv2d(x, w, b, stride, padding, dilation, groups):
    """The defining sum, one output value at a time, in plain Python (no padding tensor:
    taps that fall outside the input read zero). ``padding="same"`` pads ``d (k - 1)`` in
    all, the odd pixel at the bottom / right, as torch documents."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    n, c_in, h, wd = x.shape
    c_out, c_g, kh, kw = w.shape
    if padding == "same":
        (ph, pw), (ho, wo) = (dh * (kh - 1) // 2, dw * (kw - 1) // 2), (h, wd)
    else:
        ph, pw = (0, 0) if padding == "valid" else pair(padding)
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


def assert_same_layout(ours, ref, groups):
    """Same row-major / channels-last contiguity and the same strides as F.conv2d's result.

    One exception, where the two layouts address memory identically: for a 1x1 output with
    groups > 1, torch's CPU fallback (float64, or when oneDNN declines) concatenates the
    per-group outputs and reports row-major strides where its other kernels report
    channels-last ones; only the strides of the size-1 dimensions differ then."""
    assert ours.shape == ref.shape
    for fmt in (torch.contiguous_format, torch.channels_last):
        if ref.dim() == 4 or fmt == torch.contiguous_format:
            assert ours.is_contiguous(memory_format=fmt) == ref.is_contiguous(memory_format=fmt)
    if not (groups > 1 and ref.shape[-2:] == (1, 1)):
        assert ours.stride() == ref.stride()


def with_layout(t, layout):
    """``t`` with the same values in another memory layout."""
    if layout == "channels_last":
        return t.contiguous(memory_format=torch.channels_last)
    if layout == "permuted":  # dense but neither row-major nor channels-last: [N, C, W, H] order
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    return t


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


@st.composite
def conv_configs(draw):
    """A valid conv2d call: channels, kernel, stride, padding (int, pair, "same", "valid"),
    dilation, groups, bias, dtype and the memory layout of input and weight."""
    g, cpg, opg = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    d = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.sampled_from(["same", "valid"])))
    stride = 1 if padding == "same" else draw(st.one_of(
        st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    as_int = draw(st.booleans())
    dilation = d[0] if as_int else d
    (ph, pw), (dh, dw) = pair(padding if isinstance(padding, (int, tuple)) else 0), pair(dilation)
    # The smallest input the (effective) kernel fits in, then up to 6 pixels more.
    h = max(1, dh * (kh - 1) + 1 - 2 * ph) + draw(st.integers(0, 6))
    w = max(1, dw * (kw - 1) + 1 - 2 * pw) + draw(st.integers(0, 6))
    return dict(n=draw(st.integers(1, 3)), c_in=g * cpg, c_out=g * opg, h=h, w=w, kernel=(kh, kw),
                cfg=dict(stride=stride, padding=padding, dilation=dilation, groups=g),
                bias=draw(st.booleans()),
                dtype=draw(st.sampled_from([torch.float32, torch.float64])),
                x_layout=draw(st.sampled_from(["contiguous", "channels_last", "permuted"])),
                w_layout=draw(st.sampled_from(["contiguous", "channels_last"])))


@pytest.mark.property
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@given(conv_configs(), st.integers(0, 2**16))
def test_random_configs_match_torch_and_loop(case, seed):
    torch.manual_seed(seed)
    cfg, dtype = case["cfg"], case["dtype"]
    x = with_layout(torch.randn(case["n"], case["c_in"], case["h"], case["w"], dtype=dtype),
                    case["x_layout"])
    wt = with_layout(torch.randn(case["c_out"], case["c_in"] // cfg["groups"], *case["kernel"],
                                 dtype=dtype), case["w_layout"])
    b = torch.randn(case["c_out"], dtype=dtype) if case["bias"] else None
    leaves = [t.requires_grad_() for t in (x, wt, b) if t is not None]
    ours, ref = conv2d(x, wt, b, **cfg), F.conv2d(x, wt, b, **cfg)
    torch.testing.assert_close(ours, ref, **TOL[dtype])
    loop = loop_conv2d(*(None if t is None else t.detach().double() for t in (x, wt, b)), **cfg)
    torch.testing.assert_close(ours.double(), loop, **TOL[dtype])
    assert_same_layout(ours, ref, cfg["groups"])
    # The backward runs whatever the layout, and gives torch's gradients.
    grad_out = torch.randn_like(ref)
    for g_ours, g_ref in zip(torch.autograd.grad(ours, leaves, grad_out),
                             torch.autograd.grad(ref, leaves, grad_out)):
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-4 if dtype == torch.float32 else 1e-9,
                                   atol=1e-4 if dtype == torch.float32 else 1e-10)
    padding = 0 if cfg["padding"] == "valid" else cfg["padding"]
    size = (case["h"], case["w"]) if padding == "same" else conv_output_size(
        (case["h"], case["w"]), case["kernel"], cfg["stride"], padding, cfg["dilation"])
    assert ours.shape[-2:] == size


LAYOUT_CASES = [  # (N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups)
    (2, 6, 5, 5, 6, 3, 1, 0, 1, 1),        # issue 9: einsum left this [N, H, W, C] in memory
    (1, 6, 5, 5, 6, 3, 1, 0, 1, 1),        # N = 1
    (2, 1, 6, 5, 4, 3, 1, 1, 1, 1),        # C_in = 1: the input is both row-major and NHWC
    (2, 4, 6, 5, 1, 3, 1, 1, 1, 1),        # C_out = 1: so is the output
    (2, 6, 9, 8, 6, 3, 2, 1, 2, 2),        # groups, stride, dilation
    (3, 6, 8, 8, 6, 3, 1, "same", 2, 6),   # depthwise, "same"
    (1, 4, 7, 6, 8, (1, 3), (2, 1), "valid", 1, 4),
    (2, 4, 3, 3, 4, 3, 1, 0, 1, 1),        # 1x1 output
    (1, 2, 1, 1, 3, 1, 1, 0, 1, 1),        # 1x1 input and output
    (2, 4, 3, 3, 4, 3, 1, 0, 1, 2),        # 1x1 output, groups (see assert_same_layout)
]


@pytest.mark.parametrize("case", LAYOUT_CASES)
@pytest.mark.parametrize("x_layout", ["contiguous", "channels_last", "permuted"])
@pytest.mark.parametrize("w_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_output_memory_layout_matches_torch(case, x_layout, w_layout, dtype, device):
    """Regression (issue 9, defect 2): the result has F.conv2d's layout, not einsum's."""
    torch.manual_seed(0)
    x, w, b, cfg = make(case, dtype, device)
    x, w = with_layout(x, x_layout), with_layout(w, w_layout)
    for bias in (None, b):  # the bias is added in place: it must keep the layout
        ours, ref = conv2d(x, w, bias, **cfg), F.conv2d(x, w, bias, **cfg)
        torch.testing.assert_close(ours, ref, **TOL[dtype])
        assert_same_layout(ours, ref, cfg["groups"])
    if x_layout == "contiguous":  # unbatched: C, H, W of the same input
        ours3, ref3 = conv2d(x[0], w, b, **cfg), F.conv2d(x[0], w, b, **cfg)
        assert ours3.stride() == ref3.stride()


def test_contiguous_input_gives_a_contiguous_output():
    """Regression (issue 9, defect 2), the issue's own line: .view needs a row-major result."""
    out = conv2d(torch.randn(2, 6, 5, 5), torch.randn(6, 6, 3, 3))
    assert out.is_contiguous() and out.view(2, -1).shape == (2, 6 * 3 * 3)
    cl = conv2d(torch.randn(2, 6, 5, 5).contiguous(memory_format=torch.channels_last),
                torch.randn(6, 6, 3, 3))
    assert cl.is_contiguous(memory_format=torch.channels_last) and not cl.is_contiguous()


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


@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[3]])
@pytest.mark.parametrize("x_layout,w_layout", [("channels_last", "contiguous"),
                                               ("contiguous", "channels_last"),
                                               ("permuted", "channels_last")])
def test_gradcheck_other_layouts(case, x_layout, w_layout, device):
    """The layout copy and the in-place bias keep the graph exact in every layout."""
    torch.manual_seed(0)
    x, w, b, cfg = make(case, torch.float64, device)
    x, w = with_layout(x, x_layout), with_layout(w, w_layout)
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


@pytest.mark.parametrize("changes,error,match", [
    (dict(stride=2, padding="same"), ValueError, "padding='same' needs stride 1, got stride=.2,"),
    (dict(stride=(1, 2), padding="same"), ValueError, "padding='same' needs stride 1"),
    (dict(padding="foo"), ValueError, "padding must be 'valid', 'same', an int or a pair"),
    (dict(padding="SAME"), ValueError, "padding must be 'valid', 'same'"),
    (dict(padding=-1), ValueError, "padding must be non-negative"),
    (dict(padding=(1, 2, 3)), ValueError, "padding must be an int or a pair"),
    (dict(padding=1.5), TypeError, "padding must be an int"),
    (dict(padding=None), TypeError, "padding must be an int"),
    (dict(stride=0), ValueError, "stride must be positive"),
    (dict(stride=(1,)), ValueError, "stride must be an int or a pair"),
    (dict(dilation=(1, 0)), ValueError, r"dilation\[1\] must be positive"),
    (dict(kernel_size=0), ValueError, "kernel_size must be positive"),
    (dict(kernel_size=(3, 3, 3)), ValueError, "kernel_size must be an int or a pair"),
    (dict(kernel_size="3"), TypeError, "kernel_size must be an int"),
    (dict(in_channels=0), ValueError, "in_channels must be positive"),
    (dict(out_channels="6"), TypeError, "out_channels must be an int"),
    (dict(groups=0), ValueError, "groups must be positive"),
    (dict(groups=2.0), TypeError, "groups must be an int"),
    (dict(groups=3), ValueError, "groups=3 must divide in_channels=4"),
    (dict(groups=4), ValueError, "groups=4 must divide out_channels=6"),
    (dict(bias=torch.zeros(6)), TypeError, "bias must be a bool"),
    (dict(bias=None), TypeError, "bias must be a bool"),
    (dict(padding_mode="reflect"), ValueError, "padding_mode must be 'zeros'"),
    (dict(padding_mode="foo"), ValueError, "padding_mode must be 'zeros'"),
    (dict(dtype=torch.int64), TypeError, "dtype must be a floating-point torch.dtype"),
    (dict(dtype="float32"), TypeError, "dtype must be a floating-point torch.dtype"),
    (dict(device="zeros"), ValueError, "device must be a torch.device or a device string"),
])
def test_module_rejects_bad_arguments_at_construction(changes, error, match):
    """Regression (issue 9, defect 6): every bad argument fails in __init__, naming itself,
    where torch.nn.Conv2d fails too (or would fail at the first forward pass)."""
    args = dict(in_channels=4, out_channels=6, kernel_size=3)
    args.update(changes)
    with pytest.raises(error, match=match):
        Conv2d(**args)


def test_module_takes_torch_positional_arguments():
    # torch's order: ..., groups, bias, padding_mode, device, dtype.
    args = (4, 6, 3, 1, "same", 2, 2, False, "zeros", "cpu", torch.float64)
    ours, ref = Conv2d(*args), torch.nn.Conv2d(*args)
    assert ours.weight.dtype == ref.weight.dtype == torch.float64 and ours.bias is None
    assert (ours.padding, ours.padding_mode) == (ref.padding, ref.padding_mode)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x))


def test_public_api():
    assert kernels.conv2d is conv2d and kernels.Conv2d is Conv2d
