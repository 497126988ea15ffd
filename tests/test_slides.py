"""Slides (issue 15 item 5): a reveal.js deck per chapter, and RISE marks for the live lab.

The first tests cut small pages written here (``book/_ext/slide_deck.py``, ``slides.py``) and
mark small MyST texts and copies of the chapters (``slide_marks.py``); they need no build. The
tests marked ``browser`` read the decks that ``make slides`` wrote into the built site
(``SITE``, see site_server.py) and drive every deck in one headless Chromium at 1280 x 720.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import jupytext
import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin

from site_server import SITE, PageLog, browser, open_page, serve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import slide_deck  # noqa: E402
import slide_marks  # noqa: E402
import slides  # noqa: E402

CHAPTERS = [Path(doc).name for doc in slides.chapters()]


# ---- a page as Sphinx writes it ------------------------------------------------------------

def explorer_html(height=500) -> str:
    """A real static Explorer (kernels.viz), as a chapter's cell output holds it."""
    import plotly.graph_objects as go
    from kernels.viz import Explorer, Param

    def fig(a=1):
        return go.Figure(go.Scatter(x=[0, 1], y=[0, a]), layout={"height": height})

    return Explorer(fig, a=Param([1, 2, 3], "slope a")).to_html()


def page(article: str, head: str = "") -> str:
    return (f'<html lang="en"><head>{head}</head><body><div class="article-header-buttons">'
            f'</div><article class="bd-article">{article}</article></body></html>')


def cell(code: str, output: str = "") -> str:
    out = f'<div class="cell_output docutils container">{output}</div>' if output else ""
    return (f'<div class="cell docutils container"><div class="cell_input docutils container">'
            f'<div class="highlight-ipython3"><pre>{code}</pre></div></div>{out}</div>')


MATH = ('<div class="math notranslate nohighlight"><span class="katex-display"><span '
        'class="katex"><span class="katex-mathml"><math><semantics><annotation '
        'encoding="application/x-tex">y = d (k - 1) + 1</annotation></semantics></math></span>'
        '<span class="katex-html">y=d(k-1)+1</span></span></span></div>')
STREAM = '<div class="output stream highlight-myst-ansi"><pre>printed 42</pre></div>'
HEAD = ('<link rel="stylesheet" href="../_static/katex/katex.min.css">'
        '<link rel="stylesheet" href="../_static/pydata-sphinx-theme.css">'
        '<script defer src="../_static/plotly-book.min.js"></script>'
        '<script defer src="../_static/kernels-explorer.js?v=1"></script>'
        '<script src="../_static/searchtools.js"></script>')


def chapter(explorer: str) -> str:
    return page(f"""<section id="ch"><h1>Chapter<a class="headerlink" href="#ch">#</a></h1>
    <p>Intro with a <a href="#eq-label">link to the equation</a>.</p>{cell("import torch")}
    <section id="one"><h2>One</h2><p>Prose one.</p><div id="eq-label">{MATH}</div>
      {cell("Explorer(fig)", f'<div class="output text_html">{explorer}</div>')}
      {cell("print(42)", STREAM)}
      <div class="dropdown admonition"><p class="admonition-title">Solution</p><p>Answer.</p></div>
      <section id="sub"><h3>Sub</h3><p>See <a href="other.html#x">the other chapter</a>,
        <img src="../_images/fig.png" alt="f"></p></section>
    </section>
    <section id="two"><h2>Two</h2><p>Prose two.</p></section></section>""", HEAD)


