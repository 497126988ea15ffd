"""The softmax chapter's views draw what the kernels compute (checked against torch builtins)."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

from kernels.viz import Explorer
from kernels.viz import softmax_cross_entropy as V

ROUND = dict(rtol=0, atol=1e-4)  # figures store 4 decimals


def _expected(logit, true_class, temperature, eps):
    """Independent numbers from torch builtins: p, target y, p − y, loss."""
    u = V.logits(logit) / temperature
    p = F.softmax(u, 0)
    y = torch.full_like(p, eps / len(p))
    y[true_class] += 1 - eps
    loss = F.cross_entropy(u[None], torch.tensor([true_class]), label_smoothing=eps).item()
    return p, y, p - y, loss


def _explorer():
    return Explorer(V.softmax_loss_figure)


@pytest.mark.parametrize("logit,true_class,temperature,eps",
                         [(2.0, 0, 1.0, 0.0), (8.0, 3, 0.25, 0.4), (-2.0, 1, 4.0, 0.1)])
def test_loss_figure_draws_kernel_numbers(logit, true_class, temperature, eps):
    fig = V.softmax_loss_figure(logit, true_class, temperature, eps)
    p, y, grad, loss = _expected(logit, true_class, temperature, eps)
    for trace, want in zip(fig.data, (p, y, grad)):
        torch.testing.assert_close(torch.tensor(trace.y, dtype=torch.float64), want, **ROUND)
    assert f"L = {loss:.4f}" in fig.layout.title.text
    assert len(fig.data) == 3  # same traces in every frame: the static page stores only diffs


def test_grid_fits_a_static_page():
    ex = _explorer()
    sizes = [len(p.values) for p in ex.params.values()]
    assert math.prod(sizes) == 480 <= 512
    payload = ex.payload()
    assert len(payload["frames"]) == 480
    assert len(json.dumps(payload)) < 1_500_000


def test_live_explorer_redraws_from_the_kernels():
    ex = _explorer()
    ex.controls["logit"].value = 8.0
    ex.controls["true_class"].value = 2
    ex.controls["label_smoothing"].value = 0.2
    p, y, grad, loss = _expected(8.0, 2, 1.0, 0.2)
    torch.testing.assert_close(torch.tensor(ex.figure.data[0].y, dtype=torch.float64), p, **ROUND)
    torch.testing.assert_close(torch.tensor(ex.figure.data[2].y, dtype=torch.float64), grad,
                               **ROUND)
    assert f"L = {loss:.4f}" in ex.figure.layout.title.text


@pytest.mark.parametrize("logit,temperature", [(2.0, 1.0), (8.0, 0.5)])
def test_jacobian_figure_is_diag_p_minus_ppT(logit, temperature):
    p = F.softmax(V.logits(logit) / temperature, 0)
    fig = V.softmax_jacobian_figure(logit, temperature)
    torch.testing.assert_close(torch.tensor(fig.data[0].z, dtype=torch.float64),
                               torch.diag(p) - torch.outer(p, p), **ROUND)


def test_smoothing_curves_and_their_minima():
    margins = torch.linspace(-2, 12, 141, dtype=torch.float64)
    curves = V.smoothing_loss_curves(margins)
    c = len(V.BASE_LOGITS)
    z = torch.zeros(len(margins), c, dtype=torch.float64)
    z[:, 0] = margins
    for e, curve in zip(V.SMOOTHINGS, curves):
        want = F.cross_entropy(z, torch.zeros(len(margins), dtype=torch.long), reduction="none",
                               label_smoothing=e)
        torch.testing.assert_close(curve, want, rtol=0, atol=1e-10)
        if e == 0:
            assert (curve.diff() < 0).all()  # no finite optimum without smoothing
        else:  # optimum p_true = 1 − ε + ε/C, p_other = ε/C  ⇒  margin = log(p_true / p_other)
            best = margins[curve.argmin()].item()
            assert abs(best - math.log((1 - e + e / c) / (e / c))) <= 0.05 + 1e-9
    fig = V.smoothing_loss_figure()
    torch.testing.assert_close(torch.tensor(fig.data[0].y, dtype=torch.float64), curves[0],
                               **ROUND)
