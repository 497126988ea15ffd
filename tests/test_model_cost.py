"""kernels.model_cost against hand formulas written here, torch's own shapes and parameter
counts, and the published totals of MobileNet v1 (Howard et al. 2017), ResNet-50 and VGG-16.

Networks are built on the meta device (no memory, no initialisation): model_cost only needs
their shapes. Hand formulas are typed out below, never imported from kernels.
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import kernels
from kernels import model_cost


def out_len(n, k, s, p, d):
    """Output length of a convolution (torch.nn.Conv2d's documented formula)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


# ------------------------------------------------------------------------- single layers
# (C_in, C_out, k, stride, padding, dilation, groups, bias) on a 2 x C_in x 15 x 12 input
CONVS = {
    "3x3": (8, 16, 3, 1, 1, 1, 1, True),
    "strided": (8, 16, 3, 2, 0, 1, 1, False),
    "dilated": (6, 4, 3, 1, 2, 2, 1, True),
    "grouped": (8, 12, 3, 2, 1, 1, 4, False),
    "depthwise": (8, 8, 3, 1, 1, 1, 8, False),
    "depth multiplier 2": (8, 16, 5, 1, 2, 1, 8, False),
    "1x1": (8, 24, 1, 1, 0, 1, 1, False),
    "rectangular": (4, 6, (3, 5), (2, 1), (1, 2), (1, 2), 2, True),
}


@pytest.mark.parametrize("name", list(CONVS))
def test_conv_against_the_hand_formula(name):
    c_in, c_out, k, s, p, d, g, bias = CONVS[name]
    layer = nn.Conv2d(c_in, c_out, k, s, p, d, groups=g, bias=bias)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = [v if isinstance(v, tuple) else (v, v)
                                              for v in (k, s, p, d)]
    n, h, w = 2, 15, 12
    ho, wo = out_len(h, kh, sh, ph, dh), out_len(w, kw, sw, pw, dw)
    [row] = model_cost(layer, (n, c_in, h, w))
    assert row.type == "Conv2d"
    assert row.output_shape == (n, c_out, ho, wo) == tuple(layer(torch.zeros(n, c_in, h, w)).shape)
    assert row.macs == n * c_out * ho * wo * (c_in // g) * kh * kw  # bias not counted
    weights = c_out * (c_in // g) * kh * kw + (c_out if bias else 0)
    assert row.params == weights
    assert row.other_ops == (n * c_out * ho * wo if bias else 0)  # one add per output
    assert row.memory_access == n * c_in * h * w + n * c_out * ho * wo + weights


def test_linear_against_the_hand_formula():
    flatten, row = model_cost(nn.Sequential(nn.Flatten(), nn.Linear(20, 7)), (3, 5, 2, 2))
    assert (flatten.output_shape, flatten.memory_access) == ((3, 20), 0)  # a view: no copy
    assert row.output_shape == (3, 7)
    assert (row.macs, row.params, row.other_ops) == (3 * 20 * 7, 20 * 7 + 7, 3 * 7)
    assert row.memory_access == 3 * 20 + 3 * 7 + 20 * 7 + 7


def test_transposed_conv_and_functional_products_against_the_hand_formula():
    # a transposed conv scatters each input element into (C_out / g) k_h k_w outputs
    up = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, bias=False)
    [row] = model_cost(up, (2, 4, 5, 5))
    assert row.macs == 2 * 4 * 5 * 5 * (6 // 2) * 3 * 3
    assert row.output_shape == tuple(up(torch.zeros(2, 4, 5, 5)).shape)

    class Products(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(7, 12))
            self.b = nn.Parameter(torch.randn(7))

        def forward(self, x):
            x = x.flatten(1)  # [N, 12]
            return F.linear(x, self.w, self.b) + x @ self.w.t()  # [N, 7]

    rows = {r.name: r for r in model_cost(Products(), (3, 3, 2, 2))}
    assert (rows["linear"].macs, rows["linear"].other_ops, rows["linear"].params) == \
        (3 * 12 * 7, 3 * 7, 7 * 12 + 7)
    assert (rows["matmul"].macs, rows["matmul"].params) == (3 * 12 * 7, 0)


def test_pointwise_memory_access_is_shufflenet_v2_equation_1():
    # Ma et al. 2018, Sec. 2, G1 and eq. (1): a 1x1 conv on h x w with c1 -> c2 channels has
    # B = hw c1 c2 multiply-adds and MAC = hw (c1 + c2) + c1 c2 >= 2 sqrt(hw B) + B / hw,
    # with equality when c1 = c2: at fixed B, equal widths move the least memory.
    h = w = 14
    B = h * w * 64 * 64
    costs = {}
    for c1 in (16, 32, 64, 128, 256):
        c2 = 64 * 64 // c1
        [row] = model_cost(nn.Conv2d(c1, c2, 1, bias=False), (c1, h, w))
        assert row.macs == B
        assert row.memory_access == h * w * (c1 + c2) + c1 * c2
        assert row.memory_access >= 2 * math.sqrt(h * w * B) + B / (h * w)
        costs[c1] = row.memory_access
    assert min(costs, key=costs.get) == 64


def test_separable_costs_one_over_n_plus_one_over_k_squared_of_a_standard_conv():
    # Howard et al. 2017, eq. (5); Table 3's layer: 14 x 14 x 512, 3 x 3, 512 out:
    # 462 M multiply-adds and 2.36 M parameters standard, 52.3 M and 0.27 M separable.
    std = model_cost(nn.Conv2d(512, 512, 3, padding=1, bias=False), (512, 14, 14))
    sep = model_cost(kernels.SeparableConv2d(512, 512, 3, padding=1, bias=False), (512, 14, 14))
    assert round(std.macs / 1e6) == 462 and round(std.params / 1e6, 2) == 2.36
    assert round(sep.macs / 1e6, 1) == 52.3 and round(sep.params / 1e6, 2) == 0.27
    assert sep.macs / std.macs == pytest.approx(1 / 512 + 1 / 9)
    # the same layer written as two nn.Conv2d costs the same multiply-adds
    two = nn.Sequential(nn.Conv2d(512, 512, 3, padding=1, groups=512, bias=False),
                        nn.Conv2d(512, 512, 1, bias=False))
    assert model_cost(two, (512, 14, 14)).macs == sep.macs
    # ... and the memory traffic: the depthwise output is written and read back either way
    assert model_cost(two, (512, 14, 14)).memory_access == sep.memory_access


# ------------------------------------------------------------- the other layers' conventions
class Block(nn.Module):
    """Every convention in one small net: BN, ReLU, pooling, a residual add, a concatenation,
    a channel shuffle written out and as nn.ChannelShuffle, a reused layer, functional calls."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.shuffle = nn.ChannelShuffle(2)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        y = self.act(self.bn(self.conv(x)))
        n, c, h, w = y.shape
        z = y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)  # shuffle by hand
        z = self.shuffle(z) + y
        z = self.act(z)  # the same module again
        z = torch.cat([self.pool(z), F.avg_pool2d(z, 2)], dim=1)  # [N, 16, H/2, W/2]
        z = F.adaptive_avg_pool2d(z, 1).flatten(1)
        return self.fc(z)


def test_every_convention_row_by_row():
    n, h, w = 2, 6, 6
    e = n * 8 * h * w  # elements of one [N, 8, 6, 6] activation
    q = n * 8 * 3 * 3  # ... of one pooled [N, 8, 3, 3] one
    rows = list(model_cost(Block(), (n, 4, h, w)))
    want = {  # (params, macs, other_ops, memory_access)
        "conv": (8 * 4 * 9, e * 4 * 9, 0, n * 4 * h * w + e + 8 * 4 * 9),
        "bn": (16, 0, e, 2 * e + 4 * 8),  # reads gamma, beta, running mean and variance
        "act": (0, 0, e, 2 * e),  # called twice: costs twice (no parameters to count twice)
        "view": (0, 0, 0, 0),  # views move nothing
        "transpose": (0, 0, 0, 0),
        "reshape": (0, 0, 0, 2 * e),  # of a transposed tensor: a copy, no arithmetic
        "shuffle": (0, 0, 0, 2 * e),
        "add": (0, 0, e, 3 * e),  # the residual add: one per output element
        "pool": (0, 0, q * 3, e + q),  # 2 x 2 max: 3 comparisons per output
        "avg_pool2d": (0, 0, q * 4, e + q),  # 2 x 2 average: 3 adds and a divide per output
        "cat": (0, 0, 0, 4 * q),
        "adaptive_avg_pool2d": (0, 0, 2 * q, 2 * q + n * 16),  # one per input element
        "flatten": (0, 0, 0, 0),
        "fc": (16 * 5 + 5, n * 16 * 5, n * 5, n * 16 + n * 5 + 16 * 5 + 5),
    }
    assert [r.name for r in rows] == ["conv", "bn", "act", "view", "transpose", "reshape",
                                      "shuffle", "add", "act", "pool", "avg_pool2d", "cat",
                                      "adaptive_avg_pool2d", "flatten", "fc"]
    for r in rows:
        assert (r.params, r.macs, r.other_ops, r.memory_access) == want[r.name], r.name


@pytest.mark.parametrize("pool", [nn.AdaptiveAvgPool2d((2, 3)), nn.AdaptiveMaxPool2d((3, 2))])
def test_adaptive_pooling_counts_its_uneven_bins(pool):
    # The bins of 5 rows or 7 columns into 2 or 3 overlap and differ in size. Measure each
    # output cell's window with torch itself: the inputs that the gradient of the average
    # over the same bins reaches (max and average pooling share their bins).
    x = torch.rand(1, 2, 5, 7, requires_grad=True)
    y = F.adaptive_avg_pool2d(x, pool.output_size)
    windows = sum(int((torch.autograd.grad(v, x, retain_graph=True)[0] != 0).sum())
                  for v in y.flatten())
    [row] = model_cost(pool, (2, 5, 7))
    if isinstance(pool, nn.AdaptiveAvgPool2d):
        assert row.other_ops == windows  # window - 1 adds and a divide per output
    else:
        assert row.other_ops == windows - y.numel()  # window - 1 comparisons per output
    assert windows > 2 * 5 * 7  # overlapping bins: some inputs are read twice


def test_upsampling_weighs_four_inputs_per_output_bilinear_and_copies_nearest():
    class Pooling(nn.Module):  # DeepLabV3's image-level branch: pool, then stretch back
        def forward(self, x):
            return F.interpolate(x.mean((2, 3), keepdim=True), size=x.shape[-2:],
                                 mode="bilinear", align_corners=False)

    mean, up = model_cost(Pooling(), (3, 4, 4))
    assert (mean.other_ops, up.other_ops, up.memory_access) == (48, 4 * 48, 3 + 48)
    [near] = model_cost(nn.Upsample(scale_factor=2), (3, 4, 4))
    assert (near.other_ops, near.memory_access, near.output_shape) == (0, 48 + 192, (1, 3, 8, 8))


def test_totals_and_flops():
    cost = model_cost(Block(), (2, 4, 6, 6))
    assert cost.params == sum(p.numel() for p in Block().parameters())
    assert cost.macs == sum(r.macs for r in cost)
    assert cost.flops == 2 * cost.macs + cost.other_ops
    assert cost.output_shape == (2, 5) and cost.input_shape == (2, 4, 6, 6)
    assert len(cost) == 15 and cost[0].name == "conv"


def test_shared_weights_count_once_and_reused_layers_cost_every_call():
    conv = nn.Conv2d(3, 3, 3, padding=1)
    cost = model_cost(nn.Sequential(conv, conv, conv), (3, 8, 8))
    assert [r.params for r in cost] == [84, 0, 0]
    assert [r.macs for r in cost] == [3 * 64 * 27] * 3
    assert cost.params == sum(p.numel() for p in conv.parameters())


def test_kernels_own_layers_and_functions_are_counted():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = kernels.Conv2d(4, 8, 3, padding=1, groups=2)
            self.sep = kernels.SeparableConv2d(8, 6, 3, padding=1, depth_multiplier=2)
            self.shuffle = kernels.ChannelShuffle(3)
            self.w = nn.Parameter(torch.randn(6, 3, 1, 1))

        def forward(self, x):
            y = self.shuffle(self.sep(self.conv(x)))
            y = kernels.channel_shuffle(y, 2)  # called through the package: one node too
            return kernels.conv2d(y, self.w, groups=2)

    net, hw = Net(), 5 * 5
    rows = {r.name: r for r in model_cost(net, (4, 5, 5))}
    assert rows["conv"].macs == hw * 8 * 2 * 9
    assert rows["sep"].macs == hw * (8 * 2 * 9 + 6 * 16)  # depthwise, then pointwise
    assert rows["sep"].memory_access == (8 + 6) * hw + 16 * 9 + 6 * 16 + 6 + 2 * 16 * hw
    assert rows["shuffle"].memory_access == rows["channel_shuffle"].memory_access == 2 * 6 * hw
    assert rows["conv2d"].macs == hw * 6 * 3
    assert sum(r.params for r in rows.values()) == sum(p.numel() for p in net.parameters())
    assert rows["conv2d"].output_shape == tuple(net(torch.zeros(1, 4, 5, 5)).shape)


# ---------------------------------------------------------------------- whole networks
def classifier(features, c_out):
    """A feature extractor + global average pool + fully connected layer to 1000 classes."""
    return nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_out, 1000))


def mobilenet_v1(width_mult=1.0):
    with torch.device("meta"):
        return classifier(kernels.mobilenet_v1_features(width_mult), int(1024 * width_mult))


def test_output_shapes_match_a_real_forward_pass_layer_by_layer():
    # a thin ResNet-50 (its ReLU modules are called three times per block) on a small input
    model = classifier(kernels.resnet50_features(width_mult=0.125), 256).eval()
    seen = []
    for name, m in model.named_modules():
        if not list(m.children()):
            m.register_forward_hook(lambda m, i, o, name=name: seen.append((name, tuple(o.shape))))
    model(torch.zeros(2, 3, 64, 48))
    want = list(seen)  # the hooks run again inside model_cost, on shape-only tensors
    cost = model_cost(model, (2, 3, 64, 48))
    modules = dict(model.named_modules())
    assert [(r.name, r.output_shape) for r in cost if r.name in modules] == want
    assert cost.params == sum(p.numel() for p in model.parameters())


def test_mobilenet_v1_224_is_569_million_multiply_adds_and_4_2_million_parameters():
    # Howard et al. 2017, Table 1 and Table 8: 1.0 MobileNet-224, 569 M mult-adds, 4.2 M params.
    cost = model_cost(mobilenet_v1(), (3, 224, 224))
    assert round(cost.macs / 1e6) == 569
    assert cost.macs == 568_740_352
    # 4,231,976 is Keras' trainable count (conv weights, BN gamma and beta, FC weight and bias)
    assert cost.params == 4_231_976 and round(cost.params / 1e6, 1) == 4.2


def test_mobilenet_v1_table_2_split_of_the_cost():
    # Table 2: 1x1 conv 94.86 % of mult-adds and 74.59 % of parameters, depthwise 3.06 % /
    # 1.06 %, the full 3x3 conv 1.19 % / 0.02 %, FC 0.18 % / 24.33 %. The paper's 1.19 is
    # 1.91 with two digits swapped: its four shares must add up to 100 and 94.86 + 3.06 +
    # 0.18 leaves 1.90 (the measured 10,838,016 / 568,740,352). Its parameter shares count
    # weights only, no biases and no BatchNorm.
    model = mobilenet_v1()
    macs, params = {}, {}
    for r in model_cost(model, (3, 224, 224)):
        if r.type in ("Conv2d", "Linear"):
            m = model.get_submodule(r.name)
            kind = ("fc" if r.type == "Linear" else "dw" if m.groups > 1
                    else f"{m.kernel_size[0]}x{m.kernel_size[1]}")
            macs[kind] = macs.get(kind, 0) + r.macs
            params[kind] = params.get(kind, 0) + m.weight.numel()
    share = {k: (round(100 * macs[k] / sum(macs.values()), 2),
                 round(100 * params[k] / sum(params.values()), 2)) for k in macs}
    assert share == {"1x1": (94.86, 74.59), "dw": (3.06, 1.06), "3x3": (1.91, 0.02),
                     "fc": (0.18, 24.33)}


@pytest.mark.parametrize("width, macs_m, params_m", [(0.75, 325, 2.6), (0.5, 149, 1.3),
                                                     (0.25, 41, 0.5)])
def test_mobilenet_v1_width_multipliers_table_6(width, macs_m, params_m):
    cost = model_cost(mobilenet_v1(width), (3, 224, 224))
    assert round(cost.macs / 1e6) == macs_m
    assert round(cost.params / 1e6, 1) == params_m


@pytest.mark.parametrize("size, macs_m", [(192, 418), (128, 186)])
def test_mobilenet_v1_resolutions_table_7(size, macs_m):
    assert round(model_cost(mobilenet_v1(), (3, size, size)).macs / 1e6) == macs_m


def test_mobilenet_v1_160_is_290_7_million_not_the_papers_290():
    # Table 7 prints 290 M for 1.0 MobileNet-160. The exact count is 290.68 M: every conv
    # scales with rho^2 = (160/224)^2, but the 1024 x 1000 FC layer (1.02 M) does not. The
    # paper's resolution rows are 569 M x rho^2 (which rounds to 290; the 192 and 128 rows
    # round the same either way).
    exact = model_cost(mobilenet_v1(), (3, 160, 160)).macs
    assert exact == 290_675_200
    at_224 = model_cost(mobilenet_v1(), (3, 224, 224)).macs
    assert round(at_224 * (160 / 224) ** 2 / 1e6) == 290
    assert exact == (at_224 - 1024 * 1000) * 160 ** 2 // 224 ** 2 + 1024 * 1000


@pytest.mark.parametrize("stride_in, gmacs", [("3x3", 4.09), ("1x1", 3.86)])
def test_resnet50(stride_in, gmacs):
    # torchvision's ResNet-50 (stride in the 3x3 conv, "v1.5"): 4.09 GFLOPS (multiply-adds)
    # and 25,557,032 parameters; He et al. 2016 (stride in the first 1x1), Table 1: 3.8e9.
    with torch.device("meta"):
        model = classifier(kernels.resnet50_features(stride_in=stride_in), 2048)
    cost = model_cost(model, (3, 224, 224))
    assert round(cost.macs / 1e9, 2) == gmacs
    assert cost.params == 25_557_032


def test_vgg16():
    # VGG-16 with torchvision's classifier: 15.47 G multiply-adds, 138,357,544 parameters.
    with torch.device("meta"):
        model = nn.Sequential(kernels.vgg16_features(), nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                              nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                              nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                              nn.Linear(4096, 1000))
    cost = model_cost(model, (3, 224, 224))
    assert round(cost.macs / 1e9, 2) == 15.47
    assert cost.params == 138_357_544


def test_model_on_any_device_costs_the_same(device):
    model = classifier(kernels.mobilenet_v1_features(0.25), 256)
    want = [tuple(vars(r).values()) for r in model_cost(model, (3, 64, 64))]
    assert [tuple(vars(r).values()) for r in model_cost(model.to(device), (3, 64, 64))] == want


# ------------------------------------------------------------------------ property test
@st.composite
def conv_stacks(draw):
    """A random nn.Sequential of Conv2d (any groups, stride, padding, dilation, bias), some
    followed by BatchNorm and ReLU, with the hand-computed total multiply-adds and
    parameters and the output shape."""
    n, c, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 4)), *draw(
        st.tuples(st.integers(4, 14), st.integers(4, 14)))
    shape, layers, macs, params = (n, c, h, w), [], 0, 0
    for _ in range(draw(st.integers(1, 4))):
        g = draw(st.sampled_from([d for d in range(1, c + 1) if c % d == 0]))
        c_out = g * draw(st.integers(1, 3))
        k, s, p, d = (draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 2)),
                      draw(st.integers(1, 2)))
        bias = draw(st.booleans())
        h2, w2 = out_len(h, k, s, p, d), out_len(w, k, s, p, d)
        if min(h2, w2) < 1:
            break
        layers.append(nn.Conv2d(c, c_out, k, s, p, d, groups=g, bias=bias))
        macs += n * c_out * h2 * w2 * (c // g) * k * k
        params += c_out * (c // g) * k * k + (c_out if bias else 0)
        if draw(st.booleans()):
            layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
            params += 2 * c_out
        c, h, w = c_out, h2, w2
    return nn.Sequential(*layers), shape, macs, params, (n, c, h, w)


@pytest.mark.property
@given(conv_stacks())
def test_random_conv_stacks_against_the_hand_total(case):
    model, shape, macs, params, out = case
    cost = model_cost(model, shape)
    assert (cost.macs, cost.params, cost.output_shape) == (macs, params, out)
    assert cost.params == sum(p.numel() for p in model.parameters())
    assert tuple(model.eval()(torch.zeros(shape)).shape) == out


# ---------------------------------------------------------------------- errors and modes
class DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


class CumSum(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1)


@pytest.mark.parametrize("model, size, error, match", [
    (5, (3, 8, 8), TypeError, "model must be a torch.nn.Module, got int"),
    (nn.Conv2d(3, 4, 3), "8", TypeError, "input_size must be an int"),
    (nn.Conv2d(3, 4, 3), True, TypeError, "input_size must be an int"),
    (nn.Conv2d(3, 4, 3), 0, ValueError, "input_size must be positive"),
    (nn.Conv2d(3, 4, 3), (3, 0, 8), ValueError, r"input_size\[H\] must be positive"),
    (nn.Conv2d(3, 4, 3), (0, 3, 8, 8), ValueError, r"input_size\[N\] must be positive"),
    (nn.Conv2d(3, 4, 3), (3, 8.0, 8), TypeError, r"input_size\[H\] must be an int"),
    (nn.Conv2d(3, 4, 3), (1, 1, 3, 8, 8), ValueError, r"input_size must be H, \(H, W\)"),
    (nn.Conv2d(3, 4, 3), (8,), ValueError, r"input_size must be H, \(H, W\)"),
    (nn.Linear(8, 2), (8, 8), ValueError, r"input_size must be \(C, H, W\)"),
    (nn.Conv2d(3, 4, 3), (4, 8, 8), ValueError, r"layer '0' \(Conv2d\) fails on an input of "
                                                r"shape \(1, 4, 8, 8\)"),
    (nn.Conv2d(3, 4, 5), (3, 4, 4), ValueError, r"layer '0' \(Conv2d\) fails"),
    (nn.Sequential(nn.Conv2d(3, 3, 1), nn.Softmax(1)), (3, 4, 4), TypeError,
     "model_cost: cannot count layer '1' of type Softmax"),
    (CumSum(), (3, 4, 4), TypeError, "model_cost: cannot count layer 'cumsum' of type cumsum"),
    (nn.Sequential(nn.Flatten(2), nn.GRU(16, 4, batch_first=True)), (3, 4, 4), TypeError,
     "model_cost: cannot count layer '1' of type GRU"),
    (nn.Upsample(scale_factor=2, mode="area"), (3, 4, 4), TypeError,
     "cannot count layer '0' of type Upsample"),
    (DataDependent(), (3, 4, 4), TypeError, "could not be traced with torch.fx"),
])
def test_bad_input_raises_naming_the_argument_or_layer(model, size, error, match):
    with pytest.raises(error, match=match):
        model_cost(model, size)


def test_input_size_forms():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    shapes = {model_cost(model, size).input_shape for size in
              (8, (8, 8), (3, 8, 8), [1, 3, 8, 8], torch.Size([1, 3, 8, 8]))}
    assert shapes == {(1, 3, 8, 8)}  # C from the first Conv2d when not given


def test_the_model_is_left_as_it_was():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout())
    model[2].eval()  # mixed modes come back as they were
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model_cost(model, (2, 3, 8, 8))
    assert [m.training for m in model.modules()] == [True, True, True, False]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics untouched
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_table_prints_every_row_and_the_totals():
    cost = model_cost(Block(), (2, 4, 6, 6))
    lines = str(cost).splitlines()
    assert str(cost) == cost.table()
    assert lines[0].split()[:4] == ["layer", "type", "output", "params"]
    assert "mult-adds" in lines[0] and "memory access" in lines[0]
    assert len(lines) == len(cost) + 4  # header, rule, rows, rule, total
    assert lines[2].split()[:3] == ["conv", "Conv2d", "2x8x6x6"]
    assert lines[-1].split() == ["total", "2x5", f"{cost.params:,}", f"{cost.macs:,}",
                                 f"{cost.other_ops:,}", f"{cost.memory_access:,}"]
