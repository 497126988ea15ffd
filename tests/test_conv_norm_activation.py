"""Conv2dNormActivation against a hand-built nn.Sequential of the same three layers.

The reference is written out layer by layer (with torchvision's rules for padding and bias
applied by hand); the block must hold the same layers under the same keys, so the reference's
state dict loads into it strictly, and then both must give the same output in train and eval.
"""
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

import kernels
from kernels import Conv2dNormActivation


def reference(c_in, c_out, k, stride=1, padding=None, groups=1, dilation=1, norm=True, act=True,
              bias=None):
    """torchvision's block, written out: padding (k-1)//2*d, bias only without a norm."""
    kh, kw = (k, k) if isinstance(k, int) else k
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    pad = ((kh - 1) // 2 * dh, (kw - 1) // 2 * dw) if padding is None else padding
    layers = [nn.Conv2d(c_in, c_out, (kh, kw), stride, pad, (dh, dw), groups,
                        bias=(not norm) if bias is None else bias)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def randomise_bn(m):
    for bn in (x for x in m.modules() if isinstance(x, nn.BatchNorm2d)):
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    return m


def check_same(ref, block, x):
    block.load_state_dict(randomise_bn(ref).state_dict())  # strict: same keys, same shapes
    assert [type(m) for m in block] == [type(m) for m in ref]
    for training in (False, True):
        ref.train(training), block.train(training)
        torch.testing.assert_close(block(x.clone()), ref(x.clone()), rtol=0, atol=0)
    # the training pass moved both sets of running statistics in the same way
    for a, b in zip(ref.buffers(), block.buffers()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


CASES = [  # (c_in, c_out, kernel, options)
    (3, 8, 3, {}),
    (4, 6, 1, {}),
    (6, 6, 3, dict(stride=2, groups=6)),  # depthwise
    (4, 8, 3, dict(dilation=3)),  # padding 3 keeps the map
    (4, 4, (3, 5), dict(dilation=(1, 2), stride=(2, 1))),
    (4, 8, 7, dict(stride=2, padding=3)),
    (4, 8, 2, {}),  # even kernel: (2 - 1) // 2 = 0
    (4, 8, 3, dict(norm=False)),  # no norm: the conv gets a bias
    (4, 8, 1, dict(act=False, stride=2)),  # ResNet's downsample
    (4, 8, 3, dict(norm=False, act=False, bias=False)),
]


def block_kwargs(opts):
    kw = {k: v for k, v in opts.items() if k not in ("norm", "act")}
    if not opts.get("norm", True):
        kw["norm_layer"] = None
    if not opts.get("act", True):
        kw["activation_layer"] = None
    return kw


@pytest.mark.parametrize("c_in, c_out, k, opts", CASES)
def test_matches_hand_built_sequential(device, c_in, c_out, k, opts):
    torch.manual_seed(0)
    ref = reference(c_in, c_out, k, **opts).to(device)
    block = Conv2dNormActivation(c_in, c_out, k, **block_kwargs(opts)).to(device)
    check_same(ref, block, torch.randn(2, c_in, 11, 9, device=device))


@pytest.mark.property
@settings(deadline=None)
@given(c_in=st.integers(1, 4), c_out=st.integers(1, 4), k=st.integers(1, 5),
       stride=st.integers(1, 3), dilation=st.integers(1, 3), depthwise=st.booleans(),
       norm=st.booleans(), act=st.booleans(), h=st.integers(1, 9), w=st.integers(1, 9))
def test_property_matches_reference_and_output_size(c_in, c_out, k, stride, dilation, depthwise,
                                                    norm, act, h, w):
    groups = c_in if depthwise else 1
    c_out = c_in * c_out if depthwise else c_out
    h, w = h + dilation * (k - 1), w + dilation * (k - 1)  # at least one output position
    ref = reference(c_in, c_out, k, stride, None, groups, dilation, norm, act)
    block = Conv2dNormActivation(c_in, c_out, k, stride, groups=groups, dilation=dilation,
                                 **block_kwargs(dict(norm=norm, act=act)))
    x = torch.randn(2, c_in, h, w)
    check_same(ref, block, x)
    p = (k - 1) // 2 * dilation
    want = [kernels.conv_output_size(n, k, stride, p, dilation) for n in (h, w)]
    assert tuple(block(x).shape) == (2, c_out, *want)


@pytest.mark.parametrize("k, d", [(1, 1), (3, 1), (3, 6), (5, 2), (7, 1)])
def test_default_padding_keeps_the_map_for_odd_kernels(k, d):
    block = Conv2dNormActivation(2, 3, k, dilation=d)
    assert block[0].padding == ((k - 1) // 2 * d,) * 2
    assert block(torch.randn(2, 2, 13, 8)).shape == (2, 3, 13, 8)


def test_state_dict_keys_and_attributes():
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert list(Conv2dNormActivation(3, 4).state_dict()) == ["0.weight"] + [f"1.{k}" for k in bn]
    assert list(Conv2dNormActivation(3, 4, norm_layer=None).state_dict()) == ["0.weight", "0.bias"]
    block = Conv2dNormActivation(3, 4, 1, stride=2)
    assert isinstance(block, nn.Sequential) and len(block) == 3 and block.out_channels == 4
    conv, bn_, act = block  # unpacking is how a model keeps the three layers flat among its own
    assert conv.bias is None and conv.stride == (2, 2) and bn_.num_features == 4
    assert isinstance(act, nn.ReLU) and act.inplace
    assert Conv2dNormActivation(3, 4, bias=True)[0].bias is not None


def test_activation_and_norm_factories():
    assert not Conv2dNormActivation(3, 4, inplace=False)[2].inplace
    gelu = Conv2dNormActivation(3, 4, activation_layer=nn.GELU, inplace=None)  # no inplace arg
    assert isinstance(gelu[2], nn.GELU)
    gn = Conv2dNormActivation(3, 4, norm_layer=lambda c: nn.GroupNorm(2, c))
    assert isinstance(gn[1], nn.GroupNorm) and gn[1].num_channels == 4 and gn[0].bias is None
    assert [type(m) for m in Conv2dNormActivation(3, 4, norm_layer=None, activation_layer=None)] \
        == [nn.Conv2d]


def test_padding_strings_pass_through():
    assert Conv2dNormActivation(2, 2, 3, padding="valid")(torch.randn(1, 2, 6, 6)).shape[-1] == 4
    assert Conv2dNormActivation(2, 2, 3, padding="same", dilation=2)[0].padding == "same"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(in_channels=0), ValueError, "in_channels must be positive"),
    (dict(in_channels=2.0), TypeError, "in_channels must be an int"),
    (dict(out_channels=-1), ValueError, "out_channels must be positive"),
    (dict(kernel_size=0), ValueError, "kernel_size must be positive"),
    (dict(kernel_size=(3, 3, 3)), ValueError, "kernel_size must be an int or a pair"),
    (dict(stride=0), ValueError, "stride must be positive"),
    (dict(dilation=(1, 0)), ValueError, r"dilation\[1\] must be positive"),
    (dict(padding=-1), ValueError, "padding must be non-negative"),
    (dict(padding="full"), ValueError, "padding must be an int, a pair, 'same'"),
    (dict(padding="same", stride=2), ValueError, "padding='same' needs stride 1"),
    (dict(groups=0), ValueError, "groups must be positive"),
    (dict(groups=3), ValueError, "groups must divide in_channels and out_channels"),
    (dict(norm_layer="bn"), TypeError, "norm_layer must be a callable"),
    (dict(activation_layer=nn.ReLU()), TypeError, "activation_layer must be a callable"),
    (dict(inplace=1), TypeError, "inplace must be True, False or None"),
    (dict(bias="no"), TypeError, "bias must be True, False or None"),
])
def test_bad_arguments(kwargs, error, match):
    args = dict(in_channels=4, out_channels=8) | kwargs
    with pytest.raises(error, match=match):
        Conv2dNormActivation(**args)
