"""plotly.js for the static site: only the trace types the book draws, built at build time.

plotly.js is modular: ``plotly.js/lib/core`` registers the scatter trace, the cartesian axes
and every layout component (annotations, shapes, legend, colorbar, sliders, ...), and each
other trace type is one module to register (``plotly.js/lib/bar``, ``lib/heatmap``). The npm
package of the plotly.js version plotly.py ships (``package.json`` pins it; ``npm ci`` in
``make html`` installs it, never committed) is bundled here with esbuild, as plotly.js's own
``esbuild-config.js`` bundles its dist files (an IIFE that sets ``window.Plotly``), but with
only :data:`TRACES` registered: 1.18 MB instead of the cartesian partial bundle's 1.50 MB.

* A figure whose trace type the bundle lacks fails the build (``offline_site`` compares every
  Explorer payload against :func:`bundle_trace_types`, read from the built file itself).
* The bundle's plotly.js must be the version plotly.py ships, or a figure could draw
  differently in the live notebook (plotly.py's widget) and on the static page.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
from pathlib import Path

from sphinx.errors import ExtensionError

PLOTLY_NPM = "plotly.js"
PLOTLY_FILE = "plotly-book.min.js"  # its name in _static
# Trace types registered besides scatter (which plotly.js/lib/core always registers). Adding a
# figure with another type fails the build until its module is listed here.
TRACES = ("bar", "heatmap")
# plotly.js's own build settings (esbuild-config.js): globals and the target it ships for. The
# maplibre CSS that plotly's registry imports is for map subplots only: loaded as nothing.
ESBUILD_ARGS = ("--bundle", "--minify", "--format=iife", "--global-name=Plotly",
                "--define:global=window", "--define:define.amd=false", "--target=es2016",
                "--legal-comments=none", "--loader:.css=empty", "--log-level=warning")


def plotly_py_js_version() -> str:
    """The plotly.js version plotly.py ships (the header of its bundled plotly.min.js)."""
    plotly = Path(importlib.util.find_spec("plotly").origin).parent
    head = (plotly / "package_data" / "plotly.min.js").read_text()[:400]
    return re.search(r"plotly\.js v(\S+)", head).group(1)


def npm_version(modules: Path, name: str) -> str:
    return json.loads((modules / name / "package.json").read_text())["version"]


def bundle_version(modules: Path) -> str:
    return npm_version(modules, PLOTLY_NPM)


def entry_source(traces=TRACES) -> str:
    """The bundle's entry module: plotly's core plus one ``lib/<trace>`` module per trace."""
    regs = ", ".join(f"require('plotly.js/lib/{t}')" for t in traces)
    return (f"var Plotly = require('plotly.js/lib/core');\nPlotly.register([{regs}]);\n"
            "module.exports = Plotly;\n")


def build_bundle(modules: Path, traces=TRACES) -> Path:
    """Bundle plotly.js with ``traces`` into ``node_modules/.cache`` (once per plotly.js version,
    esbuild version and trace list) and return the file."""
    entry = entry_source(traces)
    key = hashlib.sha256("\0".join([entry, bundle_version(modules), npm_version(modules, "esbuild"),
                                    *ESBUILD_ARGS]).encode()).hexdigest()[:16]
    cache = modules / ".cache" / "kernels-book"
    out = cache / f"plotly-{key}.min.js"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"entry-{key}.js").write_text(entry)
    tmp = cache / f"plotly-{key}.tmp.js"
    run = subprocess.run([str(modules / ".bin" / "esbuild"), f"entry-{key}.js", *ESBUILD_ARGS,
                          f"--outfile={tmp.name}"], cwd=cache, capture_output=True, text=True,
                         check=False)
    if run.returncode != 0 or not tmp.exists():
        raise ExtensionError(f"plotly_bundle: esbuild failed: {run.stderr[-2000:]}")
    tmp.replace(out)  # atomic: a parallel build never sees half a file
    return out


def bundle_trace_types(bundle: Path) -> set[str]:
    """Trace types the built bundle registers (each trace module declares its name)."""
    return set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle.read_text()))


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


def check_versions(modules: Path) -> None:
    expected, got = plotly_py_js_version(), bundle_version(modules)
    if expected != got:
        raise ExtensionError(f"plotly_bundle: npm {PLOTLY_NPM} is {got} but plotly.py ships "
                             f"plotly.js {expected}: pin {expected} in package.json, then npm install")
