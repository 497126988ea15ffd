"""kernels.mobilenet_v1 / mobilenet_v2: torchvision's names and shapes (generated here from the
papers' tables and torchvision's naming rules, not from the builder), the published parameter
and multiply-add counts through kernels.model_cost, output shapes, initialisation, errors."""
import math

import pytest
import torch
from torch import nn

import kernels
from kernels import make_divisible, mobilenet_v1, mobilenet_v2, model_cost

# Sandler et al. 2018, Table 2: expansion t, channels c, repeats n, first stride s.
V2_TABLE = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1)]


def meta(builder, *args):
    with torch.device("meta"):  # shapes only: costing a network needs no weights
        return builder(*args)


def torchvision_v2_state_dict(num_classes=1000):
    """(key, shape) of torchvision's mobilenet_v2 state dict at width 1, in order."""
    out = []

    def conv(prefix, c_out, c_in, k):
        out.append((f"{prefix}.weight", (c_out, c_in, k, k)))

    def bn(prefix, c):
        out.extend([(f"{prefix}.{name}", (c,)) for name in
                    ("weight", "bias", "running_mean", "running_var")])
        out.append((f"{prefix}.num_batches_tracked", ()))

    conv("features.0.0", 32, 3, 3)
    bn("features.0.1", 32)
    i, c_in = 1, 32
    for t, c, n, _ in V2_TABLE:
        for _ in range(n):
            p, hidden, j = f"features.{i}.conv", c_in * t, 0
            if t != 1:  # Conv2dNormActivation: .0 conv, .1 BN
                conv(f"{p}.0.0", hidden, c_in, 1)
                bn(f"{p}.0.1", hidden)
                j = 1
            conv(f"{p}.{j}.0", hidden, 1, 3)  # depthwise: one input channel per filter
            bn(f"{p}.{j}.1", hidden)
            conv(f"{p}.{j + 1}", c, hidden, 1)
            bn(f"{p}.{j + 2}", c)
            i, c_in = i + 1, c
    conv("features.18.0", 1280, 320, 1)
    bn("features.18.1", 1280)
    out += [("classifier.1.weight", (num_classes, 1280)), ("classifier.1.bias", (num_classes,))]
    return out


# ------------------------------------------------------------------------ structure and names
def test_v2_state_dict_matches_torchvision_names_and_shapes_in_order():
    want = torchvision_v2_state_dict()
    got = [(k, tuple(v.shape)) for k, v in mobilenet_v2().state_dict().items()]
    assert got == want
    assert len(want) == 314  # 52 conv / linear weights and biases + 52 BNs x 5 tensors


