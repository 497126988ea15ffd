"""Dark mode on the built site (issue 15 item 8): the theme's own switch turns every figure dark
without a reload, every mark stays as readable as on white paper, the data stay, and switching
back gives the light figure exactly. Also ``kxTheme.apply`` on synthetic figures.

Contrast is WCAG's, computed here from the colours plotly resolved (``_fullLayout``,
``_fullData``) in light and in dark: a mark that contrasted c with the light background must
contrast at least min(c, 3) with the dark one. Needs a built site and Debian's ``chromium``.
"""
from __future__ import annotations

import json
import re

import pytest

import site_server
from site_server import SITE, browser, require_site, serve

pytestmark = pytest.mark.browser

# the book's pages (the slide decks in slides/ have no theme switch: reveal.js's light theme)
PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
               if not {"_static", "_sources", "slides"} & set(p.parts))
EXPLORER_PAGES = [p for p in PAGES if "kx-explorer" in (SITE / p).read_text(encoding="utf-8")]
ENOUGH = 3.0  # WCAG 1.4.11: graphical objects need 3:1
SLACK = 0.97  # colours are rounded to 8-bit channels on the way


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:  # one per module: Playwright's sync API does not nest
        yield b


@pytest.fixture(scope="module")
def site(chromium):
    require_site()
    with serve() as url:
        yield url, chromium


def open_page(site, path):
    page, log = site_server.open_page(*site, path, viewport={"width": 1280, "height": 720})
    page.wait_for_function("[...document.querySelectorAll('.kx-explorer')]"
                           ".every(r => r.dataset.kxFrame !== undefined)", timeout=20000)
    return page, log


# ---- colours: an independent WCAG implementation ---------------------------------------------

NAMED = {"white": (255, 255, 255, 1.0), "black": (0, 0, 0, 1.0), "transparent": (0, 0, 0, 0.0)}


def rgba(colour: str) -> tuple:
    s = colour.strip().lower()
    if s in NAMED:
        return NAMED[s]
    if s.startswith("#"):
        h = s[1:]
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h)
        alpha = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha
    m = re.fullmatch(r"rgba?\(([^)]*)\)", s)
    if not m:
        raise ValueError(f"colour {colour!r} is not one this test reads")
    parts = [float(v) for v in re.split(r"[\s,/]+", m.group(1).strip())]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def over(colour: str, background: str) -> tuple:
    """``colour`` composited over an opaque ``background`` (alpha blending in sRGB, as SVG)."""
    r, g, b, a = rgba(colour)
    br, bg, bb, _ = rgba(background)
    return tuple(a * c + (1 - a) * d for c, d in ((r, br), (g, bg), (b, bb)))


