"""Figures for ``book/roi_pooling_align.md``: where RoI Pool and RoI Align read a feature map.

Every number drawn comes from :mod:`kernels`: bins from :func:`kernels.roi_pool_bins`, bin
edges and sample points from :func:`kernels.roi_align_grid`, outputs from
:func:`kernels.roi_pool` / :func:`kernels.roi_align`, and the gradient each input cell receives
from their backward passes (``torch.autograd`` with dL/dy = 1 for every output).

Drawing convention: continuous map coordinates, cell ``(h, w)`` covering ``[w, w+1) x [h, h+1)``
(row 0 on top), so a box is drawn where its coordinates say. The kernels index a cell by its
centre (torchvision's convention: a sample at index coordinate ``v`` lies in cell ``round(v)``),
so sample points and RoI Align bin edges are drawn at ``v + 0.5``; the half-cell offset of
``aligned=False`` shows up as sample grids shifted from the box.
"""
from __future__ import annotations

import plotly.graph_objects as go
import torch

import kernels

from .explorer import Param, explorable
from .theme import COLORS, steady_axes

SIZE = 8  # the chapter's 8 x 8 feature map (the notes' worked example)
HALF = 0.5  # index coordinate v (cell centres at integers) -> drawing coordinate v + 0.5
RANGE = [-1.0, SIZE + 1.5]  # fixed axes: boxes may stick out of the map
OUT_X = RANGE[1] + 1.0  # left edge of the output panel, beside the map (map cells as units)


def grad_x(pw: int) -> float:
    """Left edge of the gradient panel, after an output panel ``pw`` cells wide (at least 3,
    the sliders' largest, so that every static frame keeps the same axes)."""
    return OUT_X + max(3, pw) + 1.5

# RoI Align presets: box (x1, y1, x2, y2) in map cells.
BOXES = {
    "notes' proposal (0, 3)-(7, 8)": (0.0, 3.0, 7.0, 8.0),
    "fractional (0.7, 2.6)-(6.3, 7.4)": (0.7, 2.6, 6.3, 7.4),
    "small (2.2, 2.3)-(3.6, 3.4)": (2.2, 2.3, 3.6, 3.4),
    "partly outside (5.4, 5.2)-(9.3, 8.9)": (5.4, 5.2, 9.3, 8.9),
}


def feature_map() -> torch.Tensor:
    """The chapter's ``Tensor[1, 1, 8, 8]``: 1..64 in a fixed shuffled order (no ties)."""
    g = torch.Generator().manual_seed(7)
    return (torch.randperm(SIZE * SIZE, generator=g) + 1).float().view(1, 1, SIZE, SIZE)


def _rect(x0, y0, x1, y1):
    return [x0, x1, x1, x0, x0, None], [y0, y0, y1, y1, y0, None]


def _outline(rects):
    xs, ys = [], []
    for r in rects:
        x, y = _rect(*r)
        xs += x
        ys += y
    return xs, ys


def _gradient(op, x, box, **kw):
    """Output and dL/dx of ``op`` for one box, L = sum of outputs (every dL/dy = 1)."""
    x = x.clone().requires_grad_()
    out = op(x, torch.tensor([[0.0, *box]]), **kw)
    out.sum().backward()
    return out.detach()[0, 0], x.grad[0, 0]


def _cell_indices(rows: int, cols: int) -> list:
    """``"h, w"`` per cell, for the hover: cells are drawn at centres ``i + 0.5``, which a
    ``%{y:.0f}`` format would round up (0.5 -> "1")."""
    return [[f"{h}, {w}" for w in range(cols)] for h in range(rows)]


def _cell_text(v: float) -> str:
    """A gradient as a projector shows it in an 8 x 8 cell: two decimals (the hover keeps
    the exact value), whole numbers bare, "<.01" for a weight too small to print, "" for 0."""
    if v == 0:
        return ""
    if float(v).is_integer():
        return str(int(v))
    return "<.01" if abs(v) < 0.005 else f"{v:.2f}"


