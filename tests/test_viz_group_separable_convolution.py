"""The group/separable/shuffle figures draw what kernels computes, on fixed axes, and drive live.

Expected masks are built here by hand from the block rule (output o and input i connected iff
they lie in the same group), independently of kernels.channel_connectivity which the figures use.
"""
import itertools

import torch
import torch.nn.functional as F

import kernels
from kernels.viz import Explorer
from kernels.viz import group_separable_convolution as V


def grid(fn):
    g = {name: p.values for name, p in fn.params.items()}
    return [dict(zip(g, combo)) for combo in itertools.product(*g.values())]


def block_mask(c_out, c_in, groups):
    """[C_out, C_in] bool: same group of C_out/g outputs and C_in/g inputs."""
    o = torch.arange(c_out)[:, None] // (c_out // groups)
    i = torch.arange(c_in)[None, :] // (c_in // groups)
    return o == i


def shuffle_matrix(c, groups):
    """[C, C] permutation: out[i] = in[(i mod g) n + i // g] (the paper's reshape-transpose)."""
    n = c // groups
    p = torch.zeros(c, c, dtype=torch.bool)
    for i in range(c):
        p[i, (i % groups) * n + i // groups] = True
    return p


def stack_mask(c, groups, layers, shuffle):
    m = block_mask(c, c, groups)
    for _ in range(layers - 1):
        if shuffle:
            m = (shuffle_matrix(c, groups).int() @ m.int()) > 0
        m = (block_mask(c, c, groups).int() @ m.int()) > 0
    return m


def z(trace):
    return torch.tensor([list(r) for r in trace.z]).bool()


def test_connectivity_figure_draws_the_block_structure_and_the_counts():
    g = V.connectivity_figure.params
    max_in, max_out = max(g["in_channels"].values), max(g["out_channels"].values)
    max_mid = max_in * max(g["depth_multiplier"].values)
    for p in grid(V.connectivity_figure):
        cin, cout = p["in_channels"], p["out_channels"]
        groups, m = p["groups"], p["depth_multiplier"]
        fig = V.connectivity_figure(**p)
        assert len(fig.data) == 3
        assert torch.equal(z(fig.data[0]), block_mask(cout, cin, groups))
        assert torch.equal(z(fig.data[1]), block_mask(cin * m, cin, cin))  # M filters per channel
        assert z(fig.data[2]).all() and z(fig.data[2]).shape == (cout, cin * m)
        for axis, (nx, ny) in zip((1, 2, 3), [(max_in, max_out), (max_in, max_mid),
                                              (max_mid, max_out)]):
            xa = fig.layout[f"xaxis{'' if axis == 1 else axis}"]
            ya = fig.layout[f"yaxis{'' if axis == 1 else axis}"]
            assert tuple(xa.range) == (-0.5, nx - 0.5) and tuple(ya.range) == (ny - 0.5, -0.5)
        # counts: hand formulas, no bias, on the MAP_SIZE map
        hw = V.MAP_SIZE ** 2
        std, grp = cout * cin * 9, cout * cin * 9 // groups
        sep = cin * m * 9 + cin * m * cout
        title = fig.layout.title.text
        assert f"{std:,} weights, {std * hw:,} multiply-adds" in title
        assert f"{grp:,} weights, {grp * hw:,} multiply-adds" in title
        assert f"{sep:,} weights, {sep * hw:,} multiply-adds" in title


def test_the_counts_agree_with_model_cost():
    costs = V.layer_costs(16, 8, 4, 2)
    assert costs["grouped"].params == 8 * 16 * 9 // 4
    assert costs["separable"].macs == kernels.model_cost(
        kernels.SeparableConv2d(16, 8, 3, padding=1, depth_multiplier=2, bias=False),
        (1, 16, V.MAP_SIZE, V.MAP_SIZE)).macs


def test_shuffle_figure_draws_the_exact_dependency_of_the_stack():
    side = max(V.shuffle_figure.params["channels"].values)
    for p in grid(V.shuffle_figure):
        fig = V.shuffle_figure(**p)
        want = stack_mask(p["channels"], p["groups"], p["layers"], p["shuffle"] == "on")
        assert torch.equal(z(fig.data[0]), want), p
        assert tuple(fig.layout.xaxis.range) == (-0.5, side - 0.5)
        seen = want.sum(1)
        reach = str(int(seen[0])) if (seen == seen[0]).all() else None
        if reach:
            assert f"sees {reach} of the {p['channels']}" in fig.layout.title.text
    # ShuffleNet's Figure 1: without the shuffle one group only, with it all (g^2 <= C)
    assert "sees 4 of the 12" in V.shuffle_figure(12, 3, 3, "off").layout.title.text
    assert "sees 12 of the 12" in V.shuffle_figure(12, 3, 2, "on").layout.title.text


def test_permutation_figure_draws_channel_shuffle():
    for p in grid(V.shuffle_permutation_figure):
        g = p["groups"]
        fig = V.shuffle_permutation_figure(**p)
        x = torch.arange(12.0).reshape(1, 12, 1, 1)
        torch_order = F.channel_shuffle(x, g).flatten().int().tolist()
        assert [int(t) for t in fig.data[2].text] == torch_order
        lines = [y for y in fig.data[0].y if y is not None]
        assert list(zip(lines[0::2], lines[1::2])) == [(j, i) for i, j in enumerate(torch_order)]
        assert tuple(fig.layout.yaxis.range) == (11.5, -0.5)


def test_timing_figure_draws_ratios_to_the_first_row():
    rows = [dict(groups=1, macs=100, memory_access=50, seconds=2.0),
            dict(groups=4, macs=25, memory_access=40, seconds=1.0)]
    fig = V.timing_figure(rows)
    assert [list(t.y) for t in fig.data] == [[1, 0.25], [1, 0.8], [1, 0.5]]
    assert list(fig.data[0].x) == [1, 4]
    assert "measured on the machine that built this page" in fig.layout.title.text


def test_live_explorers_redraw_from_kernels():
    ex = Explorer(V.shuffle_figure)
    before = ex.figure
    ex.controls["shuffle"].value = "off"
    assert torch.equal(z(ex.figure.data[0]), stack_mask(12, 3, 2, False))
    ex.controls["groups"].value = 4
    ex.controls["shuffle"].value = "on"
    assert torch.equal(z(ex.figure.data[0]), stack_mask(12, 4, 2, True))
    assert ex.figure is before  # one live figure, updated in place
    ex = Explorer(V.connectivity_figure)
    ex.controls["groups"].value = 4
    ex.controls["in_channels"].value = 16
    assert torch.equal(z(ex.figure.data[0]), block_mask(8, 16, 4))