def test_v2_has_torchvisions_published_parameter_count():
    # torchvision's mobilenet_v2 weights: "num_params": 3504872 (Table 2 with 1000 classes)
    want = sum(math.prod(s) for k, s in torchvision_v2_state_dict()
               if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    model = mobilenet_v2()
    assert want == sum(p.numel() for p in model.parameters()) == 3_504_872
    assert sum(p.numel() for p in mobilenet_v2(num_classes=10).parameters()) == \
        3_504_872 - 990 * 1281


def test_v2_modules_follow_torchvision():
    model = mobilenet_v2()
    f = model.features
    assert len(f) == 19 and isinstance(f[0], kernels.Conv2dNormActivation)
    assert f[0][0].stride == (2, 2) and isinstance(f[0][2], nn.ReLU6)
    blocks = f[1:18]
    assert all(isinstance(b, kernels.InvertedResidual) for b in blocks)
    assert [b.use_res_connect for b in blocks] == [
        False, False, True, False, True, True, False, True, True, True, False, True, True,
        False, True, True, False]
    assert [b.stride for b in blocks] == [s if i == 0 else 1 for *_, n, s in V2_TABLE
                                          for i in range(n)]
    assert isinstance(model.classifier[0], nn.Dropout) and model.classifier[0].p == 0.2
    assert model.last_channel == 1280


@pytest.mark.parametrize("width, stem, stages, last", [
    # torchvision's rounding by hand: the nearest multiple of 8, never 10 % below c * width
    (0.5, 16, [8, 16, 16, 32, 48, 80, 160], 1280),    # 24 * 0.5 = 12 -> 16
    (0.35, 16, [8, 8, 16, 24, 32, 56, 112], 1280),    # 32 * 0.35 = 11.2 -> 8, < 90 % -> 16
    (1.4, 48, [24, 32, 48, 88, 136, 224, 448], 1792),  # 64 * 1.4 = 89.6 -> 88
])
def test_v2_width_multiplier_rounds_channels_as_torchvision(width, stem, stages, last):
    model = mobilenet_v2(width)
    f = model.features
    assert f[0].out_channels == stem and model.last_channel == last
    ends = [sum(n for *_, n, _ in V2_TABLE[:k + 1]) for k in range(7)]  # last block per stage
    assert [f[e].out_channels for e in ends] == stages


def test_make_divisible():
    assert [make_divisible(v) for v in (32, 12, 11.2, 5.6, 89.6, 1792, 0.1)] == \
        [32, 16, 16, 8, 88, 1792, 8]
    assert make_divisible(10, 4) == 12 and make_divisible(10, 4, min_value=16) == 16


def test_v1_is_the_receptive_field_chapters_features_plus_a_classifier():
    model = mobilenet_v1()
    features = kernels.mobilenet_v1_features()
    assert [k for k in model.state_dict() if k.startswith("features.")] == \
        [f"features.{k}" for k in features.state_dict()]
    assert tuple(model.classifier.weight.shape) == (1000, 1024)
    assert mobilenet_v1(0.25, 10).classifier.weight.shape == (10, 256)
    # 27 convolutions, each followed by ReLU6 (TF-slim's activation), none by a plain ReLU
    acts = [type(m) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    assert acts == [nn.ReLU6] * 27


# ------------------------------------------------------------------------ forward pass
@pytest.mark.parametrize("builder", [mobilenet_v1, mobilenet_v2])
@pytest.mark.parametrize("width, size", [(0.25, 32), (0.25, (64, 48)), (0.5, 97)])
def test_output_shapes(builder, width, size):
    model = builder(width, 7).eval()
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, 3, h, w)
    with torch.no_grad():
        assert model.features(x).shape[-2:] == (-(-h // 32), -(-w // 32))  # output stride 32
        assert model(x).shape == (2, 7)


def test_full_size_shapes_on_meta_tensors():
    for builder, c in ((mobilenet_v1, 1024), (mobilenet_v2, 1280)):
        model = meta(builder)
        assert model.features(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, c, 7, 7)


def test_initialisation_is_torchvisions():
    torch.manual_seed(0)
    model = mobilenet_v2()
    conv = model.features[18][0]  # kaiming normal, fan_out = 1280: std sqrt(2 / 1280)
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 1280), rel=0.02)
    linear = model.classifier[1]
    assert linear.weight.std().item() == pytest.approx(0.01, rel=0.02)
    assert linear.bias.abs().sum() == 0
    bn = model.features[1].conv[2]  # the projection's BN
    assert torch.equal(bn.weight, torch.ones(16)) and torch.equal(bn.bias, torch.zeros(16))


# ------------------------------------------------------------------------ published costs: v1
def test_v1_224_is_569_million_multiply_adds_and_4_2_million_parameters():
    # Howard et al. 2017, Tables 1 and 8. 4,231,976 counts BN's gamma and beta (Keras's
    # trainable count); the paper's 4.2 M rounds either way.
    cost = model_cost(meta(mobilenet_v1), (3, 224, 224))
    assert cost.macs == 568_740_352 and round(cost.macs / 1e6) == 569
    assert cost.params == 4_231_976 and round(cost.params / 1e6, 1) == 4.2


def test_v1_table_1s_stride_2_at_7x7_is_a_misprint():
    # Table 1 prints the 13th depthwise layer as "Conv dw / s2" on a 7x7x1024 input; run at
    # stride 2 it would shrink the last pointwise conv to 4x4 and the count to 533.8 M, not the
    # paper's 569 M. Implementations (and this one) use stride 1.
    model = meta(mobilenet_v1)
    dw = model.features[13][0]
    assert dw.groups == 1024 and dw.stride == (1, 1)
    dw.stride = (2, 2)
    cost = model_cost(model, (3, 224, 224))
    assert cost.macs == 568_740_352 - (49 - 16) * 1024 * (9 + 1024) == 533_833_216


@pytest.mark.parametrize("width, macs_m, params_m", [(0.75, 325, 2.6), (0.5, 149, 1.3),
                                                     (0.25, 41, 0.5)])
def test_v1_width_multipliers_table_6(width, macs_m, params_m):
    # alpha * {32, 64, ..., 1024} are integers for these widths: no rounding enters, and the
    # counts fall roughly as alpha^2 (the FC layer and the first conv only as alpha).
    cost = model_cost(meta(mobilenet_v1, width), (3, 224, 224))
    assert round(cost.macs / 1e6) == macs_m and round(cost.params / 1e6, 1) == params_m


@pytest.mark.parametrize("size, macs_m", [(192, 418), (160, 290), (128, 186)])
def test_v1_resolutions_table_7(size, macs_m):
    # 160 is 290.68 M exactly: the paper's 290 is 569 M x (160/224)^2 = 290.3, scaling the
    # 1.02 M of the FC layer too, which does not depend on the resolution.
    macs = model_cost(meta(mobilenet_v1), (3, size, size)).macs
    assert round(568.74 * (size / 224) ** 2) == macs_m
    assert abs(macs / 1e6 - macs_m) < 0.7
    assert macs - 1_024_000 == (568_740_352 - 1_024_000) * size ** 2 // 224 ** 2


def test_v1_table_2_pointwise_convs_carry_95_percent_of_the_multiply_adds():
    # Table 2: 1x1 conv 94.86 % of mult-adds and 74.59 % of parameters (weights only).
    model = meta(mobilenet_v1)
    rows = [r for r in model_cost(model, (3, 224, 224)) if r.type == "Conv2d"]
    pointwise = [r for r in rows if model.get_submodule(r.name).kernel_size == (1, 1)]
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d,
                                                                             nn.Linear)))
    assert round(100 * sum(r.macs for r in pointwise) / 568_740_352, 2) == 94.86
    assert round(100 * sum(model.get_submodule(r.name).weight.numel() for r in pointwise)
                 / weights, 2) == 74.59


