"""kernels.receptive_field (analytic) against hand computations, an independent per-axis loop
reference and kernels.empirical_receptive_field (autograd); plus the error paths."""
import math
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import kernels
from kernels import ReceptiveFieldWarning, empirical_receptive_field, receptive_field


# ------------------------------------------------------------------------ independent references
def chain_closed_form(layers):
    """Closed forms for a chain of (k, s, p, d) along one axis, written from the formulas:
    r = 1 + sum_l (k_l - 1) prod_{i<l} s_i,  S = prod_l s_l,  P = sum_l p_l prod_{i<l} s_i,
    with k_l the dilated extent d (k - 1) + 1."""
    keff = [d * (k - 1) + 1 for k, _, _, d in layers]
    s = [layer[1] for layer in layers]
    r = 1 + sum((keff[l] - 1) * math.prod(s[:l]) for l in range(len(layers)))
    P = sum(layers[l][2] * math.prod(s[:l]) for l in range(len(layers)))
    return r, math.prod(s), P


def chain_lengths(layers, n):
    lens = [n]
    for k, s, p, d, ceil in layers:
        keff = d * (k - 1) + 1
        q = lens[-1] + 2 * p - keff
        o = (-(-q // s) if ceil else q // s) + 1
        if ceil and (o - 1) * s >= lens[-1] + p:
            o -= 1
        lens.append(o)
    return lens


def chain_counts_1d(layers, n, u):
    """Number of paths from each input index to output unit u, by walking taps backwards."""
    lens = chain_lengths(layers, n)
    counts = {u: 1}
    for (k, s, p, d, _), n_in in zip(reversed(layers), reversed(lens[:-1])):
        nxt = {}
        for j, c in counts.items():
            for t in range(k):
                i = j * s - p + t * d
                if 0 <= i < n_in:  # taps on padding reach no pixel
                    nxt[i] = nxt.get(i, 0) + c
        counts = nxt
    out = torch.zeros(n, dtype=torch.float64)
    for i, c in counts.items():
        out[i] = c
    return out


def bbox(mask):
    nz = (mask > 0).nonzero()
    return ((nz[:, 0].min().item(), nz[:, 0].max().item()),
            (nz[:, 1].min().item(), nz[:, 1].max().item()))


def centre_position(rf):
    return tuple((n - 1) // 2 for n in rf.output_size)


def assert_agree(model, input_size):
    """Analytic box == bounding box of the exact field, for a unit whose field fits inside."""
    rf = receptive_field(model, input_size)
    pos = centre_position(rf)
    box = rf.box(pos)
    assert rf.box(pos, clip=True) == box, f"test input too small for the field {box}"
    field = empirical_receptive_field(model, input_size, pos)
    assert bbox(field) == box
    return rf, field


# ----------------------------------------------------------------------------- hand computations
def test_two_3x3_convs_by_hand():
    rf = receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), 8)
    assert (rf.size, rf.stride, rf.padding, rf.center) == ((5, 5), (1, 1), (0, 0), (2.0, 2.0))
    assert rf.output_size == (4, 4)


def test_resnet_stem_by_hand():
    # conv 7/2 p3 -> pool 3/2 p1 -> conv 3 p1:  r = 7 -> 7+2*2 = 11 -> 11+2*4 = 19;
    # S = 2*2 = 4;  P = 3 + 1*2 + 1*4 = 9;  centre = -9 + (19-1)/2 = 0
    m = nn.Sequential(nn.Conv2d(3, 4, 7, 2, 3), nn.MaxPool2d(3, 2, 1), nn.Conv2d(4, 4, 3, 1, 1))
    rf = receptive_field(m, 64)
    assert (rf.size, rf.stride, rf.padding, rf.center) == ((19, 19), (4, 4), (9, 9), (0.0, 0.0))
    assert [l.size[0] for l in rf.layers] == [1, 7, 11, 19]
    assert [l.name for l in rf.layers] == ["input", "0", "1", "2"]


def test_dilation_rectangular_and_even_kernels_by_hand():
    # three 3x3 convs at dilation 2: each spans d(k-1)+1 = 5, so r = 1 + 3*4 = 13
    rf = receptive_field(kernels.conv_stack(3, 3, dilation=2), 20)
    assert rf.size == (13, 13) and rf.center == (6.0, 6.0)
    # rectangular kernel (1, 5), stride (2, 1): h and w kept apart
    rf = receptive_field(nn.Conv2d(1, 1, (1, 5), stride=(2, 1), padding=(0, 2)), (9, 12))
    assert (rf.size, rf.stride, rf.padding) == ((1, 5), (2, 1), (0, 2))
    assert rf.center == (0.0, 0.0) and rf.output_size == (5, 12)
    # an even kernel puts the centre between two pixels
    assert receptive_field(nn.Conv2d(1, 1, 2), 5).center == (0.5, 0.5)


def test_recurrence_equals_closed_form_on_chains():
    layers = [(3, 2, 1, 1), (5, 1, 2, 1), (3, 3, 0, 2), (2, 2, 0, 1), (3, 1, 4, 4)]
    mods = [nn.Conv2d(1, 1, k, s, p, d) for k, s, p, d in layers]
    rf = receptive_field(nn.Sequential(*mods), 200)
    r, S, P = chain_closed_form(layers)
    assert rf.size == (r, r) and rf.stride == (S, S) and rf.padding == (P, P)
    assert rf.center == (-P + (r - 1) / 2,) * 2


def test_box_and_table():
    rf = receptive_field(kernels.alexnet_features(width_mult=0.1), 224)
    # Araujo et al. 2019 (table of the authors' library): AlexNet r = 195, S = 32
    assert rf.size == (195, 195) and rf.stride == (32, 32)
    assert rf.box((1, 2)) == ((32 - 66, 32 - 66 + 194), (64 - 66, 64 - 66 + 194))
    assert rf.box((0, 0), clip=True) == ((0, 128), (0, 128))
    text = str(rf)
    assert "MaxPool2d" in text and "195" in text and text == repr(rf)
    assert len(text.splitlines()) == len(rf.layers) + 3


# ------------------------------------------------------------- random chains: three-way agreement
layer_st = st.one_of(
    st.tuples(st.just("conv"), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2),
              st.integers(1, 3), st.just(False)),
    st.tuples(st.just("max"), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1),
              st.integers(1, 2), st.booleans()),
    st.tuples(st.just("avg"), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1),
              st.just(1), st.booleans()))


