"""ResNeXt's three forms (Xie et al. 2017, Figure 3) give the same outputs and gradients with
weights derived from one block; the block against torch's F.conv2d; the parameter counts."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st
from torch import nn

from kernels import ResNeXtBlock, ResNeXtEarlyConcat, ResNeXtSummedPaths


def count(module):
    return sum(t.numel() for t in module.parameters())


def torch_block(block, x):
    """Form (c) with torch's own convolutions (F.conv2d, groups = cardinality)."""
    y = F.relu(F.conv2d(x, block.conv1.weight))
    y = F.relu(F.conv2d(y, block.conv2.weight, padding=1, groups=block.cardinality))
    return F.relu(x + F.conv2d(y, block.conv3.weight))


def torch_paths(block, x):
    """Form (a) written out with F.conv2d on slices, path by path, independently of kernels."""
    d, total = block.bottleneck_width, torch.zeros_like(x)
    for p in range(block.cardinality):
        w1 = block.conv1.weight[p * d:(p + 1) * d]
        w2 = block.conv2.weight[p * d:(p + 1) * d]
        w3 = block.conv3.weight[:, p * d:(p + 1) * d]
        total = total + F.conv2d(F.relu(F.conv2d(F.relu(F.conv2d(x, w1)), w2, padding=1)), w3)
    return F.relu(x + total)


def forms(block):
    return block, ResNeXtSummedPaths.from_grouped(block), ResNeXtEarlyConcat.from_grouped(block)


def test_the_papers_block_three_forms_are_identical(device):
    torch.manual_seed(0)
    block = ResNeXtBlock(256, 32, 4).to(device=device, dtype=torch.float64)
    x = torch.randn(2, 256, 6, 5, dtype=torch.float64, device=device)
    c, a, b = (form(x) for form in forms(block))
    assert c.shape == x.shape
    torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(b, c, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c, torch_block(block, x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(a, torch_paths(block, x), rtol=1e-12, atol=1e-12)
    assert (c > 0).any() and (c == 0).any()  # the ReLUs are doing something


def test_gradients_agree_slice_by_slice():
    # Training any form is training the same function: the grouped 3x3 weight's gradient is the
    # paths' 3x3 gradients stacked, and conv1's is their first layers' stacked.
    torch.manual_seed(1)
    block = ResNeXtBlock(8, 4, 2).double()
    a = ResNeXtSummedPaths.from_grouped(block)
    x = torch.randn(2, 8, 4, 4, dtype=torch.float64)
    grad_out = torch.randn(2, 8, 4, 4, dtype=torch.float64)
    block(x).backward(grad_out)
    a(x).backward(grad_out)
    for k, conv in ((0, block.conv1), (2, block.conv2)):
        torch.testing.assert_close(conv.weight.grad, torch.cat([p[k].weight.grad for p in a.paths]))
    torch.testing.assert_close(block.conv3.weight.grad,
                               torch.cat([p[4].weight.grad for p in a.paths], dim=1))


@pytest.mark.property
@given(d_in=st.integers(1, 8), cardinality=st.integers(1, 5), width=st.integers(1, 3),
       h=st.integers(1, 4), w=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_property_three_forms_and_torch_agree(d_in, cardinality, width, h, w, seed):
    torch.manual_seed(seed)
    block = ResNeXtBlock(d_in, cardinality, width).double()
    x = torch.randn(2, d_in, h, w, dtype=torch.float64)
    three = forms(block)
    c, a, b = (form(x) for form in three)
    torch.testing.assert_close(a, c)
    torch.testing.assert_close(b, c)
    torch.testing.assert_close(c, torch_block(block, x))
    assert count(three[0]) == count(three[1]) == count(three[2])


def test_gradcheck_float64(device):
    torch.manual_seed(0)
    block = ResNeXtBlock(4, 2, 2).to(device=device, dtype=torch.float64)
    x = torch.randn(1, 4, 3, 3, dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))


def test_parameter_counts_next_to_the_resnet_bottleneck():
    # ResNeXt 32x4d: 256*128 + 3*3*128*128/32 + 128*256
    assert count(ResNeXtBlock()) == 256 * 128 + 3 * 3 * 128 * 128 // 32 + 128 * 256 == 70_144
    assert count(ResNeXtSummedPaths()) == count(ResNeXtEarlyConcat()) == 70_144
    # ResNet's bottleneck 256 -> 64 -> 64 -> 256, built with torch's layers: cardinality 1
    resnet = nn.Sequential(nn.Conv2d(256, 64, 1, bias=False), nn.Conv2d(64, 64, 3, bias=False),
                           nn.Conv2d(64, 256, 1, bias=False))
    assert count(resnet) == count(ResNeXtBlock(256, 1, 64)) == 69_632
    assert count(ResNeXtBlock(256, 1, 64)) == 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256


def test_cardinality_one_is_a_plain_bottleneck():
    torch.manual_seed(0)
    block = ResNeXtBlock(16, 1, 4).double()
    assert block.conv2.groups == 1 and len(ResNeXtSummedPaths.from_grouped(block).paths) == 1
    x = torch.randn(1, 16, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(ResNeXtEarlyConcat.from_grouped(block)(x), block(x))


def test_derived_forms_copy_rather_than_share():
    block = ResNeXtBlock(4, 2, 2)
    a = ResNeXtSummedPaths.from_grouped(block)
    with torch.no_grad():
        block.conv1.weight.zero_()
    assert a.paths[0][0].weight.abs().sum() > 0
    assert a.paths[0][0].weight.dtype == torch.float32


def test_bad_arguments_name_themselves():
    for cls in (ResNeXtBlock, ResNeXtSummedPaths, ResNeXtEarlyConcat):
        with pytest.raises(ValueError, match="cardinality must be positive"):
            cls(256, 0, 4)
        with pytest.raises(ValueError, match="bottleneck_width must be positive"):
            cls(256, 32, 0)
        with pytest.raises(ValueError, match="in_channels must be positive"):
            cls(0, 32, 4)
        with pytest.raises(TypeError, match="cardinality must be an int"):
            cls(256, 32.0, 4)
    for cls in (ResNeXtSummedPaths, ResNeXtEarlyConcat):
        with pytest.raises(TypeError, match="block must be a kernels.ResNeXtBlock"):
            cls.from_grouped(nn.Conv2d(4, 4, 1))
    with pytest.raises(ValueError, match="input has 3 channels"):
        ResNeXtBlock(4, 2, 2)(torch.randn(1, 3, 4, 4))
    assert "cardinality=32" in repr(ResNeXtBlock())
