"""The RoI figures draw what the kernels compute (outputs and gradients checked against the loop
reference), keep the same traces and axes in every frame, fit a static page, and drive live."""
import itertools

import pytest
import torch

import kernels
from kernels.viz import Explorer
from kernels.viz import roi_pooling_align as V
from roi_reference import roi_align_ref, roi_pool_ref

BINS, QUANTISED, BOX, POINTS, OUTPUT, GRAD = 1, 2, 3, 4, 5, 6  # trace order of every figure
POOL_DEFAULT = {name: p.initial for name, p in V.roi_pool_figure.params.items()}


def _z(trace):
    return torch.tensor([list(row) for row in trace.z], dtype=torch.float64)


def _rects(trace):
    """The rectangles of an outline trace: (x0, y0, x1, y1) per None-separated loop."""
    xs, ys = list(trace.x), list(trace.y)
    return sorted((min(xs[i:i + 5]), min(ys[i:i + 5]), max(xs[i:i + 5]), max(ys[i:i + 5]))
                  for i in range(0, len(xs), 6))


def _grid(fn):
    """Every point of the grid declared for ``fn`` (the chapter's sliders), as kwargs."""
    g = {name: p.values for name, p in fn.params.items()}
    return [dict(zip(g, combo)) for combo in itertools.product(*g.values())]


def test_pool_figure_notes_example_by_hand():
    # the notes' 5 x 7 region: box (0, 3)-(6, 7), inclusive cells -> rows 3..7, cols 0..6;
    # bins 2.5 x 3.5 cells: rows [3, 6) and [5, 8), columns [0, 4) and [3, 7) (they overlap)
    fig = V.roi_pool_figure(0.0, 3.0, 6.0, 7.0, 2)
    assert _rects(fig.data[BINS]) == sorted((c0, r0, c1, r1) for r0, r1 in ((3, 6), (5, 8))
                                            for c0, c1 in ((0, 4), (3, 7)))
    assert _rects(fig.data[QUANTISED]) == [(0, 3, 7, 8)]
    assert _rects(fig.data[BOX]) == [(0, 3, 6, 7)]


@pytest.mark.parametrize("change", [{}, dict(x1=0.5, y1=2.5, x2=6.5, y2=7.5, output_size=3),
                                    dict(x1=1.4, y2=7.0, spatial_scale=0.5)])
def test_pool_figure_draws_the_kernel(change):
    p = {**POOL_DEFAULT, **change}
    fig = V.roi_pool_figure(**p)
    box = (p["x1"], p["y1"], p["x2"], p["y2"])
    rois = torch.tensor([[0.0, *box]])
    out, grad = roi_pool_ref(V.feature_map(), rois, p["output_size"], p["spatial_scale"])
    torch.testing.assert_close(_z(fig.data[OUTPUT]), out[0, 0])
    torch.testing.assert_close(_z(fig.data[GRAD]), grad[0, 0])
    bins = kernels.roi_pool_bins(box, p["output_size"], p["spatial_scale"], height=8, width=8)
    assert _rects(fig.data[BINS]) == sorted((c0, r0, c1, r1) for r0, r1 in bins.rows.tolist()
                                            for c0, c1 in bins.cols.tolist())
    x1, y1, x2, y2 = bins.roi.tolist()
    assert _rects(fig.data[QUANTISED]) == [(x1, y1, x2 + 1, y2 + 1)]
    s = p["spatial_scale"]
    assert _rects(fig.data[BOX]) == [(box[0] * s, box[1] * s, box[2] * s, box[3] * s)]
    hit = sorted(zip(fig.data[POINTS].y, fig.data[POINTS].x))  # argmax markers: cell centres
    assert hit == sorted((h + 0.5, w + 0.5) for h, w in torch.nonzero(grad[0, 0]).tolist())


@pytest.mark.parametrize("p", [dict(), dict(box="notes' proposal (0, 3)-(7, 8)", output_size=3,
                                            sampling_ratio=2, aligned=True, mode="max"),
                               dict(box="partly outside (5.4, 5.2)-(9.3, 8.9)", sampling_ratio=1,
                                    mode="max"),
                               dict(box="small (2.2, 2.3)-(3.6, 3.4)", aligned=True)])