def build(spec):
    mods, geo = [], []
    for kind, k, s, p, d, ceil in spec:
        p = min(p, k // 2)  # torch refuses pool padding beyond half the kernel
        if kind == "conv":
            mods.append(nn.Conv2d(2, 2, k, s, p, d))
        elif kind == "max":
            mods.append(nn.MaxPool2d(k, s, p, d, ceil_mode=ceil))
        else:
            mods.append(nn.AvgPool2d(k, s, p, ceil_mode=ceil))
        geo.append((k, s, p, d, ceil))
    return nn.Sequential(*mods), geo


@settings(max_examples=60, deadline=None)
@given(st.lists(layer_st, min_size=1, max_size=4), st.integers(0, 6))
def test_random_chains_agree_with_loop_and_autograd(spec, margin):
    model, geo = build(spec)
    r, S, P = chain_closed_form([g[:4] for g in geo])
    n = r + 2 * S + margin  # room for a centre unit whose field fits inside the input
    rf = receptive_field(model, (2, n, n))
    assert (rf.size, rf.stride, rf.padding) == ((r, r), (S, S), (P, P))
    assert rf.output_size == (chain_lengths(geo, n)[-1],) * 2
    pos = centre_position(rf)
    counts = chain_counts_1d(geo, n, pos[0])
    expected = counts[:, None] * counts[None, :]  # separable windows: product of per-axis counts
    field = empirical_receptive_field(model, (2, n, n), pos)
    torch.testing.assert_close(field, expected, rtol=1e-12, atol=0)
    assert rf.box(pos) == rf.box(pos, clip=True)  # n leaves room for the centre unit's field
    assert bbox(field) == rf.box(pos)
    # equal weights: offsets are sums of independent uniform taps, so the variances add
    sd = kernels.uniform_erf_std([g[0] for g in geo], [g[1] for g in geo], [g[3] for g in geo])
    assert kernels.erf_moments(field)[1] == pytest.approx((sd[-1], sd[-1]), rel=1e-9, abs=1e-9)
    box = rf.box((0, 0), clip=True)  # at the border the exact field lies inside the clipped box
    b = bbox(empirical_receptive_field(model, (2, n, n), (0, 0)))
    assert box[0][0] <= b[0][0] and b[0][1] <= box[0][1]


def test_gridded_dilated_stack_has_holes():
    model = kernels.conv_stack(3, 3, dilation=2)  # every tap at an even offset
    rf, field = assert_agree(model, 21)
    mask = field > 0
    assert rf.size == (13, 13) and mask.sum() == 7 * 7  # 13 positions, only the even ones
    lo = rf.box(centre_position(rf))[0][0]
    assert mask[lo::2, lo::2][:7, :7].all() and not mask[lo + 1::2].any()


# ------------------------------------------------------------------------- graphs beyond chains
class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.Conv2d(4, 4, 3, padding=1))

    def forward(self, x):
        return F.relu(self.body(x) + x)