def _figure(title, bins, quantised, box, points, out, grad, grad_title, read, print_map):
    """Three panels side by side: the map with the geometry; the output; the gradient on the
    map, all in one pair of axes (map cells as units). ``read``: an 8 x 8 mask of the cells
    the op reads. ``print_map``: print the map's values on those cells (RoI Pool: the values a
    bin's maximum is taken from), else the gradient's, which is not zero only there (RoI Align:
    the bilinear weights); the other panel shows its values by colour and hover.

    Light to redraw (issue 14: a static frame switch within 16 ms; plotly draws the whole
    figure again on every switch, and each pair of axes costs as much as a panel's content):
    one plot area instead of three, the output and the gradient placed beside the map at
    :data:`OUT_X` and :func:`grad_x`; values printed on one of map and gradient only, and
    only on the cells the op reads (plotly lays out every label again on every switch); tick
    labels only at cell edges, no tick marks; the panels' names are second lines of tick
    labels (each layout annotation cost plotly about as much as twenty tick labels); no legend
    (a tenth of a switch): the title's last line is the key; no zoom (``fixedrange``: the next
    frame would reset it anyway), which spares plotly its drag handles. The hover names every
    cell by its own indices (``customdata``).
    """
    x = feature_map()[0, 0]
    centres = [i + HALF for i in range(SIZE)]
    ph, pw = out.shape
    gx = grad_x(pw)
    oy = (SIZE - ph) / 2  # the output panel sits level with the middle of the map
    tx, ty = _outline(bins)
    qx, qy = _outline([quantised] if quantised else [])
    bx, by = _outline([box])
    line = dict(color="#111", width=2)
    g = [[round(v, 4) for v in row] for row in grad.tolist()]
    fig = go.Figure([
        go.Heatmap(z=x.int().tolist(), x=centres, y=centres, colorscale="Greys", zmin=-20,
                   zmax=90, showscale=False, texttemplate="%{text}", textfont=dict(size=10),
                   text=[[str(v) if r and print_map else "" for v, r in zip(row, rs)]
                         for row, rs in zip(x.int().tolist(), read.tolist())],
                   customdata=_cell_indices(SIZE, SIZE),
                   hovertemplate="x[%{customdata}] = %{z}<extra></extra>"),
        go.Scatter(x=tx, y=ty, mode="lines", line=dict(color=COLORS[0], width=2.5),
                   name="bins", hoverinfo="skip"),
        go.Scatter(x=qx, y=qy, mode="lines", line=dict(color=COLORS[3], width=2, dash="dot"),
                   name="quantised RoI", hoverinfo="skip"),
        go.Scatter(x=bx, y=by, mode="lines", line=dict(line, dash="dash"), name="RoI",
                   hoverinfo="skip"),
        go.Scatter(x=points[0], y=points[1], mode="markers", name=points[2],
                   marker=dict(color=COLORS[1], size=7, line=dict(color="#111", width=1)),
                   hovertemplate="(%{x:.3f}, %{y:.3f})<extra></extra>"),
        go.Heatmap(z=[[round(v, 3) for v in row] for row in out.tolist()],
                   text=[[f"{v:.3g}" for v in row] for row in out.tolist()],  # 3 digits drawn
                   x=[OUT_X + j + HALF for j in range(pw)], y=[oy + i + HALF for i in range(ph)],
                   customdata=_cell_indices(ph, pw),
                   colorscale="Blues", showscale=False, texttemplate="%{text}",
                   hovertemplate="y[%{customdata}] = %{z}<extra></extra>"),
        go.Heatmap(z=g, x=[gx + c for c in centres], y=centres, colorscale="Oranges",
                   showscale=False,
                   text=[["" if print_map else _cell_text(v) for v in row] for row in g],
                   customdata=_cell_indices(SIZE, SIZE),
                   texttemplate="%{text}", textfont=dict(size=10),
                   hovertemplate="dL/dx[%{customdata}] = %{z}<extra></extra>"),
    ])
    cells = list(range(SIZE + 1))
    ticks = dict([(c, str(c)) for c in cells] + [(OUT_X + j + HALF, str(j)) for j in range(pw)]
                 + [(gx + c, str(c)) for c in cells])
    # each panel's name under the middle of the panel, as the second line of a tick label
    for at, name in ((SIZE / 2, f"feature map x ({SIZE}×{SIZE})"),
                     (OUT_X + pw / 2, f"output y ({ph}×{pw})"), (gx + SIZE / 2, grad_title)):
        ticks[at] = f"{ticks.get(at, '')}<br>{name}"
    # the key names the drawn lines and points by their traces' names (the title is HTML)
    looks = ("blue", "dotted", "dashed", "orange dots")  # traces 1-4, as styled above
    key = " · ".join(f"{look}: {t.name}" for look, t in zip(looks, fig.data[1:5]) if len(t.x))
    fig.update_layout(
        title=dict(text=f"{title}<br><sup>{key}</sup>", font=dict(size=14)), height=355,
        margin=dict(l=30, r=10, t=20, b=50), showlegend=False,
        xaxis=dict(range=[RANGE[0], gx + SIZE + HALF], tickvals=list(ticks),
                   ticktext=list(ticks.values())),
        yaxis=dict(range=RANGE[::-1], tickvals=cells, scaleanchor="x"),
    )
    return steady_axes(fig, showgrid=False, zeroline=False, constrain="domain", ticks="",
                       fixedrange=True)


