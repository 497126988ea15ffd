"""Benchmarks of the book itself: cold build, page weight, static frame switch, live recompute.

    python bench/bench_book.py [--skip-build] [--site DIR] [--site-only]

``--site DIR`` measures another built site (e.g. one built from an older commit, for a
before/after table made the same way on the same machine in the same run).

* cold build: ``jupyter-book build`` into a fresh temporary folder (no execution cache);
* page weight: each built chapter page (HTML with its inline frame data) and the whole _static;
* first visit, per page, in headless Chromium with a cold cache (a fresh browser context):
  bytes and number of everything the page requests, and the time from navigation until every
  Explorer has drawn its figure and all math is typeset (median of three visits);
* static frame switch: in headless Chromium, median and 90th percentile of one control change
  (event -> frame rebuilt -> ``kxTheme.apply`` when the page has the dark-mode hook ->
  ``Plotly.react`` done) over many random changes on every explorer; on a site with the hook,
  the same switches again in the dark theme (``dark med``);
* live recompute: every chapter's code run in-process in live mode; each explorer is driven
  through random single-control changes, timing figure function + live figure update.
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tests"))

TARGETS = {"page_mb": 1.5, "visit_mb": 3.0, "switch_ms": 16.0, "live_ms": 30.0, "build_s": 120.0}


def cold_build() -> float:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([str(ROOT / ".venv" / "bin" / "jupyter-book"), "build", str(ROOT),
                        "--path-output", out, "--warningiserror", "--nitpick", "--keep-going"],
                       check=True, capture_output=True)
        return time.perf_counter() - t0


def chapters():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p["chapters"]]


def page_sizes(site: Path = SITE) -> dict[str, float]:
    return {name: (site / f"{name}.html").stat().st_size / 1e6 for name in chapters()}


# One switch = from the control's event until Plotly.react's promise resolves (frame drawn).
# Between two switches the page renders once (a frame, not timed), as it does between two moves
# of a slider: a reader cannot move it twice within one frame, and without the pause each
# switch would also pay the layout of the previous frame's drawing.
# The walk's generator is a 32-bit LCG in integer arithmetic, read from its high bits: in floats
# (s * 1103515245 passes 2**53) and read from its low bits, it cycled through a handful of
# frames (on the receptive-field page, only Layers 1 <-> 2 was ever measured).
SWITCH_JS = """async ([n, seed]) => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  let s = seed >>> 0;
  const rand = k => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s >>> 16) % k; };
  const times = [];
  for (const root of document.querySelectorAll('.kx-explorer')) {
    const inputs = [...root.querySelectorAll('[data-param]')];
    if (!inputs.length) continue;
    for (let i = 0; i < n; i++) {
      const input = inputs[rand(inputs.length)];
      const count = input.tagName === 'SELECT' ? input.options.length : Number(input.max) + 1;
      const old = input.value;
      do { input.value = String(rand(count)); } while (count > 1 && input.value === old);
      const t0 = performance.now();
      input.dispatchEvent(new Event('input'));
      await root.kxDrawn;
      times.push(performance.now() - t0);
      await frame();
    }
  }
  return times;
}"""


# Ready = every Explorer drew its first frame (its Plotly.react promise resolved) and every
# math element is typeset (KaTeX at build time, or MathJax's container on older builds).
READY_JS = """() => {
  const plotsDone = [...document.querySelectorAll('.kx-explorer')]
    .every(r => r.dataset.kxFrame !== undefined);
  const mathDone = [...document.querySelectorAll('.math')]
    .every(e => e.querySelector('.katex, mjx-container'));
  return plotsDone && mathDone && document.readyState !== 'loading' ? performance.now() : false;
}"""


def first_visit(b, url: str, name: str) -> dict:
    """One cold-cache visit: bytes and count of every request, milliseconds until ready."""
    context = b.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    finished, missing = [], []
    page.on("requestfinished", lambda r: finished.append(r))
    page.on("response", lambda r: r.status >= 400 and missing.append(r.url))
    page.goto(f"{url}/{name}.html", wait_until="commit")
    ready = page.wait_for_function(READY_JS, polling="raf", timeout=60000).json_value()
    page.wait_for_load_state("networkidle")
    total = sum(r.sizes()["responseBodySize"] for r in finished)
    context.close()
    return {"bytes": total, "requests": len(finished), "ready_ms": ready, "missing": missing}


# The page's theme as pydata-sphinx-theme sets it; kernels-theme.js (window.kxTheme) notices the
# change and the Explorers redraw in the new theme (kxTheme.onChange).
SET_THEME_JS = """async (theme) => {
  if (!window.kxTheme) return false;
  document.documentElement.dataset.theme = theme;
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  await Promise.all([...document.querySelectorAll('.kx-explorer')].map(r => r.kxDrawn));
  return window.kxTheme.isDark() === (theme === 'dark');
}"""


def measure_site(site: Path, visits=3, n_per_explorer=60) -> dict[str, dict]:
    """Per chapter page: first visit (median of ``visits`` cold visits) and frame switches,
    in the light theme and, where the page has the dark-mode hook, in the dark one."""
    from site_server import browser, serve

    results = {}
    with serve(site) as url, browser() as b:
        for name in chapters():
            runs = [first_visit(b, url, name) for _ in range(visits)]
            row = {"bytes": runs[0]["bytes"], "requests": runs[0]["requests"],
                   "ready_ms": statistics.median(r["ready_ms"] for r in runs),
                   "missing": sorted({u for r in runs for u in r["missing"]}), "switch": [],
                   "dark": []}
            page = b.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/{name}.html", wait_until="networkidle")
            if page.locator(".kx-explorer").count():
                page.wait_for_function(READY_JS, timeout=60000)
                page.evaluate(SWITCH_JS, [5, 1])  # warm-up
                row["switch"] = page.evaluate(SWITCH_JS, [n_per_explorer, 7])
                if page.evaluate(SET_THEME_JS, "dark"):
                    row["dark"] = page.evaluate(SWITCH_JS, [n_per_explorer, 7])
            page.close()
            results[name] = row
    return results


def site_table(site: Path) -> None:
    """The table issue 14 asks for: page, first-visit bytes, requests, time to ready, and the
    median and 90th percentile of a static frame switch (and its median in the dark theme, where
    the site has the dark-mode hook); then the totals."""
    rows = measure_site(site)
    print(f"\n{'page':32s} {'first visit MB':>14s} {'requests':>8s} {'ready ms':>9s} "
          f"{'switch med':>10s} {'p90 ms':>7s} {'dark med':>8s}")
    everything = []
    for name, r in rows.items():
        everything += r["switch"]
        med = f"{statistics.median(r['switch']):10.2f}" if r["switch"] else f"{'-':>10s}"
        p90 = f"{statistics.quantiles(r['switch'], n=10)[-1]:7.2f}" if r["switch"] else f"{'-':>7s}"
        dark = f"{statistics.median(r['dark']):8.2f}" if r["dark"] else f"{'-':>8s}"
        flag = "" if r["bytes"] <= TARGETS["visit_mb"] * 1e6 else "  OVER 3 MB"
        flag += f"  404: {r['missing']}" if r["missing"] else ""
        print(f"{name:32s} {r['bytes'] / 1e6:14.3f} {r['requests']:8d} {r['ready_ms']:9.0f} "
              f"{med} {p90} {dark}{flag}")
    total_mb = sum(r["bytes"] for r in rows.values()) / 1e6
    print(f"{'TOTAL (sum of pages)':32s} {total_mb:14.3f} "
          f"{sum(r['requests'] for r in rows.values()):8d} "
          f"{sum(r['ready_ms'] for r in rows.values()):9.0f} "
          f"{statistics.median(everything):10.2f} {statistics.quantiles(everything, n=10)[-1]:7.2f}"
          f"   targets: <= {TARGETS['visit_mb']} MB per page, switch <= {TARGETS['switch_ms']} ms")


def live_recompute(n_changes=40) -> dict[str, list[float]]:
    """Move random controls of every Explorer each chapter declares (kernels/viz/<chapter>.py)
    and time each redraw of its live figure."""
    import importlib.util

    from kernels.viz import Explorer, declared

    results = {}
    rng = random.Random(0)
    for name in chapters():
        module = f"kernels.viz.{Path(name).name}"
        if importlib.util.find_spec(module) is None:
            continue
        importlib.import_module(module)
        times = []
        for fn in declared(module):
            ex = Explorer(fn)
            ex.figure  # build the widget once, as displaying it would
            movable = [n for n, p in ex.params.items() if len(p.values) > 1]
            for _ in range(n_changes if movable else 0):
                pname = rng.choice(movable)
                choices = [v for v in ex.params[pname].values if v != ex.values[pname]]
                t0 = time.perf_counter()
                ex.controls[pname].value = rng.choice(choices)
                times.append((time.perf_counter() - t0) * 1e3)
        if times:
            results[name] = times
    return results


def report(title: str, results: dict[str, list[float]], target: float) -> None:
    """Per-page median and 90th percentile of a list of timings, then the median of all."""
    print(f"\n{title:40s} {'median ms':>10s} {'p90 ms':>8s} {'n':>5s}")
    everything = []
    for name, times in results.items():
        everything += times
        q = statistics.quantiles(times, n=10)
        print(f"{name:40s} {statistics.median(times):10.2f} {q[-1]:8.2f} {len(times):5d}")
    if everything:
        print(f"{'ALL':40s} {statistics.median(everything):10.2f}   target <= {target}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-build", action="store_true", help="skip the cold build timing")
    parser.add_argument("--site", type=Path, default=SITE, help="the built site to measure")
    parser.add_argument("--site-only", action="store_true",
                        help="only the site table (no build timing, no live recompute)")
    args = parser.parse_args()
    site = args.site.resolve()
    if not (site / "index.html").exists():
        sys.exit(f"build the site first: make html (no {site}/index.html)")
    if args.site_only:
        print(f"== Site {site}")
        static = sum(f.stat().st_size for f in (site / "_static").rglob("*") if f.is_file())
        print(f"whole _static: {static / 1e6:.1f} MB")
        site_table(site)
        return

    print("== Book")
    if not args.skip_build:
        seconds = cold_build()
        print(f"cold build (all chapters executed, no cache): {seconds:.1f} s "
              f"(target <= {TARGETS['build_s']:.0f} s)")
    static = sum(f.stat().st_size for f in (site / "_static").rglob("*") if f.is_file()) / 1e6
    print(f"whole _static (what the site ships; a page loads only part of it): {static:.1f} MB")
    print(f"{'page':40s} {'HTML+data MB':>13s}")
    for name, mb in page_sizes(site).items():
        flag = "" if mb <= TARGETS["page_mb"] else "  OVER TARGET"
        print(f"{name:40s} {mb:13.3f}{flag}")

    site_table(site)
    report("live recompute per control change", live_recompute(), TARGETS["live_ms"])

if __name__ == "__main__":
    main()