def test_align_figure_draws_the_kernel(p):
    fig = V.roi_align_figure(**p)
    full = dict(box="fractional (0.7, 2.6)-(6.3, 7.4)", output_size=2, sampling_ratio=-1,
                aligned=False, mode="avg") | p
    box = V.BOXES[full.pop("box")]
    out, grad = roi_align_ref(V.feature_map(), torch.tensor([[0.0, *box]]), **full)
    torch.testing.assert_close(_z(fig.data[OUTPUT]), out[0, 0], rtol=0, atol=1e-3)
    torch.testing.assert_close(_z(fig.data[GRAD]), grad[0, 0], rtol=0, atol=1e-4)
    g = kernels.roi_align_grid(box, full["output_size"], 1.0, full["sampling_ratio"],
                               full["aligned"])
    want = sorted((y + 0.5, x + 0.5) for y in g.ys.flatten().tolist()
                  for x in g.xs.flatten().tolist())  # index coordinates drawn at v + 0.5
    got = sorted(zip(fig.data[POINTS].y, fig.data[POINTS].x))
    torch.testing.assert_close(torch.tensor(got).view(-1, 2), torch.tensor(want).view(-1, 2))
    torch.testing.assert_close(torch.tensor(_rects(fig.data[BOX])), torch.tensor([box]))
    assert fig.data[QUANTISED].x == ()  # RoI Align does not quantise


def test_same_traces_and_axes_in_every_frame():
    # the static page stores only differences from a base figure: keep traces and axes fixed
    frames = ([V.roi_pool_figure(**p) for p in _grid(V.roi_pool_figure)[::13]] +
              [V.roi_align_figure(**p) for p in _grid(V.roi_align_figure)[::5]])
    base = frames[0]
    for fig in frames:
        assert [t.type for t in fig.data] == [t.type for t in base.data]
        for axis in ("xaxis", "yaxis"):
            assert fig.layout[axis].range == base.layout[axis].range


def test_three_panels_share_one_pair_of_axes():
    """plotly draws the whole figure again on every frame switch (issue 14: <= 16 ms per
    switch), and each pair of axes costs as much as a panel's content: the map, the output
    and the gradient sit side by side on one pair of axes in map cells, the gradient exactly
    the map's cells shifted right, labelled at the same cell edges; no tick marks (the cells
    are the grid), no zoom (no drag handles), and the hover names cells by their own indices."""
    fig_align = V.roi_align_figure()
    for fig in (V.roi_pool_figure(), V.roi_pool_figure(output_size=3), fig_align):
        lay = fig.layout
        assert {t.xaxis or "x" for t in fig.data} == {"x"} and {t.yaxis or "y" for t in
                                                                fig.data} == {"y"}
        assert "xaxis2" not in lay.to_plotly_json()
        x, out, grad = fig.data[0], fig.data[OUTPUT], fig.data[GRAD]
        gx = V.grad_x(len(out.x))
        assert list(grad.x) == [v + gx for v in x.x] and list(grad.y) == list(x.y)
        assert V.RANGE[1] < min(out.x) - V.HALF and max(out.x) + V.HALF < gx  # no overlap
        assert lay.xaxis.range[1] >= gx + V.SIZE and lay.yaxis.range[0] >= V.SIZE
        ticks = dict(zip(lay.xaxis.tickvals, lay.xaxis.ticktext))
        numbers = {at: text.split("<br>")[0] for at, text in ticks.items()}
        assert [numbers[c] for c in range(V.SIZE + 1)] == [numbers[gx + c] for c in
                                                           range(V.SIZE + 1)] == \
            [str(c) for c in range(V.SIZE + 1)]
        # each panel named under its middle, on a tick label's second line (no annotations)
        ph, pw = len(out.z), len(out.z[0])
        names = {at: text.split("<br>")[1] for at, text in ticks.items() if "<br>" in text}
        assert names == {V.SIZE / 2: f"feature map x ({V.SIZE}×{V.SIZE})",
                         V.OUT_X + pw / 2: f"output y ({ph}×{pw})",
                         gx + V.SIZE / 2: names[gx + V.SIZE / 2]}
        assert names[gx + V.SIZE / 2].startswith("dL/dx") and not lay.annotations
        # no legend (a tenth of a switch): the title's last line names every line drawn
        key = lay.title.text.split("<br>")[-1]
        assert lay.showlegend is False and key.startswith("<sup>blue: bins · ")
        assert [t.name for t in fig.data[1:5] if len(t.x) and f": {t.name}" in key] == \
            [t.name for t in fig.data[1:5] if len(t.x)]
        assert ("quantised RoI" in key) == (fig is not fig_align)
        assert list(lay.yaxis.tickvals) == list(range(V.SIZE + 1))
        assert lay.xaxis.ticks == lay.yaxis.ticks == ""
        assert lay.xaxis.fixedrange and lay.yaxis.fixedrange
        assert all(t.showscale is False for t in fig.data if t.type == "heatmap")
        assert [list(r) for r in out.customdata] == [[f"{i}, {j}" for j in range(pw)]
                                                     for i in range(ph)]
        # the hover names a cell by its indices, not its drawn centre (0.5 formats as "1")
        for trace in (x, grad):
            assert trace.customdata[2][5] == "2, 5" and "%{customdata}" in trace.hovertemplate
        assert "%{customdata}" in out.hovertemplate


