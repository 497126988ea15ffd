"""Every Explorer of every chapter, checked the same way: a new chapter gets these for free.

The Explorers are found where they are declared (``@explorable`` in ``kernels/viz/<chapter>.py``)
and each one must fit a static page, keep one trace structure across its frames (so the page
stores only differences), rebuild every frame exactly, redraw live through its figure function,
and be shown in its chapter.
"""
import importlib
import itertools
import json
import math
import re
from pathlib import Path

import plotly.graph_objects as go
import pytest
import yaml

from kernels.viz import Explorer, _frames, declared
from kernels.viz.explorer import MAX_FRAMES

ROOT = Path(__file__).resolve().parents[1]
PAGE_BUDGET = 1_200_000  # bytes of one Explorer's HTML; a page must stay under 1.5 MB


def chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [Path(f).name for f in files]


def chapter_views():
    """(chapter, figure function) for every Explorer declared in a chapter's view module."""
    out = []
    for chapter in chapters():
        if (ROOT / "kernels" / "viz" / f"{chapter}.py").exists():
            module = importlib.import_module(f"kernels.viz.{chapter}")
            out += [(chapter, fn) for fn in declared(module.__name__)]
    return out


VIEWS = chapter_views()
IDS = [f"{chapter}.{fn.__name__}" for chapter, fn in VIEWS]


def test_every_chapter_with_views_declares_its_explorers():
    assert {c for c, _ in VIEWS} == {c for c in chapters()
                                     if (ROOT / "kernels" / "viz" / f"{c}.py").exists()}
    assert len(VIEWS) >= 10


@pytest.mark.parametrize("chapter, fn", VIEWS, ids=IDS)
def test_the_chapter_shows_its_declared_explorer(chapter, fn):
    text = (ROOT / "book" / f"{chapter}.md").read_text()
    assert re.search(rf"Explorer\((?:\w+\.)?{fn.__name__}\b", text), \
        f"book/{chapter}.md never shows Explorer({fn.__name__})"


@pytest.mark.parametrize("chapter, fn", VIEWS, ids=IDS)
def test_static_frames_fit_a_page_and_rebuild_exactly(chapter, fn):
    ex = Explorer(fn)
    names = list(ex.params)
    combos = list(itertools.product(*(p.values for p in ex.params.values())))
    assert len(combos) == math.prod(len(p.values) for p in fn.params.values()) <= MAX_FRAMES
    html = ex.to_html()
    assert len(html.encode()) < PAGE_BUDGET, f"{len(html.encode())} bytes"
    payload = json.loads(re.search(r'class="kx-data">(.*)</script>', html, re.S).group(1)
                         .replace("<\\/", "</"))
    assert len(payload["frames"]) == len(combos)
    base_types = [t["type"] for t in payload["base"]["data"]]
    # spot-check the round trip on a spread of frames (all of them for small grids)
    step = max(1, len(combos) // 24)
    for index in list(range(0, len(combos), step)) + [len(combos) - 1]:
        rebuilt = _frames.apply_frame(payload["base"], payload["pool"], payload["frames"][index])
        assert [t["type"] for t in rebuilt["data"]] == base_types, "trace structure changed"
        want = _frames.figure_json(fn(**dict(zip(names, combos[index]))), ex.digits)
        assert rebuilt == want, f"frame {dict(zip(names, combos[index]))} does not rebuild"


@pytest.mark.parametrize("chapter, fn", VIEWS, ids=IDS)
def test_every_control_redraws_the_live_figure(chapter, fn):
    ex = Explorer(fn)
    widget = ex.figure
    for name, param in ex.params.items():
        new = next(v for v in reversed(param.values) if v != ex.values[name]) \
            if len(param.values) > 1 else param.initial
        ex.controls[name].value = new
        assert ex.figure is widget  # one live figure, updated in place
        want = _frames.figure_json(fn(**ex.values), ex.digits)
        # what the page draws: the model's base with the patch the update sent
        got = _frames.apply_frame(widget.base, widget.patch["pool"], widget.patch["frame"])
        assert got == want, f"after {name} = {new!r}"
        assert go.Figure(widget.to_dict()).layout.title.text == fn(**ex.values).layout.title.text
