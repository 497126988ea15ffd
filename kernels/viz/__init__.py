"""Views for the book: figure functions (kernel results -> plotly Figure) and the Explorer.

A figure function takes plain keyword parameters and returns a ``plotly.graph_objects.Figure``
that only draws numbers computed by :mod:`kernels`. :class:`Explorer` wraps one figure function
with the grid of :class:`Param` values declared beside it (:func:`explorable`) and renders it two ways from the same code:

* **static** (the built website): every grid point is evaluated at build time, only what changes
  between frames is written into the page, and ``_static/kernels-explorer.js`` switches frames;
* **live** (a running kernel): ipywidgets controls recompute through :mod:`kernels` and update a
  single live figure in place (``_live.LiveFigure``; plotly.js loaded once per page).

:class:`Question` (``self_check.py``) asks the reader to predict a value that :mod:`kernels`
computes, and checks the answer the same two ways: in the page's script, or in Python.

Each chapter ``book/<chapter>.md`` has its views in ``kernels/viz/<chapter>.py``, tested by
``tests/test_viz_<chapter>.py``.
"""
from .explorer import Explorer, Param, declared, explorable, mode, set_mode, show
from .self_check import Question
from .theme import TEMPLATE

__all__ = ["Explorer", "Param", "Question", "explorable", "declared", "mode", "set_mode", "show",
           "TEMPLATE"]