def test_values_are_printed_where_the_op_reads():
    """Values are printed only on the cells the op reads, and on one panel only (every label
    costs plotly work on every switch; hover shows any cell): RoI Pool prints the map on every
    cell of its bins (where a bin's maximum comes from); RoI Align prints the gradient, the
    bilinear weights, on every cell a sample weighs (where the average's gradient is not zero)."""
    x = V.feature_map()[0, 0].int()
    shown = lambda trace: torch.tensor([[t != "" for t in row] for row in trace.text])  # noqa: E731
    for p in _grid(V.roi_pool_figure)[::7]:
        fig = V.roi_pool_figure(**p)
        bins = kernels.roi_pool_bins((p["x1"], p["y1"], p["x2"], p["y2"]), p["output_size"],
                                     p["spatial_scale"], height=V.SIZE, width=V.SIZE)
        want = torch.zeros(V.SIZE, V.SIZE, dtype=torch.bool)
        for r0, r1 in bins.rows.tolist():
            for c0, c1 in bins.cols.tolist():
                want[r0:r1, c0:c1] = True
        assert torch.equal(shown(fig.data[0]), want), p
        assert not shown(fig.data[GRAD]).any()
        assert (_z(fig.data[GRAD])[~want] == 0).all()  # the argmax of a bin lies in the bin
    for p in _grid(V.roi_align_figure)[::5]:
        fig = V.roi_align_figure(**p)
        avg = V.roi_align_figure(**{**p, "mode": "avg"})
        grad = _z(fig.data[GRAD])
        assert not shown(fig.data[0]).any()
        assert torch.equal(shown(avg.data[GRAD]), _z(avg.data[GRAD]) > 0), p
        # max: only the winning samples' cells have a gradient, all of them read by avg too
        assert torch.equal(shown(fig.data[GRAD]), (grad > 0) & (_z(avg.data[GRAD]) > 0)), p
        assert torch.equal(grad > 0, shown(fig.data[GRAD])), p
        assert all(t in ("", V._cell_text(v)) for row_t, row_v in
                   zip(fig.data[GRAD].text, grad.tolist()) for t, v in zip(row_t, row_v))
    fig = V.roi_pool_figure()
    assert all(t in ("", str(v)) for row_t, row_v in zip(fig.data[0].text, x.tolist())
               for t, v in zip(row_t, row_v))


