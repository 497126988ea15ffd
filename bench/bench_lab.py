"""Live Explorers in JupyterLab: control change -> redrawn figure, and bytes over the websocket.

    python bench/bench_lab.py [--chapters intro roi_pooling_align] [--moves 6]
                              [--kernels-from DIR]

``make lab`` is started the way ``tests/test_lab.py`` starts it (a copy of ``book/``, private
Jupyter folders) and every chapter with an Explorer is opened in headless Chromium at 1280x720,
run with Run All, and then each slider of each Explorer is moved with the keyboard ``--moves``
times (right until its end, then left). Per chapter:

* **redraw ms**: from the key press (a capture listener on the page notes the time) to the
  last change of the figure's DOM that follows it (a MutationObserver on the plot; the redraw
  is over when the plot has been quiet for ``QUIET_MS``). The whole round trip is in it: the
  slider's message to the kernel, the figure function, the update sent back, and the drawing;
* **MB received**: bytes of every frame the page received on its kernel websocket, for the
  whole chapter (Run All plus the slider moves), and for Run All alone.

``--kernels-from DIR`` puts ``DIR`` first on the kernel's PYTHONPATH, so that ``import
kernels`` takes ``DIR/kernels``: the same lab, browser and chapters measure another version of
the package (e.g. ``git worktree add /tmp/old HEAD~3``) for a before/after table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

QUIET_MS = 400  # a redraw is over when the plot has not changed for this long
TARGET_MS = 100.0

# Arm a measurement: the next key press on the page starts the clock; each mutation of the
# plot of the Explorer that owns slider ``i`` moves the end; resolves when the plot is quiet.
ARM_JS = """([i, quietMs, timeoutMs]) => {
  const handle = document.querySelectorAll('.jp-OutputArea .widget-slider .noUi-handle')[i];
  const plot = handle.closest('.jp-OutputArea-output').querySelector('.js-plotly-plot');
  let t0 = null, last = null;
  const onKey = () => { if (t0 === null) t0 = performance.now(); };
  document.addEventListener('keydown', onKey, true);
  const obs = new MutationObserver(() => { if (t0 !== null) last = performance.now(); });
  obs.observe(plot, {subtree: true, childList: true, attributes: true, characterData: true});
  window.kxBenchDone = new Promise(resolve => {
    const started = performance.now();
    const poll = () => {
      const now = performance.now();
      if ((last !== null && now - last > quietMs) || now - started > timeoutMs) {
        obs.disconnect();
        document.removeEventListener('keydown', onKey, true);
        resolve(last === null || t0 === null ? null : last - t0);
      } else setTimeout(poll, 20);
    };
    poll();
  });
}"""


def explorer_chapters() -> list[str]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p["chapters"]]
    names = [Path(f).name for f in files]
    return [n for n in names if "Explorer(" in (ROOT / "book" / f"{n}.md").read_text()]


def measure_chapter(b, url, token, chapter, moves) -> dict:
    from test_lab import _open_in_lab, run_all_cells

    page, log = _open_in_lab(b, url, token, f"book/{chapter}.md")
    page.set_default_timeout(900_000)  # a chapter that measures things runs for minutes
    received = [0]

    def on_ws(ws):
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", lambda payload: received.__setitem__(
                0, received[0] + len(payload if isinstance(payload, bytes) else
                                     payload.encode())))

    page.on("websocket", on_ws)
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
    t0 = time.perf_counter()
    run_all_cells(page)
    # Run All is over when no cell waits ("[*]") and the kernel is idle, twice in a row; a
    # failing cell stops Run All (later cells keep "[ ]") and is reported below.
    page.wait_for_function("""() => { const idle = /\\| Idle/.test(document.querySelector(
        '.jp-StatusBar-Widget')?.innerText ?? '') && [...document.querySelectorAll(
        '.jp-CodeCell .jp-InputPrompt')].every(p => !p.textContent.includes('*'))
        && document.querySelector('.jp-CodeCell .jp-InputPrompt')?.textContent.match(/\\d/);
        window.kxIdleTicks = idle ? (window.kxIdleTicks || 0) + 1 : 0;
        return window.kxIdleTicks >= 2; }""", polling=1500)
    # every Explorer's plot drawn
    page.wait_for_function("""() => { const s = document.querySelectorAll(
        '.jp-OutputArea .widget-slider'); return [...s].every(e => e.closest(
        '.jp-OutputArea-output').querySelector('.js-plotly-plot')?.data); }""")
    run_s = time.perf_counter() - t0
    page.wait_for_timeout(1000)  # late messages of Run All are counted with it
    run_bytes = received[0]
    text = page.locator(".jp-NotebookPanel .jp-Notebook").inner_text()
    if "Traceback" in text or "Error displaying widget" in text:
        raise RuntimeError(f"{chapter}: an error in the notebook:\n{text[-3000:]}")

    times, missed = [], [0]
    handles = page.locator(".jp-OutputArea .widget-slider .noUi-handle")
    for i in range(handles.count()):
        handle = handles.nth(i)
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(moves):
            at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            page.evaluate(ARM_JS, [i, QUIET_MS, 10_000])
            page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
            ms = page.evaluate("() => window.kxBenchDone")
            if ms is None:  # no redraw within the timeout: counted, not hidden
                missed[0] += 1
            else:
                times.append(ms)
    row = {"redraw": times, "mb": received[0] / 1e6, "run_mb": run_bytes / 1e6,
           "sliders": handles.count(), "run_s": run_s, "missed": missed[0],
           "plotly_evals": page.evaluate("() => window.kxPlotlyEvaluations ?? null")}
    page.context.close()
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chapters", nargs="*", help="only these chapters")
    parser.add_argument("--moves", type=int, default=6, help="key presses per slider")
    parser.add_argument("--kernels-from", type=Path,
                        help="a tree whose kernels/ package the lab's kernels import")
    args = parser.parse_args()
    from site_server import CHROMIUM, browser
    from test_lab import start_lab

    if not Path(CHROMIUM).exists():
        print(f"skipped: no Chromium at {CHROMIUM}")
        return
    env = {}
    if args.kernels_from:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(args.kernels_from.resolve())] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    chapters = args.chapters or explorer_chapters()
    source = f" (kernels from {args.kernels_from})" if args.kernels_from else ""
    print(f"\nlive Explorers in JupyterLab{source}")
    print(f"{'chapter':30s} {'median ms':>9s} {'p90 ms':>7s} {'n':>4s} {'MB run all':>10s} "
          f"{'MB total':>9s} {'plotly.js':>9s}")
    everything = []
    with tempfile.TemporaryDirectory() as tmp, start_lab(Path(tmp), env) as (url, token, _):
        with browser() as b:
            for chapter in chapters:
                row = measure_chapter(b, url, token, chapter, args.moves)
                t = row["redraw"]
                everything += t
                med = statistics.median(t) if t else float("nan")
                p90 = statistics.quantiles(t, n=10)[-1] if len(t) > 1 else med
                evals = "-" if row["plotly_evals"] is None else str(row["plotly_evals"])
                print(f"{chapter:30s} {med:9.1f} {p90:7.1f} {len(t):4d} {row['run_mb']:10.2f} "
                      f"{row['mb']:9.2f} {evals:>9s}"
                      + (f"  ({row['missed']} moves without a redraw)" if row["missed"] else ""),
                      flush=True)
    if everything:
        print(f"{'ALL':30s} {statistics.median(everything):9.1f}   target: median <= "
              f"{TARGET_MS} ms per chapter")


if __name__ == "__main__":
    main()