def test_deck_keeps_prose_math_and_explorers_and_drops_code():
    explorer = explorer_html()
    deck = BeautifulSoup(slide_deck.deck_html(chapter(explorer), "ch", "Book"), "html.parser")
    stacks = deck.select(".slides > section")
    assert [[s["id"] for s in st.find_all("section")] for st in stacks] == \
        [["ch", "ch-intro"], ["one", "one-2", "one-3", "sub"], ["two"]]
    assert deck.h1.get_text() == "Chapter" and "Book" in deck.select_one(".kx-book").get_text()
    text = deck.get_text()
    assert "Prose one." in text and "Prose two." in text and "Answer." in text
    assert "import torch" not in text and "print(42)" not in text and "printed 42" not in text
    assert deck.select(".katex-html") and not deck.select("pre, .cell_input, a.headerlink")
    assert deck.select_one("details.kx-fold > summary").get_text() == "Solution"
    # the Explorer, whole, on a slide of its own (its 500 px plot and the equation overflow one)
    shown = deck.select(".kx-explorer")
    assert len(shown) == 1 and shown[0].find_parent("section")["id"] == "one-2"
    assert str(shown[0]) == str(BeautifulSoup(explorer, "html.parser").div)
    # the page's own KaTeX, plotly and Explorer files; none of the theme's
    links = [t.get("href") or t.get("src") for t in deck.select("link[rel=stylesheet], script[src]")]
    assert "../_static/katex/katex.min.css" in links and "../_static/plotly-book.min.js" in links
    assert "../_static/kernels-explorer.js?v=1" in links
    assert not [u for u in links if "pydata" in u or "searchtools" in u]


def test_links_lead_to_their_slide_or_the_book():
    deck = BeautifulSoup(slide_deck.deck_html(chapter(explorer_html()), "ch"), "html.parser")
    hrefs = {a.get_text(): a["href"] for a in deck.select(".kx-body a")}
    assert hrefs["link to the equation"] == "#/one"  # the slide that shows the target
    assert hrefs["the other chapter"] == "../book/other.html#x"
    assert deck.select_one(".kx-body img")["src"] == "../_images/fig.png"
    assert deck.select_one(".kx-read a")["href"] == "../book/ch.html"


def test_a_long_section_goes_on_in_further_slides():
    paragraphs = "".join(f"<p>{'word ' * 150}{i}</p>" for i in range(12))
    items = "".join(f"<li>{'ref ' * 60}</li>" for i in range(30))
    html = page(f'<section id="c"><h1>C</h1><section id="s"><h2>S</h2>{paragraphs}'
                f'<ol>{items}</ol></section></section>')
    stacks = slide_deck.chapter_stacks(BeautifulSoup(html, "html.parser").article)
    parts = stacks[1]
    assert len(parts) > 3
    for _, _, head, blocks in parts:
        assert head == "S"
        assert sum(slide_deck.cost(b) for b in blocks) <= slide_deck.BUDGET
    lists = [b for _, _, _, blocks in parts for b in blocks if b.name == "ol"]
    assert len(lists) > 1 and sum(len(o.find_all("li")) for o in lists) == 30
    starts = [int(o.get("start", 1)) for o in lists]
    assert starts[0] == 1 and starts == sorted(starts)  # the numbering goes on


def test_a_page_without_sections_or_title_fails():
    with pytest.raises(slide_deck.SlidesError, match="no sections"):
        slide_deck.deck_html(page('<section id="c"><h1>C</h1><p>only</p></section>'), "c")
    with pytest.raises(slide_deck.SlidesError, match="h1"):
        slide_deck.deck_html(page("<p>no title</p>"), "c")


def test_build_fails_loudly_on_a_missing_chapter_page(tmp_path):
    root, site = tmp_path / "book_root", tmp_path / "site"
    root.mkdir()
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (root / "_config.yml").write_text("title: T\n")
    (site / "_static").mkdir(parents=True)
    with pytest.raises(slides.SlidesError, match=r"book/intro\.html is missing"):
        slides.build(site, root)
    with pytest.raises(slides.SlidesError, match="not a built site"):
        slides.build(tmp_path / "nowhere", root)


@pytest.mark.parametrize("tag", ['<script src="https://cdn.example.org/reveal.js"></script>',
                                 '<img src="//cdn.example.org/a.png">',
                                 '<link rel="stylesheet" href="http://example.org/a.css">',
                                 '<div style="background: url(https://example.org/a.png)"></div>',
                                 "<style>@import url('https://fonts.example.org/f.css');</style>"])