def test_live_explorers_redraw_from_the_kernels():
    pool, align = Explorer(V.roi_pool_figure), Explorer(V.roi_align_figure)
    pool.controls["x2"].value = 6.0
    pool.controls["y2"].value = 7.0
    want = kernels.roi_pool(V.feature_map(), torch.tensor([[0, 0, 3, 6, 7.0]]), 2)
    torch.testing.assert_close(_z(pool.figure.data[OUTPUT]), want[0, 0].double())
    align.controls["mode"].value = "max"
    align.controls["aligned"].value = True
    box = V.BOXES["fractional (0.7, 2.6)-(6.3, 7.4)"]
    want = kernels.roi_align(V.feature_map(), torch.tensor([[0, *box]]), 2, aligned=True,
                             mode="max")
    torch.testing.assert_close(_z(align.figure.data[OUTPUT]), want[0, 0].double(), rtol=0,
                               atol=1e-3)


def test_misalignment_figure_draws_its_curves():
    fig = V.misalignment_figure([0, 1, 2], {"a": [0.0, -0.25, 0.5], "b": [1.0, 2.0, 3.0]})
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].y) == [0.0, -0.25, 0.5] and list(fig.data[1].x) == [0, 1, 2]


def test_bin_split_figure_sets_the_animation_beside_the_kernel():
    # the notes' 5 x 7 region, box (0, 3)-(6, 7): the animation cuts rows 2 + 3 and columns
    # 3 + 4 with no overlap; the kernel's floor / ceil bins share row 5 and column 3
    fig = V.bin_split_figure((0.0, 3.0, 6.0, 7.0), 2)
    naive, kernel = [[t for t in fig.data if t.xaxis == axis] for axis in ("x", "x2")]
    inset = V.INSET
    grow = lambda rects: sorted((round(x0 - inset, 6), round(y0 - inset, 6), round(x1 + inset, 6),
                                 round(y1 + inset, 6)) for x0, y0, x1, y1 in rects)  # noqa: E731
    assert grow(r for t in naive[1:] for r in _rects(t)) == \
        sorted((c0, r0, c1, r1) for r0, r1 in ((3, 5), (5, 8)) for c0, c1 in ((0, 3), (3, 7)))
    bins = kernels.roi_pool_bins((0.0, 3.0, 6.0, 7.0), 2, height=8, width=8)
    assert grow(r for t in kernel[1:] for r in _rects(t)) == \
        sorted((c0, r0, c1, r1) for r0, r1 in bins.rows.tolist() for c0, c1 in bins.cols.tolist())
    assert naive[0].customdata[5][3] == "5, 3" and "%{customdata}" in naive[0].hovertemplate
    count_naive, count_kernel = _z(naive[0]), _z(kernel[0])
    assert count_naive.sum() == 35 and count_naive.max() == 1  # a partition of the 5 x 7 cells
    assert count_kernel[5, 3] == 4 and count_kernel.sum() == 4 * 3 * 4  # each bin 3 x 4 cells
    assert V.even_split(3, 5, 2) == [(3, 5), (5, 8)] and V.even_split(0, 7, 2) == [(0, 3), (3, 7)]


def test_cell_numbers_are_short_enough_for_a_projector():
    """Issue 15 item 7: the output and gradient cells show at most 4 characters (3 significant
    digits, two decimals), not the 5-digit values that overlapped at 1280 x 720; the heatmaps'
    z (the hover) stay exact."""
    for fn in (V.roi_align_figure, V.roi_pool_figure):
        for p in _grid(fn):
            fig = fn(**p)
            for k in (OUTPUT, GRAD):
                trace = fig.data[k]
                assert trace.texttemplate == "%{text}"
                drawn = [t for row in trace.text for t in row]
                assert max(map(len, drawn)) <= 4, (fn.__name__, p, drawn)
    fig = V.roi_align_figure()
    assert [list(r) for r in fig.data[OUTPUT].text] == \
        [[f"{v:.3g}" for v in row] for row in fig.data[OUTPUT].z]
    assert any(len(str(v)) > 4 for row in fig.data[OUTPUT].z for v in row)  # z kept exact
    assert [V._cell_text(v) for v in (0, 0.0625, 0.004, 2.0, 0.5)] == \
        ["", "0.06", "<.01", "2", "0.50"]
