"""kernels.peak_activation_memory against hand computation from the architecture tables
(Howard et al. Table 1, Sandler et al. Table 2), and against Sandler et al.'s Table 3."""
import pytest
import torch
from torch import nn

from kernels import mobilenet_v1, mobilenet_v2, peak_activation_memory

V1_TABLE = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
            (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]  # pointwise channels, dw stride
V2_TABLE = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1)]


def meta(builder, *args):
    with torch.device("meta"):
        return builder(*args)


def v1_rows():
    """(name, elements in, elements out) per operator: every conv, then the FC layer."""
    rows, c, r = [("features.0.0", 3 * 224 ** 2, 32 * 112 ** 2)], 32, 112
    for j, (c_out, s) in enumerate(V1_TABLE, start=1):
        rows.append((f"features.{j}.0", c * r * r, c * (r // s) ** 2))  # depthwise
        r //= s
        rows.append((f"features.{j}.3", c * r * r, c_out * r * r))     # pointwise
        c = c_out
    return rows + [("classifier", 1024, 1000)]


def v2_rows():
    """Operators: the stem conv, each inverted residual block whole, the last conv, the FC."""
    rows, c, r, i = [("features.0.0", 3 * 224 ** 2, 32 * 112 ** 2)], 32, 112, 1
    for _, c_out, n, s in V2_TABLE:
        for k in range(n):
            r_out = r // (s if k == 0 else 1)
            rows.append((f"features.{i}", c * r * r, c_out * r_out ** 2))
            c, r, i = c_out, r_out, i + 1
    return rows + [("features.18.0", 320 * 49, 1280 * 49), ("classifier.1", 1280, 1000)]


@pytest.mark.parametrize("builder, rows", [(mobilenet_v1, v1_rows), (mobilenet_v2, v2_rows)])
def test_every_operator_against_the_architecture_table(builder, rows):
    mem = peak_activation_memory(meta(builder), 224)
    got = [(op.name, torch.Size(op.input_shape).numel(), torch.Size(op.output_shape).numel())
           for op in mem.operators]
    assert got == rows()
    assert mem.elements == max(a + b for _, a, b in rows())


def test_v1_peak_is_the_first_pointwise_conv():
    mem = peak_activation_memory(meta(mobilenet_v1), 224)
    assert mem.peak.name == "features.1.3"
    assert (mem.peak.input_shape, mem.peak.output_shape) == ((1, 32, 112, 112), (1, 64, 112, 112))
    assert mem.elements == 112 * 112 * (32 + 64) == 1_204_224
    # Table 3's "1600K" for v1 is its largest tensor, 64 x 112 x 112, at 2 bytes
    assert mem.largest_tensor == 802_816 and round(2 * mem.largest_tensor / 1000, -2) == 1600


def test_v2_peak_is_the_first_block_and_the_first_layer_trick_removes_the_stem_output():
    mem = peak_activation_memory(meta(mobilenet_v2), 224)
    assert mem.peak.name == "features.1" and mem.peak.type == "InvertedResidual"
    assert mem.elements == 112 * 112 * (32 + 16) == 602_112
    assert mem.largest_tensor == 32 * 112 * 112  # the stem's output, still materialised
    fused = peak_activation_memory(meta(mobilenet_v2), 224, fuse_first=True)
    assert fused.peak.name == "features.0.0+features.1"
    assert (fused.peak.input_shape, fused.peak.output_shape) == ((1, 3, 224, 224),
                                                                 (1, 16, 112, 112))
    assert fused.elements == 3 * 224 ** 2 + 16 * 112 ** 2 == 351_232
    # Table 3's "400K" for v2: the largest tensor left, 16 x 112 x 112, at 2 bytes
    assert fused.largest_tensor == 200_704 and round(2 * fused.largest_tensor / 1000, -2) == 400
    assert fused.bytes() == 702_464 and fused.bytes(4) == 1_404_928
    # By Section 5.1's definition (input and output alive) v2 needs 3.4x less than v1
    assert round(1_204_224 / fused.elements, 1) == 3.4


def test_a_real_forward_pass_gives_the_same_as_shapes_only():
    model = mobilenet_v2(0.35).train()
    real = peak_activation_memory(model, (2, 3, 64, 48))
    assert real == peak_activation_memory(meta(mobilenet_v2, 0.35), (2, 3, 64, 48))
    assert model.training and all(not m._forward_hooks for m in model.modules())


def test_a_plain_chain_and_the_input_size_forms():
    model = nn.Sequential(nn.Conv2d(2, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(5 * 16, 3))
    mem = peak_activation_memory(model, 8)
    assert [(op.name, op.alive) for op in mem.operators] == [
        ("0", 2 * 64 + 5 * 64), ("3", 5 * 64 + 5 * 16), ("5", 5 * 16 + 3)]
    assert mem.input_shape == (1, 2, 8, 8)
    assert peak_activation_memory(model, (2, 8, 8)) == mem
    assert peak_activation_memory(model, (8, 8)) == mem


@pytest.mark.parametrize("model, size, error, match", [
    ("model", 224, TypeError, "model"),
    (nn.Conv2d(3, 4, 3), (1, 2, 3, 4, 5), ValueError, "input_size"),
    (nn.Conv2d(3, 4, 3), (0, 8), ValueError, "input_size"),
    (nn.ReLU(), 8, ValueError, "input_size"),          # no conv to tell the channels
    (nn.ReLU(), (1, 8, 8), ValueError, "operator"),
])
def test_bad_input_is_named(model, size, error, match):
    with pytest.raises(error, match=match):
        peak_activation_memory(model, size)


def test_a_mobilenet_refuses_an_input_below_its_output_stride():
    with pytest.raises(ValueError, match="at least 32x32"):
        peak_activation_memory(meta(mobilenet_v2), 31)