def test_a_deck_that_would_load_from_another_site_fails(tag):
    with pytest.raises(slides.SlidesError, match="other sites"):
        slides.check_offline(f"<html><head></head><body>{tag}</body></html>", "slides/x.html")


def test_local_files_and_links_out_are_fine():
    slides.check_offline('<link rel="stylesheet" href="../_static/a.css"><a href="https://arxiv.'
                         'org/abs/1">paper</a><img src="data:image/png;base64,AA==">', "x")


def test_stylesheets_may_import_local_files_only(tmp_path):
    (tmp_path / "font.woff").write_bytes(b"")
    good = tmp_path / "good.css"
    good.write_text("@import url(./more.css);\n@font-face { src: url('font.woff?#x') }")
    (tmp_path / "more.css").write_text("a { background: url(data:image/gif;base64,AA==) }")
    slides.check_css_offline(good)
    (tmp_path / "cdn.css").write_text("@import url(https://fonts.example.org/css);")
    with pytest.raises(slides.SlidesError, match="another site"):
        slides.check_css_offline(tmp_path / "cdn.css")
    (tmp_path / "gone.css").write_text("a { background: url(missing.png) }")
    with pytest.raises(slides.SlidesError, match="missing"):
        slides.check_css_offline(tmp_path / "gone.css")


def test_the_slides_button_is_added_once():
    html = page("<p>x</p>")
    once = slides.add_slides_button(html, "ch")
    assert slides.add_slides_button(once, "ch") == once
    assert once.count('href="../slides/ch.html"') == 1
    with pytest.raises(slides.SlidesError, match="article-header-buttons"):
        slides.add_slides_button("<html><body></body></html>", "ch")


# ---- RISE marks ------------------------------------------------------------------------------

FRONT = "---\njupytext:\n  text_representation:\n    format_name: myst\n---\n"
MYST = FRONT + """
# Title

Intro.

```{code-cell} ipython3
# not a heading: a comment
x = 1
```

```{code-cell} ipython3
:tags: [remove-cell]
import kernels
```

## First

Text.
## Second, right after text

````{note}
## not a slide: inside a directive
````

(my-label)=
### Sub

+++ {"tags": ["keep"]}

### Sub after a break

:::{admonition} Also
# not a slide either
:::
"""
MARKED = FRONT + """
# Title

Intro.

```{code-cell} ipython3
# not a heading: a comment
x = 1
```

```{code-cell} ipython3
:tags: [remove-cell]
:slideshow: {slide_type: skip}
import kernels
```

+++ {"slideshow": {"slide_type": "slide"}}

## First

Text.

+++ {"slideshow": {"slide_type": "slide"}}

## Second, right after text

````{note}
## not a slide: inside a directive
````

+++ {"slideshow": {"slide_type": "subslide"}}

(my-label)=
### Sub

+++ {"tags": ["keep"], "slideshow": {"slide_type": "subslide"}}

### Sub after a break

:::{admonition} Also
# not a slide either
:::
"""


def test_marks_cut_at_headings_only():
    assert slide_marks.mark_text(MYST) == MARKED
    assert slide_marks.mark_text(MARKED) == MARKED  # marking twice changes nothing
    nb = jupytext.reads(MARKED, fmt="md:myst")
    marks = [(c.source.splitlines()[0], c.metadata.get("slideshow", {}).get("slide_type"))
             for c in nb.cells if c.cell_type == "markdown"]
    assert marks == [("# Title", None), ("## First", "slide"),
                     ("## Second, right after text", "slide"), ("(my-label)=", "subslide"),
                     ("### Sub after a break", "subslide")]
    code = [(c.metadata.get("tags"), c.metadata.get("slideshow")) for c in nb.cells
            if c.cell_type == "code"]
    assert code == [(None, None), (["remove-cell"], {"slide_type": "skip"})]


