"""Sphinx extension: a light, offline-first site and an execution cache that knows about ``kernels``.

* Nothing is loaded from a CDN, and a first visit to a chapter stays under 3 MB (issue 14):
  - plotly.js holds only the trace types the book draws (``plotly_bundle.py``: bundled at
    build time with esbuild from the npm ``plotly.js`` that ``package.json`` pins, 1.2 MB
    instead of the full bundle's 4.8 MB). Its version must equal the plotly.js that plotly.py
    ships (the live widgets use that one), and a figure whose trace type the bundle lacks fails
    the build. It is loaded with ``defer``, and only on pages that hold a figure, so text
    paints before it.
  - math is typeset at build time by KaTeX (``katex_math.py``): pages carry HTML + MathML and
    one small stylesheet, no math script. Bad TeX fails the build.
  - the theme's icons come from ``kx-icons.css`` (``icons.py``): each icon a page uses and the
    admonition icons, cut out of the theme's 1.5 MB ``fontawesome.js`` as CSS masks (a few kB);
    the script is dropped, and no page fetches the theme's icon webfonts.
  - the site root gets a ``favicon.ico`` (browsers ask for it on the redirecting index.html).
* The Explorer's script and style come from ``kernels/viz/static``.
* Launch and repository buttons follow ``repository.url`` (``launch.py``): hidden while empty.
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
import os
import re
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

# Siblings in book/_ext (on sys.path: _config.yml's local_extensions puts it there).
from icons import favicon_ico, fontawesome_icons, icons_css
from katex_math import copy_katex, on_doctree_resolved, visit_displaymath, visit_math
from launch import hide_launch_buttons
from plotly_bundle import (PLOTLY_FILE, PLOTLY_NPM, build_bundle, bundle_trace_types,
                           check_versions, figure_trace_types)

logger = logging.getLogger(__name__)
STAMP = "kernels-fingerprint.txt"


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


def execution_cache_dir(app, config) -> Path:
    """Where myst-nb keeps executed notebooks: ``nb_execution_cache_path``, or by default
    ``.jupyter_cache`` beside the HTML output (``_build/.jupyter_cache``), as myst-nb decides."""
    if config.nb_execution_cache_path:
        cache = Path(config.nb_execution_cache_path)
        return cache if cache.is_absolute() else Path(app.srcdir) / cache
    return Path(app.outdir).parent / ".jupyter_cache"


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


# ---- npm assets: plotly.js and KaTeX ---------------------------------------------------------

def node_modules(*starts: Path) -> Path:
    """The repository's ``node_modules`` (``npm ci`` fills it): beside the book, this file, or
    the ``kernels`` package (a book built from elsewhere, e.g. the tests' tiny books)."""
    here = Path(__file__).resolve().parents[2]
    for start in (*starts, here, package_dir("kernels").parent, Path.cwd()):
        candidate = Path(start) / "node_modules"
        if all((candidate / name).is_dir() for name in (PLOTLY_NPM, "katex", "esbuild")):
            return candidate
    raise ExtensionError("offline_site: node_modules/ with plotly.js, esbuild and KaTeX is "
                         "missing: run `npm ci` at the repository root (`make html` does)")


# ---- Sphinx events ---------------------------------------------------------------------------

def _on_config_inited(app, config):
    app.kx_modules = node_modules(Path(app.srcdir))
    check_versions(app.kx_modules)
    app.kx_bundle = build_bundle(app.kx_modules)
    app.kx_traces = bundle_trace_types(app.kx_bundle)
    config.html_math_renderer = "katex"
    hide_launch_buttons(config.html_theme_options)
    # npm's packages carry their own Markdown (plotly.js's dependencies' .github/*.md): not pages.
    config.exclude_patterns.append("node_modules")
    config.html_static_path.append(str(package_dir("kernels") / "viz" / "static"))
    if config.nb_execution_mode in ("cache", "auto"):
        cache = execution_cache_dir(app, config)
        if refresh_cache(cache, kernels_fingerprint()):
            logger.info("offline_site: kernels/ changed, execution cache wiped")
            app.kx_reread_all = True


def _on_env_get_outdated(app, env, added, changed, removed):
    """Re-read every chapter after the execution cache was wiped: Sphinx re-reads only pages
    whose source changed, and would otherwise keep outputs that the old ``kernels`` computed."""
    if not getattr(app, "kx_reread_all", False):
        return []
    return sorted(set(env.found_docs) - set(added) - set(changed) - set(removed))


def _on_builder_inited(app):
    if app.builder.format == "html":
        # every stylesheet of kernels/viz/static (explorer, self-check questions, themes)
        for css in sorted((package_dir("kernels") / "viz" / "static").glob("*.css")):
            app.add_css_file(css.name)
        app.add_css_file("kx-icons.css")


def _on_page_context(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    if "kx-explorer" in body:
        missing = figure_trace_types(body) - app.kx_traces
        if missing:
            raise ExtensionError(f"offline_site: {pagename} draws trace types {sorted(missing)} "
                                 f"that the plotly.js bundle lacks (it has {sorted(app.kx_traces)}): "
                                 "add them to TRACES in book/_ext/plotly_bundle.py")
        app.add_js_file(PLOTLY_FILE, priority=400, defer="defer")
        if (package_dir("kernels") / "viz" / "static" / "kernels-theme.js").exists():
            app.add_js_file("kernels-theme.js", priority=440, defer="defer")  # dark mode
        app.add_js_file("kernels-frames.js", priority=445, defer="defer")  # frame builder
        app.add_js_file("kernels-explorer.js", priority=450, defer="defer")
    if "kx-check" in body:  # self-check questions (kernels/viz/self_check.py)
        app.add_js_file("kernels-self-check.js", priority=460, defer="defer")
    if 'class="katex"' in body:
        app.add_css_file("katex/katex.min.css", priority=400)


FA_SCRIPT = re.compile(r'<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\n?')


def _on_build_finished(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    static = out / "_static"
    shutil.copy2(app.kx_bundle, static / PLOTLY_FILE)
    # Sphinx does not overwrite a static file an earlier build copied: the Explorer's script
    # and style are copied again, so an incremental build serves the edited ones.
    for asset in (package_dir("kernels") / "viz" / "static").iterdir():
        if asset.is_file():
            shutil.copy2(asset, static / asset.name)
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
    app.add_html_math_renderer("katex", inline_renderers=(visit_math, None),
                               block_renderers=(visit_displaymath, None))
    app.connect("config-inited", _on_config_inited, priority=900)
    app.connect("builder-inited", _on_builder_inited)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("doctree-resolved", on_doctree_resolved)
    app.connect("html-page-context", _on_page_context, priority=900)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2"}
