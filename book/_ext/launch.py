"""The repository address as one setting: launch buttons and the chapters' setup cell follow it.

``repository.url`` in ``_config.yml`` is the only place the book's address is written.

* The site: while it is empty, ``offline_site`` hides the Binder and Colab launch buttons and
  the repository button (``hide_launch_buttons``), which would otherwise point nowhere.
* The notebooks: Colab opens a chapter's ``.ipynb`` alone, with nothing beside it, so the
  address must be inside the notebook. ``make notebooks`` runs this file: it rewrites the first
  (hidden) setup cell of every chapter from the setting (``setup_block``) before jupytext
  writes the paired ``.ipynb``. The cell installs ``kernels[viz] @ git+<url>@<branch>``: the
  ``viz`` extra brings plotly, ipywidgets and anywidget, which the Explorers need. With no
  address set the cell says how to install the package instead of guessing one.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HEADER = ("# Setup for Colab / Binder: install the book's `kernels` package when it is missing.\n"
          "# Written by `make notebooks` from repository.url in _config.yml: do not edit here.\n")
# The generated block: the header comment, then the try/except and its indented body.
BLOCK = re.compile(r"# Setup for Colab / Binder.*\n(?:#.*\n)*try:\n    import kernels\n"
                   r"except .*:\n(?:    .*\n)*")


def repository(root: Path = ROOT) -> tuple[str, str]:
    """``(url, branch)`` from ``_config.yml``; the url is ``""`` when it is not set."""
    repo = yaml.safe_load((root / "_config.yml").read_text()).get("repository") or {}
    return (repo.get("url") or "").strip().rstrip("/"), (repo.get("branch") or "main").strip()


def install_spec(url: str, branch: str = "main") -> str:
    """What pip installs in Colab / Binder: the package with its ``viz`` extra, from git."""
    if not url:
        raise ValueError("install_spec: url is empty (set repository.url in _config.yml)")
    return f"kernels[viz] @ git+{url}@{branch}"


def setup_block(url: str, branch: str = "main") -> str:
    """The setup cell's install block for this address (the cell may go on after it)."""
    head = (HEADER + "try:\n    import kernels\nexcept ModuleNotFoundError as missing:\n"
            "    if missing.name != \"kernels\":  # kernels is there but broken: show the real error\n"
            "        raise\n")
    if not url:  # no public address yet: say what to do rather than install from nowhere
        return head + ("    raise ModuleNotFoundError(\"this notebook needs the book's `kernels` package:\"\n"
                       "                              \" run `pip install -e '.[viz]'` in its repository\")\n")
    return head + f"    %pip install -q \"{install_spec(url, branch)}\"\n    import kernels\n"


def with_setup_block(text: str, block: str) -> str:
    """A chapter's MyST text with its setup cell's install block replaced by ``block``."""
    new, count = BLOCK.subn(lambda _: block, text, count=1)
    if count != 1:
        raise ValueError("with_setup_block: text has no setup cell (see book/_ext/launch.py)")
    return new


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book").glob("*.md"))


def write_setup_cells(root: Path = ROOT) -> list[Path]:
    """Rewrite every chapter's setup cell from the setting; returns the chapters changed."""
    block = setup_block(*repository(root))
    changed = []
    for md in chapters(root):
        text = md.read_text(encoding="utf-8")
        new = with_setup_block(text, block)
        if new != text:
            md.write_text(new, encoding="utf-8")
            changed.append(md)
    return changed


def hide_launch_buttons(theme_options: dict) -> None:
    """No address: no Binder / Colab buttons and no repository button (they would be dead)."""
    has_url = bool((theme_options.get("repository_url") or "").strip())
    theme_options["use_repository_button"] = has_url
    if not has_url:
        buttons = dict(theme_options.get("launch_buttons") or {})
        for key in ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url"):
            buttons[key] = ""
        theme_options["launch_buttons"] = buttons


if __name__ == "__main__":
    for path in write_setup_cells(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT):
        print(f"setup cell rewritten: {path}")
