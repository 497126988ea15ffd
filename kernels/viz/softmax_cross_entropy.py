"""Figures for ``book/softmax_cross_entropy.md``.

Every number drawn comes from :mod:`kernels`: probabilities from :func:`kernels.softmax`, the
target from :func:`kernels.smooth_one_hot`, losses from :func:`kernels.cross_entropy` and
gradients from its hand-written backward (through ``torch.autograd``).
"""
import plotly.graph_objects as go
import torch

import kernels

from .explorer import Param, explorable
from .theme import COLORS

# Fixed logits of classes 1..3; the explorer's slider sets class 0. Four classes keep the grid
# at 6 logits x 4 true classes x 5 temperatures x 4 smoothings = 480 <= 512 frames.
BASE_LOGITS = (None, 1.0, 0.0, -1.0)
LOGIT_VALUES = (-2.0, 0.0, 1.0, 2.0, 4.0, 8.0)
TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0)
SMOOTHINGS = (0.0, 0.1, 0.2, 0.4)


def logits(logit=2.0):
    """The explorer's logits ``Tensor[4]``: ``logit`` for class 0, then :data:`BASE_LOGITS`."""
    return torch.tensor((float(logit),) + BASE_LOGITS[1:], dtype=torch.float64)


def softmax_loss_state(logit=2.0, true_class=0, temperature=1.0, label_smoothing=0.0):
    """What the explorer draws, computed by the kernels: a dict with the scaled logits u = z / T,
    p = softmax(u), the target y, the loss and ∂loss/∂u (= p − y) from the manual backward."""
    u = (logits(logit) / temperature).requires_grad_(True)  # the logits the softmax sees
    target = torch.tensor([true_class])
    loss = kernels.cross_entropy(u.unsqueeze(0), target, label_smoothing=label_smoothing)
    (grad,) = torch.autograd.grad(loss, u)
    return dict(u=u.detach(), p=kernels.softmax(u.detach(), 0),
                y=kernels.smooth_one_hot(target, len(u), label_smoothing, torch.float64)[0],
                loss=loss.item(), grad=grad)


def _r(t):
    return [round(v, 4) for v in t.tolist()]


LOGIT = Param(LOGIT_VALUES, "Logit z₀ of class 0", default=2.0)
TEMPERATURE = Param(TEMPERATURES, "Temperature T", default=1.0)


@explorable(logit=LOGIT, true_class=Param(tuple(range(len(BASE_LOGITS))), "True class"),
            temperature=TEMPERATURE, label_smoothing=Param(SMOOTHINGS, "Label smoothing ε"))
def softmax_loss_figure(logit=2.0, true_class=0, temperature=1.0, label_smoothing=0.0):
    """Left: p = softmax(z / T) (bars) against the target y (diamonds). Right: ∂L/∂(z / T) per
    class, which the backward computes as p − y. Title: the loss."""
    s = softmax_loss_state(logit, true_class, temperature, label_smoothing)
    n = len(s["p"])
    names = [f"class {c}<br>z/T = {u:.3g}" for c, u in enumerate(s["u"].tolist())]
    colors = [COLORS[1] if c == true_class else COLORS[0] for c in range(n)]
    fig = go.Figure([
        go.Bar(x=names, y=_r(s["p"]), name="p = softmax(z / T)", marker_color=colors,
               hovertemplate="p = %{y:.4f}<extra></extra>"),
        go.Scatter(x=names, y=_r(s["y"]), mode="markers", name="target y",
                   marker=dict(symbol="diamond", size=13, color="#222"), cliponaxis=False,
                   hovertemplate="y = %{y:.4f}<extra></extra>"),
        go.Bar(x=names, y=_r(s["grad"]), name="∂L/∂(z/T) = p − y", marker_color=colors,
               xaxis="x2", yaxis="y2", hovertemplate="%{y:.4f}<extra></extra>"),
    ])
    fig.update_layout(
        title=dict(text=f"cross-entropy L = {s['loss']:.4f}   (true class {true_class}, "
                        f"T = {temperature:g}, ε = {label_smoothing:g})", font=dict(size=15)),
        height=350, showlegend=False, bargap=0.3,
        xaxis=dict(domain=[0, 0.46]), xaxis2=dict(domain=[0.54, 1], anchor="y2"),
        yaxis=dict(range=[0, 1.1], title="probability  (◆ target y)"),
        yaxis2=dict(range=[-1.05, 1.05], anchor="x2", title="gradient p − y", zeroline=True,
                    zerolinecolor="#888"),
    )
    return fig


