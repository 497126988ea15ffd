"""`make lab` in a real headless Chromium: JupyterLab on 127.0.0.1 opens a MyST chapter as a
notebook (jupytext), renders its Markdown with jupyterlab-myst, runs every cell, and a slider of
the live Explorer redraws its figure, with no request leaving the machine (issue 15).

The server is started by the Makefile's own ``lab`` target (so the test covers the command a
teacher types) on a free port with a fixed token, serving a temporary copy of ``book/`` so that
nothing is written into the repository, and with Jupyter's config, settings, workspace and
runtime folders in that temporary folder too. Needs ``.venv`` built by ``make`` (``make test``
does it) and Debian's ``chromium``.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from site_server import CHROMIUM, PageLog, browser

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason=f"no Chromium at {CHROMIUM} (Debian's `chromium`)")]

START_S = 120  # a cold server start (first import of the extensions) on a slow, shared machine
RUN_S = 180   # Run All on one light chapter, kernel start included


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def start_lab(tmp: Path, env_extra: dict | None = None):
    """Run `make lab` serving a copy of ``book/`` under ``tmp``; yield (base URL, token, served
    folder) and stop it afterwards. ``env_extra``: more environment (bench/bench_lab.py gives a
    PYTHONPATH to measure another tree's ``kernels``)."""
    served = tmp / "served"
    shutil.copytree(ROOT / "book", served / "book",
                    ignore=shutil.ignore_patterns("_build", "__pycache__", ".ipynb_checkpoints"))
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env.update(env_extra or {})
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")]:
        env[var] = str(tmp / sub)
    log_path = tmp / "lab.log"
    with open(log_path, "wb") as log:
        # Its own process group: make, the server and its kernels stop together.
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(ROOT), "lab", f"LAB_PORT={port}",
             f"LAB_TOKEN={token}", f"LAB_DIR={served}"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"`make lab` exited with {proc.returncode}:\n"
                                   f"{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer in {START_S} s:\n"
                                       f"{log_path.read_text()}")
                time.sleep(0.5)
        yield url, token, served
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server shuts its kernels down
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, token, served folder) of `make lab` serving a copy of the book."""
    with start_lab(tmp_path_factory.mktemp("lab")) as served:
        yield served


def _figure_data(page) -> str:
    """The traces plotly drew in the live figure, read from the plot div in the page."""
    return page.evaluate("""() => {
        const div = document.querySelector('.jp-OutputArea .js-plotly-plot');
        return div && div.data ? JSON.stringify(div.data.map(t => [t.x, t.y, t.z, t.text]))
                               : null;
    }""")


def _open_in_lab(b, url, token, path):
    """A projector-sized page showing ``path`` in the lab, with its request log."""
    page = b.new_context(viewport={"width": 1280, "height": 720}).new_page()
    log = PageLog(page, url)
    page.set_default_timeout(RUN_S * 1000)
    # ?reset: a fresh workspace, so that only ``path`` is open (not an earlier visit's tabs)
    page.goto(f"{url}/lab/tree/{path}?reset&token={token}", wait_until="load")
    return page, log


def run_all_cells(page):
    """Run > Run All Cells, the way a teacher does it, once the kernel has started."""
    page.wait_for_function("() => /\\| Idle/.test("
                           "document.querySelector('.jp-StatusBar-Widget')?.innerText ?? '')")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()


def wait_until_all_cells_ran(page):
    """Every code cell shows an execution count ("[3]": neither "[*]" nor "[ ]")."""
    page.wait_for_function("""() => [...document.querySelectorAll(
        '.jp-CodeCell .jp-InputPrompt')].every(p => /\\[\\d+\\]/.test(p.textContent))""")


def test_lab_runs_a_chapter_and_its_slider_redraws_the_figure(lab):
    url, token, _ = lab
    with browser() as b:
        page, log = _open_in_lab(b, url, token, "book/intro.md")

        # The chapter opens as a notebook (jupytext), not in the text editor.
        page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
        assert page.locator(".jp-NotebookPanel").count() == 1
        assert page.locator(".jp-FileEditor").count() == 0
        config = json.loads(page.locator("#jupyter-config-data").text_content())
        loaded = {e["name"] for e in config.get("federated_extensions", [])}
        for extension in ("jupyterlab-myst", "jupyterlab-jupytext", "anywidget",
                          "@jupyter-widgets/jupyterlab-manager"):
            assert extension in loaded, (extension, sorted(loaded))
        # The Markdown cells are rendered by jupyterlab-myst (roles, directives, admonitions).
        page.locator(".jp-MarkdownCell div.myst").first.wait_for()

        run_all_cells(page)
        try:
            _run_all_and_move_a_slider(page)
        except Exception:
            shot = Path(os.environ.get("LAB_TEST_SCREENSHOT", "/tmp/test_lab_failure.png"))
            page.screenshot(path=str(shot), full_page=True)
            print(page.locator("#main").inner_text()[-4000:])
            raise
        assert log.outside == [], f"requests that left the machine: {log.outside}"
        page.context.close()


def _run_all_and_move_a_slider(page):
    """Wait for Run All to draw the Explorer, then press an arrow key on its first slider."""
    page.locator(".jp-OutputArea .js-plotly-plot").first.wait_for()
    page.wait_for_function("() => document.querySelector('.jp-OutputArea .js-plotly-plot')"
                           ".data?.length > 0")
    wait_until_all_cells_ran(page)
    text = page.locator(".jp-NotebookPanel .jp-Notebook").inner_text()
    assert "Traceback" not in text
    assert "Error displaying widget" not in text

    # plotly.js came from the kernel once and was evaluated once for the whole page
    assert page.evaluate("() => window.kxPlotlyEvaluations") == 1
    n_plots = page.locator(".jp-OutputArea .js-plotly-plot").count()
    before = _figure_data(page)
    handle = page.locator(".jp-OutputArea .widget-slider .noUi-handle").first
    handle.focus()
    at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
    page.wait_for_function(
        """before => {
            const div = document.querySelector('.jp-OutputArea .js-plotly-plot');
            return JSON.stringify(div.data.map(t => [t.x, t.y, t.z, t.text])) !== before;
        }""", arg=before)
    assert _figure_data(page) != before
    assert page.locator(".jp-OutputArea .js-plotly-plot").count() == n_plots  # in place
    # the figure's title is HTML above the plot, as on the site (styled by the widget's _css)
    title = page.evaluate("""() => {
        const live = document.querySelector('.jp-OutputArea .kx-live');
        const t = live.querySelector('.kx-figure-title');
        return t && {text: t.textContent, hidden: t.hidden, align: getComputedStyle(t).textAlign,
                     before_plot: t.nextElementSibling === live.querySelector('.kx-live-plot'),
                     plotly: !!live.querySelector('.gtitle')};
    }""")
    assert title == {"text": title["text"], "hidden": False, "align": "center",
                     "before_plot": True, "plotly": False}
    assert "output size" in title["text"]


def test_a_reopened_notebook_shows_a_note_not_a_widget_error(lab):
    """A notebook saved with a live Explorer's output, opened by another server (untrusted, no
    widget model): the output shows the Explorer's note, never "Error displaying widget"."""
    import nbformat

    from kernels.viz import Explorer, set_mode
    from kernels.viz.explorer import REOPEN_NOTE
    from kernels.viz.intro import conv_arithmetic_figure

    url, token, served = lab
    set_mode("live")
    try:
        bundle = Explorer(conv_arithmetic_figure)._repr_mimebundle_()
    finally:
        set_mode(None)
    cell = nbformat.v4.new_code_cell("Explorer(conv_arithmetic_figure)", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, served / "book" / "reopened.ipynb")
    with browser() as b:
        page, log = _open_in_lab(b, url, token, "book/reopened.ipynb")
        page.locator(".jp-NotebookPanel .jp-OutputArea-output").first.wait_for()
        # (The workspace may bring back the first test's tab: look in every output area.)
        page.wait_for_function("note => [...document.querySelectorAll('.jp-OutputArea')]"
                               ".some(e => e.innerText.includes(note))", arg=REOPEN_NOTE)
        assert "Error displaying widget" not in page.locator("body").inner_text()
        assert log.outside == [], f"requests that left the machine: {log.outside}"
        page.context.close()