def luminance(rgb) -> float:
    def lin(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = rgb[:3]
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(colour: str, background: str) -> float:
    y1, y2 = luminance(over(colour, background)), luminance(over(background, "white"))
    return (max(y1, y2) + 0.05) / (min(y1, y2) + 0.05)


# ---- what each plot draws, read from plotly's resolved figure ---------------------------------

# Per plot: backgrounds, font, every mark's colour with the colour it is drawn on ("bg" for the
# plot's background), each heatmap's colour scale, and the data.
SNAPSHOT_JS = """() => [...document.querySelectorAll('.kx-explorer .kx-plot')].map(p => {
    const L = p._fullLayout, marks = [], scales = [];
    const add = (where, c, on) => {
        if (Array.isArray(c)) c.forEach((v, i) => add(where + '[' + i + ']', v,
                                                      Array.isArray(on) ? on[i] : on));
        else if (typeof c === 'string') marks.push([where, c, typeof on === 'string' ? on : 'bg']);
    };
    add('font', L.font.color);
    if (L.title && L.title.text) add('title', L.title.font.color);
    if (L.showlegend) add('legend', L.legend.font.color, L.legend.bgcolor);
    Object.keys(L).filter(k => /^[xy]axis\\d*$/.test(k) && L[k].visible).forEach(k => {
        const a = L[k];
        if (a.showticklabels) add(k + '.ticks', a.tickfont.color);
        if (a.title && a.title.text) add(k + '.title', a.title.font.color);
        if (a.showgrid) add(k + '.grid', a.gridcolor);
        if (a.showline) add(k + '.line', a.linecolor);
        if (a.zeroline) add(k + '.zeroline', a.zerolinecolor);
    });
    (L.annotations || []).forEach((a, i) => {
        add('annotation' + i, a.font.color, a.bgcolor);
        if (a.showarrow) add('annotation' + i + '.arrow', a.arrowcolor);
    });
    (L.shapes || []).forEach((s, i) => {
        if (s.line && s.line.width > 0) add('shape' + i, s.line.color);
        if (s.fillcolor) add('shape' + i + '.fill', s.fillcolor);
    });
    p._fullData.forEach((t, i) => {
        if (t.visible !== true) return;
        const w = 'trace' + i + '(' + t.type + ')', mode = t.mode || '';
        if (t.type === 'heatmap') {
            scales.push([w, t.colorscale.map(s => s[1])]);
            if (t.showscale) add(w + '.colorbar', t.colorbar.tickfont.color);
            return;
        }
        if (t.type === 'scatter' && /lines/.test(mode)) add(w + '.line', t.line.color);
        const markers = t.type === 'bar' || /markers/.test(mode);
        if (markers && !t.marker.colorscale) add(w + '.marker', t.marker.color);
        if (markers && t.marker.line && t.marker.line.width > 0) add(w + '.edge', t.marker.line.color);
        if (/text/.test(mode) || (t.type === 'bar' && t.text)) {  // on its marker, or beside it
            const on = t.textposition === 'middle center' || t.textposition === 'inside'
                ? t.marker.color : 'bg';
            const c = t.textfont.color;  // one colour, or one per point (as on)
            add(w + '.text', Array.isArray(on) && !Array.isArray(c) ? on.map(() => c) : c, on);
        }
    });
    return {paper: L.paper_bgcolor, plot: L.plot_bgcolor, font: L.font.color, marks, scales,
            data: JSON.stringify(p.data.map(t => [t.x, t.y, t.z, t.text])),
            figure: JSON.stringify({data: p.data, layout: p.layout})};
})"""

REDRAWN_JS = """async () => {
    await new Promise(r => requestAnimationFrame(() => setTimeout(r)));
    await Promise.all([...document.querySelectorAll('.kx-explorer')].map(r => r.kxDrawn));
}"""


def given(figure_json: str) -> dict:
    """A drawn figure without what plotly computed and wrote back into its layout (axis ranges
    and domains: they move by a rounding error, or with the fonts loaded, from draw to draw)."""
    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()
                    if not (k in ("range", "domain", "autorange") and isinstance(v, (list, bool)))}
        return [strip(v) for v in node] if isinstance(node, list) else node
    return strip(json.loads(figure_json))


def switch_to(page, theme):
    """Click the theme's own switch (light -> auto -> dark, in some order) until ``theme``."""
    for _ in range(3):
        if page.evaluate("document.documentElement.dataset.theme") == theme:
            break
        page.click("button.theme-switch-button")
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    page.evaluate(REDRAWN_JS)


def page_colours(page):
    return page.evaluate("""() => { const s = getComputedStyle(document.documentElement);
        return [s.getPropertyValue('--pst-color-background').trim(),
                s.getPropertyValue('--pst-color-text-base').trim()]; }""")


def _rgb(colour_or_tuple) -> str:
    return colour_or_tuple if isinstance(colour_or_tuple, str) else "rgb(%g,%g,%g)" % colour_or_tuple


def readability_problems(lo: dict, hi: dict, where: str) -> list:
    """What reads worse on the dark figure ``hi`` than on the light ``lo`` (one plot's snapshots):
    marks below min(their light contrast, 3:1), glaring colour scales, merged scale steps."""
    problems = []
    for (name, c_lo, on_lo), (_, c_hi, on_hi) in zip(lo["marks"], hi["marks"]):
        bg_lo = _rgb(lo["plot"] if on_lo == "bg" else over(on_lo, lo["plot"]))
        bg_hi = _rgb(hi["plot"] if on_hi == "bg" else over(on_hi, hi["plot"]))
        was, now = contrast(c_lo, bg_lo), contrast(c_hi, bg_hi)
        if now < SLACK * min(was, ENOUGH):
            problems.append(f"{where} {name}: {c_hi} on {bg_hi} contrasts {now:.2f}, "
                            f"was {was:.2f} ({c_lo} on {bg_lo})")
    for (name, s_lo), (_, s_hi) in zip(lo["scales"], hi["scales"]):
        glare = [c for c in s_hi if luminance(over(c, hi["plot"])) > 0.8]
        if glare:
            problems.append(f"{where} {name}: near-white colours {glare} on a dark page")
        # neighbouring colours of the scale stay told apart: each step keeps its luminance
        # contrast (up to 1.25:1), or half its distance in RGB (a change of hue)
        for k in range(len(s_lo) - 1):
            if s_lo[k] == s_lo[k + 1]:
                continue
            rgb = [[over(c, "white") for c in s[k:k + 2]] for s in (s_lo, s_hi)]
            d_lo, d_hi = (sum((x - y) ** 2 for x, y in zip(*pair)) ** .5 for pair in rgb)
            c_lo, c_hi = (contrast(_rgb(a), _rgb(b)) for a, b in rgb)
            if c_hi < SLACK * min(c_lo, 1.25) and d_hi < 0.5 * d_lo:
                problems.append(f"{where} {name}: stops {k}, {k + 1} merge in dark "
                                f"({s_lo[k]}, {s_lo[k + 1]} -> {s_hi[k]}, {s_hi[k + 1]})")
    return problems


