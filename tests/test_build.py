"""The build machinery: loud failures, kernels-aware cache, paired notebooks, offline config."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import icons  # noqa: E402
import katex_math  # noqa: E402
import offline_site  # noqa: E402
import plotly_bundle  # noqa: E402

CHAPTER = """---
jupytext:
  text_representation: {{extension: .md, format_name: myst}}
kernelspec: {{display_name: Python 3, language: python, name: python3}}
---
# A chapter

```{{code-cell}} ipython3
{code}
```

{text}
"""


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


def tiny_book(tmp_path, code, text):
    """Our _config.yml and extension around one chapter, in ``tmp_path``."""
    (tmp_path / "book").mkdir()
    for item in ("book/_ext", "book/_static"):
        shutil.copytree(ROOT / item, tmp_path / item,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "_config.yml", tmp_path)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/index\n")
    (tmp_path / "book" / "index.md").write_text(CHAPTER.format(code=code, text=text))


def build_tiny_book(tmp_path, code="print(1 + 1)", text="Fine."):
    """The tiny book built with the Makefile's own flags."""
    tiny_book(tmp_path, code, text)
    return subprocess.run(["make", "-s", "-C", str(ROOT), "html", f"BOOK={tmp_path}", "SLIDES=0"],
                          capture_output=True, text=True, timeout=300)


def test_plain_jupyter_book_build_gives_static_explorers(tmp_path):
    """`jupyter-book build .` alone, with nothing set in the environment, writes the static
    Explorer into the page (the book's extension selects the mode, not the Makefile)."""
    code = ("import plotly.graph_objects as go\n"
            "from kernels.viz import Explorer, Param\n"
            "Explorer(lambda a=1: go.Figure(go.Scatter(x=[a], y=[a])), a=Param([1, 2], 'a'))")
    tiny_book(tmp_path, code, "Fine.")
    env = {k: v for k, v in os.environ.items() if k != "KERNELS_BOOK_BUILD"}
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jb), "build", str(tmp_path)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (tmp_path / "_build" / "html" / "book" / "index.html").read_text()
    assert 'class="kx-explorer"' in page and 'class="kx-data"' in page
    assert "application/vnd.jupyter.widget-view+json" not in page


def test_a_correct_tiny_book_builds(tmp_path):
    result = build_tiny_book(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "_build" / "html" / "book" / "index.html").exists()


@pytest.mark.parametrize("code, text, needle", [
    ("raise ValueError('boom in a cell')", "Fine.", "boom in a cell"),
    ("print(1)", "See {doc}`no_such_chapter`.", "no_such_chapter"),
    ("print(1)", "```{no-such-directive}\n```", "no-such-directive"),
])
def test_build_fails_loudly(tmp_path, code, text, needle):
    result = build_tiny_book(tmp_path, code, text)
    assert result.returncode != 0
    assert needle in result.stdout + result.stderr


