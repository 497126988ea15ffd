"""kernels.InvertedResidual against a reference written with F.conv2d calls and BatchNorm's
inference formula on the block's own weights; its torchvision layout; its errors."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st
from torch import nn

from kernels import InvertedResidual


def randomise(block):
    """Non-trivial BN statistics and affine parameters, so that every BN term matters."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, nn.BatchNorm2d):
                for t in (m.weight, m.bias, m.running_mean):
                    t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return block.eval()


def bn(x, m):
    """(x - mean) / sqrt(var + eps) * gamma + beta, per channel."""
    shape = (1, -1, 1, 1)
    return ((x - m.running_mean.view(shape)) / torch.sqrt(m.running_var.view(shape) + m.eps)
            * m.weight.view(shape) + m.bias.view(shape))


def reference(block, x, inp, oup, stride, t):
    """expand 1x1 -> BN -> ReLU6 -> depthwise 3x3 -> BN -> ReLU6 -> project 1x1 -> BN (+ x)."""
    layers = list(block.conv)
    h = x
    if t != 1:
        expand = layers.pop(0)
        h = torch.clamp(bn(F.conv2d(h, expand[0].weight), expand[1]), 0, 6)
    dw, project, project_bn = layers
    hidden = h.shape[1]
    h = F.conv2d(h, dw[0].weight, stride=stride, padding=1, groups=hidden)
    h = torch.clamp(bn(h, dw[1]), 0, 6)
    out = bn(F.conv2d(h, project.weight), project_bn)  # linear bottleneck: no ReLU
    return x + out if stride == 1 and inp == oup else out


CASES = [  # inp, oup, stride, expand_ratio
    (8, 8, 1, 6),    # residual
    (8, 8, 2, 6),    # same channels, strided: no residual
    (8, 12, 1, 6),   # channels change: no residual
    (6, 6, 1, 1),    # no expansion, residual
    (6, 4, 2, 1),    # no expansion, strided (MobileNet v2's first block is (32, 16, 1, 1))
    (5, 5, 1, 2.5),  # fractional ratio: round(5 * 2.5) = 12 hidden channels
]


@pytest.mark.parametrize("inp, oup, stride, t", CASES)
def test_block_matches_the_conv2d_reference(inp, oup, stride, t, device):
    torch.manual_seed(0)
    block = randomise(InvertedResidual(inp, oup, stride, t).double()).to(device)
    x = torch.randn(2, inp, 9, 8, dtype=torch.float64, device=device)
    with torch.no_grad():
        out = block(x)
        want = reference(block, x, inp, oup, stride, t)
    assert out.shape == (2, oup, -(-9 // stride), -(-8 // stride))
    torch.testing.assert_close(out, want, rtol=1e-10, atol=1e-10)
    assert block.use_res_connect == (stride == 1 and inp == oup)


@pytest.mark.property
@given(inp=st.integers(1, 6), oup=st.integers(1, 6), stride=st.sampled_from([1, 2]),
       t=st.sampled_from([1, 2, 6]), h=st.integers(1, 7), w=st.integers(1, 7))
def test_block_matches_the_reference_on_random_shapes(inp, oup, stride, t, h, w):
    block = randomise(InvertedResidual(inp, oup, stride, t).double())
    x = torch.randn(1, inp, h, w, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(block(x), reference(block, x, inp, oup, stride, t),
                                   rtol=1e-10, atol=1e-10)


def test_torchvision_layout_and_names():
    keys = {k: tuple(v.shape) for k, v in InvertedResidual(16, 24, 2, 6).state_dict().items()}
    assert keys["conv.0.0.weight"] == (96, 16, 1, 1)   # expansion 16 -> 6 * 16
    assert keys["conv.1.0.weight"] == (96, 1, 3, 3)    # depthwise
    assert keys["conv.2.weight"] == (24, 96, 1, 1)     # linear projection
    assert keys["conv.3.running_var"] == (24,)
    assert len(keys) == 3 + 3 * 5                      # 3 convs, 3 BNs (5 tensors each)
    block = InvertedResidual(32, 16, 1, 1)
    assert [type(m).__name__ for m in block.conv] == ["Conv2dNormActivation", "Conv2d",
                                                      "BatchNorm2d"]
    assert isinstance(block.conv[0][2], nn.ReLU6) and block.conv[0][0].groups == 32
    assert block.conv[1].bias is None and block.out_channels == 16


def test_the_gradient_reaches_the_input_through_both_paths():
    block = InvertedResidual(2, 2, 1, 2).double().eval()
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(inp=0, oup=4, stride=1, expand_ratio=6), ValueError, "inp"),
    (dict(inp=4, oup=2.0, stride=1, expand_ratio=6), TypeError, "oup"),
    (dict(inp=4, oup=4, stride=3, expand_ratio=6), ValueError, "stride"),
    (dict(inp=4, oup=4, stride=1, expand_ratio=0.5), ValueError, "expand_ratio"),
    (dict(inp=4, oup=4, stride=1, expand_ratio=True), ValueError, "expand_ratio"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        InvertedResidual(**kwargs)