# Moves the first control of every Explorer by `step` (wrapping) and waits for the redraw;
# returns each plot's background and font colour.
STEP_JS = """async step => {
    const out = [];
    for (const root of document.querySelectorAll('.kx-explorer')) {
        const input = root.querySelector('[data-param]');
        if (!input) continue;
        const n = input.tagName === 'SELECT' ? input.options.length : Number(input.max) + 1;
        input.value = String((Number(input.value) + step + n) % n);
        input.dispatchEvent(new Event('input', {bubbles: true}));
        await root.kxDrawn;
        const L = root.querySelector('.kx-plot')._fullLayout;
        out.push([L.paper_bgcolor, L.font.color]);
    }
    return out;
}"""


@pytest.mark.parametrize("path", EXPLORER_PAGES)
def test_every_figure_follows_the_theme_switch(site, path):
    page, log = open_page(site, path)
    try:
        light = page.evaluate(SNAPSHOT_JS)
        switch_to(page, "dark")
        page_bg, page_text = page_colours(page)
        dark = page.evaluate(SNAPSHOT_JS)
        assert len(dark) == len(light)
        problems = []
        for i, (lo, hi) in enumerate(zip(light, dark)):
            where = f"{path} explorer {i}"
            assert hi["data"] == lo["data"], f"{where}: dark mode changed the data"
            assert rgba(hi["paper"])[:3] == rgba(hi["plot"])[:3] == rgba(page_bg)[:3], \
                f"{where}: backgrounds {hi['paper']}, {hi['plot']}, not the page's {page_bg}"
            assert luminance(rgba(page_bg)) < 0.03 < 0.4 < luminance(rgba(page_text))
            assert rgba(hi["font"])[:3] == rgba(page_text)[:3], f"{where}: font {hi['font']}"
            assert [m[0] for m in hi["marks"]] == [m[0] for m in lo["marks"]], where
            problems += readability_problems(lo, hi, where)
        assert problems == [], "\n".join(problems[:30])

        for paper, font in page.evaluate(STEP_JS, 1):  # a frame switch in dark stays dark
            assert rgba(paper)[:3] == rgba(page_bg)[:3] and rgba(font)[:3] == rgba(page_text)[:3], \
                f"{path}: a frame drawn in dark mode came out {paper} / {font}"

        # back to the first frames, then to light: the light figures as first drawn
        page.evaluate(STEP_JS, -1)
        switch_to(page, "light")
        again = page.evaluate(SNAPSHOT_JS)
        for i, (lo, back) in enumerate(zip(light, again)):
            for key in ("paper", "plot", "font", "marks", "scales", "data"):
                assert back[key] == lo[key], f"{path} explorer {i}: {key} differs after dark"
            assert given(back["figure"]) == given(lo["figure"]), \
                f"{path} explorer {i}: light mode after dark differs from the first light draw"
        assert log.errors == [], f"console errors on {path}: {log.errors}"
    finally:
        page.context.close()


@pytest.mark.parametrize("path", EXPLORER_PAGES[:1])
def test_auto_mode_follows_the_system_setting(site, path):
    """The switch's third mode ("System Settings"): the figures follow the reader's system
    turning dark (and light again) while the page is open."""
    page, log = open_page(site, path)
    try:
        page.emulate_media(color_scheme="light")
        for _ in range(3):
            if page.evaluate("document.documentElement.dataset.mode") == "auto":
                break
            page.click("button.theme-switch-button")
        assert page.evaluate("document.documentElement.dataset.mode") == "auto"
        for scheme, dark in (("dark", True), ("light", False)):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_function(f"document.documentElement.dataset.theme === '{scheme}'")
            page.evaluate(REDRAWN_JS)
            papers = page.evaluate("""() => [...document.querySelectorAll('.kx-plot')]
                .map(p => p._fullLayout.paper_bgcolor)""")
            assert [luminance(over(c, "white")) < 0.03 for c in papers] == [dark] * len(papers)
        assert log.errors == []
    finally:
        page.context.close()


