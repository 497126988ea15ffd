"""The live Explorer's figure: a small anywidget that draws plotly JSON with ``Plotly.react``.

Why not plotly's own ``go.FigureWidget``: each one carries a whole plotly.js (~5 MB) in its
model, so a chapter with three figures sent ~20 MB over the kernel's websocket, and each update
went through plotly's generic ``restyle``/``relayout`` machinery (120-420 ms per slider key).

Here

* the figure's model holds ``base`` (plotly JSON, floats rounded like the static page's) and
  ``patch``: the edits from ``base`` to the figure shown now, in the static page's own format
  (``kernels/viz/_frames.py``: a trace count, ``[path, pool index]`` edits, a pool of values).
  A control change sends only the new ``patch``, i.e. what differs from ``base``; when that
  grows past half the figure, the figure becomes the new ``base`` (a full send);
* plotly.js itself is not in any model: the front end (``static/kernels-live.js``) asks the
  kernel for it once per page (a custom message naming the page), keeps it on ``window`` and
  every figure of the page shares it. So nothing of it lands in the widget state a notebook
  saves, and the kernel answers each page once however many figures ask;
* a figure whose model was restored from a saved notebook (no kernel behind it) draws its
  last state if plotly.js is already in the page, else shows a one-line note.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import anywidget
import traitlets

from . import _frames

STATIC = Path(__file__).resolve().parent / "static"
_SERVED_PAGES: set[str] = set()  # pages this kernel has sent plotly.js to
_PLOTLY_JS: bytes | None = None


def plotly_js() -> bytes:
    """plotly.py's own plotly.min.js (the plotly.js version it was released with)."""
    global _PLOTLY_JS
    if _PLOTLY_JS is None:
        _PLOTLY_JS = (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return _PLOTLY_JS


def front_end_source() -> str:
    """The widget's ES module: the dark-mode hook, the frame builder the static page uses too,
    then the view."""
    parts = [STATIC / "kernels-theme.js", STATIC / "kernels-frames.js", STATIC / "kernels-live.js"]
    return "\n".join(p.read_text() for p in parts)


class LiveFigure(anywidget.AnyWidget):
    """One live figure. ``show(fig_json)`` replaces what it draws; ``to_dict()`` reads it."""

    _esm = traitlets.Unicode(front_end_source()).tag(sync=True)
    # the static page's styles, one source: the live figure uses its title's rules
    _css = traitlets.Unicode((STATIC / "kernels-explorer.css").read_text()).tag(sync=True)
    base = traitlets.Dict().tag(sync=True)
    patch = traitlets.Dict().tag(sync=True)  # {"frame": [ntraces, edits], "pool": [...]}
    rev = traitlets.Int(0).tag(sync=True)  # one change event per update, even a same patch

    def __init__(self, fig_json: dict, **kwargs):
        super().__init__(**kwargs)
        self._current = fig_json
        self._rebase(fig_json)
        self.on_msg(self._on_front_end_msg)

    def _rebase(self, fig_json: dict) -> None:
        self._base_size = len(json.dumps(fig_json, separators=(",", ":")))
        with self.hold_sync():
            self.base = fig_json
            self.patch = {"frame": [len(fig_json.get("data", [])), []], "pool": []}
            self.rev += 1

    def show(self, fig_json: dict) -> None:
        """Draw ``fig_json`` (plotly JSON): send its difference from ``base``."""
        self._current = fig_json
        payload = _frames.Payload(self.base)
        payload.add(fig_json)
        patch = {"frame": payload.frames[0], "pool": payload.pool}
        if len(json.dumps(patch, separators=(",", ":"))) > self._base_size // 2:
            self._rebase(fig_json)
            return
        with self.hold_sync():
            self.patch = patch
            self.rev += 1

    def to_dict(self) -> dict:
        """The figure drawn now, as plotly JSON (``plotly.graph_objects.Figure(...)`` takes it)."""
        return json.loads(json.dumps(self._current))

    @property
    def data(self):
        """The traces drawn now, as plotly graph objects (a fresh view: editing it draws nothing)."""
        return self._view().data

    @property
    def layout(self):
        """The layout drawn now, as a plotly graph object (a fresh view, like :attr:`data`)."""
        return self._view().layout

    def _view(self):
        import plotly.graph_objects as go

        return go.Figure(self.to_dict())

    def _on_front_end_msg(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict) or content.get("type") != "plotly.js?":
            return
        page = str(content.get("page", ""))
        if page in _SERVED_PAGES:  # another figure of that page asked first: it will share
            return
        _SERVED_PAGES.add(page)
        self.send({"type": "plotly.js"}, buffers=[plotly_js()])
