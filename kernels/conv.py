"""2-D convolution from scratch, with stride, padding, dilation and groups.

Chapter: ``book/dilated_convolution.md``.

A convolution layer (strictly a cross-correlation, as in every deep-learning library) slides a
``k_h x k_w`` kernel over the zero-padded input. With dilation ``d`` the kernel taps are spread
``d`` pixels apart (Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions",
ICLR 2016, arXiv:1511.07122; Chen et al., DeepLab, arXiv:1606.00915, call it *atrous*):

    out[n, o, y, x] = b[o] + sum_{c,i,j} w[o, c, i, j] * x_pad[n, g C/G + c, s y + d i, s x + d j]

where ``C = C_in`` and ``g = o // (C_out / G)`` is the group of output channel ``o``. The
kernel then covers ``d (k - 1) + 1`` pixels (its *effective size*) but still has only ``k`` taps
per axis, so the parameter count ``C_out * C_in/G * k_h * k_w`` does not depend on ``d``. The
output size is

    H_out = floor((H + 2p - d (k - 1) - 1) / s) + 1

(the arithmetic of sizes lives in ``kernels/conv_arithmetic.py``).

Implementation (im2col): ``Tensor.unfold`` views every window of effective size ``d (k - 1) + 1``
at step ``s`` without copying; slicing each window with step ``d`` keeps the ``k`` taps; one
``einsum`` contracts taps and channels with the weight, group by group (this is where the patch
matrix is materialised, hence ``bench/bench_conv.py``'s gap to cuDNN / oneDNN). Autograd
differentiates ``unfold``, slicing and ``einsum``, so no hand-written backward is needed.

Memory layout: ``einsum`` returns whatever layout its batched matrix product leaves (with one
group, ``[N, H, W, C]`` in memory). A drop-in for ``F.conv2d`` must instead return the layout
torch's backends pick: channels-last when the input or the weight is channels-last strided,
row-major (``N, C, H, W``) otherwise; so the result is copied once into that layout when needed.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from ._checks import as_pair, check_int, check_same_device_dtype, check_tensor
from .conv_arithmetic import effective_kernel_size

__all__ = ["conv2d", "Conv2d"]


def _channels_last_strided(t):
    """Whether torch reads the strides of the 4-D ``t`` as channels-last (``c10``'s
    ``is_channels_last_strides_2d``, which ``suggest_memory_format`` uses): walking C, W, H, N
    the strides must not shrink; ties of size-1 dimensions go to row-major."""
    sizes, strides = t.shape, t.stride()
    if strides[1] == 0:
        return False
    least = 0
    for d in (1, 3, 2, 0):
        if sizes[d] == 0 or strides[d] < least:
            return False
        if d == 0 and least == strides[1]:  # [N, 1, 1, 1] and the like: ambiguous, row-major
            return False
        least = strides[d] * sizes[d] if sizes[d] > 1 else strides[d]
    return True


def _output_memory_format(input, weight):
    """The layout ``F.conv2d`` gives its output (aten's ``_determine_backend_memory_format``):
    channels-last if the input or the weight is channels-last strided, except in float64 on CUDA,
    where cuDNN keeps ``N, C, H, W``."""
    if input.device.type == "cuda" and input.dtype == torch.float64:
        return torch.contiguous_format
    if _channels_last_strided(input) or _channels_last_strided(weight):
        return torch.channels_last
    return torch.contiguous_format


def _dense_strides(shape, memory_format):
    """The strides ``torch.empty`` gives this shape and layout (on "meta": nothing allocated)."""
    return torch.empty(shape, memory_format=memory_format, device="meta").stride()


def _check_padding(padding, stride):
    """``"valid"``, ``"same"`` (stride 1 only, as in torch) or a non-negative ``(h, w)`` pair."""
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid', 'same', an int or a pair, got {padding!r}")
        if padding == "same" and stride != (1, 1):
            raise ValueError(f"padding='same' needs stride 1, got stride={stride}")
        return padding
    return as_pair(padding, "padding", min_value=0)


def _same_padding(kernel, dilation):
    """Zero padding (top, bottom, left, right) that keeps H, W at stride 1, split like torch:
    the extra pixel of an odd total ``d (k - 1)`` goes at the end (bottom / right)."""
    (kh, kw), (dh, dw) = kernel, dilation
    th, tw = dh * (kh - 1), dw * (kw - 1)
    return (th // 2, th - th // 2, tw // 2, tw - tw // 2)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution, a drop-in for ``torch.nn.functional.conv2d``.

    Args:
        input: ``Tensor[N, C_in, H, W]`` (or unbatched ``Tensor[C_in, H, W]``), floating point.
        weight: ``Tensor[C_out, C_in / groups, k_h, k_w]``, same dtype and device as ``input``.
        bias: optional ``Tensor[C_out]``.
        stride, dilation: positive int or ``(h, w)`` pair.
        padding: non-negative int, ``(h, w)`` pair, or ``"valid"`` (no padding) / ``"same"``
            (output size = input size; stride must be 1).
        groups: positive int dividing both ``C_in`` and ``C_out``.

    Returns:
        ``Tensor[N, C_out, H_out, W_out]`` with ``H_out = floor((H + 2p - d(k-1) - 1)/s) + 1``.
    """
    check_tensor(input, "input", ndim=(3, 4), floating=True)
    check_tensor(weight, "weight", ndim=4, floating=True)
    check_same_device_dtype(input, "input", weight, "weight")
    stride = as_pair(stride, "stride", min_value=1)
    dilation = as_pair(dilation, "dilation", min_value=1)
    groups = check_int(groups, "groups", min_value=1)
    c_out, c_in_g, kh, kw = weight.shape
    if kh == 0 or kw == 0:
        raise ValueError(f"weight must have a non-empty kernel, got shape {tuple(weight.shape)}")
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input  # [N, C_in, H, W]
    n, c_in, h, w = x.shape
    if c_out % groups != 0:
        raise ValueError(f"groups={groups} must divide the output channels weight.shape[0]="
                         f"{c_out}")
    if c_in % groups != 0:
        raise ValueError(f"groups={groups} must divide the input channels input.shape[-3]={c_in}")
    if c_in != c_in_g * groups:
        raise ValueError(f"input has {c_in} channels but weight expects weight.shape[1] * groups "
                         f"= {c_in_g} * {groups} = {c_in_g * groups}")
    if bias is not None:
        check_tensor(bias, "bias", ndim=1)
        check_same_device_dtype(input, "input", bias, "bias")
        if bias.shape[0] != c_out:
            raise ValueError(f"bias must be Tensor[C_out] = Tensor[{c_out}], "
                             f"got shape {tuple(bias.shape)}")

    padding = _check_padding(padding, stride)
    if padding == "valid":
        pads = (0, 0, 0, 0)
    elif padding == "same":
        pads = _same_padding((kh, kw), dilation)
    else:
        pads = (padding[0], padding[0], padding[1], padding[1])
    hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
    eh, ew = effective_kernel_size((kh, kw), dilation)  # d(k-1)+1 per axis
    if hp < eh or wp < ew:
        raise ValueError(f"weight: effective kernel size ({eh}, {ew}) = d(k-1)+1 is larger than "
                         f"the padded input size ({hp}, {wp})")

    layout = _output_memory_format(x, weight)  # decided on the input as given, before padding
    if any(pads):
        x = F.pad(x, (pads[2], pads[3], pads[0], pads[1]))  # F.pad takes (left, right, top, bottom)
    # Windows of the effective size at step s, then every d-th pixel in each: the k taps.
    cols = x.unfold(2, eh, stride[0]).unfold(3, ew, stride[1])  # [N, C_in, H_out, W_out, eh, ew]
    cols = cols[..., ::dilation[0], ::dilation[1]]              # [N, C_in, H_out, W_out, kh, kw]
    h_out, w_out = cols.shape[2], cols.shape[3]
    # [N, G, C_in/G, H_out, W_out, kh, kw]
    cols = cols.reshape(n, groups, c_in_g, h_out, w_out, kh, kw)
    wg = weight.reshape(groups, c_out // groups, c_in_g, kh, kw)  # [G, C_out/G, C_in/G, kh, kw]
    out = torch.einsum("ngchwij,gocij->ngohw", cols, wg)          # [N, G, C_out/G, H_out, W_out]
    out = out.reshape(n, c_out, h_out, w_out)                     # [N, C_out, H_out, W_out]
    if out.stride() != _dense_strides(out.shape, layout):
        out = out.clone(memory_format=layout)  # one copy into F.conv2d's layout
    if bias is not None:
        # In place, so the layout stays: out is our own fresh tensor and no backward reads it.
        out.add_(bias.view(1, c_out, 1, 1))
    return out.squeeze(0) if unbatched else out


class Conv2d(nn.Module):
    """Thin module around :func:`conv2d`, with ``torch.nn.Conv2d``'s arguments, checks and
    initialisation (zero padding only). Stores the configuration; ``forward`` delegates.

    Every argument is checked here, at construction, as torch does: a layer that cannot run
    fails where it is written, not at its first forward pass.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", min_value=1)
        out_channels = check_int(out_channels, "out_channels", min_value=1)
        groups = check_int(groups, "groups", min_value=1)
        for name, c in (("in_channels", in_channels), ("out_channels", out_channels)):
            if c % groups:
                raise ValueError(f"groups={groups} must divide {name}={c}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = as_pair(kernel_size, "kernel_size", min_value=1)
        self.stride = as_pair(stride, "stride", min_value=1)
        self.dilation = as_pair(dilation, "dilation", min_value=1)
        self.padding = _check_padding(padding, self.stride)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool (whether to learn a bias), got "
                            f"{type(bias).__name__}")
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode must be 'zeros' (the only mode implemented here; "
                             f"torch.nn.Conv2d has the others), got {padding_mode!r}")
        self.padding_mode = padding_mode
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        try:
            device = None if device is None else torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device must be a torch.device or a device string, "
                             f"got {device!r}") from err
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups,
                                               *self.kernel_size, **kw))
        self.bias = nn.Parameter(torch.empty(out_channels, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        # Same scheme as torch.nn.Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both tensors.
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}")
