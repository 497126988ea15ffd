"""The launch path: one repository address, setup cells written from it, an install that works.

Colab and Binder run a chapter's first (hidden) cell, which installs ``kernels[viz]`` from the
address in ``_config.yml`` (``book/_ext/launch.py`` writes it there on ``make notebooks``).
"""
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import launch  # noqa: E402

PLACEHOLDER = "cnn-building-blocks"  # the made-up address the chapters used to type


def first_code_cell(path):
    return next(c.source for c in jupytext.read(path).cells if c.cell_type == "code")


@pytest.mark.parametrize("path", launch.chapters(), ids=lambda p: p.stem)
def test_every_setup_cell_is_the_one_written_from_the_setting(path):
    block = launch.setup_block(*launch.repository())
    for source in (path, path.with_suffix(".ipynb")):
        assert (first_code_cell(source) + "\n").startswith("# Setup for Colab / Binder")
        assert block in first_code_cell(source) + "\n", f"{source.name}: run `make notebooks`"


def test_no_chapter_or_setting_holds_the_placeholder_address():
    files = [ROOT / "_config.yml", *launch.chapters()]
    files += [p.with_suffix(".ipynb") for p in launch.chapters()]
    assert [p.name for p in files if PLACEHOLDER in p.read_text(encoding="utf-8")] == []


def test_the_setup_cell_installs_the_viz_extra_from_the_address():
    block = launch.setup_block("https://github.com/someone/book/", "teach")
    assert '%pip install -q "kernels[viz] @ git+https://github.com/someone/book/@teach"' in block
    rewritten = launch.with_setup_block("x = 1\n" + block + "y = 2\n", block)
    assert rewritten == "x = 1\n" + block + "y = 2\n"  # writing it twice changes nothing
    no_address = launch.setup_block("")
    assert "%pip" not in no_address and "pip install -e '.[viz]'" in no_address
    assert launch.with_setup_block(block + "y = 2\n", no_address) == no_address + "y = 2\n"
    with pytest.raises(ValueError, match="url"):
        launch.install_spec("")
    with pytest.raises(ValueError, match="setup cell"):
        launch.with_setup_block("print(1)\n", block)


def test_the_viz_extra_holds_what_the_explorers_import():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {spec.split(">")[0].split("=")[0].strip() for spec in
             extras["optional-dependencies"]["viz"]}
    assert {"plotly", "ipywidgets", "anywidget"} <= names


@pytest.mark.parametrize("url, shown", [("", False), ("https://github.com/someone/book", True)])
def test_launch_buttons_follow_the_address(url, shown):
    theme = {"repository_url": url, "launch_buttons": {
        "binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab"}}
    launch.hide_launch_buttons(theme)
    assert theme["use_repository_button"] is shown
    assert bool(theme["launch_buttons"]["binderhub_url"]) is shown
    assert bool(theme["launch_buttons"]["colab_url"]) is shown
    assert theme["launch_buttons"]["notebook_interface"] == "jupyterlab"


RUN_CHAPTER = """
import sys
import jupytext
from IPython.core.interactiveshell import InteractiveShell
try:
    import kernels
    sys.exit("kernels is importable before the setup cell ran: " + kernels.__file__)
except ModuleNotFoundError:
    pass
shell = InteractiveShell.instance()
cells = [c.source for c in jupytext.read(sys.argv[1]).cells if c.cell_type == "code"]
cells[0] = sys.argv[2]  # the setup cell, written for the local repository's address
for source in cells:
    result = shell.run_cell(source)
    if not result.success:
        sys.exit(f"cell failed: {result.error_in_exec or result.error_before_exec!r}")
import kernels, kernels.viz, plotly
print("KERNELS", kernels.__file__)
"""


def fresh_env(path):
    """A new virtual environment without ``kernels``: it sees the shared environment's other
    packages through symlinks (installing torch again would take minutes), so pip resolves the
    ``viz`` extra against them and fails if the extra names something that is not there."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "kernels" not in entry.name:  # not the editable install of this checkout
            (site / entry.name).symlink_to(entry)
    return python, site


def local_repository(path):
    """The package's files from this checkout (working tree, not HEAD) as a git repository,
    so that the setup cell's ``git+<url>`` spec is exercised as it is in Colab."""
    files = ["pyproject.toml", "README.md"] + [
        str(p.relative_to(ROOT)) for p in (ROOT / "kernels").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts]
    for name in files:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes((ROOT / name).read_bytes())
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "copy"], check=True)
    return f"file://{path}"


def test_the_setup_cell_installs_kernels_and_a_chapter_runs(tmp_path):
    """Install as Colab does (the setup cell's own ``%pip install "kernels[viz] @ git+<url>"``,
    from a local copy: no network), then run every code cell of the intro chapter."""
    python, site = fresh_env(tmp_path / "env")
    url = local_repository(tmp_path / "repo")
    setup = launch.setup_block(url, "main")
    assert f'"kernels[viz] @ git+{url}@main"' in setup
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run([str(python), "-c", RUN_CHAPTER, str(ROOT / "book" / "intro.md"),
                             setup], capture_output=True, text=True, timeout=300, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    installed = result.stdout.split("KERNELS ")[-1].strip()
    assert installed.startswith(str(site)), installed  # the installed copy, not the checkout