@explorable(logit=LOGIT, temperature=TEMPERATURE)
def softmax_jacobian_figure(logit=2.0, temperature=1.0):
    """Heatmap of the softmax Jacobian ∂p_i/∂u_j at u = z / T, from autograd through
    :func:`kernels.softmax` (the chapter shows it equals diag(p) − p pᵀ)."""
    u = logits(logit) / temperature
    jac = torch.autograd.functional.jacobian(lambda t: kernels.softmax(t, 0), u)  # [C, C]
    labels = [f"u{c}" for c in range(len(u))]
    fig = go.Figure(go.Heatmap(
        z=[_r(row) for row in jac], x=labels, y=[f"p{c}" for c in range(len(u))], zmin=-0.25,
        zmax=0.25, colorscale="RdBu", reversescale=True, texttemplate="%{z:.3f}",
        hovertemplate="∂%{y}/∂%{x} = %{z:.4f}<extra></extra>"))
    fig.update_layout(
        title=dict(text=f"softmax Jacobian ∂p/∂u at u = z / T, T = {temperature:g}",
                   font=dict(size=15)),
        height=310, width=460, margin=dict(t=20), yaxis=dict(autorange="reversed", showgrid=False),
        xaxis=dict(side="top", showgrid=False))
    return fig


def smoothing_loss_curves(margins, smoothings=SMOOTHINGS, num_classes=len(BASE_LOGITS)):
    """Loss of one sample whose true class has logit ``m`` and the others 0, for each margin m
    and smoothing ε, from :func:`kernels.cross_entropy`: ``Tensor[len(smoothings), len(margins)]``.
    """
    m = torch.as_tensor(margins, dtype=torch.float64)
    z = torch.zeros(len(m), num_classes, dtype=torch.float64)
    z[:, 0] = m  # [M, C]: class 0 is the true class
    y = torch.zeros(len(m), dtype=torch.long)
    return torch.stack([kernels.cross_entropy(z, y, reduction="none", label_smoothing=e)
                        for e in smoothings])


def smoothing_loss_figure(smoothings=SMOOTHINGS, num_classes=len(BASE_LOGITS)):
    """Loss against the margin of the true logit: without smoothing it keeps falling (the
    optimum is at infinity); with ε > 0 it has a finite minimum (dot)."""
    margins = torch.linspace(-2, 12, 141, dtype=torch.float64)
    curves = smoothing_loss_curves(margins, smoothings, num_classes)
    fig = go.Figure()
    for color, e, curve in zip(COLORS, smoothings, curves):
        best = int(curve.argmin())
        fig.add_trace(go.Scatter(x=_r(margins), y=_r(curve), mode="lines", name=f"ε = {e:g}",
                                 line=dict(color=color)))
        if e > 0:
            fig.add_trace(go.Scatter(x=[round(margins[best].item(), 4)],
                                     y=[round(curve[best].item(), 4)], mode="markers",
                                     marker=dict(color=color, size=10), showlegend=False,
                                     hovertemplate="minimum at margin %{x:.1f}<extra></extra>"))
    fig.update_layout(
        title=dict(text=f"cross-entropy vs margin of the true logit ({num_classes} classes)",
                   font=dict(size=15)),
        height=330, legend=dict(orientation="v", x=1.02, y=1, yanchor="top"),
        xaxis=dict(title="true-class logit − other logits"),
        yaxis=dict(title="loss", range=[0, 2.5]))
    return fig
