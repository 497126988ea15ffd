"""A chapter's built page cut into reveal.js slides (``slides.py`` builds the decks).

The page is read as Sphinx wrote it: ``<article class="bd-article">`` holds nested
``<section>``s, each with its heading (``h1`` the chapter, ``h2`` a section, ``h3`` a
subsection); code cells are ``div.cell`` with a ``div.cell_input`` and their outputs in
``div.cell_output``; an Explorer is a ``div.kx-explorer`` holding its frames as JSON.

* ``chapter_stacks``: one vertical stack of slides per section. The title slide holds the
  title alone; each ``h2`` section starts a stack, each ``h3`` a slide of it, and a slide whose
  blocks would overflow the canvas goes on in the next (``pack``, with ``cost`` estimating each
  block's height: reveal.js does not scroll, so content past the bottom is simply lost).
* ``deck_html``: the slides as one reveal.js page that links the chapter page's own KaTeX,
  plotly and Explorer files; in-page links go to the slide that shows their target.
"""
from __future__ import annotations

import copy
import json
import math
import posixpath
import re

from bs4 import BeautifulSoup, Tag

WIDTH, HEIGHT = 1440, 810  # the deck's canvas; reveal.js scales it to the window
BUDGET = 640               # px of content under a slide's heading (estimated, see cost())
# code and the page theme's widgets; what is inside a book widget (KEEP) stays whole
DROP = ("div.cell_input, div.cell.tag_hide-cell, div.cell.tag_remove-cell, div.output.stream, "
        "div.output.text_plain, div.output.error, div.output.traceback, a.headerlink, "
        "div[class*='highlight-'], pre, .toggle-details, button")
KEEP = ["kx-explorer", "kx-check"]
OFFSITE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)


class SlidesError(RuntimeError):
    """A deck could not be built as the book requires (missing page, no sections, off-site)."""


# ---- what a block costs on a slide (px of the 1440 x 810 canvas, 30 px text) ---------------

def _text(el: Tag) -> str:
    el = copy.copy(el)
    for hidden in el.select(".katex-mathml, script"):
        hidden.decompose()
    return " ".join(el.get_text(" ").split())


def _lines(text: str, per_line: int = 78) -> int:
    return max(1, math.ceil(len(text) / per_line))


def _figure_title_height(title) -> int:
    """Height of a figure's title, which the page draws as HTML above the plot (24 px lines on
    a slide, see kx-slides.css): each ``<br>`` starts a line, a long line wraps."""
    text = title.get("text", "") if isinstance(title, dict) else (title or "")
    if not text:
        return 0
    lines = re.split(r"<br\s*/?>", text, flags=re.I)
    return 10 + 32 * sum(_lines(re.sub(r"<[^>]+>", "", line), 95) for line in lines)


def cost(el: Tag) -> int:
    """Estimated height of one block; ``pack`` keeps each slide's sum under ``BUDGET``."""
    classes = el.get("class", [])
    explorer = el.select_one(".kx-explorer") if "kx-explorer" not in classes else el
    if explorer is not None:
        payload = json.loads(explorer.select_one("script.kx-data").string)
        rows = math.ceil(len(payload["controls"]) / 3)
        return (int(payload["base"]["layout"].get("height", 450)) + 60 * rows + 30
                + _figure_title_height(payload["base"]["layout"].get("title")))
    check = el if "kx-check" in classes else el.select_one(".kx-check")
    if check is not None:  # a self-check question: title, prompt, answer row, two folds
        prompt = check.select_one(".kx-check-prompt, legend")
        return (240 + _lines(_text(prompt) if prompt else "", 90) * 34
                + 40 * len(check.select(".kx-check-choice")))
    if el.name == "details":
        return 70
    if "math" in classes and el.name == "div":
        tex = el.select_one("annotation").get_text() if el.select_one("annotation") else ""
        rows = tex.count("\\\\") + 1
        tall = any(s in tex for s in ("\\frac", "\\sum", "\\prod", "\\int", "\\max", "\\begin"))
        return rows * (75 if tall else 50) + 40
    if el.name == "table" or el.select_one("table"):
        return 50 * len(el.select("tr")) + 40
    if el.name in ("ul", "ol"):
        return sum(cost(li) for li in el.find_all("li", recursive=False)) + 20
    if el.name == "li":
        return _lines(_text(el), 70) * 40 + 12
    if "admonition" in classes:
        return sum(cost(c) for c in el.find_all(recursive=False)) + 50
    if el.name == "img":
        return int(el.get("height", 400)) + 20
    return _lines(_text(el)) * 40 + 25


