"""Sphinx extension: an offline-first site and an execution cache that knows about ``kernels``.

* plotly.js (from the installed ``plotly`` package), MathJax 3 (from the installed
  ``sphinx-mathjax-offline`` package) and the Explorer's script and style (from
  ``kernels/viz/static``) are copied into the site's ``_static``; nothing is loaded from a CDN.
  plotly.js is added only to pages that hold a figure, so text-only pages stay light.
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
import shutil
from pathlib import Path

from sphinx.util import logging

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


def _on_config_inited(app, config):
    # MathJax: the offline package's copy, served from this site's _static/mathjax/.
    config.html_static_path.append(str(package_dir("sphinx-mathjax-offline") / "static"))
    config.mathjax_path = "mathjax/tex-chtml.js"
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


def _on_build_finished(app, exc):
    if exc is None and app.builder.format == "html":
        shutil.copy2(package_dir("plotly") / "package_data" / "plotly.min.js",
                     Path(app.outdir) / "_static" / "plotly.min.js")


def _drop_thebe(app) -> None:
    """Unhook sphinx-thebe (loaded by Jupyter Book whatever ``launch_buttons.thebe`` says)."""
    for listeners in app.events.listeners.values():
        listeners[:] = [l for l in listeners
                        if not getattr(l.handler, "__module__", "").startswith("sphinx_thebe")]
    app.registry.css_files[:] = [c for c in app.registry.css_files
                                 if not str(c[0]).startswith("sphinx-thebe")]


def _on_page_context(app, pagename, templatename, context, doctree):
    if "kx-explorer" in context.get("body", ""):
        app.add_js_file("plotly.min.js", priority=400)
        app.add_js_file("kernels-explorer.js", priority=450, defer="defer")


def setup(app):
    # Before any notebook kernel starts: kernels are started with this process's environment.
    os.environ["KERNELS_BOOK_BUILD"] = "1"
    _drop_thebe(app)
    app.connect("config-inited", _on_config_inited, priority=900)
    app.connect("builder-inited", _on_builder_inited)
    app.connect("html-page-context", _on_page_context, priority=900)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
