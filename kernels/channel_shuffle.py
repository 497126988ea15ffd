"""Channel shuffle (通道混洗): the fixed permutation ShuffleNet puts between grouped convolutions.

Chapter: ``book/group_separable_convolution.md``.

A grouped convolution with ``g`` groups splits the ``C`` channels into ``g`` blocks of
``n = C / g`` and never mixes blocks; stack two of them and every output still sees one block
of inputs only. Zhang et al. ("ShuffleNet: An Extremely Efficient Convolutional Neural Network
for Mobile Devices", CVPR 2018, arXiv:1707.01083, Figure 1) interleave the blocks in between:
write the channel index as ``(block k, position j)``, i.e. view ``[N, C]`` as ``[N, g, n]``,
transpose to ``[N, n, g]`` and flatten back. Output channel ``i = j g + k`` then takes input
channel ``k n + j``:

    out[:, i] = in[:, (i mod g) n + floor(i / g)]

so consecutive outputs come from different blocks, and the next grouped layer's every group
receives channels from every block (when ``n >= g``).

The shuffle is *not* random (the notes' 随机打乱 is wrong): it is the same permutation at every
step and for every input, a transpose of a ``g x n`` matrix of channels. Its inverse is the
transpose of the ``n x g`` matrix, i.e. the shuffle with ``C / g`` groups, and its gradient is
that inverse permutation applied to the incoming gradient (autograd derives it from the
reshape and transpose below).
"""
from __future__ import annotations

from torch import nn

from ._checks import check_int, check_tensor

__all__ = ["channel_shuffle", "ChannelShuffle"]


def _check_groups(groups):
    return check_int(groups, "groups", min_value=1)


def channel_shuffle(input, groups):
    """Interleave the ``groups`` channel blocks of ``input``, as ``torch.nn.functional.
    channel_shuffle`` (which, unlike this one, also wants at least 3 dims).

    Args:
        input: ``Tensor[N, C, *]`` (any dtype; at least 2 dims).
        groups: positive int dividing ``C``.

    Returns:
        ``Tensor[N, C, *]`` with ``out[:, i] = input[:, (i mod g) (C/g) + floor(i/g)]``.
    """
    check_tensor(input, "input")
    if input.dim() < 2:
        raise ValueError(f"input must be Tensor[N, C, *] (at least 2 dims), got "
                         f"{input.dim()}-D with shape {tuple(input.shape)}")
    groups = _check_groups(groups)
    n, c, rest = input.shape[0], input.shape[1], tuple(input.shape[2:])
    if c % groups:
        raise ValueError(f"groups={groups} must divide the channels input.shape[1]={c}")
    x = input.reshape(n, groups, c // groups, *rest)  # [N, g, C/g, *]: (block k, position j)
    x = x.transpose(1, 2)                             # [N, C/g, g, *]: (position j, block k)
    return x.reshape(n, c, *rest)                     # [N, C, *]: channel i = j g + k


class ChannelShuffle(nn.Module):
    """Thin module around :func:`channel_shuffle`, like ``torch.nn.ChannelShuffle``; ``groups``
    is checked at construction. It has no parameters: the permutation is fixed."""

    def __init__(self, groups):
        super().__init__()
        self.groups = _check_groups(groups)

    def forward(self, input):
        return channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
