"""RISE slide marks: a MyST chapter cut into slides at its headings, for a live lecture.

jupyterlab-myst-revealjs (in ``make lab``) presents a notebook as reveal.js slides, reading
each cell's RISE mark ``slideshow.slide_type``: ``slide`` starts a slide, ``subslide`` a slide
below the current one, and a cell without a mark continues the slide it is on. In a MyST
chapter (a jupytext notebook) the text between two code cells is one markdown cell, so a
heading inside it starts nothing. ``mark_text`` breaks the markdown before every heading,
with a jupytext cell break that carries the mark:

    +++ {"slideshow": {"slide_type": "slide"}}

    ## Stacks of dilated layers

``#`` and ``##`` start a slide, ``###`` a sub-slide: the same cut as the site's decks
(``slide_deck.py``). A heading that already opens a cell (after ``+++`` or a code cell) gets the
mark on that cell; the chapter's first heading opens the notebook's first slide and needs none;
a MyST label ``(name)=`` stays with its heading. Headings inside code cells, code blocks and
directives are not slides. A code cell the book removes (tag ``remove-cell``: the setup cell,
checks) gets ``:slideshow: {slide_type: skip}``: it runs, but no slide shows it. Marking
twice changes nothing. The site does not change: myst-nb joins the markdown cells into one
document again. jupytext writes the marks into the paired ``.ipynb`` as cell metadata and
reads them back unchanged.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

SLIDE_TYPES = {1: "slide", 2: "slide", 3: "subslide"}  # heading level -> RISE slide type
HEADING = re.compile(r"^(#{1,6})\s+\S")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,}|:{3,})")
LABEL = re.compile(r"^\(\S+\)=\s*$")
BREAK = re.compile(r"^\+\+\+\s*(\{.*\})?\s*$")


def _break_line(metadata: dict) -> str:
    return "+++ " + json.dumps(metadata, ensure_ascii=False)


def mark_text(text: str) -> str:
    """``text`` (a MyST notebook) with a RISE slide mark before each ``#``, ``##``, ``###``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str (a MyST notebook), got {type(text).__name__}")
    lines = text.split("\n")
    out: list[str] = []
    fence = None   # the open fence (``` or ~~~ or :::, at least that long), or None
    started = False  # has the notebook had any cell content yet?
    start = 0
    if lines and lines[0].strip() == "---":  # jupytext front matter
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            raise ValueError("text: the front matter (---) is never closed")
        out, start = lines[:end + 1], end + 1
    options = None  # index in ``out`` of an open code cell's first line, while in its options
    for line in lines[start:]:
        if options is not None and not line.startswith(":"):
            _skip_removed_cell(out, options)
            options = None
        if fence is not None:
            m = FENCE.match(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip()[len(m.group(1)):].strip():
                fence = None
            out.append(line)
            continue
        m = FENCE.match(line)
        if m:
            fence = m.group(1)
            started = True
            out.append(line)
            if "{code-cell}" in line:
                options = len(out)
            continue
        heading = HEADING.match(line)
        level = len(heading.group(1)) if heading else 0
        if level in SLIDE_TYPES:
            if started:
                _put_mark(out, SLIDE_TYPES[level])
            started = True
        elif line.strip():
            started = True
        out.append(line)
    return "\n".join(out)


def _skip_removed_cell(out: list[str], first: int) -> None:
    """A code cell the book removes (``remove-cell``: setup, checks) is skipped on slides too;
    it still runs. Its ``:key: value`` options are ``out[first:]``."""
    opts = out[first:]
    tags = next((k for k, o in enumerate(opts) if o.startswith(":tags:")), None)
    if tags is None or "remove-cell" not in opts[tags] or any(
            o.startswith(":slideshow:") for o in opts):
        return
    out.insert(first + tags + 1, ":slideshow: {slide_type: skip}")


def _put_mark(out: list[str], slide_type: str) -> None:
    """Mark the cell that the next line opens: on the ``+++`` just before it, or a new one."""
    end = len(out)  # where the heading goes (or its label, which stays with it)
    k = end
    while k and not out[k - 1].strip():
        k -= 1
    if k and LABEL.match(out[k - 1]):
        end = k = k - 1
        while k and not out[k - 1].strip():
            k -= 1
    brk = BREAK.match(out[k - 1]) if k else None
    if brk:
        metadata = json.loads(brk.group(1)) if brk.group(1) else {}
        metadata.setdefault("slideshow", {})["slide_type"] = slide_type
        out[k - 1] = _break_line(metadata)
        return
    # as jupytext writes a break: a blank line on each side
    out[k:end] = ([""] if k else []) + [_break_line({"slideshow": {"slide_type": slide_type}}), ""]


def mark_files(files: list[Path], check: bool = False) -> list[Path]:
    """Mark each chapter in place (or, with ``check``, only list those that would change)."""
    changed = []
    for f in files:
        f = Path(f)
        if f.suffix != ".md":
            raise ValueError(f"files: {f} is not a MyST chapter (.md)")
        text = f.read_text(encoding="utf-8")
        new = mark_text(text)
        if new != text:
            changed.append(f)
            if not check:
                f.write_text(new, encoding="utf-8")
    return changed