def test_marks_reject_what_is_not_a_chapter(tmp_path):
    with pytest.raises(TypeError, match="text"):
        slide_marks.mark_text(b"# bytes")
    with pytest.raises(ValueError, match="front matter"):
        slide_marks.mark_text("---\njupytext: {}\n# never closed\n")
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="files"):
        slide_marks.mark_files([tmp_path / "a.ipynb"])


def headings(md: str) -> list[str]:
    """The tags of the h1-h3 of a MyST text, as an independent Markdown parser finds them (not in code or
    directives: a fence's and a colon fence's content are not parsed as Markdown here)."""
    tokens = MarkdownIt("commonmark").use(colon_fence_plugin).parse(md.split("\n---\n", 1)[1])
    return [t.tag for t in tokens
            if t.type == "heading_open" and t.level == 0 and t.tag in ("h1", "h2", "h3")]


# the marks as mark-chapters writes them (stripped to get a chapter's unmarked text)
SLIDE_MARK = re.compile(r'^\+\+\+ \{"slideshow": \{"slide_type": "(?:sub)?slide"\}\}\n\n', re.M)
SKIP_MARK = re.compile(r"^:slideshow: \{slide_type: skip\}\n", re.M)


@pytest.mark.parametrize("name", CHAPTERS)
def test_marks_of_each_chapter_survive_a_jupytext_round_trip(tmp_path, name):
    """The chapter as committed carries exactly the marks ``mark-chapters`` writes: with them
    stripped, marking gives the committed text back; one mark per heading but the first, the
    same cells' text, and the marks read back unchanged from the notebook jupytext writes (as
    `make notebooks` does). A chapter edited without re-marking fails here."""
    committed = (ROOT / "book" / f"{name}.md").read_text(encoding="utf-8")
    assert slide_marks.mark_files([ROOT / "book" / f"{name}.md"], check=True) == []
    copy = tmp_path / f"{name}.md"
    copy.write_text(SKIP_MARK.sub("", SLIDE_MARK.sub("", committed)), encoding="utf-8")
    original = jupytext.read(copy)
    assert slide_marks.mark_files([copy]) == [copy]
    assert copy.read_text(encoding="utf-8") == committed
    assert slide_marks.mark_files([copy], check=True) == []
    assert slide_marks.mark_files([copy]) == []  # marking twice changes nothing
    marked = jupytext.read(copy)
    types = [c.metadata["slideshow"]["slide_type"] for c in marked.cells
             if c.cell_type == "markdown" and "slideshow" in c.metadata]
    found = headings(copy.read_text(encoding="utf-8"))
    assert found[0] == "h1" and types == ["subslide" if h == "h3" else "slide" for h in found[1:]]
    skipped = [c.metadata.get("slideshow") == {"slide_type": "skip"} for c in marked.cells
               if c.cell_type == "code"]
    assert skipped == ["remove-cell" in c.metadata.get("tags", []) for c in original.cells
                       if c.cell_type == "code"]
    assert [c.source for c in marked.cells if c.cell_type == "code"] == \
        [c.source for c in original.cells if c.cell_type == "code"]
    assert "\n".join(c.source for c in marked.cells if c.cell_type == "markdown").split() == \
        "\n".join(c.source for c in original.cells if c.cell_type == "markdown").split()
    again = jupytext.reads(jupytext.writes(marked, fmt="ipynb"), fmt="ipynb")
    assert [c.metadata for c in again.cells] == [c.metadata for c in marked.cells]


# ---- the decks in the built site ------------------------------------------------------------

PROJECTOR = {"width": 1280, "height": 720}


