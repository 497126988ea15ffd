"""kernels.SeparableConv2d / separable_conv2d against two torch.nn.Conv2d layers with copied
weights, and separable_to_full_weight against a loop over the defining sum: the composed weight
run through F.conv2d gives the separable layer's output, and has rank <= M per input channel."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st
from torch import nn

from kernels import Conv2d, SeparableConv2d, separable_conv2d, separable_to_full_weight

TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-12)}


def torch_reference(layer):
    """The same layer as torch.nn.Conv2d (depthwise, groups = C_in) then nn.Conv2d (1 x 1)."""
    dw, pw = layer.depthwise, layer.pointwise
    ref = nn.Sequential(
        nn.Conv2d(dw.in_channels, dw.out_channels, dw.kernel_size, dw.stride, dw.padding,
                  dw.dilation, groups=dw.in_channels, bias=False),
        nn.Conv2d(pw.in_channels, pw.out_channels, 1, bias=pw.bias is not None),
    ).to(dw.weight)
    with torch.no_grad():
        ref[0].weight.copy_(dw.weight)
        ref[1].weight.copy_(pw.weight)
        if pw.bias is not None:
            ref[1].bias.copy_(pw.bias)
    return ref


def loop_full_weight(d, p, c_in):
    """W[o, i] = sum_m P[o, i M + m] D[i M + m], one (o, i, m) at a time: depthwise filter
    number j reads input channel j // M (groups = C_in, C_in M outputs)."""
    m_count = d.shape[0] // c_in
    w = torch.zeros(p.shape[0], c_in, d.shape[2], d.shape[3], dtype=torch.float64)
    for o, j in itertools.product(range(p.shape[0]), range(d.shape[0])):
        w[o, j // m_count] += float(p[o, j, 0, 0]) * d[j, 0].double()
    return w


CASES = [  # (N, C_in, H, W, C_out, kernel, stride, padding, dilation, M, bias)
    (2, 3, 7, 6, 5, 3, 1, 1, 1, 1, True),
    (1, 4, 9, 9, 6, 3, 2, 0, 1, 2, False),
    (2, 2, 10, 8, 3, (3, 2), (1, 2), (2, 1), (2, 1), 3, True),
    (1, 3, 8, 8, 2, 3, 1, "same", 2, 4, True),
    (1, 1, 5, 5, 4, 1, 1, 0, 1, 4, False),         # 1 x 1 depthwise: a scaling per filter
    (2, 5, 6, 7, 1, 2, 3, "valid", 1, 2, True),
]


def make(case, dtype, device):
    n, c_in, h, w, c_out, k, s, p, d, m, bias = case
    layer = SeparableConv2d(c_in, c_out, k, s, p, d, depth_multiplier=m, bias=bias,
                            device=device, dtype=dtype)
    return layer, torch.randn(n, c_in, h, w, dtype=dtype, device=device)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_torch_layers_and_the_full_convolution(case, dtype, device):
    torch.manual_seed(0)
    layer, x = make(case, dtype, device)
    out = layer(x)
    torch.testing.assert_close(out, torch_reference(layer)(x), **TOL[dtype])
    torch.testing.assert_close(layer(x[0]), out[0], **TOL[dtype])  # unbatched
    dw = layer.depthwise
    full = F.conv2d(x, layer.full_weight(), layer.pointwise.bias, dw.stride, dw.padding,
                    dw.dilation)
    torch.testing.assert_close(full, out, **TOL[dtype])


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_full_weight_matches_the_loop_and_has_rank_at_most_m(m, device):
    torch.manual_seed(m)
    c_in, c_out, k = 3, 7, 3
    d = torch.randn(c_in * m, 1, k, k, dtype=torch.float64, device=device)
    p = torch.randn(c_out, c_in * m, 1, 1, dtype=torch.float64, device=device)
    w = separable_to_full_weight(d, p, c_in)
    assert w.shape == (c_out, c_in, k, k)
    torch.testing.assert_close(w.cpu(), loop_full_weight(d.cpu(), p.cpu(), c_in))
    # each input channel's [C_out, k*k] slice is [C_out, M] @ [M, k*k]: rank M (< 7, < 9)
    ranks = [int(torch.linalg.matrix_rank(w[:, i].reshape(c_out, k * k))) for i in range(c_in)]
    assert ranks == [m] * c_in
    # and a full weight has rank min(C_out, k*k) = 7 there: separable is a real constraint
    assert int(torch.linalg.matrix_rank(torch.randn(c_out, k * k, dtype=torch.float64))) == 7


def test_every_weight_of_that_rank_is_separable():
    # Conversely: a full weight whose per-channel slices have rank <= M factors (SVD) into a
    # depthwise and a pointwise weight that give the same convolution.
    torch.manual_seed(0)
    c_in, c_out, k, m = 2, 5, 3, 2
    w = torch.einsum("iom,imk->oik", torch.randn(c_in, c_out, m, dtype=torch.float64),
                     torch.randn(c_in, m, k * k, dtype=torch.float64)).reshape(c_out, c_in, k, k)
    u, s, vh = torch.linalg.svd(w.permute(1, 0, 2, 3).reshape(c_in, c_out, k * k))
    d = (s[:, :m, None] * vh[:, :m]).reshape(c_in * m, 1, k, k)     # filters i M + m
    p = u[:, :, :m].permute(1, 0, 2).reshape(c_out, c_in * m, 1, 1)  # columns i M + m
    x = torch.randn(1, c_in, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(separable_conv2d(x, d, p, padding=1), F.conv2d(x, w, padding=1))


def test_the_notes_counts():
    # standard 3x3 from 128 to 256 channels against separable with depth multiplier 4
    def count(layer):
        return sum(t.numel() for t in layer.parameters())

    standard = count(Conv2d(128, 256, 3, bias=False))
    assert standard == count(nn.Conv2d(128, 256, 3, bias=False)) == 128 * 3 * 3 * 256 == 294_912
    separable = count(SeparableConv2d(128, 256, 3, depth_multiplier=4, bias=False))
    assert separable == 128 * (3 * 3 * 4 + 4 * 256) == 135_680
    assert round(separable / standard, 2) == 0.46
    assert count(SeparableConv2d(128, 256, 3, bias=False)) == 128 * (9 + 256) == 33_920
    assert count(SeparableConv2d(128, 256, 3, depth_multiplier=4)) == 135_680 + 256  # the bias


def test_gradcheck_float64(device):
    torch.manual_seed(0)
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64, device=device, requires_grad=True)
    d = torch.randn(6, 1, 3, 2, dtype=torch.float64, device=device, requires_grad=True)
    p = torch.randn(3, 6, 1, 1, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *t: separable_conv2d(*t, stride=(2, 1), padding=1, dilation=(1, 2)), (x, d, p, b))
    assert torch.autograd.gradcheck(lambda d, p: separable_to_full_weight(d, p, 2), (d, p))


@st.composite
def separable_configs(draw):
    c_in, m, c_out = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    size = [max(1, di * (ki - 1) + 1 - 2 * pi) + draw(st.integers(0, 4))
            for ki, di, pi in zip(k, dil, pad)]
    return dict(c_in=c_in, c_out=c_out, kernel_size=k, stride=draw(st.integers(1, 3)),
                padding=pad, dilation=dil, depth_multiplier=m, bias=draw(st.booleans())), size


@pytest.mark.property
@given(separable_configs(), st.integers(0, 2**16))
def test_property_matches_torch_and_full_convolution(config, seed):
    cfg, (h, w) = config
    torch.manual_seed(seed)
    c_in, c_out = cfg.pop("c_in"), cfg.pop("c_out")
    layer = SeparableConv2d(c_in, c_out, dtype=torch.float64, **cfg)
    x = torch.randn(2, c_in, h, w, dtype=torch.float64)
    out = layer(x)
    torch.testing.assert_close(out, torch_reference(layer)(x))
    full = F.conv2d(x, layer.full_weight(), layer.pointwise.bias, cfg["stride"], cfg["padding"],
                    cfg["dilation"])
    torch.testing.assert_close(full, out)
    torch.testing.assert_close(layer.full_weight(), loop_full_weight(
        layer.depthwise.weight.detach(), layer.pointwise.weight.detach(), c_in))


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="depth_multiplier must be positive"):
        SeparableConv2d(4, 8, 3, depth_multiplier=0)
    with pytest.raises(TypeError, match="depth_multiplier must be an int"):
        SeparableConv2d(4, 8, 3, depth_multiplier=1.5)
    with pytest.raises(ValueError, match="in_channels must be positive"):
        SeparableConv2d(0, 8, 3)
    with pytest.raises(ValueError, match="out_channels must be positive"):
        SeparableConv2d(4, 0, 3)
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        SeparableConv2d(4, 8, 0)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        SeparableConv2d(4, 8, 3, stride=2, padding="same")
    with pytest.raises(TypeError, match="bias must be a bool"):
        SeparableConv2d(4, 8, 3, bias=None)
    d, p = torch.randn(6, 1, 3, 3), torch.randn(5, 6, 1, 1)
    with pytest.raises(ValueError, match="in_channels=4 must divide depthwise_weight.shape"):
        separable_to_full_weight(d, p, 4)
    with pytest.raises(ValueError, match="in_channels must be positive"):
        separable_to_full_weight(d, p, 0)
    with pytest.raises(ValueError, match="depthwise_weight must be Tensor"):
        separable_to_full_weight(torch.randn(6, 2, 3, 3), p, 3)
    with pytest.raises(ValueError, match="pointwise_weight must be Tensor"):
        separable_to_full_weight(d, torch.randn(5, 4, 1, 1), 3)
    with pytest.raises(ValueError, match="pointwise_weight must be Tensor"):
        separable_to_full_weight(d, torch.randn(5, 6, 3, 3), 3)
    with pytest.raises(ValueError, match="pointwise_weight must be 4-D"):
        separable_to_full_weight(d, torch.randn(5, 6), 3)
    with pytest.raises(TypeError, match="pointwise_weight has dtype"):
        separable_to_full_weight(d, p.double(), 3)
    with pytest.raises(ValueError, match=r"multiple C_in \* M of the input channels"):
        separable_conv2d(torch.randn(1, 4, 5, 5), d, p)
    with pytest.raises(ValueError, match="input must be 3-D or 4-D"):
        separable_conv2d(torch.randn(3, 5), d, p)