def _kernel_bytes(page) -> list:
    """A running count of the bytes the page receives on its kernels' websockets."""
    received = [0]

    def on_ws(ws):
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", lambda m: received.__setitem__(
                0, received[0] + len(m if isinstance(m, bytes) else m.encode())))

    page.on("websocket", on_ws)
    return received


def _shut_down_kernels(url, token):
    """Delete every session (and its kernel): the next visit starts a fresh kernel."""
    api = f"{url}/api/sessions?token={token}"
    with urllib.request.urlopen(api, timeout=30) as r:
        sessions = json.load(r)
    for session in sessions:
        req = urllib.request.Request(f"{url}/api/sessions/{session['id']}?token={token}",
                                     method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


def _save_and_count_live_figures_saved(page, path: Path, expected: int):
    """File > Save Notebook; then the saved widget state holds ``expected`` live figures."""
    import nbformat

    saved = path.stat().st_mtime_ns
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel",
                 has_text=re.compile(r"^Save Notebook$")).first.click()
    deadline = time.monotonic() + 60
    while path.stat().st_mtime_ns == saved:
        assert time.monotonic() < deadline, "the lab did not save the notebook"
        # not time.sleep: the page's requests pass PageLog's route, which the sync API
        # serves only inside a Playwright call
        page.wait_for_timeout(500)
    page.wait_for_timeout(1000)  # the write is complete
    widgets = nbformat.read(path, as_version=4).metadata.get("widgets", {})
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    assert sum(m["model_module"] == "anywidget" for m in state.values()) == expected, \
        sorted(m["model_name"] for m in state.values())


