"""Sphinx extension: a light, offline-first site and an execution cache that knows about ``kernels``.

* Nothing is loaded from a CDN, and a first visit to a chapter stays under 3 MB (issue 14):
  - plotly.js is the *cartesian* partial bundle (scatter, heatmap, bar, ... : 1.5 MB instead of
    4.8 MB), installed from npm at build time (``package.json``, ``npm ci`` in ``make html``).
    Its version must equal the plotly.js that plotly.py ships (the live widgets use that one),
    and a figure whose trace type the bundle lacks fails the build. It is loaded with
    ``defer``, and only on pages that hold a figure, so text paints before it.
  - math is typeset at build time by KaTeX (npm, run once per page with ``node``): pages carry
    HTML + MathML and one small stylesheet, no math script. Bad TeX fails the build.
  - the theme's icons come from ``kx-icons.css``: each icon a page uses, cut out of the theme's
    1.5 MB ``fontawesome.js`` as a CSS mask (a few kB); the script itself is dropped, and these
    icons do not fetch the theme's icon webfonts either (its CSS still may, e.g. admonitions).
  - the site root gets a ``favicon.ico`` (browsers ask for it on the redirecting index.html).
* The Explorer's script and style come from ``kernels/viz/static``.
* sphinx-thebe is unhooked: the book offers Binder and Colab launch buttons instead of Thebe,
  and sphinx-thebe injects its inline script twice (a console error) and points at unpkg.
* The chapters execute in static mode: ``KERNELS_BOOK_BUILD=1`` is set in this process's
  environment, which the notebook kernels inherit, so ``kernels.viz.Explorer`` writes its
  frames into the page. ``jupyter-book build .`` alone gives a correct site.
* The execution cache (jupyter-cache) hashes only a notebook's own cells; a fingerprint of every
  file under ``kernels/`` is stored beside it and the cache is wiped when it changes, so a
  change to a kernel re-executes every chapter.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)
STAMP = "kernels-fingerprint.txt"
PLOTLY_NPM = "plotly.js-cartesian-dist-min"
PLOTLY_FILE = "plotly-cartesian.min.js"  # its name in node_modules and in _static


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"offline_site: package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def kernels_fingerprint(root: Path | None = None) -> str:
    """SHA-256 over the relative path and bytes of every file of the ``kernels`` package."""
    root = package_dir("kernels") if root is None else root
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def refresh_cache(cache_dir: Path, fingerprint: str) -> bool:
    """Wipe ``cache_dir`` unless it was filled with this ``fingerprint``; True if wiped."""
    stamp = cache_dir / STAMP
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    wiped = cache_dir.exists()
    if wiped:
        shutil.rmtree(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")
    return wiped


# ---- npm assets: plotly.js partial bundle and KaTeX ------------------------------------------

def node_modules(*starts: Path) -> Path:
    """The repository's ``node_modules`` (``npm ci`` fills it): beside the book, this file, or
    the ``kernels`` package (a book built from elsewhere, e.g. the tests' tiny books)."""
    here = Path(__file__).resolve().parents[2]
    for start in (*starts, here, package_dir("kernels").parent, Path.cwd()):
        candidate = Path(start) / "node_modules"
        if (candidate / PLOTLY_NPM).is_dir() and (candidate / "katex").is_dir():
            return candidate
    raise ExtensionError("offline_site: node_modules/ with plotly.js and KaTeX is missing: "
                         "run `npm ci` at the repository root (`make html` does)")


def plotly_py_js_version() -> str:
    """The plotly.js version plotly.py ships (the header of its bundled plotly.min.js)."""
    head = (package_dir("plotly") / "package_data" / "plotly.min.js").read_text()[:400]
    return re.search(r"plotly\.js v(\S+)", head).group(1)


def bundle_version(modules: Path) -> str:
    return json.loads((modules / PLOTLY_NPM / "package.json").read_text())["version"]


def bundle_trace_types(modules: Path) -> set[str]:
    """Trace types registered by the partial bundle (each module declares its name)."""
    js = (modules / PLOTLY_NPM / PLOTLY_FILE).read_text()
    return set(re.findall(r'moduleType:"trace",name:"(\w+)"', js))


def figure_trace_types(body: str) -> set[str]:
    """Every trace type an Explorer payload in a page's HTML can draw (base and frame edits)."""
    types = set()
    for raw in re.findall(r'<script type="application/json" class="kx-data">(.*?)</script>',
                          body, flags=re.S):
        payload = json.loads(raw)
        types |= {t.get("type", "scatter") for t in payload["base"].get("data", [])}
        for _count, edits in payload.get("frames", []):
            for path, index in edits:
                value = payload["pool"][index] if index >= 0 else None
                if path[0] == "data" and len(path) == 2 and isinstance(value, dict):
                    types.add(value.get("type", "scatter"))
                elif path[0] == "data" and path[-1] == "type" and len(path) == 3 and value:
                    types.add(value)
    return types


KATEX_JS = r"""
const katex = require(process.argv[1]);
const items = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = items.map(([tex, display]) => {
  try {
    return {html: katex.renderToString(tex, {displayMode: display, throwOnError: true,
                                             strict: 'ignore', output: 'htmlAndMathml'})};
  } catch (e) { return {error: String(e.message || e)}; }
});
process.stdout.write(JSON.stringify(out));
"""


def render_katex(items: list[tuple[str, bool]], modules: Path) -> list[dict]:
    """Render ``[(tex, display), ...]`` with KaTeX in one ``node`` run: ``[{html}|{error}]``."""
    run = subprocess.run(["node", "-e", KATEX_JS, str(modules / "katex")],
                         input=json.dumps(items), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise ExtensionError(f"offline_site: KaTeX failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout)


def display_tex(node) -> str:
    """The TeX of a display equation, joined as Sphinx's MathJax renderer joins it."""
    if node["nowrap"]:
        return node.astext()
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    parts = [rf"\begin{{split}}{p}\end{{split}}" if r"\\" in p else p for p in parts]
    return parts[0] if len(parts) == 1 else r"\begin{gathered}" + r"\\".join(parts) + r"\end{gathered}"


def _on_doctree_resolved(app, doctree, docname):
    """Typeset every equation of the page at once; a TeX error fails the build here."""
    math = [n for n in doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block)))]
    if not math:
        return
    items = [(display_tex(n), True) if isinstance(n, nodes.math_block) else (n.astext(), False)
             for n in math]
    for node, (tex, _display), result in zip(math, items, render_katex(items, app.kx_modules)):
        if "error" in result:
            raise ExtensionError(f"offline_site: KaTeX cannot typeset {tex!r} in {docname}: "
                                 f"{result['error']}")
        node["kx_html"] = result["html"]


