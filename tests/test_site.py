"""The built website in a real headless Chromium: offline, clean console, math, live controls.

Needs ``make html`` first (``make test`` does it) and Debian's ``chromium``.
"""
from __future__ import annotations

import json

import pytest

from site_server import SITE, PageLog, browser, serve

pytestmark = pytest.mark.browser

PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
               if "_static" not in p.parts and "_sources" not in p.parts)


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        pytest.fail("the site is not built: run `make html` (or `make test`, which builds it)")
    with serve() as url, browser() as b:
        yield url, b


def open_page(site, path):
    url, b = site
    page = b.new_page()
    log = PageLog(page, url)
    page.goto(f"{url}/{path}", wait_until="load")
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
    finally:
        page.close()


MATH_PAGES = [p for p in PAGES if 'class="math' in (SITE / p).read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", MATH_PAGES)
def test_math_is_typeset(site, path):
    page, log = open_page(site, path)
    try:
        page.wait_for_function("document.querySelectorAll('mjx-container').length > 0",
                               timeout=20000)
        raw = page.evaluate("""() => [...document.querySelectorAll('.math')]
            .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 40))""")
        assert raw == [], f"math left as raw TeX on {path}: {raw}"
    finally:
        page.close()


EXPLORER_PAGES = [p for p in PAGES if "kx-explorer" in (SITE / p).read_text(encoding="utf-8")]


def plot_state(page, index):
    return page.evaluate("""i => {
        const p = document.querySelectorAll('.kx-explorer')[i].querySelector('.kx-plot');
        return JSON.stringify({data: p.data, title: p.layout && p.layout.title});
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
        page.close()


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
        assert drawn["title"]["text"] == expected["layout"]["title"]["text"]
        assert "output size" in drawn["title"]["text"]
    finally:
        page.close()
