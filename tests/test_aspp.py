"""ASPP (DeepLabV3 head): two independent references, shapes, parameter counts, BN with one image.

References: ``builtin_reference`` rebuilds the head from ``F.conv2d``, ``F.batch_norm``,
``F.adaptive_avg_pool2d`` and ``F.interpolate``; ``loop_reference`` uses neither convolution nor
pooling builtins (a sum over shifted slices per tap, mean by sum / count, BN by its formula).
"""
import pytest
import torch
from hypothesis import example, given, settings, strategies as st
import torch.nn.functional as F
from torch import nn

import kernels
from kernels.aspp import ASPPConv, ASPPPooling
from test_conv_norm_activation import randomise_bn  # ASPP's branches are those blocks


def make_aspp(in_channels=4, out_channels=3, rates=(1, 2), device="cpu", dtype=torch.float32):
    """An ASPP whose BN layers hold random affine parameters and running statistics."""
    return randomise_bn(kernels.ASPP(in_channels, out_channels, rates).to(device, dtype))


def _bns(m):
    return [x for x in m.modules() if isinstance(x, nn.BatchNorm2d)]


def builtin_reference(m, x, training=False):
    def cbr(conv, bn, t):
        t = F.conv2d(t, conv.weight, None, 1, conv.padding, conv.dilation)
        t = F.batch_norm(t, bn.running_mean.clone(), bn.running_var.clone(), bn.weight, bn.bias,
                         training=training, eps=bn.eps)
        return F.relu(t)

    outs = [cbr(b[0], b[1], x) for b in m.convs[:-1]]
    pool = m.convs[-1]
    g = cbr(pool[1], pool[2], F.adaptive_avg_pool2d(x, 1))
    outs.append(F.interpolate(g, size=x.shape[-2:], mode="bilinear", align_corners=False))
    return cbr(m.project[0], m.project[1], torch.cat(outs, 1))


