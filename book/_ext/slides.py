"""Slides: one reveal.js deck per chapter, cut from the built site, and RISE marks for the lab.

``make slides`` runs ``python book/_ext/slides.py build _build/html`` after ``make html``. For
every chapter of ``_toc.yml`` it reads the built page ``book/<chapter>.html`` (math already
typeset by KaTeX, each Explorer a ``<div class="kx-explorer">`` with its frames) and writes
``slides/<chapter>.html`` (``slide_deck.py`` does the cutting):

* one vertical stack per section (``h1`` title slide, one per ``h2``); a subsection (``h3``)
  starts a slide of its own, and a slide whose content would not fit the 1440 x 810 canvas
  (shown at 1280 x 720 on a projector, scale 0.89) goes on in the next one (``pack``);
* prose, equations, tables, admonitions and Explorers are kept; code is dropped (cell inputs,
  hidden cells, printed output, literal blocks), and a folded solution becomes ``<details>``;
* the deck links the page's own KaTeX stylesheet, plotly bundle and Explorer script, and
  reveal.js, copied at build time from the ``sphinx-revealjs`` package (it bundles reveal.js
  5.2.0, MIT) into ``_static/revealjs/``: nothing is committed, nothing comes from a CDN;
* ``_static/kx-slides.js`` starts reveal.js and redraws each Explorer at its size when its
  slide is shown (a plot drawn inside a hidden slide has no size), ``kx-slides.css`` sets the
  projector look;
* each chapter page gets a "Slides" button in its header pointing at its deck.

The build fails loudly (``SlidesError``) on a chapter page that is missing or has no sections,
and on a deck that would fetch anything off-site.

``python book/_ext/slides.py mark-chapters FILE...`` adds the RISE slide marks to MyST chapters
(``slide_marks.py``) so that ``make lab`` can present them live with jupyterlab-myst-revealjs.
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import yaml
from bs4 import BeautifulSoup

# Siblings in book/_ext (the script's folder is on sys.path when it runs).
from slide_deck import OFFSITE, SlidesError, deck_html

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# reveal.js files the decks use, relative to sphinx_revealjs/_static/revealjs/
REVEAL_FILES = ["LICENSE", "dist/reset.css", "dist/reveal.css", "dist/reveal.js",
                "dist/theme/white.css", "dist/theme/fonts/source-sans-pro"]


def reveal_dir() -> Path:
    """reveal.js inside the installed ``sphinx-revealjs`` package (requirements.txt pins it)."""
    spec = importlib.util.find_spec("sphinx_revealjs")
    if spec is None or not spec.submodule_search_locations:
        raise SlidesError("slides: the sphinx-revealjs package (which bundles reveal.js) is not "
                          "installed: `make slides` installs requirements.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "_static" / "revealjs"


def chapters(root: Path = ROOT) -> list[str]:
    """The book's pages in ``_toc.yml`` order, as ``book/<chapter>``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


# ---- nothing off-site ------------------------------------------------------------------

CSS_URL = re.compile(r"""(?:@import\s+(?:url\()?|url\()\s*['"]?([^'")\s]+)""")


def check_offline(html: str, where: str) -> None:
    """Fail if the deck would fetch anything from another site: a src, a stylesheet, a CSS url."""
    soup = BeautifulSoup(html, "html.parser")
    bad = []
    for el in soup.find_all(True):
        for attr in ("src", "srcset", "poster", "data"):
            if el.get(attr) and OFFSITE.match(el[attr]):
                bad.append(f"<{el.name} {attr}={el[attr]}>")
        if el.name == "link" and OFFSITE.match(el.get("href", "")):
            bad.append(f"<link href={el['href']}>")
        for css in ([el.get("style", "")] + ([el.string or ""] if el.name == "style" else [])):
            bad += [u for u in CSS_URL.findall(css) if OFFSITE.match(u)]
    if bad:
        raise SlidesError(f"slides: {where} would load from other sites: {bad[:5]}")


def check_css_offline(css_file: Path, seen: set | None = None) -> None:
    """A stylesheet and every file it imports or points at: local files that exist."""
    seen = set() if seen is None else seen
    if css_file in seen:
        return
    seen.add(css_file)
    for url in CSS_URL.findall(css_file.read_text(encoding="utf-8", errors="replace")):
        if url.startswith("data:"):
            continue
        if OFFSITE.match(url):
            raise SlidesError(f"slides: {css_file.name} loads {url} from another site")
        target = (css_file.parent / url.split("?")[0].split("#")[0]).resolve()
        if not target.exists():
            raise SlidesError(f"slides: {css_file.name} points at {url}, which is missing")
        if target.suffix == ".css":
            check_css_offline(target, seen)