def test_figures_share_one_plotly_js_and_a_reopened_trusted_notebook_shows_no_error(lab):
    """Two live Explorers in one notebook: the page receives plotly.js once, evaluates it
    once, and both figures draw. Saved by the lab (so trusted, with its widget state) and
    reopened with a fresh kernel, every output shows the figure or a one-line note, never
    "Error displaying widget", also after it is saved again before a run; Run All brings the
    figures back (issue 15, items 2 and 4)."""
    import nbformat

    from kernels.viz import _live
    from kernels.viz.explorer import REOPEN_NOTE

    url, token, served = lab
    code = ["from kernels.viz import Explorer\n"
            "from kernels.viz.intro import conv_arithmetic_figure",
            "Explorer(conv_arithmetic_figure)", "Explorer(conv_arithmetic_figure)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in code],
                                  metadata={"kernelspec": {"name": "python3",
                                                           "display_name": "Python 3",
                                                           "language": "python"}})
    path = served / "book" / "trusted.ipynb"
    nbformat.write(nb, path)
    library = len(_live.plotly_js())
    plots = ".jp-OutputArea .kx-live .js-plotly-plot"
    with browser() as b:
        page, log = _open_in_lab(b, url, token, "book/trusted.ipynb")
        received = _kernel_bytes(page)
        page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
        run_all_cells(page)
        wait_until_all_cells_ran(page)
        page.wait_for_function(f"() => [...document.querySelectorAll('{plots}')]"
                               ".filter(d => d.data?.length).length === 2")
        assert page.evaluate("() => window.kxPlotlyEvaluations") == 1
        # one plotly.js and two small figures; a FigureWidget each would be 2 x 5 MB
        assert library < received[0] < library + 1_000_000, received[0]
        _run_all_and_move_a_slider(page)

        _save_and_count_live_figures_saved(page, path, 2)
        size = path.stat().st_size
        print(f"saved notebook with two live figures: {size} bytes")
        assert size < 300_000  # the figures' last states, no plotly.js
        assert log.outside == [], f"requests that left the machine: {log.outside}"
        page.context.close()

    def reopen(b):
        """The notebook opened with a fresh kernel: restored from the saved state, both
        figures' widgets render, each with its note (plotly.js is not in this page, and no
        kernel holds their models)."""
        _shut_down_kernels(url, token)
        page, log = _open_in_lab(b, url, token, "book/trusted.ipynb")
        page.wait_for_function("n => document.querySelectorAll('.kx-live .kx-reopen-note')"
                               ".length === n", arg=2)
        assert REOPEN_NOTE in page.locator(".kx-live").first.inner_text()
        assert "Error displaying widget" not in page.locator("body").inner_text()
        assert page.locator("text=Not Trusted").count() == 0
        return page, log

    with browser() as b:
        # Saved (as autosave would) before it is run again: the widgets it still shows keep
        # their saved state (jupyterlab-manager alone would save none: no kernel holds them,
        # binder/labextensions/kernels-lab-widgets), so the next reopen shows no error either.
        page, log = reopen(b)
        _save_and_count_live_figures_saved(page, path, 2)
        page.context.close()
        page, log = reopen(b)
        # Run All in the reopened notebook: live figures again, beside the restored ones.
        run_all_cells(page)
        wait_until_all_cells_ran(page)
        page.wait_for_function(f"() => [...document.querySelectorAll('{plots}')]"
                               ".filter(d => d.data?.length).length === 2")
        assert page.evaluate("() => window.kxPlotlyEvaluations") == 1
        assert "Error displaying widget" not in page.locator("body").inner_text()
        assert log.outside == [], f"requests that left the machine: {log.outside}"
        page.context.close()