# ---- chapter page -> slides --------------------------------------------------------------

def _clean(section: Tag) -> None:
    """Drop code and widgets of the page theme, fold solutions into ``<details>``."""
    for el in section.select(DROP):
        if not el.decomposed and el.find_parent(class_=KEEP) is None:
            el.decompose()
    for drop in section.select("div.dropdown.admonition"):
        title = drop.select_one(".admonition-title")
        details = BeautifulSoup("<details class='kx-fold'><summary></summary></details>",
                                "html.parser").details
        details.summary.string = title.get_text(" ", strip=True) if title else "Show"
        if title:
            title.decompose()
        for child in list(drop.children):
            details.append(child.extract())
        drop.replace_with(details)
    for cell in section.select("div.cell"):
        if not _text(cell) and not cell.select(".kx-explorer, img, svg, table"):
            cell.decompose()


def _blocks(section: Tag) -> list[Tag]:
    """The section's own content (no subsections, no heading), cells unwrapped to outputs."""
    out = []
    for child in section.find_all(recursive=False):
        if child.name == "section" or re.fullmatch(r"h[1-6]", child.name):
            continue
        if "cell" in child.get("class", []):
            out.extend(child.select("div.cell_output > div.output"))
        elif _text(child) or child.select(".kx-explorer, img, svg"):
            out.append(child)
    return out


def _split_list(block: Tag, budget: int) -> list[Tag]:
    """A list too long for one slide, as several lists of whole items (numbering kept)."""
    if block.name not in ("ul", "ol") or cost(block) <= budget:
        return [block]
    parts, used = [], budget
    start = int(block.get("start", 1))
    for k, item in enumerate(block.find_all("li", recursive=False)):
        c = cost(item)
        if used + c > budget:
            part = copy.copy(block)
            part.clear()
            if block.name == "ol":
                part["start"] = str(start + k)
            parts.append(part)
            used = 0
        parts[-1].append(item.extract())
        used += c
    return parts


def pack(blocks: list[Tag], budget: int = BUDGET) -> list[list[Tag]]:
    """Group blocks into slides in order, each under ``budget`` (a bigger block stands alone)."""
    slides: list[list[Tag]] = [[]]
    used = 0
    for block in [part for b in blocks for part in _split_list(b, budget)]:
        c = cost(block)
        if slides[-1] and used + c > budget:
            slides.append([])
            used = 0
        slides[-1].append(block)
        used += c
    return [s for s in slides if s] or [[]]


def _heading(section: Tag) -> str:
    h = section.find(re.compile(r"h[1-6]"), recursive=False)
    if h is None:
        raise SlidesError(f"slides: section #{section.get('id')} has no heading")
    return "".join(str(c) for c in h.contents).strip()


def chapter_stacks(article: Tag) -> list[list[tuple[str, str, str, list[Tag]]]]:
    """``[[(slide id, crumb html, heading html, blocks), ...] per stack]``: one stack for the
    title and one per ``h2`` section; each ``h3`` section and each overflow of ``pack`` makes
    a further slide of its stack (the crumb names the ``h2`` above an ``h3`` slide)."""
    top = article.find("section")
    if top is None or top.find("h1", recursive=False) is None:
        raise SlidesError("slides: the page has no <section> with an <h1> title")
    _clean(top)
    stacks = []
    for level, section in [(1, top)] + [(2, s) for s in top.find_all("section", recursive=False)]:
        title, sid = _heading(section), section.get("id", "")
        parts = [(sid, "", title, _blocks(section))]
        if level == 1:  # the title slide holds the title alone; the introduction follows it
            parts = [(sid, "", title, []), (f"{sid}-intro", "", title, parts[0][3])]
        if level == 2:  # deeper sections (h4...) join their h3's slides
            parts += [(sub.get("id", ""), title, _heading(sub),
                       _blocks(sub) + [b for s in sub.find_all("section") for b in _blocks(s)])
                      for sub in section.find_all("section", recursive=False)]
        stack = []
        for pid, crumb, head, blocks in parts:
            for k, group in enumerate(pack(blocks)):
                if group or not stack:
                    stack.append((pid if k == 0 else f"{pid}-{k + 1}", crumb, head, group))
        stacks.append(stack)
    if len(stacks) < 2:
        raise SlidesError("slides: the page has no sections (h2) to make slides of")
    return stacks


# ---- the deck ---------------------------------------------------------------------------