# ---- kxTheme.apply on synthetic figures ------------------------------------------------------

BLUES = [[0, "rgb(247,251,255)"], [0.5, "rgb(107,174,214)"], [1, "rgb(8,48,107)"]]
GREYS = [[0, "rgb(255,255,255)"], [0.5, "rgb(150,150,150)"], [1, "rgb(0,0,0)"]]
STEPS = [[0, "#F2F2F2"], [0.5, "#F2F2F2"], [0.5, "#0072B2"], [1, "#0072B2"]]
SYNTHETIC = {
    "data": [
        {"type": "heatmap", "z": [[1, 2], [3, 4]], "colorscale": BLUES},
        {"type": "heatmap", "z": [[0, 1]], "colorscale": GREYS},
        {"type": "heatmap", "z": [[0, 1]], "colorscale": STEPS},
        {"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "markers+text", "text": ["a", "b"],
         "marker": {"color": ["#ddd", "#56B4E9"], "line": {"color": "black", "width": 1}}},
        {"type": "scatter", "x": [0, 1], "y": [1, 0], "mode": "lines", "line": {"color": "#999"}},
        {"type": "scatter", "x": [0], "y": [0], "line": {"color": "#08406E"},
         "marker": {"color": [1, 2, 3], "colorscale": BLUES}},
        {"type": "bar", "x": [0, 1], "y": [1, 2], "marker": {"color": ["#222", "#E69F00"]}},
    ],
    "layout": {
        "template": {"layout": {"font": {"color": "#222"}, "paper_bgcolor": "white",
                                "plot_bgcolor": "white", "colorway": ["#0072B2", "#000000"],
                                "xaxis": {"gridcolor": "#eee"}}},
        "legend": {"bgcolor": "rgba(255,255,255,0.8)"},
        "shapes": [{"type": "rect", "line": {"color": "#0072B2"}, "fillcolor": "rgba(0,0,0,0)"}],
        "annotations": [{"text": "x", "font": {"color": "not-a-colour"}, "bgcolor": "hsl(0,50%,50%)"}],
    },
}


def chroma(colour: str) -> float:
    r, g, b, _ = rgba(colour)
    return (max(r, g, b) - min(r, g, b)) / 255


def hue(colour: str) -> float:
    import colorsys
    r, g, b, _ = rgba(colour)
    return 360 * colorsys.rgb_to_hls(r / 255, g / 255, b / 255)[0]


