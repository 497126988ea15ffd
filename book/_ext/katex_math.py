"""Math typeset at build time by KaTeX: pages carry HTML + MathML and one stylesheet, no script.

Sphinx's math nodes are rendered by ``node`` running the npm ``katex`` package (``package.json``;
``npm ci`` in ``make html``), all of a page's equations in one run. The output keeps KaTeX's
MathML beside its HTML (``htmlAndMathml``): screen readers read the MathML, and it is what a
reader copies. Bad TeX fails the build, naming the page and the TeX. Display equations are
joined exactly as Sphinx's MathJax renderer joins them (``split`` for multi-line parts,
``gathered`` for several parts), so the book's TeX means the same as before.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.locale import _
from sphinx.util.math import get_node_equation_number


KATEX_JS = r"""
const katex = require(process.argv[1]);
const items = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = items.map(([tex, display]) => {
  try {
    return {html: katex.renderToString(tex, {displayMode: display, throwOnError: true,
                                             strict: 'ignore', output: 'htmlAndMathml'})};
  } catch (e) { return {error: String(e.message || e)}; }
});
process.stdout.write(JSON.stringify(out));
"""


def render_katex(items: list[tuple[str, bool]], modules: Path) -> list[dict]:
    """Render ``[(tex, display), ...]`` with KaTeX in one ``node`` run: ``[{html}|{error}]``."""
    run = subprocess.run(["node", "-e", KATEX_JS, str(modules / "katex")],
                         input=json.dumps(items), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise ExtensionError(f"katex_math: KaTeX failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout)


def display_tex(node) -> str:
    """The TeX of a display equation, joined as Sphinx's MathJax renderer joins it."""
    if node["nowrap"]:
        return node.astext()
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    parts = [rf"\begin{{split}}{p}\end{{split}}" if r"\\" in p else p for p in parts]
    return parts[0] if len(parts) == 1 else r"\begin{gathered}" + r"\\".join(parts) + r"\end{gathered}"


def on_doctree_resolved(app, doctree, docname):
    """Typeset every equation of the page at once; a TeX error fails the build here."""
    math = [n for n in doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block)))]
    if not math:
        return
    items = [(display_tex(n), True) if isinstance(n, nodes.math_block) else (n.astext(), False)
             for n in math]
    for node, (tex, _display), result in zip(math, items, render_katex(items, app.kx_modules)):
        if "error" in result:
            raise ExtensionError(f"katex_math: KaTeX cannot typeset {tex!r} in {docname}: "
                                 f"{result['error']}")
        node["kx_html"] = result["html"]


def _typeset(self, node, tex: str, display: bool) -> str:
    """The HTML stored by ``_on_doctree_resolved``; math met outside a page's doctree (a title
    rendered elsewhere) is typeset on its own."""
    if "kx_html" not in node:
        result = render_katex([(tex, display)], self.builder.app.kx_modules)[0]
        if "error" in result:
            raise ExtensionError(f"katex_math: KaTeX cannot typeset {tex!r}: {result['error']}")
        node["kx_html"] = result["html"]
    return node["kx_html"]


def visit_math(self, node):
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(_typeset(self, node, node.astext(), False) + "</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node["number"] and not node["nowrap"]:
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    self.body.append(_typeset(self, node, display_tex(node), True) + "</div>\n")
    raise nodes.SkipNode


def copy_katex(modules: Path, static: Path) -> None:
    """katex.min.css and its woff2 fonts only (every browser the book targets reads woff2)."""
    out = static / "katex"
    (out / "fonts").mkdir(parents=True, exist_ok=True)
    css = (modules / "katex" / "dist" / "katex.min.css").read_text()
    css = re.sub(r'src:url\((fonts/[\w-]+\.woff2)\) format\("woff2"\)[^;}]*',
                 r'src:url(\1) format("woff2")', css)
    (out / "katex.min.css").write_text(css)
    for font in (modules / "katex" / "dist" / "fonts").glob("*.woff2"):
        shutil.copy2(font, out / "fonts" / font.name)