def _relink(tag: Tag, chapter: str, slide_of: dict[str, str]) -> None:
    """Links of a page in ``book/`` made right for a deck in ``slides/``: ``#x`` goes to the
    slide holding ``x`` (or the chapter page), a relative path is re-based."""
    for el in tag.find_all(True):
        for attr in ("href", "src"):
            url = el.get(attr)
            if url is None or url.startswith(("data:", "mailto:")) or OFFSITE.match(url):
                continue
            if url.startswith("#"):
                target = slide_of.get(url[1:])
                el[attr] = f"#/{target}" if target else f"../book/{chapter}.html{url}"
            elif not url.startswith("/"):
                path, _, frag = url.partition("#")
                new = posixpath.relpath(posixpath.normpath(posixpath.join("book", path)), "slides")
                el[attr] = new + (f"#{frag}" if frag else "")


def _head_assets(page: BeautifulSoup) -> list[str]:
    """The page's own stylesheets and scripts that the deck needs too (KaTeX, plotly, the
    Explorer, dark mode, self-check questions): whatever offline_site.py linked there."""
    keep = re.compile(r"^\.\./_static/(katex/|kernels-|plotly-)")
    tags = []
    for link in page.select('link[rel="stylesheet"]'):
        if keep.match(link.get("href", "")):
            tags.append(f'<link rel="stylesheet" href="{link["href"]}">')
    for script in page.select("script[src]"):
        if keep.match(script["src"]):
            tags.append(f'<script defer src="{script["src"]}"></script>')
    return tags


DECK = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} (slides)</title>
<link rel="icon" href="../_static/favicon.svg">
<link rel="stylesheet" href="../_static/revealjs/dist/reset.css">
<link rel="stylesheet" href="../_static/revealjs/dist/reveal.css">
<link rel="stylesheet" href="../_static/revealjs/dist/theme/white.css">
{assets}
<link rel="stylesheet" href="../_static/kx-slides.css">
<script defer src="../_static/revealjs/dist/reveal.js"></script>
<script defer src="../_static/kx-slides.js"></script>
</head>
<body>
<div class="reveal" data-kx-width="{width}" data-kx-height="{height}"><div class="slides">
{slides}
</div></div>
</body>
</html>
"""


def deck_html(page_html: str, chapter: str, book_title: str = "") -> str:
    """The reveal.js deck of one built chapter page (``chapter`` like ``dilated_convolution``)."""
    page = BeautifulSoup(page_html, "html.parser")
    article = page.select_one("article.bd-article") or page.select_one("main")
    if article is None:
        raise SlidesError(f"slides: book/{chapter}.html has no article")
    stacks = chapter_stacks(article)
    slide_of = {}  # element id -> id of the slide that shows it
    for stack in stacks:
        for sid, _, _, blocks in stack:
            slide_of[sid] = sid
            for block in blocks:
                for el in [block, *block.find_all(id=True)]:
                    if el.get("id"):
                        slide_of.setdefault(el["id"], sid)
    out = []
    for s, stack in enumerate(stacks):
        out.append("<section>")
        for k, (sid, crumb, head, blocks) in enumerate(stack):
            title = s == 0 and k == 0
            cls = "kx-title" if title else "kx-slide"
            html = [f'<section id="{sid}" class="{cls}">']
            if title:
                html += [f"<h1>{head}</h1>",
                         f'<p class="kx-book">{book_title}</p>' if book_title else "",
                         f'<p class="kx-read"><a href="../book/{chapter}.html">'
                         "Read the chapter</a></p>"]
            else:
                if crumb:
                    html.append(f'<p class="kx-crumb">{crumb}</p>')
                html.append(f"<h2>{head}</h2>" if not crumb else f"<h3>{head}</h3>")
            body = BeautifulSoup("<div class='kx-body'></div>", "html.parser")
            for block in blocks:
                body.div.append(copy.copy(block))
            _relink(body, chapter, slide_of)
            html += [str(body), "</section>"]
            out.append("\n".join(h for h in html if h))
        out.append("</section>")
    lang = (page.html.get("lang") if page.html else None) or "en"
    heading = chapter_title(article)
    deck = DECK.format(lang=lang, title=heading, assets="\n".join(_head_assets(page)),
                       width=WIDTH, height=HEIGHT, slides="\n".join(out))
    return deck


def chapter_title(article: Tag) -> str:
    h1 = article.find("h1")
    return " ".join(_text(h1).replace("#", " ").split()) if h1 else ""