def test_fingerprint_follows_every_kernels_file(tmp_path):
    pkg = tmp_path / "kernels"
    shutil.copytree(offline_site.package_dir("kernels"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = offline_site.kernels_fingerprint(pkg)
    assert offline_site.kernels_fingerprint(pkg) == before
    (pkg / "viz" / "theme.py").write_text((pkg / "viz" / "theme.py").read_text() + "\n# x\n")
    assert offline_site.kernels_fingerprint(pkg) != before


def test_cache_is_wiped_only_when_the_fingerprint_changes(tmp_path):
    cache = tmp_path / ".jupyter_cache"
    assert not offline_site.refresh_cache(cache, "a")  # nothing to wipe yet
    (cache / "executed.db").write_text("cells")
    assert not offline_site.refresh_cache(cache, "a")
    assert (cache / "executed.db").exists()
    assert offline_site.refresh_cache(cache, "b")
    assert not (cache / "executed.db").exists()


def test_the_fingerprint_guards_the_cache_myst_nb_really_uses(tmp_path):
    # myst-nb's default cache is _build/.jupyter_cache beside the HTML output, not srcdir
    class App:
        srcdir, outdir = tmp_path, tmp_path / "_build" / "html"

    class Config:
        nb_execution_cache_path = ""

    assert offline_site.execution_cache_dir(App, Config) == tmp_path / "_build" / ".jupyter_cache"
    Config.nb_execution_cache_path = "cache"
    assert offline_site.execution_cache_dir(App, Config) == tmp_path / "cache"


def test_a_built_book_stamps_its_execution_cache(tmp_path):
    result = build_tiny_book(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stamp = tmp_path / "_build" / ".jupyter_cache" / offline_site.STAMP
    assert stamp.read_text().strip() == offline_site.kernels_fingerprint()


def test_a_wiped_cache_makes_sphinx_reread_every_page():
    # Sphinx re-reads only pages whose source changed: after kernels/ changed (cache wiped),
    # every other page must be re-read too, or it keeps outputs of the old kernels.
    class App:
        pass

    class Env:
        found_docs = {"book/a", "book/b", "book/c"}

    app = App()
    assert offline_site._on_env_get_outdated(app, Env(), set(), set(), set()) == []
    app.kx_reread_all = True
    assert offline_site._on_env_get_outdated(app, Env(), {"book/a"}, set(), set()) == \
        ["book/b", "book/c"]


@pytest.mark.parametrize("name", [f for f in toc_files()])
def test_paired_notebook_matches_its_markdown(name):
    """Colab opens only .ipynb: each chapter's committed copy must equal its MyST source."""
    md, ipynb = ROOT / f"{name}.md", ROOT / f"{name}.ipynb"
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make notebooks`"
    want = [(c.cell_type, c.source) for c in jupytext.read(md).cells]
    got = [(c.cell_type, c.source) for c in jupytext.read(ipynb).cells]
    assert got == want, f"{ipynb.name} is stale: run `make notebooks`"
    assert all(not c.get("outputs") for c in jupytext.read(ipynb).cells)


@pytest.mark.parametrize("url", ["", "https://github.com/someone/book"])
def test_launch_buttons_show_only_with_a_repository_address(tmp_path, url):
    """repository.url in _config.yml is the one setting: empty, the page has no Binder, Colab
    or repository button (they would point nowhere); set, it has all three."""
    tiny_book(tmp_path, "print(1)", "Fine.")
    cfg = tmp_path / "_config.yml"
    cfg.write_text(cfg.read_text().replace('url: ""', f"url: {url}" if url else 'url: ""'))
    result = subprocess.run(["make", "-s", "-C", str(ROOT), "html", f"BOOK={tmp_path}", "SLIDES=0"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (tmp_path / "_build" / "html" / "book" / "index.html").read_text()
    for needle in ("mybinder.org", "colab.research.google.com", "fa-github"):
        assert (needle in page) is bool(url), needle
    assert "cnn-building-blocks" not in page  # the old placeholder address
    if url:
        assert url in page


def test_config_points_every_asset_at_the_site():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = cfg["sphinx"]["config"]
    assert sphinx["nb_ipywidgets_js"] == {}  # no require.js / widget manager from a CDN
    assert sphinx["nb_execution_raise_on_error"] is True
    assert cfg["execute"]["execute_notebooks"] == "cache"
    assert cfg["launch_buttons"]["thebe"] is False


def test_plotly_bundle_is_locked_to_plotly_py_and_has_only_the_book_s_traces():
    """The bundle built from npm's plotly.js (package.json) is the plotly.js version plotly.py
    ships, and it registers exactly scatter and the listed trace types (a build fails on any
    other)."""
    modules = offline_site.node_modules(ROOT)
    assert plotly_bundle.bundle_version(modules) == plotly_bundle.plotly_py_js_version()
    bundle = plotly_bundle.build_bundle(modules)
    assert plotly_bundle.bundle_trace_types(bundle) == {"scatter", *plotly_bundle.TRACES}
    assert set(plotly_bundle.TRACES) == {"bar", "heatmap"}
    assert bundle.stat().st_size < 1_300_000
    assert plotly_bundle.build_bundle(modules) == bundle  # built once, then reused


def test_plotly_bundle_is_a_script_that_sets_the_global_plotly():
    """A classic script whose top-level ``var Plotly`` becomes window.Plotly (what the Explorer
    script uses); the browser tests check its version there."""
    bundle = plotly_bundle.build_bundle(offline_site.node_modules(ROOT))
    assert bundle.read_text()[:40].startswith("var Plotly=(()=>{")
    assert "import " not in plotly_bundle.entry_source()  # CommonJS, as plotly.js/lib is


def test_trace_types_are_read_from_base_and_frames():
    import json

    payload = {"base": {"data": [{"type": "heatmap"}, {}]}, "pool": [{"type": "scatter3d"}, "bar"],
               "frames": [[3, [[["data", 2], 0]]], [2, [[["data", 1, "type"], 1]]]]}
    body = f'<script type="application/json" class="kx-data">{json.dumps(payload)}</script>'
    assert plotly_bundle.figure_trace_types(body) == {"heatmap", "scatter", "scatter3d", "bar"}


def test_katex_typesets_and_reports_bad_tex():
    modules = offline_site.node_modules(ROOT)
    good, bad = katex_math.render_katex([(r"\frac{a}{b}", False), (r"\nosuchmacro", True)],
                                          modules)
    assert 'class="katex"' in good["html"] and "<math" in good["html"]
    assert "nosuchmacro" in bad["error"]


def test_icons_css_covers_used_icons_and_rejects_unknown_ones():
    js = (offline_site.package_dir("pydata_sphinx_theme") / "theme" / "pydata_sphinx_theme" /
          "static" / "scripts" / "fontawesome.js").read_text()
    found = icons.fontawesome_icons(js)
    css = icons.icons_css(['<i class="fa-solid fa-bars fa-lg"></i><i class="fab fa-github">'],
                          found)
    assert ".fa-solid.fa-bars" in css and ".fab.fa-github" in css and ".fa-lg.fa" not in css
    for kind, name in icons.ADMONITION_ICONS.items():  # every admonition icon is a mask
        assert name in found["solid"]
        assert f"admonition.{kind}>" in css or not kind
    assert 'content:""!important' in css
    with pytest.raises(Exception, match="fa-no-such-icon"):
        icons.icons_css(['<i class="fa-solid fa-no-such-icon"></i>'], found)


def test_favicon_is_an_ico_holding_a_png():
    ico = icons.favicon_ico()
    assert ico[:4] == b"\0\0\1\0" and ico[22:30] == b"\x89PNG\r\n\x1a\n"
