"""Explorer: one figure function + a parameter grid -> sliders on the website and in a kernel.

Each grid is declared once, beside its figure function, with :func:`explorable`::

    @explorable(rate=Param([1, 2, 3], "Dilation rate d", default=2))
    def footprint_figure(rate=2): ...

and ``Explorer(footprint_figure)`` as the last line of a chapter's cell shows

* on the built website (the book's Sphinx extension sets ``KERNELS_BOOK_BUILD=1`` while the
  chapters execute): HTML controls and a plot; every grid point was evaluated at build time and
  the page's own script switches frames;
* in a live kernel: ipywidgets controls with the same labels; each change calls the figure
  function again and sends only what changed to one live figure (``_live.LiveFigure``, a small
  anywidget drawn with ``Plotly.react``; the page loads plotly.js once for all its figures).
"""
from __future__ import annotations

import functools
import html
import itertools
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from . import _frames

MAX_FRAMES = 512  # the static page holds every grid point; more would make pages too heavy
REOPEN_NOTE = "run the cell to bring the sliders and the figure back"
REOPEN_NOTE_HTML = f'<p class="kx-reopen-note"><em>Interactive figure: {REOPEN_NOTE}.</em></p>'
_MODE: str | None = None


def set_mode(value: str | None) -> None:
    """Force ``"static"`` or ``"live"`` rendering; ``None`` goes back to the environment."""
    global _MODE
    if value not in (None, "static", "live"):
        raise ValueError(f"mode must be 'static', 'live' or None, got {value!r}")
    _MODE = value


def mode() -> str:
    """``"static"`` while the book build executes the chapters, else ``"live"``."""
    if _MODE is not None:
        return _MODE
    return "static" if os.environ.get("KERNELS_BOOK_BUILD") == "1" else "live"


@dataclass(frozen=True)
class Param:
    """The values one control can take, its label, and how a value is written."""

    values: Sequence[Any]
    label: str
    fmt: str | Callable[[Any], str] | None = None
    default: Any = None

    def __post_init__(self):
        values = tuple(self.values)
        if not values:
            raise ValueError(f"Param {self.label!r}: values must not be empty")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"Param {self.label!r}: values must be distinct, got {values!r}")
        if self.default is not None and self.default not in values:
            raise ValueError(f"Param {self.label!r}: default {self.default!r} is not one of "
                             f"{values!r}")
        object.__setattr__(self, "values", values)

    @property
    def initial(self):
        return self.values[0] if self.default is None else self.default

    @property
    def numeric(self) -> bool:
        """Numbers get a slider; anything else (strings, bools) a drop-down."""
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)

    def text(self, value) -> str:
        if callable(self.fmt):
            return self.fmt(value)
        if self.fmt:
            return format(value, self.fmt)
        return str(value)


def _check_grid(params: dict) -> None:
    for name, p in params.items():
        if not isinstance(p, Param):
            raise TypeError(f"parameter {name!r} must be a Param, got {type(p).__name__}")
    n_frames = 1
    for p in params.values():
        n_frames *= len(p.values)
    if n_frames > MAX_FRAMES:
        sizes = " x ".join(str(len(p.values)) for p in params.values())
        raise ValueError(f"the parameter grid has {sizes} = {n_frames} points; at most "
                         f"{MAX_FRAMES} fit in a static page: use fewer values")


_DECLARED: list = []


def explorable(**params: Param):
    """Declare, beside a figure function, the grid of its controls: ``Explorer(fn)`` uses it.

    The grid is stored as ``fn.params`` (name -> :class:`Param`), so the figure can size fixed
    axes from it and tests and benchmarks read the same values the chapter shows.
    """
    _check_grid(params)

    def declare(figure_fn):
        if not callable(figure_fn):
            raise TypeError(f"figure_fn must be callable, got {type(figure_fn).__name__}")
        figure_fn.params = dict(params)
        _DECLARED.append(figure_fn)
        return figure_fn

    return declare


def declared(module: str | None = None) -> list:
    """Figure functions declared with :func:`explorable`, optionally only those of ``module``."""
    return [f for f in _DECLARED if module is None or f.__module__ == module]


def _declared_params(figure_fn) -> dict:
    if isinstance(figure_fn, functools.partial):  # the grid of the function, less what is bound
        return {k: p for k, p in _declared_params(figure_fn.func).items()
                if k not in figure_fn.keywords}
    return dict(getattr(figure_fn, "params", {}))


