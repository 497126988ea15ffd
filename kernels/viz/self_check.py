"""Self-check questions: predict a number, a shape or a choice, then check it ("predict, then check").

A chapter asks a question *before* the page shows its answer; the answer is computed by
:mod:`kernels` in the same cell, never typed::

    rf = kernels.gridding_report([1, 2, 5]).receptive_field
    Question("What is the receptive field (per axis) of three 3×3 layers with rates 1, 2, 5?",
             rf, hint="R = 1 + (k − 1)·(r<sub>1</sub> + r<sub>2</sub> + r<sub>3</sub>).",
             solution=f"1 + 2·(1 + 2 + 5) = {rf}.")

Kinds, chosen from the answer (or ``choices``):

* **number** (an ``int``, ``float`` or one-element tensor): right when
  ``|given − answer| <= tol + rel_tol·|answer|`` (a boundary value counts). An integer answer
  is exact by default; a float answer needs an explicit ``tol`` or ``rel_tol``. The reader may
  type ``1,024``, ``−3``, ``1e3``, ``3/4`` or ``25%``; a wrong number is called too big or too
  small.
* **shape** (a tuple, list or ``torch.Size`` of ints): right when every entry matches. Brackets,
  commas, spaces, ``×``, ``x`` and ``*`` all separate: ``(2, 64, 7, 7)``, ``2×64×7×7``.
* **choice** (``choices=[...]``, the answer one of them; a ``bool`` answer means yes / no):
  radio buttons, right when the answer is picked.

Rendering follows :func:`kernels.viz.mode`, as the Explorer does: on the website a
``<div class="kx-check">`` holds the question with the answer in data attributes, and
``_static/kernels-self-check.js`` checks it with the same rule (no server); in a kernel,
ipywidgets check it in Python. :func:`check` is the one definition of "right" per kind; the JS
mirrors it, and the tests run both on the same table of inputs. Prompt, hint, solution and
choice labels are HTML fragments (cell outputs are not typeset: write ×, ², ≤ and ``<sub>``,
never TeX); escape computed text with ``html.escape`` if it may hold ``<`` or ``&``.
"""
from __future__ import annotations

import html
import json
import numbers
import re
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Sequence

from .explorer import mode

REOPEN_NOTE = "run the cell to check your answer here"
_SPACE = re.compile(r"\s+")
# re.ASCII: \d is 0-9 only, as in JavaScript (Python's \d would accept other scripts' digits)
_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", re.ASCII)
_SHAPE_SEP = re.compile(r"[\s,×xX*]+")
_INT = re.compile(r"[+-]?\d+", re.ASCII)

RIGHT = "Right!"
EMPTY = "Type your answer first."
NO_CHOICE = "Pick one of the answers first."
BAD_NUMBER = "Type a number, e.g. 12, 0.5, 3/4 or 25%."
BAD_SHAPE = "Type whole numbers separated by commas, spaces or ×, e.g. (2, 64, 7, 7)."


@dataclass(frozen=True)
class Verdict:
    """``state`` is ``"right"``, ``"wrong"`` or ``"invalid"`` (unreadable input)."""

    state: str
    message: str

    @property
    def right(self) -> bool:
        return self.state == "right"


def _plain_number(s: str) -> float | None:
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    return float(s) if _PLAIN.fullmatch(s) else None


def parse_number(text: str) -> float | None:
    """The reader's number, or None. Mirrors ``parseNumber`` in kernels-self-check.js."""
    s = _SPACE.sub("", text).replace("−", "-").replace("_", "")
    scale = 1.0
    if s.endswith("%"):
        s, scale = s[:-1], 0.01
    parts = s.split("/")
    if len(parts) == 1:
        x = _plain_number(s)
        return None if x is None else x * scale
    if len(parts) != 2:
        return None
    top, bottom = _plain_number(parts[0]), _plain_number(parts[1])
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom * scale


def parse_shape(text: str) -> list[int] | None:
    """The reader's integers, or None. Mirrors ``parseShape`` in kernels-self-check.js."""
    s = re.sub(r"torch\.size", " ", text, flags=re.I).replace("−", "-")
    s = re.sub(r"[()\[\]{}]", " ", s)
    tokens = [t for t in _SHAPE_SEP.split(s) if t]
    if not tokens or not all(_INT.fullmatch(t) for t in tokens):
        return None
    return [int(t) for t in tokens]


