"""kernels.receptive_field (analytic) against hand computations, torch's output shapes, the
independent per-axis loop reference (tests/receptive_field_reference.py) and
kernels.empirical_receptive_field (autograd); plus the error paths."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, strategies as st
from receptive_field_reference import (axis_layers, bbox, build, chain_closed_form,
                                       chain_counts_1d, chain_lengths, stack_st)

import kernels
from kernels import ReceptiveFieldWarning, empirical_receptive_field, receptive_field


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


# ------------------------------------------------- random conv/pool stacks: torch, loops, autograd
def torch_shapes(model, hw):
    """Spatial shape after each layer of an ``nn.Sequential``, or None where torch refuses."""
    x, shapes = torch.zeros(1, 2, *hw), []
    try:
        for layer in model:
            x = layer(x)
            shapes.append(tuple(x.shape[-2:]))
    except RuntimeError:  # "Output size is too small", "Kernel size can't be greater ..."
        return None
    return shapes


@pytest.mark.property
@given(stack_st, st.booleans(), st.data())
def test_random_stacks_match_torch_shapes_and_the_exact_field(spec, functional, data):
    """Size, jump and offset per unit against the closed forms, the loop reference and the
    exact field from autograd, on conv / max / avg stacks (ceil_mode included); output sizes
    against torch, down to inputs too small for torch."""
    layers = [axis_layers(spec, axis) for axis in (0, 1)]
    forms = [chain_closed_form(chain) for chain in layers]  # (r, S, P) along h and w
    # from too small for torch up to room for interior units (capped, to keep examples fast)
    hw = tuple(data.draw(st.integers(1, min(r + 2 * S + 4, 60)), label=f"input {a}")
               for a, (r, S, _) in zip("hw", forms))
    model, seq = build(spec, functional=functional), build(spec)
    shapes = torch_shapes(seq, hw)
    if shapes is None:  # torch refuses: so must we, with a ValueError naming input_size
        with pytest.raises(ValueError, match=f"input_size {hw[0]}x{hw[1]} is too small"):
            receptive_field(model, (2, *hw))
        with pytest.raises(ValueError, match="input_size"):
            empirical_receptive_field(model, (2, *hw))
        return
    rf = receptive_field(model, (2, *hw))
    assert rf.output_size == shapes[-1] == tuple(chain_lengths(chain, n)[-1]
                                                 for chain, n in zip(layers, hw))
    if not functional:
        assert [row.output_size for row in rf.layers[1:]] == shapes
    assert rf.size == tuple(r for r, _, _ in forms) and rf.stride == tuple(S for _, S, _ in forms)
    assert rf.padding == tuple(P for _, _, P in forms)
    assert rf.center == tuple(-P + (r - 1) / 2 for r, _, P in forms)
    ho, wo = rf.output_size
    for pos in {(0, wo - 1), (ho - 1, 0), ((ho - 1) // 2, (wo - 1) // 2)}:
        counts = [chain_counts_1d(chain, n, u) for chain, n, u in zip(layers, hw, pos)]
        field = empirical_receptive_field(model, (2, *hw), pos)
        # separable windows: the path counts are the product of the two axes' counts
        torch.testing.assert_close(field, counts[0][:, None] * counts[1][None, :],
                                   rtol=1e-12, atol=0)
        for (lo, hi), c, n in zip(rf.box(pos), counts, hw):
            hit = c.nonzero().flatten().tolist()
            assert all(lo <= i <= hi for i in hit)  # every pixel that counts lies in the box
            if 0 <= lo and hi < n:  # a box inside the input: both extreme paths are real
                assert (hit[0], hit[-1]) == (lo, hi)


def test_ceil_mode_pool_whose_window_runs_past_the_input():
    """Issue 9, defect 5: torch keeps a ceil-mode window that starts inside the input and runs
    past it; receptive_field raised "too small ... needs at least 3x3"."""
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.MaxPool2d(3, stride=3, ceil_mode=True))
    assert model(torch.zeros(1, 1, 2, 2)).shape[-2:] == (1, 1)
    rf = receptive_field(model, 2)
    assert (rf.size, rf.stride, rf.padding, rf.output_size) == ((3, 3), (3, 3), (0, 0), (1, 1))
    assert rf.box((0, 0)) == ((0, 2), (0, 2)) and rf.box((0, 0), clip=True) == ((0, 1), (0, 1))
    assert bbox(empirical_receptive_field(model, 2)) == rf.box((0, 0), clip=True)
    # the smallest input: the 2x2 conv needs 2 pixels, then one ceil-mode window is enough
    with pytest.raises(ValueError, match=r"input_size 1x1 is too small.*at least 2x2"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 2), model), 1)


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d])
def test_ceil_mode_drops_a_window_that_would_start_in_the_right_padding(pool):
    # n=5, k=2, s=2, p=1: ceil(5 / 2) + 1 = 4 windows, the 4th would start at 6 = n + p
    model = nn.Sequential(nn.Conv2d(1, 1, 1), pool(2, 2, 1, ceil_mode=True))
    assert model(torch.zeros(1, 1, 5, 5)).shape[-2:] == (3, 3)
    rf = receptive_field(model, 5)
    assert rf.output_size == (3, 3) and rf.box((2, 2)) == ((3, 4), (3, 4))
    assert bbox(empirical_receptive_field(model, 5, (2, 2))) == ((3, 4), (3, 4))


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


def test_non_zero_padding_modes_warn_at_the_callers_line():
    conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    with pytest.warns(ReceptiveFieldWarning, match="pads with 'circular'") as caught:
        rf = receptive_field(conv, 8)
    assert rf.size == (3, 3)
    assert caught[0].filename == __file__  # stacklevel was one too high for layer warnings
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