def test_apply_maps_a_synthetic_figure(site):
    page, log = open_page(site, EXPLORER_PAGES[0])
    try:
        run = """fig => { window.kxFig = fig; const before = JSON.stringify(fig);
            const out = kxTheme.apply(fig);
            return {same: out === fig, untouched: JSON.stringify(fig) === before,
                    shared: out.data[0].z === fig.data[0].z && out.data[3].x === fig.data[3].x
                            && out.data[5].marker.color === fig.data[5].marker.color,
                    out: JSON.parse(JSON.stringify(out))}; }"""
        light = page.evaluate(run, SYNTHETIC)
        assert light["same"] and light["untouched"], "light mode must give the figure back as is"
        assert page.evaluate("kxTheme.isDark()") is False

        page.evaluate("document.documentElement.dataset.theme = 'dark'")
        assert page.evaluate("kxTheme.isDark()") is True
        bg, text = page_colours(page)
        got = page.evaluate(run, SYNTHETIC)
        assert not got["same"] and got["untouched"] and got["shared"]
        out, tpl = got["out"], got["out"]["layout"]["template"]["layout"]
        assert [tpl["paper_bgcolor"], tpl["plot_bgcolor"]] == [bg, bg]
        assert tpl["font"]["color"] == text == out["layout"]["font"]["color"]
        # greys keep their contrast with the page (#eee grid, #999 line); black becomes light
        for light_c, dark_c in (("#eee", tpl["xaxis"]["gridcolor"]),
                                ("#999", out["data"][4]["line"]["color"])):
            assert contrast(dark_c, bg) == pytest.approx(contrast(light_c, "white"), rel=0.03)
        assert tpl["colorway"][0] == "#0072B2" and contrast(tpl["colorway"][1], bg) > 10
        assert contrast(out["data"][3]["marker"]["line"]["color"], bg) > 10  # "black"
        # hues stay unless too dark for the page: then lighter, same hue
        assert out["data"][6]["marker"]["color"] == [text, "#E69F00"]
        lifted = out["data"][5]["line"]["color"]
        assert contrast(lifted, bg) >= SLACK * ENOUGH and abs(hue(lifted) - hue("#08406E")) < 8
        # colour scales: a ramp from the paper is mirrored stop by stop, hue kept
        for (_, lo), (_, hi) in zip(BLUES, out["data"][0]["colorscale"]):
            assert contrast(hi, bg) == pytest.approx(contrast(lo, "white"), rel=0.03)
            if min(chroma(lo), chroma(hi)) > 0.1:  # a hue to keep (not a near-grey)
                assert abs(hue(hi) - hue(lo)) < 8
        greys = [luminance(rgba(c)) for _, c in out["data"][1]["colorscale"]]
        assert greys == sorted(greys) and greys[0] < 0.02 and greys[-1] < 0.8  # no glare
        steps = [c for _, c in out["data"][2]["colorscale"]]
        assert luminance(rgba(steps[0])) < 0.05 and steps[2:] == ["#0072B2", "#0072B2"]
        # labels on their markers: the text colour that reads on each (mapped) marker
        marks, labels = out["data"][3]["marker"]["color"], out["data"][3]["textfont"]["color"]
        assert labels[1] == "#222" and labels[0] == text
        assert all(contrast(t, m) >= 4.5 for t, m in zip(labels, marks))
        assert "textfont" not in out["data"][0]
        # translucent and unreadable colours
        assert out["layout"]["legend"]["bgcolor"] == "rgba(%d,%d,%d,0.8)" % rgba(bg)[:3]
        assert out["layout"]["shapes"][0]["fillcolor"] == "rgba(0,0,0,0)"
        assert out["layout"]["annotations"][0]["font"]["color"] == "not-a-colour"
        assert out["layout"]["annotations"][0]["bgcolor"] == "hsl(0,50%,50%)"
        assert out["data"][5]["marker"]["color"] == [1, 2, 3]
        assert log.errors == []
    finally:
        page.context.close()


def test_on_change_and_jupyterlab_themes(site):
    page, log = open_page(site, EXPLORER_PAGES[0])
    try:
        calls = page.evaluate("""async () => {
            const tick = () => new Promise(r => setTimeout(r));
            let n = 0, m = 0; const seen = [];
            kxTheme.onChange(() => { n += 1; seen.push(kxTheme.isDark()); });
            const off = kxTheme.onChange(() => { m += 1; });
            const html = document.documentElement.dataset, body = document.body.dataset;
            html.theme = 'dark'; await tick();
            html.theme = 'dark'; await tick();   // no change, no call
            html.theme = 'light'; await tick();
            off();  // unregistered: called twice, never again
            body.jpThemeLight = 'false'; await tick();  // JupyterLab's dark theme wins
            const labDark = kxTheme.isDark();
            body.jpThemeLight = 'true'; await tick();
            delete body.jpThemeLight; await tick();
            let error = null;
            try { kxTheme.onChange('redraw'); } catch (e) { error = e.constructor.name; }
            return {n, m, seen, labDark, error};
        }""")
        assert calls == {"n": 4, "m": 2, "seen": [True, False, True, False], "labDark": True,
                         "error": "TypeError"}
        # "auto" (the theme's default mode) before its script resolves it: the system decides
        page.evaluate("document.documentElement.dataset.theme = 'auto'")
        # (the theme's own listener may resolve "auto" to the new scheme a moment later: wait)
        for scheme in ("dark", "light"):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_function(f"kxTheme.isDark() === {str(scheme == 'dark').lower()}",
                                   timeout=5000)
        assert log.errors == []
    finally:
        page.context.close()