# RoI Pool's sliders: coordinates on exact halves (C's round sends them away from zero), the
# notes' proposal (0, 3)-(7, 8) and its 5 x 7 reading (0, 3)-(6, 7).
@explorable(x1=Param((0.0, 0.5, 1.4), "x1", default=0.0),
            y1=Param((2.5, 3.0, 3.4), "y1", default=3.0),
            x2=Param((6.0, 6.5, 7.0), "x2", default=7.0),
            y2=Param((7.0, 7.5, 8.0), "y2", default=8.0),
            output_size=Param((2, 3), "Output size P"),
            spatial_scale=Param((1.0, 0.5), "spatial_scale"))
def roi_pool_figure(x1=0.0, y1=3.0, x2=7.0, y2=8.0, output_size=2, spatial_scale=1.0):
    """RoI Pool of one box ``(x1, y1, x2, y2)`` (image pixels; map cells when the scale is 1)
    on the 8 x 8 map: the box, its quantised cells, the clipped bins, their argmax cells."""
    box = (x1, y1, x2, y2)
    bins = kernels.roi_pool_bins(box, output_size, spatial_scale, height=SIZE, width=SIZE)
    out, grad = _gradient(kernels.roi_pool, feature_map(), box, output_size=output_size,
                          spatial_scale=spatial_scale)
    # a bin covers cells [start, end): its drawn edges are exactly those integers
    rects = [(c0, r0, c1, r1) for r0, r1 in bins.rows.tolist() for c0, c1 in bins.cols.tolist()
             if r1 > r0 and c1 > c0]
    qx0, qy0, qx1, qy1 = bins.roi.tolist()  # cells x1'..x2' inclusive
    hit = torch.nonzero(grad > 0)
    read = torch.zeros(SIZE, SIZE, dtype=torch.bool)  # every cell of a non-empty bin
    for c0, r0, c1, r1 in rects:
        read[r0:r1, c0:c1] = True
    points = ([w + HALF for w in hit[:, 1].tolist()], [h + HALF for h in hit[:, 0].tolist()],
              "argmax cells")
    s = spatial_scale
    title = (f"RoI Pool: box ({x1:g}, {y1:g})–({x2:g}, {y2:g}) × {s:g} → cells "
             f"{qx0}..{qx1} × {qy0}..{qy1}<br><sup>rows per bin "
             f"{[tuple(r) for r in bins.rows.tolist()]}, columns "
             f"{[tuple(c) for c in bins.cols.tolist()]} (clipped, end excluded)</sup>")
    return _figure(title, rects, (qx0, qy0, qx1 + 1, qy1 + 1),
                   tuple(v * s for v in box), points, out, grad, "dL/dx (bins routed here)", read,
                   print_map=True)