def check(spec: dict, given) -> Verdict:
    """Is ``given`` (the reader's text; a choice's index) right for ``spec`` (:attr:`Question.spec`)?"""
    kind = spec["kind"]
    if kind == "choice":
        if given is None or not _INT.fullmatch(str(given)):
            return Verdict("invalid", NO_CHOICE)
        return Verdict("right", RIGHT) if int(given) == spec["answer"] else \
            Verdict("wrong", "Not quite.")
    if not str(given).strip():
        return Verdict("invalid", EMPTY)
    if kind == "number":
        x = parse_number(str(given))
        if x is None:
            return Verdict("invalid", BAD_NUMBER)
        a = spec["answer"]
        bound = spec["tol"] + spec["rel_tol"] * abs(a)
        # the slack keeps a typed boundary value in: 0.26 - 0.25 is 0.010000000000000009
        if abs(x - a) <= bound * (1 + 1e-9):
            return Verdict("right", RIGHT)
        return Verdict("wrong", f"Not quite: {'too big' if x > a else 'too small'}.")
    values = parse_shape(str(given))
    if values is None:
        return Verdict("invalid", BAD_SHAPE)
    if values == spec["answer"]:
        return Verdict("right", RIGHT)
    n, m = len(spec["answer"]), len(values)
    if n != m:
        return Verdict("wrong", f"Not quite: the answer has {n} numbers, you gave {m}.")
    return Verdict("wrong", "Not quite.")


class _Balance(HTMLParser):
    VOID = {"br", "hr", "img", "wbr", "input", "col", "source"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.bad.append("<script>")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.bad.append(f"</{tag}>")


def _fragment(name: str, text) -> str:
    """An author's HTML fragment, checked: text, no TeX, balanced tags, no script."""
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"{name} must be a non-empty str, got {text!r}")
    if "$" in text or "\\(" in text:
        raise ValueError(f"{name} must not hold TeX (outputs are not typeset; write ×, ², "
                         f"<sub>…</sub>): {text!r}")
    parser = _Balance()
    parser.feed(text)
    parser.close()
    if parser.bad or parser.stack:
        raise ValueError(f"{name} must be balanced HTML without <script>: {text!r}")
    return text


def _number(value) -> float | int | None:
    """A plain Python number from an int/float/one-element tensor, else None."""
    if isinstance(value, bool):
        return None
    if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:
        value = value.item()
    return value if isinstance(value, numbers.Real) and not isinstance(value, bool) else None


