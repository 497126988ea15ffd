"""No computed number is typed into a chapter's prose by hand.

A number with three or more significant digits in a chapter's text (Markdown and math, not
code) must be one of:

* inserted from the computation with myst-nb's ``{glue:}`` roles (then it is not in the source);
* guarded by an assertion in a code cell of the same chapter (``assert total == 2320``), usually
  a hidden one, so the build fails when the text and the code disagree;
* a deliberate constant listed in ``book/deliberate_numbers.yml`` with its reason (an input size
  the chapter chooses, a paper's reported figure with its citation); years pass on their own.
"""
import ast
import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONSTANTS = ROOT / "book" / "deliberate_numbers.yml"

# a number not glued to a word (ResNet-50, conv2d, 3x3 and v2 are names, not quantities)
NUMBER = re.compile(r"(?<![\w.\-/\\])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w]|\.\d)")
SKIP = [
    re.compile(r"^(`{3,}|~{3,})(?!\{)[^\n]*\n.*?^\1[ \t]*$", re.M | re.S),  # code blocks
    re.compile(r"^(`{3,}|~{3,}).*$", re.M),  # directive fences: their content is prose
    re.compile(r"\{glue(?::\w+)?\}`[^`]*`"),  # glued values
    re.compile(r"\{\w+\}`[^`]*`"),  # other roles: {doc}, {ref}, {numref}, {eq}
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+|doi:\S+|arXiv[: ]\d{4}\.\d{4,5}|\b\d{4}\.\d{4,5}\b"),
    re.compile(r"10\.\d{4,}/\S+"),  # DOIs
    re.compile(r"^:[\w-]+:.*$", re.M),  # directive options
    re.compile(r"^\(\w[\w-]*\)=\s*$", re.M),  # MyST labels
]


YEAR = re.compile(r"19\d\d|20[0-2]\d")  # 1900-2029: a citation's year, not 2048 channels


def chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


def significant_digits(token: str) -> int:
    digits = token.replace(",", "")
    if "." in digits:
        return len(digits.replace(".", "").lstrip("0"))
    return len(digits.lstrip("0").rstrip("0"))


def normalise(token: str) -> str:
    value = token.replace(",", "").replace("_", "")
    return value.rstrip("0").rstrip(".") if "." in value else value


def prose_numbers(text: str) -> list[str]:
    text = text.replace("{,}", ",")  # LaTeX thousands separator: 15{,}535{,}104
    for pattern in SKIP:
        text = pattern.sub(" ", text)
    return [t for t in NUMBER.findall(text)
            if significant_digits(t) >= 3 and not YEAR.fullmatch(t)]


def asserted_numbers(code: str) -> set[str]:
    """Numeric literals inside the assert statements of a code cell."""
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            for leaf in ast.walk(node):
                if isinstance(leaf, ast.Constant) and isinstance(leaf.value, (int, float)) \
                        and not isinstance(leaf.value, bool):
                    out.add(normalise(repr(leaf.value)))
    return out


def test_the_scanner_finds_what_it_should():
    text = ("2320 against 20752; 15,535,104 weights; 91 % and 65 × 65; 0.125 and 1.36; ResNet-50, "
            "VGG-16, 3x3, conv2d; {glue:text}`n_params`; `kernels.conv2d(x, 256)`; in 2017; 2048; "
            "arXiv:1706.05587; [paper](https://x.org/1234); $3^4 \\times 2 = 324$\n"
            "```{admonition} Solution\n616 of the 841\n```\n```python\nx = 12345\n```\n")
    assert prose_numbers(text) == ["2320", "20752", "15,535,104", "0.125", "1.36", "2048",
                                   "324", "616", "841"]
    assert asserted_numbers("x = 5\nassert total == 2320 and abs(r - 1.360) < 1e-3") == \
        {"2320", "1.36", "0.001"}
    assert normalise("15,535,104") == normalise("15_535_104".replace("_", ","))


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_prose_numbers_are_glued_asserted_or_listed(chapter):
    nb = jupytext.read(ROOT / f"{chapter}.md")
    listed = yaml.safe_load(CONSTANTS.read_text()).get(Path(chapter).name) or {}
    allowed = {normalise(str(k)) for k in listed}
    for cell in nb.cells:
        if cell.cell_type == "code":
            allowed |= asserted_numbers(cell.source)
    found = [n for cell in nb.cells if cell.cell_type == "markdown"
             for n in prose_numbers(cell.source)]
    loose = sorted({n for n in found if normalise(n) not in allowed}, key=found.index)
    assert loose == [], (f"{chapter}.md types {loose} by hand: glue them, assert them in a "
                         f"code cell, or list them in book/deliberate_numbers.yml with a reason")
    stale = {str(k) for k in listed} - set(found)
    assert not stale, f"book/deliberate_numbers.yml lists numbers no longer in {chapter}.md"