class Inception(nn.Module):
    """Parallel 1x1 / 3x3 / 5x5 / pool branches, concatenated along channels."""

    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(4, 2, 1)
        self.b3 = nn.Sequential(nn.Conv2d(4, 2, 1), nn.Conv2d(2, 2, 3, padding=1))
        self.b5 = nn.Sequential(nn.Conv2d(4, 2, 1), nn.Conv2d(2, 2, 5, padding=2))
        self.pool = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        p = self.pool(F.max_pool2d(x, 3, 1, 1))
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), p], dim=1)


class ASPPish(nn.Module):
    def __init__(self, rates=(1, 3, 5)):
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(4, 4, 3, padding=r, dilation=r) for r in rates)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class ASPPPooling(nn.Sequential):
    """torchvision's image-level branch: global pool, 1x1 conv, stretch back to x's size."""

    def __init__(self, c):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1), nn.ReLU())

    def forward(self, x):
        size = x.shape[-2:]
        for mod in self:
            x = mod(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class TorchvisionASPP(nn.Module):
    def __init__(self, rates=(2, 4), pooling=True):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(4, 4, 1)] + [
            nn.Conv2d(4, 4, 3, padding=r, dilation=r) for r in rates])
        if pooling:
            self.convs.append(ASPPPooling(4))
        self.project = nn.Conv2d(4 * len(self.convs), 4, 1)

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class Shuffled(nn.Module):
    """Modules registered in another order than used, one reused twice: hooks would mislead."""

    def __init__(self):
        super().__init__()
        self.late = nn.Conv2d(4, 4, 5, stride=2)
        self.early = nn.Conv2d(4, 4, 3)
        self.w = nn.Parameter(torch.randn(4, 4, 3, 3))

    def forward(self, x):
        x = self.early(self.early(x))
        x = F.conv2d(x, self.w, None, 1, 2, 2)
        return self.late(F.max_pool2d(x, 2))


