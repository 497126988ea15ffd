"""Benchmarks of the book itself: cold build, page weight, static frame switch, live recompute.

    python bench/bench_book.py [--skip-build]

* cold build: ``jupyter-book build`` into a fresh temporary folder (no execution cache);
* page weight: each built chapter page (HTML with its inline frame data; shared _static files
  such as plotly.min.js are cached by the browser and counted once, separately);
* static frame switch: in headless Chromium, median time of one control change (event ->
  frame rebuilt -> ``Plotly.react`` done) over many random changes on every explorer;
* live recompute: every chapter's code run in-process in live mode; each explorer is driven
  through random single-control changes, timing figure function + FigureWidget update.
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

TARGETS = {"page_mb": 1.5, "switch_ms": 16.0, "live_ms": 30.0, "build_s": 120.0}


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


def page_sizes() -> dict[str, float]:
    return {name: (SITE / f"{name}.html").stat().st_size / 1e6 for name in chapters()}


# One switch = from the control's event until Plotly.react's promise resolves (frame drawn).
SWITCH_JS = """async ([n, seed]) => {
  let s = seed; const rand = k => { s = (s * 1103515245 + 12345) % 2147483648; return s % k; };
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
    }
  }
  return times;
}"""


def frame_switches(n_per_explorer=60) -> dict[str, list[float]]:
    from site_server import browser, serve

    results = {}
    with serve() as url, browser() as b:
        for name in chapters():
            page = b.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/{name}.html", wait_until="networkidle")
            if page.locator(".kx-explorer").count():
                page.wait_for_function("[...document.querySelectorAll('.kx-plot')]"
                                       ".every(p => p.data)")
                page.evaluate(SWITCH_JS, [5, 1])  # warm-up
                results[name] = page.evaluate(SWITCH_JS, [n_per_explorer, 7])
            page.close()
    return results


def live_recompute(n_changes=40) -> dict[str, list[float]]:
    """Move random controls of every Explorer each chapter declares (kernels/viz/<chapter>.py)
    and time each redraw of its FigureWidget."""
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
    args = parser.parse_args()
    if not (SITE / "index.html").exists():
        sys.exit("build the site first: make html")

    print("== Book")
    if not args.skip_build:
        seconds = cold_build()
        print(f"cold build (all chapters executed, no cache): {seconds:.1f} s "
              f"(target <= {TARGETS['build_s']:.0f} s)")
    static = sum(f.stat().st_size for f in (SITE / "_static").rglob("*") if f.is_file()) / 1e6
    print(f"shared _static (cached once; plotly.min.js and MathJax): {static:.1f} MB")
    print(f"{'page':40s} {'HTML+data MB':>13s}")
    for name, mb in page_sizes().items():
        flag = "" if mb <= TARGETS["page_mb"] else "  OVER TARGET"
        print(f"{name:40s} {mb:13.3f}{flag}")

    report("static frame switch (Chromium)", frame_switches(), TARGETS["switch_ms"])
    report("live recompute per control change", live_recompute(), TARGETS["live_ms"])

if __name__ == "__main__":
    main()