# ---- the build --------------------------------------------------------------------------

STATIC = HERE / "slides_static"  # kx-slides.js and kx-slides.css
BUTTON = ('<a href="../slides/{chapter}.html" class="btn btn-sm kx-slides-button" '
          'title="Slides of this chapter" data-bs-placement="bottom" data-bs-toggle="tooltip">'
          '<span class="btn__text-container">Slides</span></a>\n')
HEADER = '<div class="article-header-buttons">'


def copy_reveal(static: Path) -> None:
    """reveal.js's files the decks use, from the installed package into ``_static/revealjs``."""
    src, dst = reveal_dir(), static / "revealjs"
    for rel in REVEAL_FILES:
        if not (src / rel).exists():
            raise SlidesError(f"slides: reveal.js file {rel} is missing from {src}")
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        if (src / rel).is_dir():
            shutil.copytree(src / rel, dst / rel, dirs_exist_ok=True)
        else:
            shutil.copy2(src / rel, dst / rel)
    for asset in STATIC.iterdir():
        shutil.copy2(asset, static / asset.name)
    for css in [*(dst / "dist").rglob("*.css"), static / "kx-slides.css"]:
        check_css_offline(css)


def add_slides_button(page_html: str, chapter: str) -> str:
    """The chapter page with a "Slides" button in its header (once, however often it runs)."""
    if "kx-slides-button" in page_html:
        return page_html
    if HEADER not in page_html:
        raise SlidesError(f"slides: book/{chapter}.html has no {HEADER} to put the button in")
    return page_html.replace(HEADER, HEADER + "\n" + BUTTON.format(chapter=chapter), 1)


def build(site: Path, root: Path = ROOT) -> dict[str, int]:
    """Write ``site/slides/<chapter>.html`` for every chapter; return their sizes in bytes."""
    site = Path(site)
    if not (site / "_static").is_dir():
        raise SlidesError(f"slides: {site} is not a built site (no _static/): run `make html`")
    pages = {Path(doc).name: site / f"{doc}.html" for doc in chapters(root)}
    for page in pages.values():
        if not page.exists():
            raise SlidesError(f"slides: {page} is missing: build the site first (`make html`)")
    book_title = yaml.safe_load((root / "_config.yml").read_text()).get("title", "")
    decks = {}
    for chapter, page in pages.items():  # every deck is cut before anything is written
        text = page.read_text(encoding="utf-8")
        try:
            decks[chapter] = deck_html(text, chapter, book_title)
        except SlidesError as err:
            raise SlidesError(f"{err} (in {page})") from None
        check_offline(decks[chapter], f"slides/{chapter}.html")
    copy_reveal(site / "_static")
    (site / "slides").mkdir(exist_ok=True)
    for chapter, deck in decks.items():
        (site / "slides" / f"{chapter}.html").write_text(deck, encoding="utf-8")
        text = pages[chapter].read_text(encoding="utf-8")
        pages[chapter].write_text(add_slides_button(text, chapter), encoding="utf-8")
    return {chapter: len(deck.encode()) for chapter, deck in decks.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slides.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write a reveal.js deck per chapter into a built site")
    b.add_argument("site", nargs="?", default=str(ROOT / "_build" / "html"))
    m = sub.add_parser("mark-chapters", help="add RISE slide marks to MyST chapters, in place")
    m.add_argument("files", nargs="*", help="chapters (default: every chapter of _toc.yml)")
    m.add_argument("--check", action="store_true", help="only report files that would change")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            site = Path(args.site)
            book = site.resolve().parents[1]  # <book>/_build/html: the toc beside its build
            sizes = build(site, book if (book / "_toc.yml").exists() else ROOT)
            for chapter, size in sizes.items():
                print(f"slides/{chapter}.html  {size / 1024:.0f} kB")
            return 0
        from slide_marks import mark_files
        files = [Path(f) for f in args.files] or [ROOT / f"{d}.md" for d in chapters()]
        changed = mark_files(files, check=args.check)
        for f in changed:
            print(f"{'would mark' if args.check else 'marked'} {f}")
        return 1 if args.check and changed else 0
    except SlidesError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