class Explorer:
    """Wrap ``figure_fn(**params) -> go.Figure`` with a control per :class:`Param`.

    Without ``params``, the grid declared with :func:`explorable` is used; keyword ``params``
    replace single entries of it (or give the whole grid of an undeclared function).
    """

    def __init__(self, figure_fn: Callable[..., Any], /, *, digits: int = 5, **params: Param):
        if not callable(figure_fn):
            raise TypeError(f"figure_fn must be callable, got {type(figure_fn).__name__}")
        params = {**_declared_params(figure_fn), **params}
        _check_grid(params)
        self.figure_fn = figure_fn
        self.params = dict(params)
        self.digits = digits
        self.values = {name: p.initial for name, p in self.params.items()}
        self._figure = None
        self._controls: dict = {}
        self._readouts: dict = {}  # name -> ipywidgets Label showing a slider's value
        self._box = None

    # ------------------------------------------------------------------ static (website)
    def payload(self) -> dict:
        """Everything the page script needs: controls, base figure, pooled per-frame edits."""
        names = list(self.params)
        combos = list(itertools.product(*(p.values for p in self.params.values())))
        figures = [_frames.figure_json(self.figure_fn(**dict(zip(names, combo))), self.digits)
                   for combo in combos]
        # The base is the frame at the initial values (evaluated once, like every other frame).
        payload = _frames.Payload(figures[combos.index(tuple(self.values[n] for n in names))])
        for fig in figures:
            payload.add(fig)
        return {"controls": self.payload_controls(), **payload.to_dict()}

    def to_html(self) -> str:
        payload = self.payload()
        data = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        data = data.replace("</", "<\\/")  # a "</script>" inside a string must not end the tag
        uid = uuid.uuid4().hex[:10]
        rows = []
        for c in payload["controls"]:
            cid = f"kx-{uid}-{c['name']}"
            label = f'<label for="{cid}">{html.escape(c["label"])}</label>'
            if c["numeric"]:
                widget = (f'<input type="range" id="{cid}" data-param="{c["name"]}" min="0" '
                          f'max="{len(c["labels"]) - 1}" step="1" value="{c["initial"]}">'
                          f'<output for="{cid}">{html.escape(c["labels"][c["initial"]])}</output>')
            else:
                options = "".join(
                    f'<option value="{i}"{" selected" if i == c["initial"] else ""}>'
                    f'{html.escape(t)}</option>' for i, t in enumerate(c["labels"]))
                widget = f'<select id="{cid}" data-param="{c["name"]}">{options}</select>'
            rows.append(f'<div class="kx-control">{label}{widget}</div>')
        return (f'<div class="kx-explorer" id="kx-{uid}">'
                f'<div class="kx-controls">{"".join(rows)}</div>'
                f'<p class="kx-figure-title" hidden></p>'
                f'<div class="kx-plot" role="img" aria-label="interactive figure"></div>'
                f'<script type="application/json" class="kx-data">{data}</script></div>')

    def payload_controls(self) -> list:
        return [{"name": n, "label": p.label, "numeric": p.numeric,
                 "labels": [p.text(v) for v in p.values],
                 "initial": p.values.index(p.initial)} for n, p in self.params.items()]

    # ------------------------------------------------------------------ live (kernel)
    @property
    def controls(self) -> dict:
        """Name -> ipywidgets control (built on first use)."""
        self._build_live()
        return self._controls

    @property
    def figure(self):
        """The single live figure every change updates (a ``LiveFigure`` widget, see
        ``kernels/viz/_live.py``): ``figure.to_dict()`` is the plotly JSON it draws now, so
        ``plotly.graph_objects.Figure(ex.figure.to_dict())`` is a plotly figure of it."""
        self._build_live()
        return self._figure

    @property
    def widget(self):
        self._build_live()
        return self._box

    def _build_live(self) -> None:
        if self._box is not None:
            return
        import ipywidgets as W

        from ._live import LiveFigure

        self._figure = LiveFigure(self._figure_json())
        rows = []
        for name, p in self.params.items():
            options = [(p.text(v), v) for v in p.values]
            common = dict(options=options, value=p.initial, description=p.label,
                          style={"description_width": "initial"},
                          layout=W.Layout(width="auto", min_width="280px"))
            gap = "0 1.5em 0 0"  # room before the next label: "3  stride s", not "3stride s"
            if p.numeric:
                # ipywidgets clips a slider's own readout at 64 px ("adaptive (-" for
                # "adaptive (-1)"): a label beside the slider shows the whole value
                control = W.SelectionSlider(continuous_update=True, readout=False, **common)
                readout = W.Label(p.text(p.initial), layout=W.Layout(width="auto", margin=gap))
                self._readouts[name] = readout
                rows.append(W.HBox([control, readout], layout=W.Layout(align_items="center")))
            else:
                control = W.Dropdown(**common)
                control.layout.margin = gap
                rows.append(control)
            control.observe(self._on_change, names="value")
            self._controls[name] = control
        self._box = W.VBox([W.HBox(rows, layout=W.Layout(flex_flow="row wrap")), self._figure])

    def _on_change(self, change) -> None:
        name = next(n for n, c in self._controls.items() if c is change["owner"])
        self.values[name] = change["new"]
        if name in self._readouts:
            self._readouts[name].value = self.params[name].text(change["new"])
        self.update()

    def _figure_json(self) -> dict:
        # rounded as on the static page: the same numbers, and smaller messages
        return _frames.figure_json(self.figure_fn(**self.values), self.digits)

    def update(self) -> None:
        """Recompute the figure for the current values and send what changed to the page."""
        self.figure.show(self._figure_json())

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, include=None, exclude=None):
        if mode() == "static":
            return {"text/html": self.to_html(), "text/plain": repr(self)}
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        # A saved notebook reopened without this kernel has no widget model. Where the output is
        # untrusted (another server, Binder's next session) JupyterLab shows the best *safe*
        # mimetype, text/html before text/plain; so do nbconvert, nbviewer and GitHub without
        # widget state. There the reader gets this note instead of a widget's repr or an error.
        bundle["text/html"] = REOPEN_NOTE_HTML
        bundle["text/plain"] = f"{self!r}: {REOPEN_NOTE}"
        return bundle

    def __repr__(self) -> str:
        grid = ", ".join(f"{n}={len(p.values)}" for n, p in self.params.items())
        return f"Explorer({getattr(self.figure_fn, '__name__', 'figure')}, {grid})"


def show(fig) -> None:
    """Display one figure: static HTML on the website, a live figure in a kernel."""
    from IPython.display import display

    display(Explorer(lambda: fig))