class SqueezeExcite(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        x = self.conv(x)
        return x * torch.sigmoid(self.fc(x.mean((2, 3), keepdim=True)))


def stem():
    return nn.Sequential(nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.ReLU())


def test_residual_blocks():
    model = nn.Sequential(stem(), Residual(), Residual())
    rf, _ = assert_agree(model, 40)
    # stem r=3, S=2; each residual block adds two 3x3 convs at jump 2: 3 + 4*2*2 = 19
    assert rf.size == (19, 19) and rf.stride == (2, 2)
    assert any(l.type == "add" and l.name.startswith("1.") for l in rf.layers)


def test_concatenated_branches_inception_and_aspp():
    rf, _ = assert_agree(nn.Sequential(stem(), Inception()), 32)
    assert rf.size == (3 + 4 * 2,) * 2  # the widest branch (5x5 at jump 2) wins
    rf, _ = assert_agree(nn.Sequential(stem(), ASPPish()), 40)
    assert rf.size == (3 + 10 * 2,) * 2  # rate 5: d(k-1)+1 = 11 taps at jump 2


def test_torchvision_style_aspp_with_image_pooling():
    rf, _ = assert_agree(nn.Sequential(stem(), TorchvisionASPP(pooling=False)), 48)
    assert rf.size == (3 + 8 * 2,) * 2  # rate 4: 9 taps at jump 2
    model = nn.Sequential(stem(), TorchvisionASPP())
    rf = receptive_field(model, 48)  # the pooled branch shows every unit the whole input
    assert rf.stride == (0, 0) and rf.output_size == (24, 24)
    assert rf.box((5, 17), clip=True) == ((0, 47), (0, 47))
    assert (empirical_receptive_field(model, 48, (5, 17)) > 0).all()


def test_nested_functional_and_reused_modules():
    rf, _ = assert_agree(Shuffled(), 64)
    # early 3, early 3, conv d2 (5), pool 2/2, late 5/2:  1+2+2+4 = 9; +1 = 10; +4*2 = 18
    assert rf.size == (18, 18) and rf.stride == (4, 4)
    assert [l.name for l in rf.layers][1:3] == ["early", "early"]


def test_global_pooling_flatten_and_broadcast_cover_the_whole_input():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    rf = receptive_field(model, 17)
    assert rf.output_size is None and rf.stride == (0, 0)
    assert rf.box((0, 0), clip=True) == ((0, 16), (0, 16))
    assert bbox(empirical_receptive_field(model, 17)) == ((0, 16), (0, 16))
    se = receptive_field(SqueezeExcite(), 9)  # x * gate(pool(x)): every unit sees everything
    assert se.stride == (0, 0) and se.box((3, 3), clip=True) == ((0, 8), (0, 8))
    assert (empirical_receptive_field(SqueezeExcite(), 9, (3, 3)) > 0).all()


def test_lone_layer_rectangular_input_and_explicit_padding():
    rf, _ = assert_agree(nn.Conv2d(1, 1, (3, 5), stride=(1, 2), dilation=(2, 1)), (11, 15))
    assert rf.size == (5, 5) and rf.stride == (1, 2)
    # 'same' with an even extent: torch pads d(k-1) = 6 in all, 3 before and 3 after
    rf, _ = assert_agree(nn.Conv2d(1, 1, 4, padding="same", dilation=2), 20)
    assert rf.size == (7, 7) and rf.padding == (3, 3) and rf.output_size == (20, 20)
    # explicit (left, right, top, bottom) padding, as a module and as F.pad
    rf, _ = assert_agree(nn.Sequential(nn.ZeroPad2d((1, 2, 3, 0)), nn.Conv2d(1, 1, 3)), 12)
    assert rf.padding == (3, 1) and rf.output_size == (13, 13)

    class Padded(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, stride=2)

        def forward(self, x):
            return self.conv(F.pad(x, (0, 1, 2, 2)))

    rf, _ = assert_agree(Padded(), 15)
    # h: (15 + 2 + 2 - 3) // 2 + 1 = 9;  w: (15 + 0 + 1 - 3) // 2 + 1 = 7
    assert rf.padding == (2, 0) and rf.output_size == (9, 7)


# ----------------------------------------------------------------------------------- bad input
class Misaligned(nn.Module):
    def __init__(self, k=2, s=2, p=0):
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3, 2, 1)
        self.b = nn.Conv2d(1, 1, k, s, p)

    def forward(self, x):
        return self.a(x) + self.b(x)