def _typeset(self, node, tex: str, display: bool) -> str:
    """The HTML stored by ``_on_doctree_resolved``; math met outside a page's doctree (a title
    rendered elsewhere) is typeset on its own."""
    if "kx_html" not in node:
        result = render_katex([(tex, display)], self.builder.app.kx_modules)[0]
        if "error" in result:
            raise ExtensionError(f"offline_site: KaTeX cannot typeset {tex!r}: {result['error']}")
        node["kx_html"] = result["html"]
    return node["kx_html"]


def _visit_math(self, node):
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(_typeset(self, node, node.astext(), False) + "</span>")
    raise nodes.SkipNode


def _visit_displaymath(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node["number"] and not node["nowrap"]:
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    self.body.append(_typeset(self, node, display_tex(node), True) + "</div>\n")
    raise nodes.SkipNode


def copy_katex(modules: Path, static: Path) -> None:
    """katex.min.css and its woff2 fonts only (every browser the book targets reads woff2)."""
    out = static / "katex"
    (out / "fonts").mkdir(parents=True, exist_ok=True)
    css = (modules / "katex" / "dist" / "katex.min.css").read_text()
    css = re.sub(r'src:url\((fonts/[\w-]+\.woff2)\) format\("woff2"\)[^;}]*',
                 r'src:url(\1) format("woff2")', css)
    (out / "katex.min.css").write_text(css)
    for font in (modules / "katex" / "dist" / "fonts").glob("*.woff2"):
        shutil.copy2(font, out / "fonts" / font.name)


# ---- the theme's icons without fontawesome.js ------------------------------------------------

FA_SETS = {"fas": "solid", "fa-solid": "solid", "far": "regular", "fa-regular": "regular",
           "fab": "brands", "fa-brands": "brands"}
FA_MODIFIERS = {"fa-lg", "fa-fw", "fa-xs", "fa-sm", "fa-xl", "fa-2x"}


def fontawesome_icons(js: str) -> dict[str, dict[str, tuple[int, int, str]]]:
    """``{set: {name: (width, height, svg_path)}}`` parsed from the theme's fontawesome.js, whose
    three icon objects each end just before ``d("fab"|"far"|"fas", ...)`` registers them."""
    entry = re.compile(r'(?:"([\w-]+)"|\b([a-z][\w-]*)):\[(\d+),(\d+),\[[^\]]*\],"[0-9a-f]+",'
                       r'"([^"]*)"\]')
    sets, start = {}, 0
    for end in [m.start() for m in re.finditer(r"\};!function\(c\)\{try\{for", js)]:
        prefix = re.compile(r'\bd\("(fa[srb])",').search(js, end).group(1)
        sets[FA_SETS[prefix]] = {(m.group(1) or m.group(2)): (int(m.group(3)), int(m.group(4)),
                                                             m.group(5))
                                 for m in entry.finditer(js, start, end)}
        start = end
    return sets


def icons_css(pages: list[str], icons: dict) -> str:
    """CSS masks for every ``<i class="fa-...">`` icon the pages use; unknown ones raise."""
    css = [".fa-solid,.fas,.fa-regular,.far,.fa-brands,.fab{display:inline-block;height:1em;"
           "vertical-align:-.125em;background-color:currentColor;"
           "-webkit-mask:var(--kx-icon) center/contain no-repeat;"
           "mask:var(--kx-icon) center/contain no-repeat}",
           ".fa-lg{font-size:1.25em;line-height:.05em;vertical-align:-.075em}"]
    used = set()
    for html in pages:
        for classes in re.findall(r'<(?:i|span) class="([^"]*\bfa[-srb][^"]*)"', html):
            names = classes.split()
            kind = next((FA_SETS[c] for c in names if c in FA_SETS), None)
            for name in names:
                if kind and name.startswith("fa-") and name not in FA_SETS \
                        and name not in FA_MODIFIERS:
                    used.add((kind, name[3:]))
    for kind, name in sorted(used):
        if name not in icons.get(kind, {}):
            raise ExtensionError(f"offline_site: icon fa-{name} ({kind}) not in fontawesome.js")
        w, h, path = icons[kind][name]
        svg = (f"%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {w} {h}'%3E"
               f"%3Cpath d='{path}'/%3E%3C/svg%3E")
        sel = [f".{p}.fa-{name}" for p, k in FA_SETS.items() if k == kind]
        css.append(f'{",".join(sel)}{{width:{w / h:.4g}em;'
                   f'--kx-icon:url("data:image/svg+xml,{svg}")}}')
        # The theme's CSS would also draw the glyph from its 150 kB webfont: not for these.
        css.append(",".join(f"{s}::before" for s in sel) + "{content:none}")
    return "\n".join(css) + "\n"


def favicon_ico() -> bytes:
    """The book's favicon (book/_static/favicon.svg: five white squares on blue) as a 32x32
    PNG inside an .ico, drawn here so that no image library is needed."""
    blue, white = b"\x00\x72\xb2\xff", b"\xff\xff\xff\xff"
    squares = [(5, 5), (21, 5), (13, 13), (5, 21), (21, 21)]
    rows = b"".join(b"\0" + b"".join(
        white if any(x <= c < x + 6 and y <= r < y + 6 for x, y in squares) else blue
        for c in range(32)) for r in range(32))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32,
                                                       len(png), 22) + png