@explorable(box=Param(tuple(BOXES), "Box", default="fractional (0.7, 2.6)-(6.3, 7.4)"),
            output_size=Param((2, 3), "Output size P"),
            sampling_ratio=Param((-1, 1, 2), "sampling_ratio",
                                 fmt=lambda v: "adaptive (-1)" if v <= 0 else str(v)),
            aligned=Param((False, True), "aligned"),
            mode=Param(("avg", "max"), "mode"))
def roi_align_figure(box="fractional (0.7, 2.6)-(6.3, 7.4)", output_size=2, sampling_ratio=-1,
                     aligned=False, mode="avg", spatial_scale=1.0):
    """RoI Align of one preset box (a key of :data:`BOXES`, or a 4-tuple) on the 8 x 8 map:
    the box, the bins and sample points where the kernel samples, outputs and gradient."""
    coords = BOXES[box] if isinstance(box, str) else tuple(box)
    g = kernels.roi_align_grid(coords, output_size, spatial_scale, sampling_ratio, aligned)
    out, grad = _gradient(kernels.roi_align, feature_map(), coords, output_size=output_size,
                          spatial_scale=spatial_scale, sampling_ratio=sampling_ratio,
                          aligned=aligned, mode=mode)
    ye, xe = (g.y_edges + HALF).tolist(), (g.x_edges + HALF).tolist()
    rects = [(xe[j], ye[i], xe[j + 1], ye[i + 1]) for i in range(len(ye) - 1)
             for j in range(len(xe) - 1)]
    ys, xs = (g.ys + HALF).flatten().tolist(), (g.xs + HALF).flatten().tolist()
    points = ([x for _ in ys for x in xs], [y for y in ys for _ in xs], "sample points")
    gh, gw = g.ys.shape[1], g.xs.shape[1]
    how = "average" if mode == "avg" else "maximum"
    title = (f"RoI Align ({how}, aligned={aligned}): {gh}×{gw} samples per bin "
             f"({'adaptive' if sampling_ratio <= 0 else 'sampling_ratio'})<br><sup>bins "
             f"{(xe[1] - xe[0]):.3g} × {(ye[1] - ye[0]):.3g} cells; every sample is a bilinear "
             f"mix of its 4 nearest cell centres</sup>")
    # the cells the samples read: those with a bilinear weight, i.e. where the average's
    # gradient is not zero (the maximum's reaches only the winning samples' cells)
    read = (grad if mode == "avg" else _gradient(
        kernels.roi_align, feature_map(), coords, output_size=output_size,
        spatial_scale=spatial_scale, sampling_ratio=sampling_ratio, aligned=aligned)[1]) > 0
    s = spatial_scale
    return _figure(title, rects, None, tuple(v * s for v in coords), points, out, grad,
                   "dL/dx (bilinear weights)", read, print_map=False)


def misalignment_figure(x, curves, ytitle="worst |bin start − true bin start| (image pixels)"):
    """Lines ``curves[name]`` (misalignment in image pixels) against box position ``x``.

    The chapter computes the curves with :func:`kernels.roi_pool_bins` and
    :func:`kernels.roi_align_grid`; this only draws them.
    """
    dash = ["solid", "dot", "dash", "dashdot"]
    fig = go.Figure([go.Scatter(x=list(x), y=[round(v, 3) for v in ys], mode="lines",
                                name=name, line=dict(color=COLORS[i % len(COLORS)],
                                                     dash=dash[i % len(dash)], width=2),
                                hovertemplate="x1 = %{x} px: %{y} px<extra>" + name + "</extra>")
                     for i, (name, ys) in enumerate(curves.items())])
    fig.update_layout(height=380, xaxis_title="left edge x1 of the box (image pixels)",
                      yaxis_title=ytitle,
                      legend=dict(orientation="h", y=1.02, yanchor="bottom"),
                      margin=dict(t=60))
    return fig


INSET = 0.06  # bin outlines drawn just inside their cells, so overlapping bins show both edges


