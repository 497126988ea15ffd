"""kernels: the tested PyTorch building blocks behind the book *Building blocks of CNNs*.

Every chapter of the book calls this package; every function here is checked against an
independent reference in ``tests/``. ``import kernels`` pulls in torch (and numpy) only; the
plotly views live in :mod:`kernels.viz`.

Functions follow torch / torchvision names, argument order and defaults, so that the builtin
can stand in for ours and the other way round. One module per concept:
``kernels/<op>.py`` is tested by ``tests/test_<op>.py``.
"""
from .activation_memory import ActivationMemory, OperatorMemory, peak_activation_memory
from .aspp import ASPP, TraceRow, aspp_trace, atrous_offsets, valid_weight_counts, valid_weight_map
from .channel_connectivity import channel_connectivity, grouped_pointwise_stack
from .channel_shuffle import ChannelShuffle, channel_shuffle
from .classic_networks import (alexnet_features, mobilenet_v1_features, resnet50_features,
                               vgg16_features)
from .conv import Conv2d, conv2d
from .conv_arithmetic import conv_output_size, effective_kernel_size
from .conv_norm_activation import Conv2dNormActivation
from .conv_stack import conv_stack
from .cross_entropy import CrossEntropyLoss, cross_entropy, smooth_one_hot
from .effective_receptive_field import (effective_receptive_field, erf_growth, erf_moments,
                                        erf_profile, uniform_erf_std)
from .empirical_receptive_field import empirical_receptive_field
from .file_copy import (COPY_METHODS, CallCount, CopyTiming, CostFit, TarTiming, copy_tree,
                        count_calls, filesystem_type, fit_cost, make_tree, per_file_calls,
                        time_copy, time_tar_create, tree_size, trees_identical)
from .gridding import GriddingReport, dilated_footprint, gridding_report
from .inverted_residual import InvertedResidual
from .mobilenet import MobileNetV1, MobileNetV2, make_divisible, mobilenet_v1, mobilenet_v2
from .model_cost import LayerCost, ModelCost, model_cost
from .receptive_field import LayerField, ReceptiveField, ReceptiveFieldWarning, receptive_field
from .relu_manifold import (bottleneck_roundtrip_error, expected_invertible_fraction,
                            invertible_fraction, invertible_mask, random_embedding,
                            relu_recover, relu_roundtrip, spiral)
from .resnext import ResNeXtBlock, ResNeXtEarlyConcat, ResNeXtSummedPaths
from .roi_align import RoIAlign, roi_align, roi_align_grid
from .roi_pool import RoIPool, roi_pool, roi_pool_bins
from .separable_conv import SeparableConv2d, separable_conv2d, separable_to_full_weight
from .softmax import LogSoftmax, Softmax, log_softmax, softmax
from .tensor_numpy import CONVERSIONS, ConversionTimes, conversion_times, shares_memory, to_numpy

__version__ = "0.1.0"


def default_device():
    """``torch.device('cuda')`` when a GPU is present, else the CPU: what the chapters use."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


__all__ = [
    # convolution (conv.py), its arithmetic (conv_arithmetic.py), dilated stacks (gridding.py)
    "conv2d", "Conv2d", "conv_output_size", "effective_kernel_size",
    "dilated_footprint", "gridding_report", "GriddingReport",
    # receptive fields: analytic, exact (autograd), effective
    "receptive_field", "ReceptiveField", "LayerField", "ReceptiveFieldWarning",
    "empirical_receptive_field", "effective_receptive_field", "erf_moments", "erf_profile",
    "uniform_erf_std", "erf_growth",
    # the conv -> norm -> activation block of ASPP and the classic networks
    "Conv2dNormActivation",
    # classic networks to measure
    "conv_stack", "alexnet_features", "vgg16_features", "resnet50_features",
    "mobilenet_v1_features",
    # DeepLabV3
    "ASPP", "TraceRow", "aspp_trace", "atrous_offsets", "valid_weight_map", "valid_weight_counts",
    # detection
    "roi_pool", "RoIPool", "roi_pool_bins", "roi_align", "RoIAlign", "roi_align_grid",
    # losses
    "softmax", "log_softmax", "Softmax", "LogSoftmax",
    "cross_entropy", "smooth_one_hot", "CrossEntropyLoss",
    # group, depthwise-separable and shuffled convolutions
    "channel_shuffle", "ChannelShuffle", "channel_connectivity", "grouped_pointwise_stack",
    "separable_conv2d", "SeparableConv2d", "separable_to_full_weight",
    "ResNeXtBlock", "ResNeXtSummedPaths", "ResNeXtEarlyConcat",
    # the cost of any model: parameters, multiply-adds, memory traffic per layer
    "model_cost", "ModelCost", "LayerCost",
    # MobileNet v1 and v2, their block, their activation memory, the ReLU-manifold experiment
    "mobilenet_v1", "mobilenet_v2", "MobileNetV1", "MobileNetV2", "make_divisible",
    "InvertedResidual", "peak_activation_memory", "ActivationMemory", "OperatorMemory",
    "spiral", "random_embedding", "relu_roundtrip", "relu_recover", "invertible_mask",
    "invertible_fraction", "expected_invertible_fraction", "bottleneck_roundtrip_error",
    # practical: tensor <-> NumPy, what shares memory and what a copy costs
    "to_numpy", "shares_memory", "conversion_times", "ConversionTimes", "CONVERSIONS",
    # practical: many small files vs one archive (cp, copytree, tar), timed and counted
    "make_tree", "tree_size", "trees_identical", "copy_tree", "COPY_METHODS", "time_copy",
    "CopyTiming", "count_calls", "CallCount", "per_file_calls", "fit_cost", "CostFit",
    "time_tar_create", "TarTiming", "filesystem_type",
    "default_device",
]