def test_theme_script_defines_itself_once_and_runs_as_a_module(site):
    """The live widget prepends the file to its ES module; the site loads it as a classic
    script. Loaded again, it keeps the first kxTheme (callbacks registered on it stay)."""
    page, log = open_page(site, EXPLORER_PAGES[0])
    try:
        result = page.evaluate("""async () => {
            const src = await (await fetch(document.querySelector(
                'script[src*="kernels-theme.js"]').src)).text();
            const first = window.kxTheme;
            (0, eval)(src);
            const kept = window.kxTheme === first;
            delete window.kxTheme;
            const url = URL.createObjectURL(new Blob(
                [src + '\\nexport const ok = typeof window.kxTheme.apply;'],
                {type: 'text/javascript'}));
            const mod = await import(url);
            const fresh = window.kxTheme !== first && mod.ok === 'function';
            document.documentElement.dataset.theme = 'dark';
            const bg = window.kxTheme.apply({data: [], layout: {}}).layout.paper_bgcolor;
            return {kept, fresh, bg};
        }""")
        bg, _ = page_colours(page)
        assert result == {"kept": True, "fresh": True, "bg": bg}
        assert log.errors == []
    finally:
        page.context.close()


# ---- live figures in JupyterLab's dark theme ---------------------------------------------------

def _lab_theme(page, name, light):
    """Settings > Theme > ``name``, as a reader does it; wait until the lab says it is on."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-item:visible", has_text="Theme").first.hover()
    page.locator(".lm-Menu-item:visible", has_text=name).first.click()
    page.wait_for_function(f"document.body.dataset.jpThemeLight === '{str(light).lower()}'")


LIVE_JS = """() => [...document.querySelectorAll('.jp-OutputArea .js-plotly-plot')].map(d => [
    d._fullLayout.paper_bgcolor, d._fullLayout.plot_bgcolor, d._fullLayout.font.color,
    JSON.stringify(d.data.map(t => [t.x, t.y, t.z, t.text]))])"""


def test_live_figures_follow_jupyterlab_dark_theme(chromium, tmp_path):
    """`make lab`, intro.md run: the live figure turns dark with JupyterLab Dark (no rerun),
    stays dark when a slider moves, and is the light figure again with JupyterLab Light."""
    from test_lab import _open_in_lab, run_all_cells, start_lab, wait_until_all_cells_ran

    with start_lab(tmp_path) as (url, token, _):
        page, log = _open_in_lab(chromium, url, token, "book/intro.md")
        try:
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
            run_all_cells(page)
            wait_until_all_cells_ran(page)
            page.wait_for_function("() => document.querySelector("
                                   "'.jp-OutputArea .js-plotly-plot')?._fullLayout")
            light = page.evaluate(LIVE_JS)
            _lab_theme(page, "JupyterLab Dark", light=False)
            page.wait_for_function("""() => [...document.querySelectorAll(
                '.jp-OutputArea .js-plotly-plot')].every(d => d._fullLayout.paper_bgcolor !== 'white')""")
            dark = page.evaluate(LIVE_JS)
            bg = page.evaluate("getComputedStyle(document.body).getPropertyValue('--jp-layout-color0')")
            for (_, _, font_lo, data_lo), (paper, plot, font, data) in zip(light, dark):
                assert rgba(paper)[:3] == rgba(plot)[:3] == rgba(bg.strip())[:3]
                assert contrast(font, paper) >= contrast(font_lo, "white") * 0.75 and \
                    luminance(rgba(font)) > 0.4
                assert data == data_lo
            before = dark[0][3]
            handle = page.locator(".jp-OutputArea .widget-slider .noUi-handle").first
            handle.focus()
            at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
            page.wait_for_function("""before => JSON.stringify(document.querySelector(
                '.jp-OutputArea .js-plotly-plot').data.map(t => [t.x, t.y, t.z, t.text])) !== before""",
                                   arg=before)
            moved = page.evaluate(LIVE_JS)[0]
            assert rgba(moved[0])[:3] == rgba(bg.strip())[:3], "a new frame in dark came out light"
            page.keyboard.press("ArrowRight" if at_end else "ArrowLeft")
            page.wait_for_function("""before => JSON.stringify(document.querySelector(
                '.jp-OutputArea .js-plotly-plot').data.map(t => [t.x, t.y, t.z, t.text])) === before""",
                                   arg=before)
            _lab_theme(page, "JupyterLab Light", light=True)
            page.wait_for_function("""() => [...document.querySelectorAll(
                '.jp-OutputArea .js-plotly-plot')].every(d => d._fullLayout.paper_bgcolor === 'white')""")
            assert page.evaluate(LIVE_JS) == light
            assert log.outside == [] and log.errors == [], (log.outside, log.errors)
        finally:
            page.context.close()
