"""The built website in a real headless Chromium: offline, clean console, no missing file,
light first visits (issue 14), figures drawn, math typeset, live controls.

Needs ``make html`` first (``make test`` does it) and Debian's ``chromium``.
"""
from __future__ import annotations

import json
import re
import sys

import pytest

import site_server
from site_server import SITE, browser, require_site, serve

pytestmark = pytest.mark.browser

# the book's pages; the slide decks cut from them (slides/) have their own tests (test_slides.py)
PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
               if not {"_static", "_sources", "slides"} & set(p.parts))
EXPLORER_PAGES = [p for p in PAGES if "kx-explorer" in (SITE / p).read_text(encoding="utf-8")]


@pytest.fixture(scope="module")
def site():
    require_site()
    with serve() as url, browser() as b:
        yield url, b


def open_page(site, path):
    """A page on a first visit, once the network is quiet."""
    page, log = site_server.open_page(*site, path)
    page.wait_for_load_state("networkidle")
    return page, log


def test_site_has_every_chapter_of_the_toc():
    import yaml

    toc = yaml.safe_load((SITE.parents[1] / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", [])
                             for c in part["chapters"]]
    for f in files:
        assert (SITE / f"{f}.html").exists(), f"{f} is in _toc.yml but was not built"


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_with_clean_console(site, path):
    page, log = open_page(site, path)
    try:
        assert log.outside == [], f"{path} requested resources outside the site: {log.outside}"
        assert log.errors == [], f"{path} logged console errors: {log.errors}"
        assert log.failed == [], f"{path} had failed requests: {log.failed}"
        assert log.missing == [], f"{path} requested files that do not exist: {log.missing}"
    finally:
        page.context.close()


def test_site_root_redirects_without_a_missing_favicon(site):
    """The root index.html is a bare redirect: browsers then ask for /favicon.ico."""
    page, log = open_page(site, "index.html")
    try:
        page.wait_for_url("**/book/intro.html")
        page.wait_for_load_state("networkidle")
        assert log.missing == [], f"missing files: {log.missing}"
        assert (SITE / "favicon.ico").read_bytes()[:4] == b"\0\0\1\0"  # an .ico header
    finally:
        page.context.close()


CHAPTER_PAGES = [p for p in PAGES if p.startswith("book/")]
FIRST_VISIT_LIMIT = 3_000_000  # bytes, everything a chapter page requests (issue 14)


@pytest.mark.parametrize("path", CHAPTER_PAGES)
def test_first_visit_transfers_at_most_3_mb(site, path):
    page, log = open_page(site, path)
    try:
        total = log.transferred()
        biggest = sorted(((r.sizes()["responseBodySize"], r.url) for r in log.finished),
                         reverse=True)[:5]
        assert total <= FIRST_VISIT_LIMIT, f"{path}: {total / 1e6:.2f} MB on a first visit; " \
                                           f"largest: {biggest}"
        assert log.missing == [], f"{path} requested files that do not exist: {log.missing}"
        fonts = [u for u in log.requests if "fontawesome" in u]  # icons are CSS masks
        assert fonts == [], f"{path} fetched the theme's icon font: {fonts}"
    finally:
        page.context.close()


def test_plotly_bundle_is_the_version_plotly_py_ships(site):
    """The static site's bundle and plotly.py's live widgets draw with one plotly.js, and the
    bundle holds only the trace types the book draws."""
    sys.path.insert(0, str(SITE.parents[1] / "book" / "_ext"))
    import plotly_bundle

    page, log = open_page(site, EXPLORER_PAGES[0])
    try:
        page.wait_for_function("window.Plotly && window.Plotly.version")
        assert page.evaluate("Plotly.version") == plotly_bundle.plotly_py_js_version()
        assert sorted(page.evaluate("Object.keys(Plotly.PlotSchema.get().traces)")) == \
            sorted({"scatter", *plotly_bundle.TRACES})
        served = [u for u in log.requests if "plotly" in u]
        assert len(served) == 1 and "_static/plotly-book.min.js" in served[0]
    finally:
        page.context.close()


@pytest.mark.parametrize("path", [p for p in PAGES  # index.html only redirects to intro
                                  if p not in EXPLORER_PAGES and p != "index.html"])
def test_pages_without_a_figure_load_no_plotly(site, path):
    page, log = open_page(site, path)
    try:
        assert not [u for u in log.requests if "plotly" in u]
    finally:
        page.context.close()


@pytest.mark.parametrize("path", EXPLORER_PAGES)
def test_every_figure_draws(site, path):
    """Each Explorer's first frame is drawn: Plotly.react resolved, an SVG plot with traces."""
    page, log = open_page(site, path)
    try:
        page.wait_for_function("[...document.querySelectorAll('.kx-explorer')]"
                               ".every(r => r.dataset.kxFrame !== undefined)", timeout=20000)
        empty = page.evaluate("""() => [...document.querySelectorAll('.kx-explorer')]
            .map((r, i) => [i, r.querySelectorAll('.kx-plot .main-svg .trace, '
                + '.kx-plot .main-svg .hm, .kx-plot .main-svg image').length])
            .filter(([i, n]) => n === 0).map(([i]) => i)""")
        assert empty == [], f"explorers {empty} on {path} drew no trace"
        assert log.errors == [], f"console errors on {path}: {log.errors}"
    finally:
        page.context.close()


MATH_PAGES = [p for p in PAGES if 'class="math' in (SITE / p).read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", MATH_PAGES)
def test_math_is_typeset(site, path):
    """Typeset at build time by KaTeX: every equation is KaTeX HTML with its fonts loaded, and
    the page loads no math script."""
    page, log = open_page(site, path)
    try:
        raw = page.evaluate("""() => [...document.querySelectorAll('.math')]
            .filter(e => !e.querySelector('.katex-html')).map(e => e.textContent.slice(0, 40))""")
        assert raw == [], f"math left as raw TeX on {path}: {raw}"
        assert page.evaluate("document.fonts.check('16px KaTeX_Main')")
        assert page.evaluate("getComputedStyle(document.querySelector('.katex')).fontFamily"
                             ).startswith("KaTeX_Main")
        assert not [u for u in log.requests if "mathjax" in u.lower() or "katex" in u and
                    u.endswith(".js")]
    finally:
        page.context.close()




def plot_state(page, index):
    return page.evaluate("""i => {
        const p = document.querySelectorAll('.kx-explorer')[i].querySelector('.kx-plot');
        const t = p.parentNode.querySelector('.kx-figure-title');
        return JSON.stringify({data: p.data, title: t.textContent, plotly_title: p.layout.title});
    }""", index)


@pytest.mark.parametrize("path", EXPLORER_PAGES)
def test_every_control_redraws_its_plot(site, path):
    page, log = open_page(site, path)
    try:
        page.wait_for_function("[...document.querySelectorAll('.kx-explorer .kx-plot')]"
                               ".every(p => p.data)", timeout=20000)
        n = page.locator(".kx-explorer").count()
        for i in range(n):
            explorer = page.locator(".kx-explorer").nth(i)
            controls = explorer.locator("[data-param]")
            changed_any = False
            for j in range(controls.count()):
                control = controls.nth(j)
                before = plot_state(page, i)
                options = int(control.evaluate(
                    "e => e.tagName === 'SELECT' ? e.options.length : Number(e.max) + 1"))
                current = int(control.evaluate("e => Number(e.value)"))
                target = (current + 1) % options if options > 1 else current
                control.evaluate("""(e, v) => { e.value = String(v);
                    e.dispatchEvent(new Event('input', {bubbles: true})); }""", target)
                after = plot_state(page, i)
                changed_any |= before != after
            assert changed_any or controls.count() == 0, \
                f"explorer {i} on {path}: moving its controls never changed the plot"
        assert log.errors == [], f"console errors while moving controls on {path}: {log.errors}"
    finally:
        page.context.close()


def test_static_frame_matches_the_figure_function(site):
    """The intro's explorer, moved in the browser, draws what the Python function returns."""
    from kernels.viz import _frames
    from kernels.viz.intro import conv_arithmetic_figure

    page, log = open_page(site, "book/intro.html")
    try:
        page.wait_for_function("document.querySelector('.kx-explorer .kx-plot').data")
        settings = {"kernel_size": 2, "stride": 1, "padding": 2, "dilation": 1}  # indices
        for name, index in settings.items():
            page.locator(f'.kx-explorer [data-param="{name}"]').first.evaluate(
                """(e, v) => { e.value = String(v);
                   e.dispatchEvent(new Event('input', {bubbles: true})); }""", index)
        drawn = json.loads(plot_state(page, 0))
        expected = _frames.figure_json(
            conv_arithmetic_figure(kernel_size=3, stride=2, padding=2, dilation=2), 5)
        for got, want in zip(drawn["data"], expected["data"]):
            for key in ("x", "y", "text"):
                assert got[key] == want[key]
        # the title is the page's HTML above the plot; plotly draws none
        assert drawn["title"] == re.sub("<[^>]+>", "", expected["layout"]["title"]["text"])
        assert "output size" in drawn["title"]
        assert drawn["plotly_title"] == {"text": "", "automargin": False}
    finally:
        page.context.close()


def test_a_switch_redraws_without_rebuilding_the_plot_context(site):
    """Plotly.react gets the config on the first draw only: given it again, it rebuilds the
    plot's context (a search of the whole page for <base>, a forced layout) on every switch. And
    the tick-label overflow check, quadratic in the labels, is off ("allow"): no label of the
    book's figures sticks out of its plot."""
    page, log = open_page(site, "book/intro.html")
    try:
        page.wait_for_function("document.querySelector('.kx-explorer .kx-plot').data")
        same = page.evaluate("""async () => {
            const root = document.querySelector('.kx-explorer');
            const plot = root.querySelector('.kx-plot'), before = plot._context;
            const input = root.querySelector('[data-param]');
            input.value = String((Number(input.value) + 1) % (Number(input.max) + 1));
            input.dispatchEvent(new Event('input'));
            await root.kxDrawn;
            return [plot._context === before, plot._context.displaylogo,
                    plot._fullLayout.xaxis.ticklabeloverflow];
        }""")
        assert same == [True, False, "allow"]
    finally:
        page.context.close()


PROJECTOR = {"width": 1280, "height": 720}  # issue 15 item 7: a classroom projector

# For each plot: the labels plotly draws in one layer (the cells of one heatmap, the text points
# of one scatter trace, the plot's annotations), as boxes, and every control readout that its
# text does not fit. Tick labels are left to plotly.
OVERLAPS_JS = """async () => {
    const found = [];
    const box = t => { const r = t.getBoundingClientRect();
                       return [r.left, r.top, r.right, r.bottom, t.textContent]; };
    const layers = plot => [
        ...[...plot.querySelectorAll('g.hm, g.trace.scatter')].map(
            g => [...g.querySelectorAll('g.heatmap-label text, g.textpoint text')]),
        [...plot.querySelectorAll('.annotation-text')]];
    for (const [i, root] of [...document.querySelectorAll('.kx-explorer')].entries()) {
        const check = where => {
            for (const layer of layers(root.querySelector('.kx-plot'))) {
                const b = layer.filter(t => t.textContent.trim()).map(box);
                for (let j = 0; j < b.length; j++) for (let k = j + 1; k < b.length; k++) {
                    const w = Math.min(b[j][2], b[k][2]) - Math.max(b[j][0], b[k][0]);
                    const h = Math.min(b[j][3], b[k][3]) - Math.max(b[j][1], b[k][1]);
                    if (w > 1 && h > 1) found.push(`explorer ${i} ${where}: "${b[j][4]}" ` +
                        `overlaps "${b[k][4]}" by ${w.toFixed(1)} x ${h.toFixed(1)} px`);
                }
            }
            const title = root.querySelector('.kx-figure-title');
            if (title.scrollWidth > title.clientWidth + 1) found.push(`explorer ${i} ${where}: ` +
                `title "${title.textContent}" runs past the figure`);
            if (root.querySelector('.kx-plot .gtitle')) found.push(`explorer ${i} ${where}: ` +
                'plotly drew a title');
            for (const o of root.querySelectorAll('.kx-control output'))
                if (o.scrollWidth > o.clientWidth + 1) found.push(`explorer ${i} ${where}: ` +
                    `readout "${o.textContent}" cut (${o.scrollWidth} > ${o.clientWidth} px)`);
        };
        check('first frame');
        for (const input of root.querySelectorAll('[data-param]')) {  // each value of each control
            const start = input.value;
            const n = input.tagName === 'SELECT' ? input.options.length : Number(input.max) + 1;
            for (let v = 0; v <= n; v++) {  // the last step puts the control back
                input.value = v < n ? String(v) : start;
                input.dispatchEvent(new Event('input', {bubbles: true}));
                await root.kxDrawn;
                if (v < n) check(`${input.dataset.param}=${input.value}`);
            }
        }
    }
    return found;
}"""


def open_drawn(site, path, viewport):
    """``path`` in a fresh context at ``viewport``, once every Explorer has drawn a frame."""
    url, b = site
    page = b.new_context(viewport=viewport).new_page()
    page.goto(f"{url}/{path}", wait_until="load")
    page.wait_for_function("[...document.querySelectorAll('.kx-explorer')]"
                           ".every(r => r.dataset.kxFrame !== undefined)", timeout=20000)
    return page


@pytest.mark.parametrize("path", EXPLORER_PAGES)
def test_figures_are_readable_on_a_projector(site, path):
    """At 1280 x 720, in every frame a control reaches from the first one: no two labels of one
    layer of a figure overlap (rounded to what a reader needs), no readout is cut, and the
    figure's title (HTML above the plot) stays within the figure's width."""
    page = open_drawn(site, path, PROJECTOR)
    try:
        problems = page.evaluate(OVERLAPS_JS)
        assert problems == [], f"{path} at 1280 x 720:\n" + "\n".join(problems[:20])
    finally:
        page.context.close()


PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("path", EXPLORER_PAGES)
def test_figure_titles_wrap_on_a_phone(site, path):
    """A figure's title is HTML above its plot: on a phone it wraps within the figure's width
    (plotly's own title is one line per <br> and ran past the figure's edges)."""
    page = open_drawn(site, path, PHONE)
    try:
        titles = page.evaluate("""() => [...document.querySelectorAll('.kx-explorer')].map(r => {
            const t = r.querySelector('.kx-figure-title'), p = r.querySelector('.kx-plot');
            return {text: t.textContent, hidden: t.hidden, scroll: t.scrollWidth,
                    width: t.clientWidth, lines: Math.round(t.offsetHeight / parseFloat(
                        getComputedStyle(t).lineHeight)),
                    label: p.getAttribute('aria-label'), plotly: !!p.querySelector('.gtitle')};
        })""")
        assert titles and any(t["text"] for t in titles)
        for t in titles:
            assert not t["plotly"]
            assert t["hidden"] == (t["text"] == "")
            assert t["scroll"] <= t["width"] + 1, t
            assert t["label"] == "interactive figure" + (f": {t['text']}" if t["text"] else "")
        assert max(t["lines"] for t in titles) > 1  # something did wrap at 390 px
    finally:
        page.context.close()


def test_title_markup_becomes_text_and_the_title_box_keeps_its_height(site):
    """plotly's title markup is turned into DOM nodes, never HTML: <br>, <sup> (the subtitle
    lines, smaller), <sub>, <b>, <i>, and plotly's entities; any other tag stays text. While a
    slider moves, the title's box keeps the tallest height it had, so the plot never jumps up."""
    page, log = open_page(site, "book/intro.html")
    try:
        page.wait_for_function("document.querySelector('.kx-explorer .kx-plot').data")
        got = page.evaluate("""() => {
            const el = document.createElement('p');
            window.kxFrames.showTitle(el,
                'A<br><sup>b &amp; <script>x()</script> c<sub>2</sub> &#8805; <b>d</b></sup>');
            return {text: el.textContent, br: el.querySelectorAll('br').length,
                    sub: el.querySelector('.kx-figure-subtitle').textContent,
                    tags: [...el.querySelectorAll('*')].map(e => e.tagName).join(' ')};
        }""")
        assert got == {"text": "Ab & <script>x()</script> c2 \u2265 d", "br": 1,
                       "sub": "b & <script>x()</script> c2 \u2265 d", "tags": "BR SPAN SUB B"}
        fig = {"layout": {"title": {"text": "t", "font": {"size": 9}}}}
        assert page.evaluate("f => [window.kxFrames.takeTitle(f), f.layout.title]", fig) == \
            ["t", {"text": "", "automargin": False}]
        tops = page.evaluate("""async () => {
            const root = document.querySelectorAll('.kx-explorer')[0];
            const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
            const tops = [];
            for (const input of root.querySelectorAll('[data-param]')) {
                const n = Number(input.max) + 1;
                for (let v = 0; v < n; v++) {
                    input.value = String(v);
                    input.dispatchEvent(new Event('input', {bubbles: true}));
                    await root.kxDrawn; await frame();
                    tops.push(root.querySelector('.kx-plot').offsetTop);
                }
            }
            return tops;
        }""")
        assert len(tops) > 10 and tops == sorted(tops)  # the plot never moves up
        assert log.errors == []
    finally:
        page.context.close()