def even_split(start: int, length: int, parts: int) -> list[tuple[int, int]]:
    """``length`` cells from ``start`` cut into ``parts`` runs that do not overlap, the shorter
    first: ``[start + floor(i n / P), start + floor((i + 1) n / P))``, as the animation of the
    notes draws it (5 rows into 2 + 3, 7 columns into 3 + 4). Not what RoI Pool computes."""
    return [(start + i * length // parts, start + (i + 1) * length // parts)
            for i in range(parts)]


def bin_split_figure(box=(0.0, 3.0, 6.0, 7.0), output_size=2):
    """Two grids side by side for one box on the 8 x 8 map: the animation's non-overlapping
    split of the quantised region, and the bins of :func:`kernels.roi_pool_bins` (floor / ceil
    edges, which overlap). Each cell shows how many bins cover it."""
    bins = kernels.roi_pool_bins(box, output_size, height=SIZE, width=SIZE)
    x1, y1, x2, y2 = bins.roi.tolist()  # inclusive cells of the quantised RoI
    rows = even_split(y1, min(y2, SIZE - 1) - y1 + 1, output_size)
    cols = even_split(x1, min(x2, SIZE - 1) - x1 + 1, output_size)
    panels = [("animation: no overlap", rows, cols),
              ("kernels.roi_pool_bins: floor / ceil", bins.rows.tolist(), bins.cols.tolist())]
    centres = [i + HALF for i in range(SIZE)]
    traces, axes = [], {}
    for k, (name, rs, cs) in enumerate(panels):
        xa, ya = ("x", "y") if k == 0 else ("x2", "y2")
        count = [[0] * SIZE for _ in range(SIZE)]
        for r0, r1 in rs:
            for c0, c1 in cs:
                for h in range(r0, r1):
                    for w in range(c0, c1):
                        count[h][w] += 1
        traces.append(go.Heatmap(
            z=count, x=centres, y=centres, zmin=0, zmax=4, colorscale="Blues", showscale=False,
            text=[[str(v) if v else "" for v in row] for row in count], texttemplate="%{text}",
            customdata=_cell_indices(SIZE, SIZE), xaxis=xa, yaxis=ya,
            hovertemplate="cell [%{customdata}]: in %{z} bins<extra></extra>"))
        for i, (r0, r1) in enumerate(rs):
            for j, (c0, c1) in enumerate(cs):
                bx, by = _rect(c0 + INSET, r0 + INSET, c1 - INSET, r1 - INSET)
                traces.append(go.Scatter(
                    x=bx, y=by, mode="lines", xaxis=xa, yaxis=ya, hoverinfo="skip",
                    line=dict(color=COLORS[(i * len(cs) + j) % len(COLORS)], width=2.5),
                    name=f"bin ({i}, {j})", legendgroup=f"{i}{j}", showlegend=k == 0))
        sizes = " + ".join(str(r1 - r0) for r0, r1 in rs), " + ".join(str(c1 - c0)
                                                                      for c0, c1 in cs)
        axes[f"xaxis{'' if k == 0 else 2}"] = dict(
            domain=[0, 0.47] if k == 0 else [0.53, 1], range=[0, SIZE], dtick=1,
            showgrid=False, constrain="domain", anchor=ya,
            title=f"{name}<br>rows {sizes[0]}, columns {sizes[1]}")
        axes[f"yaxis{'' if k == 0 else 2}"] = dict(range=[SIZE, 0], dtick=1, showgrid=False,
                                                   scaleanchor=xa, anchor=xa)
    fig = go.Figure(traces)
    box_text = ", ".join(f"{v:g}" for v in box)
    fig.update_layout(height=440, margin=dict(l=30, r=10, t=20, b=40), **axes,
                      legend=dict(orientation="h", y=-0.3, yanchor="top", x=0),
                      title=dict(text=f"box ({box_text}) → cells {x1}..{x2} × {y1}..{y2}, "
                                      f"{output_size} × {output_size} bins", font=dict(size=14)))
    return fig
