"""kernels.roi_bags, the bag machinery RoI Pool and RoI Align share, tested function by function
against references written here in plain Python loops: the feature table, ragged ranges, the
chunking of RoIs under a memory budget, and BagMax (max with first-argmax and its gradient)."""
import itertools
import math

import pytest
import torch
from hypothesis import given, strategies as st

from kernels.roi_bags import BagMax, chunk_slices, feature_table, ragged_arange

NAN, FLT_MAX = float("nan"), torch.finfo(torch.float32).max


# ---------------------------------------------------------------------------- feature_table
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "permuted"])
@pytest.mark.parametrize("spare_row", [False, True])
def test_feature_table_rows_are_cells(device, layout, spare_row):
    x = torch.randn(2, 3, 4, 5, device=device)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "permuted":  # neither layout: H and W strides swapped
        x = torch.randn(2, 3, 5, 4, device=device).transpose(2, 3)
    table = feature_table(x, spare_row=spare_row)
    n, c, h, w = x.shape
    assert table.shape == (n * h * w + spare_row, c)
    for b, i, j in itertools.product(range(n), range(h), range(w)):
        assert torch.equal(table[(b * h + i) * w + j], x[b, :, i, j])
    if spare_row:  # the row an outside sample points at: zeros, so it reads no cell
        assert torch.equal(table[-1], torch.zeros(c, device=device))


def test_feature_table_is_a_free_view_of_a_channels_last_input():
    x = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    assert feature_table(x).data_ptr() == x.data_ptr()


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("spare_row", [False, True])
def test_feature_table_gradcheck(channels_last, spare_row):
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: feature_table(t, spare_row=spare_row), (x,))


# ---------------------------------------------------------------------------- ragged_arange
def loop_ragged_arange(counts):
    owner, position = [], []
    for i, n in enumerate(counts):
        owner += [i] * n
        position += list(range(n))
    return owner, position


@pytest.mark.property
@given(st.lists(st.integers(0, 5), max_size=10))
def test_ragged_arange_matches_loop(counts):
    owner, position = ragged_arange(torch.tensor(counts, dtype=torch.long))
    assert (owner.tolist(), position.tolist()) == loop_ragged_arange(counts)
    assert owner.dtype == position.dtype == torch.long


@pytest.mark.parametrize("counts", [[2, 0, 3], [0, 0], []])
def test_ragged_arange_examples(device, counts):
    owner, position = ragged_arange(torch.tensor(counts, dtype=torch.long, device=device))
    assert owner.device.type == position.device.type == device
    assert (owner.tolist(), position.tolist()) == loop_ragged_arange(counts)


# ----------------------------------------------------------------------------- chunk_slices
@pytest.mark.property
@given(st.lists(st.integers(0, 200), max_size=20), st.integers(1, 300))
def test_chunk_slices_cover_in_order_within_budget(cost, budget):
    slices = chunk_slices(torch.tensor(cost, dtype=torch.long), budget)
    # every index once, in order, in consecutive non-empty slices
    assert slices[0].start == 0 and slices[-1].stop == len(cost)
    assert all(a.stop == b.start for a, b in zip(slices, slices[1:]))
    assert all(s.stop > s.start for s in slices) or (len(cost) == 0 and len(slices) == 1)
    total = sum(cost)
    if total <= budget:
        assert len(slices) == 1
    for s in slices:  # documented bound: at most the budget plus the chunk's last RoI
        chunk = cost[s]
        assert sum(chunk) <= budget or sum(chunk[:-1]) < budget
    assert (len(slices) - 1) * budget <= total  # never needlessly many chunks


def test_chunk_slices_examples():
    assert chunk_slices(torch.tensor([], dtype=torch.long), 10) == [slice(0, 0)]
    assert chunk_slices(torch.tensor([3, 4, 3]), 10) == [slice(0, 3)]
    assert chunk_slices(torch.tensor([5, 5, 5, 5]), 10) == [slice(0, 2), slice(2, 4)]
    # a RoI is never split: one larger than the budget starts a chunk and the next starts anew
    assert chunk_slices(torch.tensor([25, 1]), 10) == [slice(0, 1), slice(1, 2)]