def test_v1_table_3_one_layer_standard_versus_separable():
    # Table 3: a 3x3 layer on 14x14x512 -> 512: 462 M mult-adds (2.36 M parameters) as a
    # standard conv, 52.3 M (0.27 M) depthwise separable: ratio 1/N + 1/k^2 = 1/512 + 1/9.
    standard = model_cost(nn.Conv2d(512, 512, 3, padding=1, bias=False), (512, 14, 14))
    separable = model_cost(kernels.SeparableConv2d(512, 512, 3, padding=1, bias=False),
                           (512, 14, 14))
    assert standard.macs == 14 * 14 * 512 * 512 * 9 == 462_422_016
    assert separable.macs == 14 * 14 * 512 * (9 + 512) == 52_283_392
    assert (round(standard.params / 1e6, 2), round(separable.params / 1e6, 2)) == (2.36, 0.27)
    assert separable.macs / standard.macs == pytest.approx(1 / 512 + 1 / 9)


# ------------------------------------------------------------------------ published costs: v2
def test_v2_is_300_million_multiply_adds_and_3_4_million_parameters():
    # Sandler et al., Table 4: 300 M, 3.4 M. Exactly 300,774,272 and 3,504,872 (torchvision);
    # without BN's gamma and beta 3,470,760, TF-slim's 3.47 M. The paper's 3.4 M is that,
    # truncated, as its 300 M is 300.77 M truncated.
    model = meta(mobilenet_v2)
    cost = model_cost(model, (3, 224, 224))
    assert cost.macs == 300_774_272 and cost.params == 3_504_872
    bn = sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d)
             for p in m.parameters())
    assert cost.params - bn == 3_470_760
    assert math.floor(cost.macs / 1e6) == 300 and math.floor((cost.params - bn) / 1e5) == 34


@pytest.mark.parametrize("width, size, macs_m, params_m", [
    # TF-slim's mobilenet/README.md table for the released checkpoints: MACs truncated to
    # millions, parameters (without BN) rounded to 0.01 M. The paper's Table 4 prints 585 M
    # and 6.9 M for width 1.4; the released 1.4 network has 582 M and 6.06 M, as here.
    (1.4, 224, 582, 6.06), (1.3, 224, 509, 5.34), (1.0, 224, 300, 3.47),
    (1.0, 192, 221, 3.47), (1.0, 160, 154, 3.47), (1.0, 128, 99, 3.47), (1.0, 96, 56, 3.47),
    (0.75, 224, 209, 2.61), (0.75, 192, 153, 2.61), (0.75, 128, 69, 2.61),
    (0.5, 224, 97, 1.95), (0.5, 160, 50, 1.95), (0.5, 96, 18, 1.95),
    (0.35, 224, 59, 1.66), (0.35, 128, 20, 1.66), (0.35, 96, 11, 1.66)])
def test_v2_released_widths_and_resolutions(width, size, macs_m, params_m):
    model = meta(mobilenet_v2, width)
    cost = model_cost(model, (3, size, size))
    bn = sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d)
             for p in m.parameters())
    assert math.floor(cost.macs / 1e6) == macs_m
    assert round((cost.params - bn) / 1e6, 2) == params_m


@pytest.mark.parametrize("builder, size", [(mobilenet_v1, 315), (mobilenet_v2, 491)])
def test_receptive_field_and_output_stride(builder, size):
    rf = kernels.receptive_field(meta(builder).features, 224)
    assert rf.stride == (32, 32) and rf.output_size == (7, 7) and rf.size == (size, size)


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize("builder", [mobilenet_v1, mobilenet_v2])
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(width_mult=0), ValueError, "width_mult"), (dict(width_mult=-0.5), ValueError,
                                                     "width_mult"),
    (dict(width_mult=True), ValueError, "width_mult"), (dict(width_mult="1"), ValueError,
                                                        "width_mult"),
    (dict(num_classes=0), ValueError, "num_classes"), (dict(num_classes=2.0), TypeError,
                                                       "num_classes")])
def test_bad_arguments_are_named(builder, kwargs, error, match):
    with pytest.raises(error, match=match):
        builder(**kwargs)


@pytest.mark.parametrize("builder", [mobilenet_v1, mobilenet_v2])
def test_an_input_smaller_than_the_output_stride_is_refused(builder):
    # padding 1 keeps every stride-2 map at ceil(H / 2) >= 1, so torch alone would not refuse
    model = builder(0.25).eval()  # a 1x1 map in training mode: BN has one value per channel
    with pytest.raises(ValueError, match=r"input must be at least 32x32 .* got 16x40"):
        model(torch.zeros(1, 3, 16, 40))
    with pytest.raises(ValueError, match=r"input must be at least 32x32 .* got 31x31"):
        model_cost(model, (3, 31, 31))
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 1000)