def loop_reference(m, x, training=False):
    n, _, h, w = x.shape

    def conv(weight, dilation, t):  # 'same' padding for odd k: pad d(k-1)/2 on each side
        k = weight.shape[-1]
        pad = dilation * (k // 2)
        tp = torch.zeros(t.shape[0], t.shape[1], t.shape[2] + 2 * pad, t.shape[3] + 2 * pad,
                         dtype=t.dtype, device=t.device)
        tp[:, :, pad:pad + t.shape[2], pad:pad + t.shape[3]] = t
        out = 0
        for a in range(k):
            for b in range(k):
                patch = tp[:, :, a * dilation:a * dilation + t.shape[2],
                           b * dilation:b * dilation + t.shape[3]]
                out = out + torch.einsum("oc,nchw->nohw", weight[:, :, a, b], patch)
        return out

    def bn_relu(bn, t):
        if training:
            mean = t.mean(dim=(0, 2, 3), keepdim=True)
            var = ((t - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)  # biased, as BN uses
        else:
            mean, var = bn.running_mean[:, None, None], bn.running_var[:, None, None]
        gamma, beta = bn.weight[:, None, None], bn.bias[:, None, None]
        t = (t - mean) / torch.sqrt(var + bn.eps) * gamma + beta
        return t.clamp(min=0)

    outs = [bn_relu(b[1], conv(b[0].weight, b[0].dilation[0], x)) for b in m.convs[:-1]]
    pool = m.convs[-1]
    mean = x.sum(dim=(2, 3), keepdim=True) / (h * w)  # [N, C_in, 1, 1]
    g = bn_relu(pool[2], conv(pool[1].weight, 1, mean))
    outs.append(g.expand(n, g.shape[1], h, w))  # bilinear from 1x1 is a broadcast
    return bn_relu(m.project[1], conv(m.project[0].weight, 1, torch.cat(outs, 1)))


# ---------------------------------------------------------------------------------- correctness
@pytest.mark.parametrize("size", [(7, 7), (8, 6), (1, 1), (2, 5)])
@pytest.mark.parametrize("rates", [(1, 2), (3, 9)])
def test_eval_matches_both_references(device, size, rates):
    torch.manual_seed(0)
    m = make_aspp(rates=rates, device=device).eval()
    x = torch.randn(2, 4, *size, device=device)
    y = m(x)
    torch.testing.assert_close(y, builtin_reference(m, x))
    torch.testing.assert_close(y, loop_reference(m, x), atol=1e-5, rtol=1e-4)


@pytest.mark.property
@settings(deadline=None)
@given(n=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 4),
       rates=st.lists(st.integers(1, 8), min_size=1, max_size=2), h=st.integers(1, 9),
       w=st.integers(1, 9), training=st.booleans(), seed=st.integers(0, 2**16))
def test_property_matches_loop_reference(n, c_in, c_out, rates, h, w, training, seed):
    torch.manual_seed(seed)
    # Training needs more than one value per channel, and with n = 1 the pooled branch falls
    # back to running statistics, which the reference does not model: keep n >= 2 there.
    n = max(n, 2) if training else n
    m = make_aspp(c_in, c_out, tuple(rates)).train(training)
    x = torch.randn(n, c_in, h, w)
    want = loop_reference(m, x, training)
    torch.testing.assert_close(m(x), want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("size", [(5, 5), (4, 6), (1, 1)])
def test_train_mode_uses_batch_statistics(device, size):
    torch.manual_seed(1)
    m = make_aspp(device=device).train()
    x = torch.randn(3, 4, *size, device=device)
    want_builtin, want_loop = builtin_reference(m, x, True), loop_reference(m, x, True)
    before = [bn.running_mean.clone() for bn in _bns(m)]
    y = m(x)
    torch.testing.assert_close(y, want_builtin)
    torch.testing.assert_close(y, want_loop, atol=1e-4, rtol=1e-4)
    assert all(not torch.equal(b, bn.running_mean) for b, bn in zip(before, _bns(m)))


def test_gradcheck_float64(device):
    torch.manual_seed(2)
    for mode in (False, True):
        m = make_aspp(2, 2, (1, 2), device=device, dtype=torch.float64).train(mode)
        x = torch.randn(2, 2, 3, 4, device=device, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(m, (x,), eps=1e-6, atol=1e-5)


def test_image_pooling_branch_is_spatially_constant(device):
    m = make_aspp(device=device).eval()
    x = torch.randn(2, 4, 6, 9, device=device)
    branch = m.convs[-1]
    up, pooled = branch(x), branch.pooled(x)
    assert pooled.shape == (2, 3, 1, 1)
    torch.testing.assert_close(up, pooled.expand(2, 3, 6, 9))


# ------------------------------------------------------------------------- shapes and parameters
@pytest.mark.parametrize("size", [(33, 33), (32, 32), (65, 65), (64, 64), (33, 20), (1, 1), (2, 3)])
@pytest.mark.parametrize("output_stride, rates", [(16, (6, 12, 18)), (8, (12, 24, 36))])
def test_output_shape_keeps_the_map(size, output_stride, rates):
    m = kernels.ASPP(4, out_channels=5, atrous_rates=rates).eval()
    x = torch.randn(2, 4, *size)
    assert m(x).shape == (2, 5, *size)
    for branch in m.convs:
        assert branch(x).shape == (2, 5, *size)


def param_formula(c_in, c_out, n_rates):
    # convs (no bias): 1x1 + R 3x3 + pooled 1x1 + project over (R + 2) * C_out channels;
    # each of the R + 3 BatchNorms holds a weight and a bias per channel.
    return (c_in * c_out * (1 + 9 * n_rates + 1) + (n_rates + 2) * c_out * c_out
            + 2 * c_out * (n_rates + 3))


@pytest.mark.parametrize("c_in, c_out, rates", [(2048, 256, (6, 12, 18)), (2048, 256, (12, 24, 36)),
                                                (7, 3, (1,)), (5, 11, (2, 4, 8, 16))])
def test_parameter_count_matches_hand_formula(c_in, c_out, rates):
    m = kernels.ASPP(c_in, c_out, rates)
    assert sum(p.numel() for p in m.parameters()) == param_formula(c_in, c_out, len(rates))


def test_default_parameter_count_by_hand():
    # 256 * (2048 * 29 + 5 * 256) + 2 * 256 * 6 = 15,535,104 (hand arithmetic).
    assert sum(p.numel() for p in kernels.ASPP(2048).parameters()) == 15_535_104
    assert all(c.bias is None for c in kernels.ASPP(8).modules() if isinstance(c, nn.Conv2d))


def test_state_dict_layout_is_torchvision_deeplabhead():
    # Keys of torchvision.models.segmentation.deeplabv3.ASPP (read from its source): convs.0 is
    # Sequential(Conv2d, BN, ReLU), convs.1-3 ASPPConv, convs.4 ASPPPooling(pool, conv, BN, ReLU).
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    want = []
    for prefix, conv in [("convs.0", 0), ("convs.1", 0), ("convs.2", 0), ("convs.3", 0),
                         ("convs.4", 1), ("project", 0)]:
        want += [f"{prefix}.{conv}.weight"] + [f"{prefix}.{conv + 1}.{k}" for k in bn]
    assert list(kernels.ASPP(8, 4).state_dict()) == want


def test_branches_are_conv_norm_activation_blocks():
    # One block for every conv -> BN -> ReLU, laid flat at 0-2 (1-3 after the pooling layer),
    # with torchvision ASPP's plain (not in-place) ReLU.
    m = kernels.ASPP(8, 4, (6, 12))
    blocks = [m.convs[0], m.convs[1], m.convs[2], m.project]
    assert all(isinstance(b, kernels.Conv2dNormActivation) for b in blocks)
    assert all(isinstance(b, ASPPConv) and b[0].dilation == b[0].padding == (r, r)
               for b, r in zip(m.convs[1:3], (6, 12)))
    pool = m.convs[-1]
    assert [type(x) for x in pool] == [nn.AdaptiveAvgPool2d, nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    relus = [x for x in m.modules() if isinstance(x, nn.ReLU)]
    assert len(relus) == 5 and not any(r.inplace for r in relus)


def test_trace_lists_every_branch():
    torch.manual_seed(3)
    m = make_aspp(16, 8, (6, 12, 18)).train()
    x = torch.randn(2, 16, 33, 17)
    stats = [bn.running_mean.clone() for bn in _bns(m)]
    rows = kernels.aspp_trace(m, x)
    assert m.training and all(torch.equal(s, bn.running_mean) for s, bn in zip(stats, _bns(m)))
    assert [r.name for r in rows] == [
        "input", "1x1 conv", "3x3 conv, rate 6", "3x3 conv, rate 12", "3x3 conv, rate 18",
        "image pooling: mean, 1x1 conv", "image pooling: upsampled", "concat", "project 1x1"]
    shapes = [(2, 16, 33, 17)] + [(2, 8, 33, 17)] * 4 + [(2, 8, 1, 1), (2, 8, 33, 17),
                                                         (2, 40, 33, 17), (2, 8, 33, 17)]
    assert [r.shape for r in rows] == shapes
    conv1, conv3, proj = 16 * 8 + 16, 16 * 8 * 9 + 16, 40 * 8 + 16  # weights + BN (gamma, beta)
    assert [r.params for r in rows] == [0, conv1, conv3, conv3, conv3, conv1, 0, 0, proj]
    assert sum(r.params for r in rows) == param_formula(16, 8, 3)
    fields = [r.receptive_field for r in rows]
    assert fields[1:5] == [(1, 1), (13, 13), (25, 25), (37, 37)]  # d(k - 1) + 1
    assert fields[5:] == [(33, 17)] * 4


# --------------------------------------------------------------------- batch norm with one image
def test_plain_batchnorm_refuses_one_value_per_channel():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm2d(3).train()(torch.randn(1, 3, 1, 1))


def test_one_image_in_training_uses_running_stats_for_pooled_branch(device):
    torch.manual_seed(4)
    m = make_aspp(device=device).train()
    x = torch.randn(1, 4, 6, 6, device=device)
    pool_bn, other_bns = m.convs[-1][2], [bn for bn in _bns(m) if bn is not m.convs[-1][2]]
    frozen = [t.clone() for t in pool_bn.buffers()]
    moving = [bn.running_mean.clone() for bn in other_bns]
    y = m(x)  # a plain BatchNorm2d here would raise
    assert y.shape == (1, 3, 6, 6) and torch.isfinite(y).all()
    assert all(torch.equal(a, b) for a, b in zip(frozen, pool_bn.buffers()))
    assert all(not torch.equal(a, bn.running_mean) for a, bn in zip(moving, other_bns))
    # The pooled branch equals the eval-mode branch: BN by running statistics.
    torch.testing.assert_close(m.convs[-1].pooled(x), m.convs[-1].eval().pooled(x))


def test_two_images_use_batch_statistics_in_pooled_branch():
    torch.manual_seed(5)
    branch = ASPPPooling(4, 3).train()
    x = torch.randn(2, 4, 5, 5)
    g = F.conv2d(x.mean(dim=(2, 3), keepdim=True), branch[1].weight)  # [2, 3, 1, 1]
    # Batch norm over two values gives +-(a - b) / sqrt((a - b)^2 + 4 eps) per channel: signs.
    want = F.relu(F.batch_norm(g, None, None, branch[2].weight, branch[2].bias, training=True))
    torch.testing.assert_close(branch.pooled(x), want)
    assert not torch.equal(branch[2].running_var, torch.ones(3))


def test_one_value_per_channel_everywhere_is_refused():
    with pytest.raises(ValueError, match="more than one value per channel"):
        make_aspp().train()(torch.randn(1, 4, 1, 1))


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(in_channels=0), ValueError, "in_channels must be positive"),
    (dict(in_channels=2.0), TypeError, "in_channels must be an int"),
    (dict(in_channels=4, out_channels=-1), ValueError, "out_channels must be positive"),
    (dict(in_channels=4, atrous_rates=()), ValueError, "atrous_rates must hold at least one"),
    (dict(in_channels=4, atrous_rates=(6, 0)), ValueError, r"atrous_rates\[1\] must be positive"),
    (dict(in_channels=4, atrous_rates=(6, -12)), ValueError, r"atrous_rates\[1\]"),
    (dict(in_channels=4, atrous_rates=6), TypeError, "atrous_rates must be a sequence"),
    (dict(in_channels=4, atrous_rates="6"), TypeError, "atrous_rates must be a sequence"),
    (dict(in_channels=4, atrous_rates=(6, 1.5)), TypeError, r"atrous_rates\[1\] must be an int"),
])
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        kernels.ASPP(**kwargs)


@pytest.mark.parametrize("x, error, match", [
    (torch.randn(2, 5, 6, 6), ValueError, r"input must be Tensor\[N, 4, H, W\].*\(2, 5, 6, 6\)"),
    (torch.randn(4, 6, 6), ValueError, "input must be 4-D"),
    (torch.ones(2, 4, 6, 6, dtype=torch.int64), TypeError, "floating-point"),
    (torch.randn(2, 4, 6, 6, dtype=torch.float64), TypeError, "input has dtype torch.float64"),
    ([[1.0]], TypeError, "input must be a torch.Tensor"),
])
def test_bad_forward_input(x, error, match):
    with pytest.raises(error, match=match):
        make_aspp().eval()(x)


def test_trace_rejects_bad_arguments():
    with pytest.raises(TypeError, match="module must be a kernels.ASPP"):
        kernels.aspp_trace(nn.Conv2d(4, 4, 3), torch.randn(1, 4, 5, 5))
    with pytest.raises(ValueError, match=r"input must be Tensor\[N, 4, H, W\]"):
        kernels.aspp_trace(make_aspp(), torch.randn(1, 3, 5, 5))


# ------------------------------------------------------------------------- valid weights (Fig. 4)
def brute_force_counts(h, w, rate, k):
    """Loop over output positions and taps; torch's 'same' puts the smaller pad on the left."""
    left = rate * (k - 1) // 2
    hist = [0] * (k * k + 1)
    for y in range(h):
        for x in range(w):
            valid = sum(1 for a in range(k) for b in range(k)
                        if 0 <= y + a * rate - left < h and 0 <= x + b * rate - left < w)
            hist[valid] += 1
    return torch.tensor(hist, dtype=torch.float64) / (h * w)


@pytest.mark.property
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@settings(deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), rate=st.integers(1, 15), k=st.integers(1, 5))
@example(h=4, w=5, rate=1, k=2).via("even kernel: torch pads the smaller half on the left")
@example(h=65, w=65, rate=6, k=3).via("the paper's 65x65 map")
def test_valid_weights_match_brute_force_and_conv_of_ones(h, w, rate, k):
    got = kernels.valid_weight_counts((h, w), rate, k)
    assert got.shape == (k * k + 1,)
    torch.testing.assert_close(got.double(), brute_force_counts(h, w, rate, k))
    # Builtin oracle: a ones-kernel conv with padding='same' over a ones map counts valid taps.
    ones = F.conv2d(torch.ones(1, 1, h, w, dtype=torch.float64),
                    torch.ones(1, 1, k, k, dtype=torch.float64), padding="same", dilation=rate)
    assert torch.equal(kernels.valid_weight_map((h, w), rate, k), ones[0, 0].round().long())


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("rate", [1, 2, 3])
def test_atrous_offsets_are_where_torch_same_padding_reads(k, rate):
    # The input row holds its own positions 1..n (padding reads 0); a one-hot weight at tap j
    # makes F.conv2d return the position tap j reads.
    n = 12
    row = torch.arange(1, n + 1, dtype=torch.float64).view(1, 1, 1, n)
    offsets = kernels.atrous_offsets(rate, k)
    for j in range(k):
        w = torch.zeros(1, 1, 1, k, dtype=torch.float64)
        w[..., j] = 1
        read = F.conv2d(row, w, padding="same", dilation=rate)[0, 0, 0].long() - 1  # [n]
        want = torch.arange(n) + offsets[j]
        inside = (want >= 0) & (want < n)
        assert torch.equal(read[inside], want[inside]) and (read[~inside] == -1).all()