# ----------------------------------------------------------------------------------- BagMax
def loop_bag_max(table, bags, floor=None):
    """Max per bag and channel with Python comparisons: the first row starts the maximum, a
    later row replaces it only if strictly larger; empty bag 0, below ``floor`` floor, and
    both without an argmax. Returns (out, argmax) as nested lists (argmax None: no row)."""
    rows = table.tolist()
    out, arg = [], []
    for bag in bags:
        o, a = [], []
        for c in range(len(rows[0])):
            best, at = 0.0, None
            for r in bag:
                if at is None or rows[r][c] > best:
                    best, at = rows[r][c], r
            if at is not None and floor is not None and not best > floor:
                best, at = floor, None
            o.append(best)
            a.append(at)
        out.append(o)
        arg.append(a)
    return out, arg


def _bag_args(bags, device):
    index = torch.tensor([r for bag in bags for r in bag], dtype=torch.long, device=device)
    sizes = torch.tensor([len(bag) for bag in bags], dtype=torch.long, device=device)
    return index, torch.cumsum(sizes, 0) - sizes  # index [E], offsets [B]


def _check_bag_max(table, bags, floor, device):
    table = table.to(device).requires_grad_()
    index, offsets = _bag_args(bags, device)
    out = BagMax.apply(table, index, offsets, floor)
    ref, arg = loop_bag_max(table.detach().cpu(), bags, floor)
    torch.testing.assert_close(out.cpu(), torch.tensor(ref, dtype=table.dtype), equal_nan=True,
                               rtol=0, atol=0)
    grad_out = torch.randn(out.shape, dtype=table.dtype)
    out.backward(grad_out.to(device))
    ref_grad = torch.zeros(table.shape, dtype=table.dtype)  # the whole gradient to the argmax
    for (b, c), g in zip(itertools.product(range(len(bags)), range(table.shape[1])),
                         grad_out.flatten().tolist()):
        if arg[b][c] is not None:
            ref_grad[arg[b][c], c] += g
    torch.testing.assert_close(table.grad.cpu(), ref_grad, rtol=0, atol=1e-12)


@pytest.mark.property
@given(data=st.data())
def test_bag_max_matches_loop(device, data):
    # small integers give many ties; NaN and +-inf anywhere; bags overlap, repeat rows, or are
    # empty; with or without RoI Pool's floor (or one equal to a value, as a tie with floor)
    rows, channels = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 3))
    value = st.one_of(st.integers(-3, 3).map(float), st.sampled_from([NAN, math.inf, -math.inf]))
    table = torch.tensor(data.draw(st.lists(st.lists(value, min_size=channels, max_size=channels),
                                            min_size=rows, max_size=rows)), dtype=torch.float64)
    bags = data.draw(st.lists(st.lists(st.integers(0, rows - 1), max_size=5), min_size=1,
                              max_size=5))
    floor = data.draw(st.sampled_from([None, -FLT_MAX, 0.0]))
    _check_bag_max(table, bags, floor, device)


@pytest.mark.parametrize("floor", [None, -FLT_MAX])
def test_bag_max_ties_nan_and_empty_bags(device, floor):
    table = torch.tensor([[1.0, NAN], [1.0, 2.0], [NAN, 2.0], [-math.inf, -math.inf]])
    bags = [[0, 1], [1, 0], [2, 1], [1, 2], [], [3]]
    _check_bag_max(table, bags, floor, device)  # the loop reference's rules, by hand:
    index, offsets = _bag_args(bags, device)
    out = BagMax.apply(table.to(device), index, offsets, floor).cpu()
    low = NAN if floor is None else -FLT_MAX  # a NaN that starts a bag stays, or hits the floor
    lowest = -math.inf if floor is None else -FLT_MAX
    expected = [[1, low], [1, 2], [low, 2], [1, 2], [0, 0], [lowest, lowest]]
    torch.testing.assert_close(out, torch.tensor(expected), equal_nan=True, rtol=0, atol=0)


def test_bag_max_gradcheck(device):
    # distinct values (no ties, no floor hit): max is differentiable and gradcheck applies
    table = (torch.randperm(15).view(5, 3).double() + 0.1 * torch.rand(5, 3).double()).to(device)
    index, offsets = _bag_args([[0, 2, 4], [1], [], [3, 4, 1, 0]], device)
    table.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: BagMax.apply(t, index, offsets), (table,))
    assert torch.autograd.gradcheck(lambda t: BagMax.apply(t, index, offsets, -FLT_MAX),
                                    (table,))
