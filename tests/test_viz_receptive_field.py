"""The receptive-field figures draw exactly what kernels computes, and drive live."""
import itertools
import json

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

import kernels
from kernels.viz import Explorer, _frames
from kernels.viz import receptive_field as V


def grid(fn):
    """Every point of the grid declared for ``fn`` (the chapter's sliders), as kwargs."""
    g = {name: p.values for name, p in fn.params.items()}
    return [dict(zip(g, combo)) for combo in itertools.product(*g.values())]


def stack_for(p):
    return kernels.conv_stack(p["layers"], p["kernel_size"], p["stride"], p["dilation"],
                              channels=V.ERF_CHANNELS, relu=True)


def test_field_figure_draws_the_kernel_results_for_every_frame():
    n = V.input_side()
    size = (V.ERF_CHANNELS, n, n)
    for p in grid(V.field_figure):
        fig = V.field_figure(**p)
        stack = stack_for(p)
        rf = kernels.receptive_field(stack, size)
        pos = tuple((o - 1) // 2 for o in rf.output_size)
        (t, b), (l, r) = rf.box(pos)
        assert rf.box(pos, clip=True) == ((t, b), (l, r))  # the input holds every field
        mask, outline, centre, erf_map = fig.data[0], fig.data[1], fig.data[2], fig.data[3]
        field = kernels.empirical_receptive_field(stack, size, pos)
        assert np.array_equal(np.asarray(mask.z), (field[t:b + 1, l:r + 1] > 0).numpy())
        assert (field > 0).sum() == (np.asarray(mask.z) == 1).sum()  # nothing outside the box
        assert list(mask.x) == list(range(l, r + 1)) and list(mask.y) == list(range(t, b + 1))
        assert (min(outline.x), max(outline.x), min(outline.y), max(outline.y)) == \
            (l - .5, r + .5, t - .5, b + .5)
        assert (centre.y[0], centre.x[0]) == rf.center_at(pos)
        erf = kernels.effective_receptive_field(stack, size, pos, seeds=V.ERF_SEEDS)
        crop = erf[t:b + 1, l:r + 1]
        np.testing.assert_allclose(erf_map.z, (100 * crop / crop.max()).numpy(), atol=0.5)
        assert erf[:t].sum() == erf[b + 1:].sum() == 0  # the effective field lives in the box
        holes = int((field[t:b + 1, l:r + 1] == 0).sum())
        title = fig.layout.title.text
        # after each layer: the analytic size, and 4 sigma of the path counts
        sizes = [1] + [row.size[0] for row in rf.layers if row.type == "Conv2d"]
        sd = kernels.uniform_erf_std([p["kernel_size"]] * p["layers"], p["stride"], p["dilation"])
        assert len(sizes) == p["layers"] + 1
        assert f"r = {' → '.join(map(str, sizes))};" in title
        assert "path counts = " + " → ".join(f"{round(4 * s, 1):g}" for s in [0.0, *sd]) in title
        assert f"r = {rf.size[0]}, S = {rf.stride[0]}, P = {rf.padding[0]}" in title
        assert (f"{holes} holes" if holes else "no holes") in title
        assert tuple(fig.layout.xaxis.range) == (-0.5, n - 0.5)  # fixed axes: no jumping


def test_pixel_panels_share_their_rows_and_draw_no_tick_marks():
    """Every label and tick mark is drawn again on each frame switch (issue 14: <= 16 ms): the
    figure is the two pixel panels only, with the same rows at the same size, so the effective
    field's rows are not labelled twice; neither panel draws tick marks or zooms (no drag
    handles), and there is no legend."""
    fig = V.field_figure()
    lay = fig.layout
    assert {t.xaxis or "x" for t in fig.data} == {"x", "x2"} and "xaxis3" not in lay.to_plotly_json()
    assert lay.showlegend is False
    assert all(lay[a].fixedrange for a in ("xaxis", "yaxis", "xaxis2", "yaxis2"))
    assert lay.yaxis2.range == lay.yaxis.range
    assert (lay.xaxis.domain[1] - lay.xaxis.domain[0]) == \
        pytest.approx(lay.xaxis2.domain[1] - lay.xaxis2.domain[0])
    assert lay.yaxis2.showticklabels is False and lay.yaxis.showticklabels is not False
    assert all(lay[a].ticks == "" for a in ("xaxis", "yaxis", "xaxis2", "yaxis2"))
    assert not lay.annotations


def test_dilated_frames_show_holes_and_plain_frames_none():
    def holes(**p):
        return int((np.asarray(V.field_figure(**p).data[0].z) == 0).sum())
    assert holes(layers=3, kernel_size=3, stride=1, dilation=1) == 0
    # three 3x3 layers at d = 2 reach only the even offsets: 13*13 - 7*7 holes
    assert holes(layers=3, kernel_size=3, stride=1, dilation=2) == 13 * 13 - 7 * 7


def test_explorer_drives_live_and_builds_a_light_static_page():
    ex = Explorer(V.field_figure)
    ex.controls["kernel_size"].value = 2
    ex.controls["layers"].value = 4
    ex.controls["dilation"].value = 2
    expected = V.field_figure(layers=4, kernel_size=2, stride=1, dilation=2)
    # compared as the page and the widget see them (the widget may keep z base64-encoded)
    live = _frames.figure_json(go.Figure(ex.figure.to_dict()), ex.digits)["data"][0]["z"]
    assert live == _frames.figure_json(expected, ex.digits)["data"][0]["z"]
    assert ex.figure.layout.title.text == expected.layout.title.text
    payload = ex.payload()
    assert len(payload["frames"]) == 32
    assert len(json.dumps(payload)) < 400_000  # bytes on the page for 32 frames


def test_architectures_figure_matches_the_kernel_and_the_published_sizes():
    fig = V.architectures_figure(224)
    fields = V.architecture_fields(224)
    for trace, (label, rf) in zip(fig.data, fields.items()):
        assert trace.name == label
        rows = [row for row in rf.layers if row.kernel not in (None, (1, 1))]
        assert list(trace.y) == [row.size[0] for row in rows]
        assert trace.y[-1] == rf.size[0]
    # Araujo et al. 2019 (TF-Slim models): AlexNet 195, VGG-16 212, ResNet-50 483, MobileNet v1
    # 315. TF-Slim's resnet_v1_50 strides in the 3x3 of a block's last unit, He et al. in the
    # first 1x1 of the next: every 3x3 reads at the same jump, so both give 483.
    last = {t.name: t.y[-1] for t in fig.data if t.name != "input size"}
    assert last == {"AlexNet": 195, "VGG-16": 212, "ResNet-50 (torchvision)": 427,
                    "ResNet-50 (paper)": 483, "MobileNet v1": 315}


def test_erf_figures_draw_the_kernel_numbers():
    growth = kernels.erf_growth(depths=(1, 3), channels=2, seeds=2)
    fig = V.erf_growth_figure(growth)
    assert list(fig.data[0].y) == growth["size"] == [3, 7]
    assert list(fig.data[1].y) == [round(4 * s, 2) for s in growth["erf_std"]]
    assert list(fig.data[2].y) == [round(4 * s, 2) for s in growth["uniform_std"]]
    erf = kernels.effective_receptive_field(kernels.conv_stack(3, channels=2, relu=True),
                                            (2, 11, 11), seeds=2)
    fig = V.erf_profile_figure(erf)
    _, marginal, gauss = kernels.erf_profile(erf, "w")
    np.testing.assert_allclose(fig.data[1].y, marginal.numpy(), atol=1e-4)
    np.testing.assert_allclose(fig.data[2].y, gauss.numpy(), atol=1e-4)
    np.testing.assert_allclose(fig.data[0].z, (100 * erf / erf.max()).numpy(), atol=0.5)


def test_a_live_call_off_the_grid_gets_a_larger_input():
    fig = V.field_figure(layers=6, kernel_size=3, stride=2, dilation=2)
    n = fig.layout.xaxis.range[1] + 0.5
    assert n > V.input_side()
    assert max(fig.data[0].x) < n  # the whole field is drawn


@pytest.mark.parametrize("bad", [dict(layers=0), dict(kernel_size=0)])
def test_bad_slider_values_fail_in_the_kernel(bad):
    with pytest.raises(ValueError, match="must be positive"):
        V.field_figure(**bad)


def test_field_figure_keeps_trace_order_for_the_static_diff():
    types = {tuple(t.type for t in V.field_figure(**p).data) for p in grid(V.field_figure)}
    assert len(types) == 1
    assert torch.get_default_dtype() == torch.float32  # views leave global state alone