class Question:
    """One self-check question; display it (last line of a cell) to show it.

    ``answer`` comes from code. ``hint`` and ``solution`` (the worked answer, built with
    f-strings from the computed values) are folded until the reader opens them.
    """

    def __init__(self, prompt: str, answer: Any, *, hint: str, solution: str,
                 choices: Sequence | None = None, tol: float | None = None,
                 rel_tol: float | None = None, unit: str = "", placeholder: str = ""):
        self.prompt = _fragment("prompt", prompt)
        self.hint = _fragment("hint", hint)
        self.solution = _fragment("solution", solution)
        self.unit = _fragment("unit", unit) if unit else ""
        self.placeholder = placeholder
        if isinstance(answer, bool) and choices is None:
            choices, answer = ("yes", "no"), ("yes" if answer else "no")
        if choices is not None:
            self.choices = [_fragment("choices", c if isinstance(c, str) else str(c))
                            for c in choices]
            hits = [i for i, c in enumerate(choices) if c == answer]
            if len(self.choices) < 2 or len(hits) != 1:
                raise ValueError(f"answer must be exactly one of at least two choices, got "
                                 f"answer={answer!r}, choices={list(choices)!r}")
            if tol is not None or rel_tol is not None:
                raise ValueError("tol and rel_tol apply to numbers, not to choices")
            self.spec = {"kind": "choice", "answer": hits[0]}
        elif _number(answer) is not None:
            a = _number(answer)
            if tol is None and rel_tol is None and isinstance(a, float) and not a.is_integer():
                raise ValueError(f"a non-integer answer ({a!r}) needs an explicit tol or rel_tol")
            for name, t in (("tol", tol), ("rel_tol", rel_tol)):
                if t is not None and not (isinstance(t, numbers.Real) and t >= 0):
                    raise ValueError(f"{name} must be a number >= 0, got {t!r}")
            self.spec = {"kind": "number", "answer": a, "tol": float(tol or 0),
                         "rel_tol": float(rel_tol or 0)}
        elif isinstance(answer, Sequence) and not isinstance(answer, str):
            values = list(answer)
            if not values or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                     for v in values):
                raise TypeError(f"answer as a shape must hold ints, got {answer!r}")
            if tol is not None or rel_tol is not None:
                raise ValueError("tol and rel_tol apply to numbers, not to shapes")
            self.spec = {"kind": "shape", "answer": [int(v) for v in values]}
        else:
            raise TypeError(f"answer must be a number, a tuple of ints or one of choices, got "
                            f"{type(answer).__name__}")
        self._box = None
        self._input = None
        self._feedback = None

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    def check(self, given) -> Verdict:
        return check(self.spec, given)

    def answer_text(self) -> str:
        """What the reader would type (or pick) to be right."""
        a = self.spec["answer"]
        if self.kind == "choice":
            return self.choices[a]
        if self.kind == "shape":
            return "(" + ", ".join(map(str, a)) + ")"
        return repr(a)

    def _folds(self) -> str:
        return (f'<details class="kx-check-hint"><summary>Hint</summary>'
                f'<div class="kx-check-body">{self.hint}</div></details>'
                f'<details class="kx-check-solution"><summary>Worked answer</summary>'
                f'<div class="kx-check-body">{self.solution}</div></details>')

    # ------------------------------------------------------------------ static (website)
    def to_html(self) -> str:
        uid = "kx-q-" + uuid.uuid4().hex[:10]
        spec = html.escape(json.dumps(self.spec, separators=(",", ":"), allow_nan=False))
        if self.kind == "choice":
            options = "".join(
                f'<label class="kx-check-choice"><input type="radio" name="{uid}" value="{i}">'
                f' <span>{c}</span></label>' for i, c in enumerate(self.choices))
            answer = (f'<fieldset class="kx-check-choices"><legend class="kx-check-prompt">'
                      f'{self.prompt}</legend>{options}</fieldset>'
                      f'<div class="kx-check-row"><button type="button" class="kx-check-button">'
                      f'Check</button></div>')
        else:
            hint = self.placeholder or ("e.g. (1, 3, 8, 8)" if self.kind == "shape" else "")
            unit = f'<span class="kx-check-unit">{self.unit}</span>' if self.unit else ""
            answer = (f'<div class="kx-check-prompt" id="{uid}-p">{self.prompt}</div>'
                      f'<div class="kx-check-row"><input type="text" class="kx-check-input" '
                      f'id="{uid}" aria-labelledby="{uid}-p" autocomplete="off" '
                      f'spellcheck="false" placeholder="{html.escape(hint)}">'
                      f'{unit}<button type="button" class="kx-check-button">Check</button></div>')
        return (f'<div class="kx-check" id="{uid}-q" data-kx-spec="{spec}">'
                f'<p class="kx-check-title">Predict, then check</p>{answer}'
                f'<p class="kx-check-feedback" role="status" aria-live="polite"></p>'
                f'{self._folds()}</div>')

    # ------------------------------------------------------------------ live (kernel)
    @property
    def widget(self):
        """ipywidgets: the prompt, an input, a Check button, the feedback and the folds."""
        if self._box is None:
            import ipywidgets as W

            prompt = W.HTML(f'<p><b>Predict, then check.</b> {self.prompt}</p>')
            if self.kind == "choice":
                self._input = W.RadioButtons(options=[(html.unescape(re.sub("<[^>]+>", "", c)), i)
                                                      for i, c in enumerate(self.choices)],
                                             value=None, layout=W.Layout(width="auto"))
            else:
                # continuous_update=False: the value arrives on Enter (or leaving the field)
                self._input = W.Text(placeholder=self.placeholder, continuous_update=False,
                                     layout=W.Layout(width="16em"))
                self._input.observe(lambda change: self.on_check(), names="value")
            button = W.Button(description="Check", button_style="primary")
            button.on_click(self.on_check)
            self._feedback = W.HTML("")
            unit = [W.HTML(self.unit)] if self.unit else []
            row = W.HBox([self._input, *unit, button], layout=W.Layout(align_items="center"))
            self._box = W.VBox([prompt, row, self._feedback, W.HTML(self._folds())])
        return self._box

    @property
    def input(self):
        """The live Text (or RadioButtons) widget the reader answers in."""
        self.widget
        return self._input

    @property
    def feedback(self):
        self.widget
        return self._feedback

    def on_check(self, _button=None) -> Verdict:
        """The Check button's callback: judge the live input and show the verdict."""
        verdict = self.check(self.input.value)
        colour = {"right": "var(--jp-success-color1, #1a7f37)",
                  "wrong": "var(--jp-error-color1, #cf222e)"}.get(verdict.state, "inherit")
        self.feedback.value = (f'<span class="kx-check-{verdict.state}" style="color:{colour}">'
                               f'{html.escape(verdict.message)}</span>')
        return verdict

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, include=None, exclude=None):
        if mode() == "static":
            return {"text/html": self.to_html(), "text/plain": repr(self)}
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        # A notebook reopened without its kernel shows text/html: the question and its folded
        # hint and answer still read well, only the checking needs the kernel.
        bundle["text/html"] = (f'<div class="kx-check"><p><b>Predict, then check.</b> '
                               f'{self.prompt}</p><p><em>Self-check: {REOPEN_NOTE}.</em></p>'
                               f'{self._folds()}</div>')
        bundle["text/plain"] = f"{self!r}: {REOPEN_NOTE}"
        return bundle

    def __repr__(self) -> str:
        text = html.unescape(re.sub(r"<[^>]+>", "", self.prompt))
        return f"Question({self.kind}: {text[:60]}{'…' if len(text) > 60 else ''})"