@pytest.mark.parametrize("rate", [1, 6, 20, 32, 33, 40, 64, 65, 100])
def test_valid_weights_closed_form_3x3_on_65(rate):
    # Hand derivation, n = 65: each axis has n - 2r positions with 3 valid taps and 2r with 2
    # while 2r < n; for n/2 < r < n, 2(n - r) positions with 2 and 2r - n with 1; r >= n: all 1.
    n = 65
    if 2 * rate < n:
        three, two, one = n - 2 * rate, 2 * rate, 0
    elif rate < n:
        three, two, one = 0, 2 * (n - rate), 2 * rate - n
    else:
        three, two, one = 0, 0, n
    want = torch.zeros(10, dtype=torch.float64)
    for a, ca in ((3, three), (2, two), (1, one)):
        for b, cb in ((3, three), (2, two), (1, one)):
            want[a * b] += ca * cb / n**2
    torch.testing.assert_close(kernels.valid_weight_counts(n, rate).double(), want)


def test_valid_weights_degenerate_to_the_centre():
    # Figure 4 of Chen et al. 2017: on 65x65 all 9 weights are used almost everywhere at rate 1,
    # only the centre weight once the rate reaches 65.
    assert kernels.valid_weight_counts(65, 1)[9] == pytest.approx((63 / 65) ** 2)
    assert kernels.valid_weight_counts(65, 65)[1] == 1.0
    assert kernels.valid_weight_counts(65, 64)[1] < 1.0


@pytest.mark.parametrize("args, error, match", [
    ((0, 3), ValueError, "feature_size must be positive"),
    (((5, 0), 3), ValueError, r"feature_size\[1\] must be positive"),
    ((5, 0), ValueError, "rate must be positive"),
    ((5, 2.0), TypeError, "rate must be an int"),
    ((5, 1, 0), ValueError, "kernel_size must be positive"),
])
def test_valid_weights_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        kernels.valid_weight_counts(*args)