# ---- Sphinx events ---------------------------------------------------------------------------

def _on_config_inited(app, config):
    app.kx_modules = node_modules(Path(app.srcdir))
    expected, got = plotly_py_js_version(), bundle_version(app.kx_modules)
    if expected != got:
        raise ExtensionError(f"offline_site: {PLOTLY_NPM} is {got} but plotly.py ships plotly.js "
                             f"{expected}: pin {expected} in package.json, then npm install")
    app.kx_traces = bundle_trace_types(app.kx_modules)
    config.html_math_renderer = "katex"
    config.html_static_path.append(str(package_dir("kernels") / "viz" / "static"))
    if config.nb_execution_mode in ("cache", "auto") and config.nb_execution_cache_path:
        cache = Path(config.nb_execution_cache_path)
        if not cache.is_absolute():
            cache = Path(app.srcdir) / cache
        if refresh_cache(cache, kernels_fingerprint()):
            logger.info("offline_site: kernels/ changed, execution cache wiped")


def _on_builder_inited(app):
    if app.builder.format == "html":
        app.add_css_file("kernels-explorer.css")
        app.add_css_file("kx-icons.css")


def _on_page_context(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    if "kx-explorer" in body:
        missing = figure_trace_types(body) - app.kx_traces
        if missing:
            raise ExtensionError(f"offline_site: {pagename} draws trace types {sorted(missing)} "
                                 f"that {PLOTLY_NPM} lacks (it has {sorted(app.kx_traces)})")
        app.add_js_file(PLOTLY_FILE, priority=400, defer="defer")
        app.add_js_file("kernels-explorer.js", priority=450, defer="defer")
    if 'class="katex"' in body:
        app.add_css_file("katex/katex.min.css", priority=400)


FA_SCRIPT = re.compile(r'<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\n?')


def _on_build_finished(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    static = out / "_static"
    shutil.copy2(app.kx_modules / PLOTLY_NPM / PLOTLY_FILE, static / PLOTLY_FILE)
    copy_katex(app.kx_modules, static)
    pages = [p for p in out.rglob("*.html") if "_static" not in p.parts]
    texts = {p: p.read_text(encoding="utf-8") for p in pages}
    fa = package_dir("pydata_sphinx_theme") / "theme" / "pydata_sphinx_theme" / "static"
    icons = fontawesome_icons((fa / "scripts" / "fontawesome.js").read_text())
    (static / "kx-icons.css").write_text(icons_css(list(texts.values()), icons))
    for leftover in static.glob("scripts/fontawesome.js*"):
        leftover.unlink()
    for page, text in texts.items():
        new = FA_SCRIPT.sub("", text)
        if new != text:
            page.write_text(new, encoding="utf-8")
    (out / "favicon.ico").write_bytes(favicon_ico())


def _drop_thebe(app) -> None:
    """Unhook sphinx-thebe (loaded by Jupyter Book whatever ``launch_buttons.thebe`` says)."""
    for listeners in app.events.listeners.values():
        listeners[:] = [l for l in listeners
                        if not getattr(l.handler, "__module__", "").startswith("sphinx_thebe")]
    app.registry.css_files[:] = [c for c in app.registry.css_files
                                 if not str(c[0]).startswith("sphinx-thebe")]


def setup(app):
    # Before any notebook kernel starts: kernels are started with this process's environment.
    os.environ["KERNELS_BOOK_BUILD"] = "1"
    _drop_thebe(app)
    app.add_html_math_renderer("katex", inline_renderers=(_visit_math, None),
                               block_renderers=(_visit_displaymath, None))
    app.connect("config-inited", _on_config_inited, priority=900)
    app.connect("builder-inited", _on_builder_inited)
    app.connect("doctree-resolved", _on_doctree_resolved)
    app.connect("html-page-context", _on_page_context, priority=900)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2"}
