"""The theme's icons without its 1.5 MB ``fontawesome.js``, and the site's ``favicon.ico``.

pydata-sphinx-theme draws its icons (navbar, launch and download buttons, admonition titles)
with Font Awesome: a 1.5 MB script that turns ``<i class="fa-solid fa-bars">`` into SVG, and
webfonts for the icons its CSS draws as ``::before``/``::after`` glyphs (admonitions). Here each
icon a page uses becomes a CSS mask of its SVG path, cut out of that same script at build time
(a few kB in ``kx-icons.css``); the script is dropped from every page. Admonition icons get the
same treatment (:data:`ADMONITION_ICONS`), so no page fetches the theme's icon webfont.
"""
from __future__ import annotations

import re
import struct
import zlib

from sphinx.errors import ExtensionError


FA_SETS = {"fas": "solid", "fa-solid": "solid", "far": "regular", "fa-regular": "regular",
           "fab": "brands", "fa-brands": "brands"}
FA_MODIFIERS = {"fa-lg", "fa-fw", "fa-xs", "fa-sm", "fa-xl", "fa-2x"}


def fontawesome_icons(js: str) -> dict[str, dict[str, tuple[int, int, str]]]:
    """``{set: {name: (width, height, svg_path)}}`` parsed from the theme's fontawesome.js, whose
    three icon objects each end just before ``d("fab"|"far"|"fas", ...)`` registers them."""
    entry = re.compile(r'(?:"([\w-]+)"|\b([a-z][\w-]*)):\[(\d+),(\d+),\[[^\]]*\],"[0-9a-f]+",'
                       r'"([^"]*)"\]')
    sets, start = {}, 0
    for end in [m.start() for m in re.finditer(r"\};!function\(c\)\{try\{for", js)]:
        prefix = re.compile(r'\bd\("(fa[srb])",').search(js, end).group(1)
        sets[FA_SETS[prefix]] = {(m.group(1) or m.group(2)): (int(m.group(3)), int(m.group(4)),
                                                             m.group(5))
                                 for m in entry.finditer(js, start, end)}
        start = end
    return sets


def icons_css(pages: list[str], icons: dict) -> str:
    """CSS masks for every ``<i class="fa-...">`` icon the pages use; unknown ones raise."""
    css = [".fa-solid,.fas,.fa-regular,.far,.fa-brands,.fab{display:inline-block;height:1em;"
           "vertical-align:-.125em;background-color:currentColor;"
           "-webkit-mask:var(--kx-icon) center/contain no-repeat;"
           "mask:var(--kx-icon) center/contain no-repeat}",
           ".fa-lg{font-size:1.25em;line-height:.05em;vertical-align:-.075em}"]
    used = set()
    for html in pages:
        for classes in re.findall(r'<(?:i|span) class="([^"]*\bfa[-srb][^"]*)"', html):
            names = classes.split()
            kind = next((FA_SETS[c] for c in names if c in FA_SETS), None)
            for name in names:
                if kind and name.startswith("fa-") and name not in FA_SETS \
                        and name not in FA_MODIFIERS:
                    used.add((kind, name[3:]))
    for kind, name in sorted(used):
        if name not in icons.get(kind, {}):
            raise ExtensionError(f"icons: icon fa-{name} ({kind}) not in fontawesome.js")
        w, h, _path = icons[kind][name]
        sel = [f".{p}.fa-{name}" for p, k in FA_SETS.items() if k == kind]
        css.append(f'{",".join(sel)}{{width:{w / h:.4g}em;--kx-icon:{svg_url(icons[kind][name])}}}')
        # The theme's CSS would also draw the glyph from its 150 kB webfont: not for these.
        css.append(",".join(f"{s}::before" for s in sel) + "{content:none}")
    return "\n".join(css + admonition_css(icons)) + "\n"


def svg_url(icon: tuple[int, int, str]) -> str:
    """A CSS ``url()`` holding the icon as an inline SVG."""
    w, h, path = icon
    return (f"url(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' "
            f"viewBox='0 0 {w} {h}'%3E%3Cpath d='{path}'/%3E%3C/svg%3E\")")


# pydata-sphinx-theme's admonition glyphs (its --pst-icon-admonition-* variables, drawn as
# ``.admonition-title::after`` in its solid webfont), by Font Awesome 6 solid icon name.
ADMONITION_ICONS = {"": "bell", "attention": "circle-exclamation",
                    "caution": "triangle-exclamation", "warning": "triangle-exclamation",
                    "danger": "triangle-exclamation", "error": "circle-xmark",
                    "hint": "lightbulb", "tip": "lightbulb", "important": "circle-exclamation",
                    "note": "circle-info", "seealso": "share", "admonition-todo": "pencil"}


def admonition_css(icons: dict) -> list[str]:
    """The same admonition icons as CSS masks: same box, colour and place as the theme's glyph
    (its rules still set those), but no text, so the 156 kB webfont is never fetched."""
    title = ".admonition>.admonition-title::after,div.admonition>.admonition-title::after"
    # An empty glyph in the icon font still makes Chrome fetch that font: the family goes too.
    css = [title + '{content:""!important;font-family:inherit!important;'
           "background-color:currentColor;transform:translateY(.125rem);"
           "-webkit-mask:var(--kx-admonition) center/contain no-repeat;"
           "mask:var(--kx-admonition) center/contain no-repeat}"]
    for kind, name in ADMONITION_ICONS.items():
        sel = title if not kind else ",".join(
            f"{p}.admonition.{kind}>.admonition-title::after" for p in ("", "div"))
        css.append(f"{sel}{{--kx-admonition:{svg_url(icons['solid'][name])}}}")
    return css


def favicon_ico() -> bytes:
    """The book's favicon (book/_static/favicon.svg: five white squares on blue) as a 32x32
    PNG inside an .ico, drawn here so that no image library is needed."""
    blue, white = b"\x00\x72\xb2\xff", b"\xff\xff\xff\xff"
    squares = [(5, 5), (21, 5), (13, 13), (5, 21), (21, 21)]
    rows = b"".join(b"\0" + b"".join(
        white if any(x <= c < x + 6 and y <= r < y + 6 for x, y in squares) else blue
        for c in range(32)) for r in range(32))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32,
                                                       len(png), 22) + png
