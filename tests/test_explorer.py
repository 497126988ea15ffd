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
    assert fig.to_dict()["layout"]["title"]["text"] == "a=3 b=y"
    assert fig.to_dict()["data"][1]["x"] == [0, 1, 2]


def test_live_readout_shows_the_whole_value():
    # ipywidgets clips a slider's own readout at 64 px: a label beside it shows the value
    ex = Explorer(toy, a=Param([1, 2, 3], "a", fmt=lambda v: f"adaptive ({-v})"))
    ex.widget
    assert ex.controls["a"].readout is False
    label = ex._readouts["a"]
    assert label.value == "adaptive (-1)"
    ex.controls["a"].value = 3
    assert label.value == "adaptive (-3)"
    assert ex.figure.to_dict()["layout"]["title"]["text"] == "a=3 b=x"


def test_live_controls_leave_room_before_the_next_label():
    # a readout ran into the next control's description in the lab ("3stride s")
    ex = Explorer(toy, a=Param([1, 2, 3], "a"), b=Param(["x", "y"], "b"))
    ex.widget
    right_margin = lambda w: (w.layout.margin or "0 0 0 0").split()[1]
    assert right_margin(ex._readouts["a"]) == "1.5em"
    assert right_margin(ex.controls["b"]) == "1.5em"


def test_live_update_handles_a_changing_number_of_traces():
    ex = Explorer(growing, n=Param([1, 2, 4], "n"))
    ex.controls["n"].value = 4
    assert len(ex.figure.to_dict()["data"]) == 4
    assert _drawn(ex.figure) == _frames.figure_json(growing(4), ex.digits)
    ex.controls["n"].value = 2
    assert [t["x"][0] for t in ex.figure.to_dict()["data"]] == [0, 1]
    assert _drawn(ex.figure) == _frames.figure_json(growing(2), ex.digits)


def _drawn(live):
    """What the page draws: the model's base with its patch applied (the front end's twin)."""
    return _frames.apply_frame(live.base, live.patch["pool"], live.patch["frame"])


def test_live_figure_model_holds_the_figure_the_function_returns():
    ex = Explorer(declared_toy)
    for a, b in [(2, "x"), (3, "x"), (3, "y"), (1, "y"), (2, "x")]:
        ex.controls["a"].value, ex.controls["b"].value = a, b
        want = _frames.figure_json(toy(a, b), ex.digits)  # the page's own rounding
        assert _drawn(ex.figure) == want == ex.figure.to_dict(), (a, b)


def test_a_live_update_sends_only_what_changed():
    ex = Explorer(toy, a=Param([1, 2, 3], "a"), b=Param(["x", "y"], "b"))
    live = ex.figure
    sent = []
    live.observe(lambda change: sent.append(change["name"]), names=["base", "patch"])
    ex.controls["b"].value = "y"  # changes the title and one trace's name, nothing else
    assert sent == ["patch"]  # the base (both traces, the layout) is not sent again
    edits = {tuple(path) for path, _ in live.patch["frame"][1]}
    assert edits == {("data", 1, "name"), ("layout", "title", "text")}
    json_patch = json.dumps(live.patch)
    assert len(json_patch) < len(json.dumps(live.base)) / 2


def test_a_live_update_that_changes_most_of_the_figure_becomes_the_new_base():
    def big(k=0):  # every number changes with k
        return go.Figure(go.Heatmap(z=[[k + i + j / 7 for j in range(30)] for i in range(30)]))

    ex = Explorer(big, k=Param([0, 1], "k"))
    ex.controls["k"].value = 1
    assert ex.figure.base == _frames.figure_json(big(1), ex.digits)
    assert ex.figure.patch["frame"][1] == [] and _drawn(ex.figure) == ex.figure.base


def test_plotly_js_is_sent_once_per_page_and_never_stored_in_a_model():
    from importlib.metadata import files

    from kernels.viz import _live

    library = next(f for f in files("plotly") if f.name == "plotly.min.js").locate()
    figures = [Explorer(toy, a=Param([1, 2], "a")).figure for _ in range(3)]
    sent = []
    for f in figures:
        f.send = lambda content, buffers=None, f=f: sent.append((f, content, buffers))
    page = f"test-page-{id(sent)}"
    for f in figures:  # every figure of a page asks; the first one gets the library
        f._on_front_end_msg(f, {"type": "plotly.js?", "page": page}, [])
    assert len(sent) == 1 and sent[0][0] is figures[0]
    assert sent[0][1] == {"type": "plotly.js"}
    assert bytes(sent[0][2][0]) == library.read_bytes()
    figures[1]._on_front_end_msg(figures[1], {"type": "plotly.js?", "page": page + "-2"}, [])
    assert len(sent) == 2 and sent[1][0] is figures[1]  # a reloaded page asks again
    figures[2]._on_front_end_msg(figures[2], {"type": "something else"}, [])
    assert len(sent) == 2
    # A notebook that saves widget state stores the models' state: no plotly.js in it.
    state = json.dumps(figures[0].get_state(), default=str)
    assert "plotly.js v" not in state and len(state) < 100_000
    assert _live.STATIC.joinpath("kernels-live.js").read_text() in figures[0]._esm
    theme = _live.STATIC / "kernels-theme.js"
    if theme.exists():  # the dark-mode hook comes first
        assert figures[0]._esm.startswith(theme.read_text())


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
