"""kernels.classic_networks: the four feature extractors against published sizes and receptive
fields, each cross-checked with the exact field from autograd on a thin copy."""
import pytest
import torch

import kernels
from kernels import empirical_receptive_field, receptive_field

MODELS = {
    "alexnet": (kernels.alexnet_features, {}),
    "vgg16": (kernels.vgg16_features, {}),
    "resnet50": (kernels.resnet50_features, {}),
    "resnet50_1x1": (kernels.resnet50_features, {"stride_in": "1x1"}),
    "mobilenet_v1": (kernels.mobilenet_v1_features, {}),
}


def build(name, **kw):
    fn, extra = MODELS[name]
    return fn(**extra, **kw)


# Parameter counts (weights + biases, no buffers) of the convolutional part:
# AlexNet: 3*64*121+64 + 64*192*25+192 + 192*384*9+384 + 384*256*9+256 + 256*256*9+256;
# VGG-16: the 13 convs of configuration D; ResNet-50: torchvision's 25,557,032 minus the
# 2048*1000+1000 of fc; MobileNet v1: Keras' 4,231,976 trainable minus the 1024*1000+1000 head.
PARAMS = {"alexnet": 2_469_696, "vgg16": 14_714_688, "resnet50": 23_508_032,
          "resnet50_1x1": 23_508_032, "mobilenet_v1": 3_206_976}
OUT = {"alexnet": (256, 6, 6), "vgg16": (512, 7, 7), "resnet50": (2048, 7, 7),
       "resnet50_1x1": (2048, 7, 7), "mobilenet_v1": (1024, 7, 7)}


@pytest.mark.parametrize("name", list(MODELS))
def test_parameter_count_and_output_shape(name):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = build(name)
        y = model(torch.empty(1, 3, 224, 224))
    assert sum(p.numel() for p in model.parameters()) == PARAMS[name]
    assert tuple(y.shape) == (1, *OUT[name])


def test_mobilenet_batchnorm_buffers_match_keras():
    # Keras MobileNet 1.0 reports 21,888 non-trainable parameters: BN means and variances
    with torch.device("meta"):
        model = kernels.mobilenet_v1_features()
    assert sum(b.numel() for n, b in model.named_buffers() if "running" in n) == 21_888


def test_torchvision_key_names():
    keys = set(kernels.resnet50_features(width_mult=0.05).state_dict())
    assert {"conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight",
            "layer4.2.conv3.weight"} <= keys
    assert {"0.weight", "3.weight", "10.bias"} <= set(kernels.alexnet_features(0.1).state_dict())
    assert "28.weight" in kernels.vgg16_features(0.1).state_dict()  # conv5_3


def test_conv_norm_activation_blocks_keep_names_flat():
    # MobileNet's conv -> BN -> ReLU blocks and ResNet's stem and projection shortcut are
    # Conv2dNormActivation, unpacked where needed so that every layer keeps its name:
    # torchvision's keys for ResNet, "i.0" ... "i.5" per depthwise-separable block of MobileNet.
    net = kernels.mobilenet_v1_features(width_mult=0.05)
    leaves = [name for name, m in net.named_modules() if not list(m.children())]
    assert leaves == [f"{i}.{j}" for i in range(14) for j in range(3 if i == 0 else 6)]
    assert isinstance(net[0], kernels.Conv2dNormActivation)
    conv, bn, relu = net[1][:3]  # depthwise 3x3 (groups = channels), no bias before BN
    assert conv.groups == conv.in_channels and conv.bias is None and conv.padding == (1, 1)
    assert isinstance(bn, torch.nn.BatchNorm2d) and relu.inplace

    res = kernels.resnet50_features(width_mult=0.05)
    assert [n for n, _ in res.named_children()] == ["conv1", "bn1", "relu", "maxpool", "layer1",
                                                   "layer2", "layer3", "layer4"]
    assert res.conv1.padding == (3, 3) and res.conv1.bias is None
    down = res.layer2[0].downsample
    assert isinstance(down, kernels.Conv2dNormActivation) and len(down) == 2  # no activation
    assert down[0].stride == (2, 2) and down[0].bias is None


# Araujo, Norris & Sim 2019 (Distill), table of the authors' library (TF-Slim models):
# r and S for alexnet_v2, vgg_16, resnet_v1_50, mobilenet_v1. Effective padding P depends on
# the padding convention. TF 'SAME' pads symmetrically for odd sizes, so their 321x321 rows
# use PyTorch's convention: VGG 90, ResNet 241, MobileNet 157. AlexNet v2 has no padding in
# conv1 where torchvision pads 2, so P = 64 + 2.
PUBLISHED = {"alexnet": (195, 32, 66), "vgg16": (212, 32, 90), "resnet50_1x1": (483, 32, 241),
             "mobilenet_v1": (315, 32, 157)}


@pytest.mark.parametrize("name", list(PUBLISHED))
@pytest.mark.parametrize("size", [224, 321])
def test_published_receptive_fields(name, size):
    rf = receptive_field(build(name, width_mult=0.05), size)
    r, S, P = PUBLISHED[name]
    assert (rf.size, rf.stride, rf.padding) == ((r, r), (S, S), (P, P))


def test_torchvision_resnet50_moves_the_stride_and_shrinks_the_field():
    # Stride in each stage's first 3x3 (torchvision): stem 11 at jump 4; layer1 +3*2*4 = 35;
    # layer2 +2*4 then +3*2*8 -> 91; layer3 +2*8 then +5*2*16 -> 267; layer4 +2*16 then
    # +2*2*32 -> 427.  With the stride in the 1x1 every 3x3 after it runs at the new jump: 483.
    rf = receptive_field(kernels.resnet50_features(width_mult=0.05), 224)
    assert rf.size == (427, 427) and rf.stride == (32, 32)
    stage_out = {l.name.split(".")[0]: l.size[0] for l in rf.layers}  # last row of each stage
    assert [stage_out[f"layer{i}"] for i in (1, 2, 3, 4)] == [35, 91, 267, 427]


@pytest.mark.parametrize("name,size", [("alexnet", 256), ("vgg16", 224), ("resnet50", 480),
                                       ("resnet50_1x1", 544), ("mobilenet_v1", 352)])
def test_analytic_field_matches_autograd(name, size):
    model = build(name, width_mult=1 / 32)  # channels do not change the field
    rf = receptive_field(model, size)
    pos = tuple((n - 1) // 2 for n in rf.output_size)
    box = rf.box(pos)
    assert box == rf.box(pos, clip=True)  # the whole field lies inside the input
    field = empirical_receptive_field(model, size, pos)
    nz = (field > 0).nonzero()
    assert ((nz[:, 0].min().item(), nz[:, 0].max().item()),
            (nz[:, 1].min().item(), nz[:, 1].max().item())) == box
    assert (field[box[0][0]:box[0][1] + 1, box[1][0]:box[1][1] + 1] > 0).all()  # no holes


def test_bad_arguments():
    with pytest.raises(ValueError, match="width_mult must be a positive number"):
        kernels.vgg16_features(width_mult=0)
    with pytest.raises(ValueError, match="stride_in must be '3x3'"):
        kernels.resnet50_features(stride_in="last")