def built(name: str, folder: str) -> BeautifulSoup:
    path = SITE / folder / f"{name}.html"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make slides` (`make test` does)")
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@pytest.mark.browser
@pytest.mark.parametrize("name", CHAPTERS)
def test_each_deck_shows_its_chapter_without_code(name):
    """Every Explorer of the chapter, every equation outside code, every section title; no
    code; and the chapter page's "Slides" button leads to the deck."""
    page, deck = built(name, "book").select_one("article.bd-article"), built(name, "slides")
    assert [e["id"] for e in deck.select(".kx-explorer")] == \
        [e["id"] for e in page.select(".kx-explorer")]
    equations = [m for m in page.select("div.math") if not m.find_parent(class_="cell")]
    assert len(deck.select(".slides div.math")) == len(equations)
    titles = [h.get_text(" ", strip=True).rstrip("#").strip() for h in page.select("section > h2")]
    shown = [h.get_text(" ", strip=True) for h in deck.select(".slides h2")]
    assert titles and all(t in shown for t in titles)
    assert not deck.select(".slides pre, .slides .cell_input, .slides [class*=highlight-]")
    button = built(name, "book").select_one("a.kx-slides-button")
    assert button is not None and button["href"] == f"../slides/{name}.html"


@pytest.fixture(scope="module")
def decks():
    with serve() as url, browser() as b:
        yield url, b


SLIDE_JS = """() => {
    const s = Reveal.getCurrentSlide();
    return {id: s.id, over: s.scrollHeight - s.clientHeight,
            explorers: [...s.querySelectorAll('.kx-explorer')].map(e => e.id)};
}"""
FITTED_JS = """id => { const p = document.querySelector('#' + id + ' .kx-plot');
    return p._fullLayout && p.offsetWidth > 0  // a figure may fix its own width
        && Math.abs(p._fullLayout.width - (p.layout.width || p.offsetWidth)) < 2
        && p.querySelectorAll('.main-svg .trace, .main-svg .hm, .main-svg image').length > 0; }"""
STATE_JS = """id => JSON.stringify(document.querySelector('#' + id + ' .kx-plot').data)"""


@pytest.mark.browser
@pytest.mark.parametrize("name", CHAPTERS)
def test_deck_works_offline_with_the_keyboard_and_live_sliders(decks, name):
    """At 1280 x 720, cold cache: nothing requested off-site, no error, no missing file; the
    arrow keys step through the slides; each slide fits the screen with text of at least
    24 px; each Explorer is drawn at its slide's size when shown, and a slider moved with the
    keyboard changes its figure (and does not change the slide)."""
    built(name, "slides")
    url, b = decks
    page, log = open_page(url, b, f"slides/{name}.html", viewport=PROJECTOR)
    try:
        page.wait_for_function("document.querySelector('.reveal').dataset.kxReady")
        page.wait_for_load_state("networkidle")
        total = page.evaluate("Reveal.getTotalSlides()")
        assert total > 2
        page.keyboard.press("ArrowRight")
        assert page.evaluate("Reveal.getSlidePastCount()") == 1
        page.keyboard.press("ArrowLeft")
        assert page.evaluate("Reveal.getSlidePastCount()") == 0
        text_px = page.evaluate("""() => parseFloat(getComputedStyle(
            document.querySelector('.reveal .kx-body p')).fontSize) * Reveal.getScale()""")
        assert text_px >= 24, f"body text is {text_px:.1f} px on a 1280 x 720 screen"
        seen, moved, overflow = [], 0, []
        for i in range(total):
            if i:
                page.keyboard.press("ArrowRight")
            slide = page.evaluate(SLIDE_JS)
            assert page.evaluate("Reveal.getSlidePastCount()") == i
            if slide["over"] > 2:
                overflow.append(f"{slide['id']} by {slide['over']} px")
            for eid in slide["explorers"]:
                seen.append(eid)
                page.wait_for_function(FITTED_JS, arg=eid, timeout=10000)
                moved += move_a_control(page, eid)
        assert overflow == [], f"slides taller than the screen: {overflow}"
        assert len(seen) == page.locator(".kx-explorer").count() > 0
        assert moved > 0, "no explorer of the deck has a control"
        assert log.outside == [], f"requested off-site: {log.outside}"
        assert log.errors == [] and log.failed == [] and log.missing == [], \
            (log.errors, log.failed, log.missing)
    finally:
        page.context.close()


def move_a_control(page, eid: str) -> int:
    """Move the Explorer's first control one step with the keyboard; 1 if it has one."""
    control = page.locator(f"#{eid} [data-param]").first
    if page.locator(f"#{eid} [data-param]").count() == 0:
        return 0
    where = page.evaluate("Reveal.getSlidePastCount()")
    before = page.evaluate(STATE_JS, eid)
    select, at_end = control.evaluate("e => e.tagName === 'SELECT' ? [true, e.selectedIndex === "
                                      "e.options.length - 1] : [false, e.value === e.max]")
    control.focus()
    keys = ("ArrowUp", "ArrowDown") if select else ("ArrowLeft", "ArrowRight")
    page.keyboard.press(keys[0] if at_end else keys[1])
    page.wait_for_function(f"id => ({STATE_JS})(id) !== {json.dumps(before)}", arg=eid,
                           timeout=5000)
    assert page.evaluate("Reveal.getSlidePastCount()") == where, "the key moved the slide"
    control.evaluate("e => e.blur()")
    return 1


# ---- the same chapters presented live in `make lab` ------------------------------------------

SLIDESHOW_JS = """() => ({
    stacks: document.querySelectorAll('.reveal .slides > section').length,
    present: document.querySelector('.reveal .slides section.present')?.innerText.slice(0, 80),
    myst: document.querySelectorAll('.reveal div.myst').length,
    code: document.querySelectorAll('.reveal .jp-CodeCell').length})"""


def present_in_lab(b, url: str, token: str, path: str, slides: int):
    """Open ``path`` in the lab, Run All (as a teacher does before presenting), press "Open as
    Slideshow" (jupyterlab-myst-revealjs) and wait for its ``slides`` slides (it adds them as it
    renders): the slideshow's state on its first slide and after one arrow key, the request log,
    the page, and the page errors that are the known upstream race below."""
    from test_lab import run_all_cells
    page = b.new_context(viewport=PROJECTOR).new_page()
    log = PageLog(page, url)
    # JupyterLab 4.6's cell toolbar reads `inputArea.renderedInput`, which a Markdown cell
    # rendered by jupyterlab-myst lacks: an upstream race (now and then after Run All, in the
    # notebook, not the slideshow), told apart by its stack and left out of log.errors below.
    known = []
    page.on("pageerror", lambda e: "_markdownOverlapsToolbar" in (e.stack or "")
            and known.append(f"uncaught: {e}"))
    page.set_default_timeout(120_000)
    page.goto(f"{url}/lab/tree/{path}?reset&token={token}", wait_until="load")
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
    config = json.loads(page.locator("#jupyter-config-data").text_content())
    loaded = {e["name"] for e in config.get("federated_extensions", [])}
    assert "jupyterlab-myst-revealjs" in loaded, \
        f"the lab lacks jupyterlab-myst-revealjs (requirements.txt pins it): {sorted(loaded)}"
    run_all_cells(page)  # once the kernel has started
    # Run All done: the Explorer drew its figure, every shown prompt has its count, kernel idle
    page.wait_for_function(f"() => ({PLOT_DATA_JS})('.jp-NotebookPanel') !== null")
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .every(p => !p.textContent.trim() || /\\[\\d+\\]/.test(p.textContent))
        && /\\| Idle/.test(document.querySelector('.jp-StatusBar-Widget')?.innerText ?? '')""")
    page.locator(".jp-NotebookPanel-toolbar [title='Open as Slideshow']").first.click()
    # It re-renders its slides while the notebook settles (kernel start, widget state): wait
    # until it shows the expected slides, MyST and code cells, unchanged over a second.
    seen, steady, deadline = None, 0, time.monotonic() + 90
    while steady < 3:
        state = page.evaluate(SLIDESHOW_JS)
        ready = state["stacks"] == slides and state["myst"] and state["code"] and state["present"]
        steady = steady + 1 if ready and state == seen else 0
        seen = state
        if time.monotonic() > deadline:
            pytest.fail(f"the slideshow did not settle on {slides} slides: {state}")
        page.wait_for_timeout(500)
    first = page.evaluate(SLIDESHOW_JS)
    page.locator(".reveal").first.click(position={"x": 300, "y": 300})
    page.keyboard.press("ArrowRight")
    page.wait_for_function("t => document.querySelector('.reveal .slides section.present')"
                           "?.innerText.slice(0, 80) !== t", arg=first["present"])
    return first, page.evaluate(SLIDESHOW_JS), log, page, known


# The traces of the first plotly figure drawn under ``root`` (a CSS selector), or null.
PLOT_DATA_JS = """root => {
    const div = document.querySelector(`${root} .js-plotly-plot`);
    return div && div.data?.length ? JSON.stringify(div.data.map(t => [t.x, t.y, t.z, t.text]))
                                   : null;
}"""


def move_a_slider_on_a_slide(page, max_slides: int) -> None:
    """Go to the first slide holding a live Explorer, change its first control with the mouse
    (arrow keys belong to reveal.js there) and wait for its figure to redraw."""
    present = ".reveal .slides section.present"
    for _ in range(max_slides):
        if page.evaluate(PLOT_DATA_JS, present) is not None:
            break
        if page.evaluate("p => !document.querySelector(p).nextElementSibling", present):
            break
        title = page.evaluate(SLIDESHOW_JS)["present"]
        page.keyboard.press("ArrowRight")
        page.wait_for_function("t => document.querySelector('.reveal .slides section.present')"
                               "?.innerText.slice(0, 80) !== t", arg=title)
        page.wait_for_timeout(300)  # the slide transition
    if page.evaluate(PLOT_DATA_JS, present) is None:
        waiting = page.locator(".reveal .jp-OutputArea-output", has_text="Loading widget").count()
        pytest.fail(f"no slide shows a live Explorer's figure ({waiting} outputs still "
                    "\"Loading widget...\": the slideshow's outputs have no widget manager)")
    before = page.evaluate(PLOT_DATA_JS, present)
    select = page.locator(f"{present} .jp-OutputArea select")
    if select.count():
        n = select.first.evaluate("e => e.options.length")
        i = select.first.evaluate("e => e.selectedIndex")
        select.first.select_option(index=(i + 1) % n)
    else:  # click the slider's track at the far end from its handle
        track = page.locator(f"{present} .jp-OutputArea .widget-slider .noUi-target").first
        handle = track.locator(".noUi-handle")
        at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        box = track.bounding_box()
        track.click(position={"x": 2 if at_end else box["width"] - 2, "y": box["height"] / 2})
    page.wait_for_function(f"b => ({PLOT_DATA_JS})('{present}') !== b", arg=before,
                           timeout=30_000)


@pytest.mark.browser
def test_a_marked_chapter_is_presented_live_in_the_lab(decks, tmp_path):
    """`make lab` serving a copy of the book, whose chapters carry ``mark-chapters``' marks:
    "Open as Slideshow" cuts it at the marks (one slide per mark, plus the title), renders its
    MyST, shows live code cells, the arrow key moves on, a live Explorer on a slide redraws its
    figure when its control moves, and nothing is requested off-site."""
    from test_lab import start_lab

    b = decks[1]  # the module's one Chromium
    with start_lab(tmp_path) as (url, token, served):
        chapter = served / "book" / "tensor_numpy.md"
        assert slide_marks.mark_files([chapter], check=True) == []  # already marked
        marks = [c for c in jupytext.read(chapter).cells if "slideshow" in c.metadata]
        slides = sum(c.metadata["slideshow"]["slide_type"] == "slide" for c in marks) + 1
        first, second, log, page, known = present_in_lab(b, url, token, "book/tensor_numpy.md",
                                                         slides)
        assert first["myst"] > 0 and first["code"] > 0
        assert "Setup for Colab" not in first["present"]  # the removed setup cell is skipped
        assert second["present"] != first["present"]
        move_a_slider_on_a_slide(page, slides)
        assert log.outside == [], f"requested off-site: {log.outside}"
        assert [e for e in log.errors if e not in known] == [], log.errors