def test_misaligned_centres_warn_or_raise():
    with pytest.warns(ReceptiveFieldWarning, match="misaligned field centres"):
        rf = receptive_field(Misaligned(), 8)  # centres 0 and 0.5: the union box is reported
    assert rf.box((0, 0)) == ((-1, 1), (-1, 1))
    with pytest.raises(ValueError, match="misaligned field centres along h"):
        receptive_field(Misaligned(), 8, strict=True)


def test_non_zero_padding_modes_warn():
    conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    with pytest.warns(ReceptiveFieldWarning, match="pads with 'circular'"):
        rf = receptive_field(conv, 8)
    assert rf.size == (3, 3)
    # indeed: unit 0 of a circular conv also reads the last row and column
    assert empirical_receptive_field(conv, 8, (0, 0))[7, 7] > 0


def test_branches_with_different_jumps_raise():
    with pytest.raises(ValueError, match=r"disagree in jump .* \[2, 3\]"):
        receptive_field(Misaligned(k=1, s=3, p=2), 8)  # both 4 long, jumps 2 and 3


def test_bad_model_and_input_size():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        receptive_field(lambda x: x, 8)
    # 5x5 conv: n-4; 2x2 pool: (n-4)//2; a 3x3 conv needs 3 of those, so n >= 10
    with pytest.raises(ValueError, match=r"input_size 8x8 is too small.*'2'.*at least 10x10"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 5), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)), 8)
    with pytest.raises(ValueError, match="input_size must be positive"):
        receptive_field(nn.Conv2d(1, 1, 3), 0)
    with pytest.raises(ValueError, match=r"input_size must be H, \(H, W\) or \(C, H, W\)"):
        receptive_field(nn.Conv2d(1, 1, 3), (1, 1, 8, 8, 8))
    with pytest.raises(TypeError, match=r"input_size\[W\] must be an int"):
        receptive_field(nn.Conv2d(1, 1, 3), (8, 8.5))


class Up(nn.Module):
    def __init__(self, norm=False, pool=False):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(1, 1, 3), nn.GroupNorm(1, 1) if norm else nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1) if pool else nn.Identity()

    def forward(self, x):
        return F.interpolate(self.pool(self.head(x)), size=(6, 6))


def test_unsupported_layers_are_named():
    with pytest.raises(ValueError, match=r"layer 'head.1' \(GroupNorm\): its statistics"):
        receptive_field(Up(norm=True), 8)
    with pytest.raises(ValueError, match=r"layer 'interpolate' \(interpolate\): upsampling"):
        receptive_field(Up(), 8)
    with pytest.raises(ValueError, match="exactly one output"):
        receptive_field(TwoOut(), 8)


def test_upsampling_a_pooled_map_broadcasts_it():
    rf = receptive_field(Up(pool=True), 8)  # ASPP's image-level branch
    assert rf.output_size == (6, 6) and rf.stride == (0, 0)
    assert rf.box((5, 5), clip=True) == ((0, 7), (0, 7))
    assert (empirical_receptive_field(Up(pool=True), 8, (5, 5)) > 0).all()


class TwoOut(nn.Module):
    def forward(self, x):
        return x, x


def test_untraceable_model_is_a_clear_type_error():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(TypeError, match="could not be traced with torch.fx"):
        receptive_field(Branchy(), 8)


def test_empirical_bad_arguments():
    model = nn.Conv2d(2, 2, 3)
    with pytest.raises(ValueError, match=r"position \(9, 0\) is outside the output map of "
                                         r"size 6x6"):
        empirical_receptive_field(model, 8, (9, 0))
    with pytest.raises(TypeError, match="position must be a pair of ints"):
        empirical_receptive_field(model, 8, 3)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        empirical_receptive_field("conv", 8)
    head = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\)"):
        empirical_receptive_field(head, 2)


