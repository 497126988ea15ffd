r"""Bags of feature-map rows: the machinery RoI Pool and RoI Align share.

Both ops read a feature map ``Tensor[N, C, H, W]`` as a *table* of ``N*H*W`` rows of ``C``
channels, one row per cell, because the geometry (which cells, which weights) is the same for
every channel. Every output bin then becomes a *bag* of table rows (RoI Pool: the cells of the
bin; RoI Align: the four bilinear taps of a sample point, weighted), and one call of
``torch.embedding_bag`` pools every bag of every RoI, with no Python loop over RoIs or bins.

The max over a bag (RoI Pool's bins, RoI Align's ``mode="max"``) keeps its argmax, through
which the whole gradient flows:

.. math::
    y_{bc} = t_{a_{bc}, c},\quad a_{bc} = \text{first}\operatorname*{arg\,max}_{r \in b} t_{rc},
    \qquad \frac{\partial L}{\partial t_{rc}} = \sum_{b:\ a_{bc} = r}
    \frac{\partial L}{\partial y_{bc}}

"First" is embedding_bag's rule, the same as torchvision's strict ``>``: the first row of the
bag starts the maximum and a later row replaces it only if it is larger (so a tie goes to the
earlier row, and a NaN never replaces a number). Bags are built per chunk of RoIs
(:func:`chunk_slices`) so that the memory a call needs is bounded by a budget instead of
growing with the number and size of the boxes. See :doc:`roi_pooling_align`.
"""
from __future__ import annotations

import torch

__all__ = ["BagMax", "chunk_slices", "feature_table", "ragged_arange"]


def feature_table(input: torch.Tensor, spare_row: bool = False) -> torch.Tensor:
    """``input`` as ``Tensor[N*H*W, C]``, row ``(n*H + h)*W + w`` holding cell ``(n, h, w)``:
    a free view for a channels-last input, one copy otherwise. With ``spare_row`` a last row of
    zeros follows (``Tensor[N*H*W + 1, C]``): the row a sample outside the map points at, so
    that it reads no cell at all (``0 * x`` would still be NaN for a non-finite ``x``)."""
    n, c, h, w = input.shape
    cells = input.permute(0, 2, 3, 1)  # [N, H, W, C]
    if not spare_row:
        return cells.reshape(n * h * w, c)  # [N*H*W, C]
    table = input.new_empty(n * h * w + 1, c)  # one copy in either layout; autograd tracks it
    table[-1] = 0
    table[:-1].view(n, h, w, c).copy_(cells)
    return table


def ragged_arange(counts: torch.Tensor):
    """Flatten ``len(counts)`` ragged ranges: ``(owner, position)`` with ``owner`` repeated
    ``counts[i]`` times and ``position`` running ``0 .. counts[i] - 1`` within each owner.

    This is how both ops enumerate bins, samples and pixels of every RoI at once, without a
    Python loop: ``counts = [2, 0, 3]`` gives ``owner = [0, 0, 2, 2, 2]``,
    ``position = [0, 1, 0, 1, 2]``.
    """
    total = int(counts.sum()) if counts.numel() else 0
    owner = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts,
                                    output_size=total)
    starts = torch.cumsum(counts, 0) - counts  # [len(counts)]
    return owner, torch.arange(total, device=counts.device) - starts[owner]


def chunk_slices(cost: torch.Tensor, budget: int) -> list[slice]:
    """Cut ``K`` RoIs, RoI ``k`` needing ``cost[k]`` bytes of bags, into consecutive chunks of
    about ``budget`` bytes: RoI ``k`` joins chunk ``floor(bytes before k / budget)``, so a chunk
    holds at most ``budget`` bytes plus its last RoI (a RoI is never split). One slice covers
    everything when it fits, ``[slice(0, 0)]`` when there is no RoI."""
    if cost.numel() == 0 or int(cost.sum()) <= budget:
        return [slice(0, cost.numel())]
    chunk = torch.div(torch.cumsum(cost, 0) - cost, budget, rounding_mode="floor")  # [K]
    sizes = torch.unique_consecutive(chunk, return_counts=True)[1].tolist()
    ends = torch.tensor(sizes).cumsum(0).tolist()
    return [slice(e - s, e) for s, e in zip(sizes, ends)]


class BagMax(torch.autograd.Function):
    """``out[b, c] = max over the rows r of bag b of table[r, c]``, the first maximum winning;
    an empty bag gives 0. With ``floor`` (RoI Pool's ``-FLT_MAX``), a bag whose maximum does not
    beat ``floor`` gives ``floor`` and no gradient, as torchvision's RoI Pool does."""

    @staticmethod
    def forward(ctx, table, index, offsets, floor=None):
        # table [R, C]; index [E] rows, bag b = index[offsets[b] : offsets[b + 1]]
        out, _, size, arg = torch.embedding_bag(table, index, offsets, False, 2)  # [B, C] each
        spare = table.shape[0]  # "no argmax" points at a spare row R, dropped in backward
        arg.index_fill_(0, torch.nonzero(size == 0).flatten(), spare)  # empty bag: 0, no arg
        if floor is not None:
            # empty bags hold 0 > floor, so they are never caught; rare, hence the test first
            floor = torch.tensor(floor).to(out)  # -FLT_MAX is -inf in half, as on CUDA
            low = (out > floor).logical_not_()
            if bool(low.any()):
                out.masked_fill_(low, floor)
                arg.masked_fill_(low, spare)
        # int32 like torchvision's argmax: half the memory held until backward
        ctx.save_for_backward(arg.int() if spare < 2**31 - 1 else arg)
        ctx.rows = spare
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        (arg,) = ctx.saved_tensors
        grad = grad_out.new_zeros(ctx.rows + 1, grad_out.shape[1])  # [R + 1, C]
        # dL/dtable[r, c] = sum over bags b with arg[b, c] = r of dL/dout[b, c]
        return grad.scatter_add_(0, arg.long(), grad_out)[:-1], None, None, None
