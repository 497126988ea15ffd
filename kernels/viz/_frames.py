"""Static payload of an Explorer: every grid point's figure, stored as differences from a base.

A page must stay light (the book's target is <= 1.5 MB per chapter), so instead of one whole
figure per grid point the payload holds

* ``base``: the figure at the default parameters, as plotly JSON;
* ``pool``: every distinct changed value once (a heatmap shared by ten frames is stored once);
* ``frames``: per grid point (row-major, last parameter fastest) the trace count and a list of
  ``[path, pool_index]`` edits to apply to a copy of ``base`` (``pool_index = -1`` deletes).

Floats are rounded to ``digits`` significant digits before comparison and storage.
The browser side lives in ``static/kernels-explorer.js``.
"""
from __future__ import annotations

import json
import math

import plotly.io as pio

DELETE = -1  # pool index meaning "remove this key"
_DELETED = object()  # diff marker; a real value -1 must not be mistaken for a deletion


def figure_json(fig, digits: int) -> dict:
    """Plotly figure -> plain JSON dict with floats rounded to ``digits`` significant digits."""
    return _round(json.loads(pio.to_json(fig, validate=False)), digits)


def _round(obj, digits):
    if isinstance(obj, float):
        if not math.isfinite(obj) or obj == 0.0:
            return obj
        r = float(f"{obj:.{digits}g}")
        return int(r) if r.is_integer() and abs(r) < 2**53 else r
    if isinstance(obj, list):
        return [_round(v, digits) for v in obj]
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    return obj


def _diff(base, new, path, out):
    # Dicts are walked key by key; lists (coordinates, matrices) and scalars are atomic values.
    if isinstance(base, dict) and isinstance(new, dict):
        for key, value in new.items():
            if key in base:
                _diff(base[key], value, path + [key], out)
            else:
                out.append((path + [key], value))
        out.extend((path + [key], _DELETED) for key in base if key not in new)
    elif base != new:
        out.append((path, new))


def figure_diff(base: dict, new: dict) -> list:
    """Edits that turn figure JSON ``base`` into ``new``: a list of ``(path, value | _DELETED)``."""
    out: list = []
    base_data, new_data = base.get("data", []), new.get("data", [])
    for i, trace in enumerate(new_data):
        if i < len(base_data):
            _diff(base_data[i], trace, ["data", i], out)
        else:
            out.append((["data", i], trace))
    _diff(base.get("layout", {}), new.get("layout", {}), ["layout"], out)
    return out


class Payload:
    """Accumulates the frames of one Explorer and serialises them for the page."""

    def __init__(self, base: dict):
        self.base = base
        self.pool: list = []
        self._index: dict[str, int] = {}
        self.frames: list = []

    def _intern(self, value) -> int:
        if value is _DELETED:
            return DELETE
        key = json.dumps(value, sort_keys=True, separators=(",", ":"))
        if key not in self._index:
            self._index[key] = len(self.pool)
            self.pool.append(value)
        return self._index[key]

    def add(self, fig_json: dict) -> None:
        edits = figure_diff(self.base, fig_json)
        self.frames.append([len(fig_json.get("data", [])),
                            [[path, self._intern(value)] for path, value in edits]])

    def to_dict(self) -> dict:
        return {"base": self.base, "pool": self.pool, "frames": self.frames}


def apply_frame(base: dict, pool: list, frame: list) -> dict:
    """Python twin of the page script's frame switch (used by tests to check round trips)."""
    fig = json.loads(json.dumps(base))
    ntraces, edits = frame
    fig["data"] = (fig.get("data", []) + [None] * ntraces)[:ntraces]
    for path, index in edits:
        node = fig
        for key in path[:-1]:
            node = node[key]
        if index == DELETE:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = json.loads(json.dumps(pool[index]))
    return fig
