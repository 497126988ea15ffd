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

import json
import os
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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Yield (base URL, token, served folder) of `make lab` serving a copy of the book; stop it
    afterwards."""
    tmp = tmp_path_factory.mktemp("lab")
    served = tmp / "served"
    shutil.copytree(ROOT / "book", served / "book",
                    ignore=shutil.ignore_patterns("_build", "__pycache__", ".ipynb_checkpoints"))
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
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
                pytest.fail(f"`make lab` exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in {START_S} s:\n"
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
    page.goto(f"{url}/lab/tree/{path}?token={token}", wait_until="load")
    return page, log


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

        # Run > Run All Cells, the way a teacher does it, once the kernel has started.
        page.wait_for_function("() => /\\| Idle/.test("
                               "document.querySelector('.jp-StatusBar-Widget')?.innerText ?? '')")
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()
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
    # Every cell finished: no "[*]" prompt left.
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-InputPrompt')]
                              .every(p => !p.textContent.includes('*'))""")
    text = page.locator(".jp-NotebookPanel .jp-Notebook").inner_text()
    assert "Traceback" not in text
    assert "Error displaying widget" not in text

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
    assert page.locator(".jp-OutputArea .js-plotly-plot").count() == 1  # redrawn in place


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
