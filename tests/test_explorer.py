"""The Explorer: one figure function, two renderings (static frames and live widgets)."""
import json
import subprocess
import sys

import plotly.graph_objects as go
import pytest

import functools

from kernels.viz import Explorer, Param, _frames, declared, explorable, mode, set_mode
from kernels.viz.explorer import REOPEN_NOTE


def toy(a=1, b="x"):
    return go.Figure([go.Heatmap(z=[[a, 2 * a], [3, 1 / 3]]),
                      go.Scatter(x=list(range(a)), y=[a] * a, name=b)],
                     layout=dict(title=f"a={a} b={b}"))


def growing(n=1):  # the number of traces changes with n
    return go.Figure([go.Scatter(x=[i], y=[i]) for i in range(n)],
                     layout=dict(title="n" if n == 1 else None))


def test_import_kernels_does_not_import_plotly():
    code = "import sys, kernels; print('plotly' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("fn, params", [
    (toy, dict(a=Param([1, 2, 3], "a"), b=Param(["x", "y"], "b"))),
    (growing, dict(n=Param([1, 3, 2, 4], "n", default=2))),
])
def test_every_static_frame_rebuilds_the_figure(fn, params):
    ex = Explorer(fn, **params)
    payload = ex.payload()
    names = list(params)
    import itertools
    combos = list(itertools.product(*(p.values for p in params.values())))
    assert len(payload["frames"]) == len(combos)
    for frame, combo in zip(payload["frames"], combos):
        rebuilt = _frames.apply_frame(payload["base"], payload["pool"], frame)
        assert rebuilt == _frames.figure_json(fn(**dict(zip(names, combo))), ex.digits)


def test_static_payload_shares_unchanged_values():
    ex = Explorer(toy, a=Param([1, 2], "a"), b=Param(["x", "y", "z"], "b"))
    payload = ex.payload()
    # The heatmap depends on ``a`` only: two distinct z matrices across six frames... and the
    # one equal to the base is not stored at all.
    zs = [v for v in payload["pool"] if isinstance(v, list) and v and isinstance(v[0], list)]
    assert len(zs) == 1
    assert payload["frames"][0][1] == []  # the default frame is the base itself


def test_rounding_keeps_digits_and_integers():
    fig = go.Figure(go.Scatter(x=[1.0, 2.5], y=[1 / 3, 123456.789]))
    data = _frames.figure_json(fig, 4)["data"][0]
    assert data["x"] == [1, 2.5] and data["y"] == [0.3333, 123500]


def test_html_escapes_script_end_and_labels():
    ex = Explorer(lambda a=1: go.Figure(layout=dict(title="</script><b>")),
                  a=Param([1, 2], "<a> & b"))
    html = ex.to_html()
    assert html.count("</script>") == 1  # only the payload's own closing tag
    assert "&lt;a&gt; &amp; b" in html
    start = html.index('class="kx-data">') + len('class="kx-data">')
    payload = json.loads(html[start:html.rindex("</script>")].replace("<\\/", "</"))
    assert payload["base"]["layout"]["title"]["text"] == "</script><b>"


@explorable(a=Param([1, 2, 3], "a", default=2), b=Param(["x", "y"], "b"))
def declared_toy(a=2, b="x"):
    return toy(a, b)


def test_a_declared_grid_is_used_overridden_and_registered():
    assert declared_toy in declared(__name__) and declared_toy in declared()
    assert declared(__name__ + ".nothing") == []
    ex = Explorer(declared_toy)
    assert [c["label"] for c in ex.payload_controls()] == ["a", "b"]
    assert ex.values == {"a": 2, "b": "x"} and len(ex.payload()["frames"]) == 6
    narrower = Explorer(declared_toy, a=Param([1], "only one"))  # replaces one entry
    assert [c["label"] for c in narrower.payload_controls()] == ["only one", "b"]
    bound = Explorer(functools.partial(declared_toy, b="y"))  # a bound argument has no control
    assert list(bound.params) == ["a"] and bound.figure_fn(a=3).layout.title.text == "a=3 b=y"


def test_live_controls_recompute_through_the_figure_function():
    ex = Explorer(declared_toy)
    fig = ex.figure
    assert [c.description for c in ex.controls.values()] == ["a", "b"]
    ex.controls["a"].value = 3
    ex.controls["b"].value = "y"
    assert ex.figure is fig  # one widget, updated in place
    assert fig.layout.title.text == "a=3 b=y"
    assert list(fig.data[1].x) == [0, 1, 2]


def test_live_readout_shows_the_whole_value():
    # ipywidgets clips a slider's own readout at 64 px: a label beside it shows the value
    ex = Explorer(toy, a=Param([1, 2, 3], "a", fmt=lambda v: f"adaptive ({-v})"))
    ex.widget
    assert ex.controls["a"].readout is False
    label = ex._readouts["a"]
    assert label.value == "adaptive (-1)"
    ex.controls["a"].value = 3
    assert label.value == "adaptive (-3)"
    assert ex.figure.layout.title.text == "a=3 b=x"


def test_live_update_handles_a_changing_number_of_traces():
    ex = Explorer(growing, n=Param([1, 2, 4], "n"))
    ex.controls["n"].value = 4
    assert len(ex.figure.data) == 4
    ex.controls["n"].value = 2
    assert [t.x[0] for t in ex.figure.data] == [0, 1]


def test_live_bundle_carries_a_note_for_a_reopened_notebook():
    """Regression (issue 15): a saved output reopened without its kernel (untrusted, or in
    nbviewer / nbconvert) showed a VBox repr or "Error displaying widget: model not found"; the
    live bundle now carries a safe text/html note beside the widget view."""
    set_mode("live")
    try:
        bundle = Explorer(toy, a=Param([1, 2], "a"))._repr_mimebundle_()
    finally:
        set_mode(None)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert REOPEN_NOTE in bundle["text/html"] and "<script" not in bundle["text/html"]
    assert bundle["text/plain"].startswith("Explorer(toy, a=2)")
    assert REOPEN_NOTE in bundle["text/plain"]


def test_mode_follows_the_build_environment(monkeypatch):
    set_mode(None)
    monkeypatch.setenv("KERNELS_BOOK_BUILD", "1")
    assert mode() == "static"
    ex = Explorer(toy, a=Param([1, 2], "a"))
    assert set(ex._repr_mimebundle_()) == {"text/html", "text/plain"}
    monkeypatch.delenv("KERNELS_BOOK_BUILD")
    assert mode() == "live"
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()
    set_mode("static")
    try:
        assert mode() == "static"
    finally:
        set_mode(None)


@pytest.mark.parametrize("make, err, match", [
    (lambda: Param([], "a"), ValueError, "values must not be empty"),
    (lambda: Param([1, 1], "a"), ValueError, "distinct"),
    (lambda: Param([1, 2], "a", default=3), ValueError, "default 3 is not one of"),
    (lambda: Explorer(toy, a=[1, 2]), TypeError, "parameter 'a' must be a Param"),
    (lambda: Explorer(42), TypeError, "figure_fn must be callable"),
    (lambda: explorable(a=[1, 2]), TypeError, "parameter 'a' must be a Param"),
    (lambda: explorable(a=Param(range(30), "a"), b=Param(range(30), "b")), ValueError, "900"),
    (lambda: Explorer(toy, a=Param(range(30), "a"), b=Param([str(i) for i in range(30)], "b")),
     ValueError, "30 x 30 = 900 points"),
    (lambda: set_mode("web"), ValueError, "mode must be"),
])
def test_bad_arguments_are_named(make, err, match):
    with pytest.raises(err, match=match):
        make()