def test_empirical_leaves_the_model_alone_and_runs_on_device(device):
    model = nn.Sequential(nn.Conv2d(2, 2, 3), nn.ReLU(), nn.MaxPool2d(2)).to(device)
    before = [p.detach().clone() for p in model.parameters()]
    field = empirical_receptive_field(model, 10)
    assert field.device.type == device and field.shape == (10, 10)
    for p, q in zip(before, model.parameters()):
        assert torch.equal(p, q)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        receptive_field(model, 10)


# ------------------------------------------------------------------- effective receptive field
@pytest.mark.parametrize("n,k", [(1, 3), (3, 2), (4, 3), (6, 5)])
def test_uniform_path_counts_spread_like_sqrt_n(n, k):
    # n stacked k-tap boxes: the path counts are the n-fold convolution of a box, whose
    # variance is n times that of a uniform on k points, (k^2 - 1) / 12 (central limit theorem)
    r = 1 + n * (k - 1)
    counts = empirical_receptive_field(kernels.conv_stack(n, k), r + 4)
    (mh, mw), (sh, sw) = kernels.erf_moments(counts)
    assert sh == pytest.approx(math.sqrt(n * (k * k - 1) / 12), rel=1e-9) and sw == sh
    assert counts.sum() == k ** (2 * n)  # every path counted once


def test_erf_moments_by_hand():
    field = torch.zeros(5, 6)
    field[2, 3] = 1.0
    assert kernels.erf_moments(field) == ((2.0, 3.0), (0.0, 0.0))
    field = torch.zeros(5, 6)
    field[0, 1] = field[0, 3] = 2.0  # two equal weights 2 apart: mean between, std 1
    assert kernels.erf_moments(field) == ((0.0, 2.0), (0.0, 1.0))
    with pytest.raises(ValueError, match="2-D Tensor"):
        kernels.erf_moments(torch.ones(2, 2, 2))
    with pytest.raises(ValueError, match="positive mass"):
        kernels.erf_moments(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="axis must be 'h' or 'w'"):
        kernels.erf_profile(torch.ones(3, 3), "x")


def test_effective_field_is_a_reproducible_distribution_inside_the_field(device):
    model = kernels.conv_stack(3, 3, channels=4, relu=True).to(device)
    state = torch.get_rng_state()
    erf = kernels.effective_receptive_field(model, (4, 13, 13), seeds=3)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is untouched
    assert erf.shape == (13, 13) and erf.device.type == device
    assert erf.sum().item() == pytest.approx(1.0) and (erf >= 0).all()
    mask = empirical_receptive_field(model, (4, 13, 13)) > 0
    assert (erf[~mask] == 0).all() and (erf[mask] > 0).sum() > mask.sum() // 2
    torch.testing.assert_close(erf, kernels.effective_receptive_field(model, (4, 13, 13),
                                                                      seeds=[0, 1, 2]))
    with pytest.raises(ValueError, match="seeds must be"):
        kernels.effective_receptive_field(model, (4, 13, 13), seeds=[])


def test_effective_field_grows_like_sqrt_n_and_looks_gaussian():
    g = kernels.erf_growth(depths=(4, 16), channels=4, seeds=6)
    assert g["size"] == [9, 33]  # the field grows like n: 1 + 2n
    ratio = g["erf_std"][1] / g["erf_std"][0]
    assert abs(ratio - 2.0) < 0.4  # sqrt(16 / 4) = 2, far from the field's 33 / 9 = 3.7
    stack = kernels.conv_stack(16, 3, channels=4, relu=True)
    erf = kernels.effective_receptive_field(stack, (4, 37, 37), seeds=6)
    _, marginal, gaussian = kernels.erf_profile(erf, "w")
    assert (marginal - gaussian).abs().sum() < 0.15  # total variation to the fitted Gaussian
