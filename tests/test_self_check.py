"""Self-check questions: one rule for "right" per kind, in Python and mirrored in the page's JS.

The Python rule is tested on a table of inputs; the browser tests run the page's checker on the
same table and must agree verdict for verdict, drive a question in a page (wrong, then right,
Enter key, folds closed), and visit every chapter of the built site: at least three questions
each, every one marked wrong for a wrong answer and right for the right one.
"""
from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import pytest
import torch

from kernels.viz import Question, set_mode
from kernels.viz.self_check import REOPEN_NOTE, check, parse_number, parse_shape

STATIC = Path(__file__).resolve().parents[1] / "kernels" / "viz" / "static"
MIN_QUESTIONS = 3  # per chapter (issue 15, item 6)


@pytest.fixture
def static_mode():
    set_mode("static")
    yield
    set_mode(None)


@pytest.fixture
def live_mode():
    set_mode("live")
    yield
    set_mode(None)


def ask(answer, **kw):
    return Question("How many?", answer, hint="Count them.", solution="Counted.", **kw)


# ---------------------------------------------------------------- the rule, in Python

NUMBER_CASES = [
    ("17", 17), (" 17 ", 17), ("+17", 17), ("-3", -3), ("\u22123", -3), ("0.5", 0.5), (".5", 0.5),
    ("5.", 5), ("1e3", 1000), ("2.5E-1", 0.25), ("1,024", 1024), ("1 024", 1024),
    ("12,345.5", 12345.5), ("1_000", 1000), ("3/4", 0.75), ("25%", 0.25), ("1/8 %", 0.00125),
    ("", None), ("abc", None), ("1,5", None), ("1,0000", None), ("1/0", None), ("1/2/3", None),
    ("inf", None), ("nan", None), ("0x10", None), ("\uff11\uff12", None), ("12px", None),
]
SHAPE_CASES = [
    ("(2, 64, 7, 7)", [2, 64, 7, 7]), ("2×64×7×7", [2, 64, 7, 7]), ("2 x 64 x 7 x 7", [2, 64, 7, 7]),
    ("[1,3]", [1, 3]), ("torch.Size([1, 3, 8, 8])", [1, 3, 8, 8]), ("5", [5]), ("3*3", [3, 3]),
    ("(2, 64, 7.0, 7)", None), ("", None), ("()", None), ("two, three", None), ("2; 3", None),
]


@pytest.mark.parametrize("text, value", NUMBER_CASES)
def test_parse_number(text, value):
    got = parse_number(text)
    assert got == value if value is None else math.isclose(got, value, rel_tol=1e-15)


@pytest.mark.parametrize("text, value", SHAPE_CASES)
def test_parse_shape(text, value):
    assert parse_shape(text) == value


def test_number_answers_within_the_tolerance_and_says_which_way_it_is_off():
    exact, loose, relative = ask(12).spec, ask(0.25, tol=0.01).spec, ask(200.0, rel_tol=0.1).spec
    assert check(exact, "12").right and check(exact, "12.0").right and check(exact, "1.2e1").right
    assert check(exact, "13") == check(exact, "12.5")
    assert check(exact, "13").message.endswith("too big.") and check(exact, "11").message.endswith(
        "too small.")
    assert check(loose, "0.26").right and check(loose, "25%").right and check(loose, "1/4").right
    assert not check(loose, "0.27").right
    assert check(relative, "219").right and check(relative, "181").right
    assert check(relative, "221").state == "wrong" and check(relative, "179").state == "wrong"
    assert check(exact, "twelve").state == "invalid" and check(exact, "  ").state == "invalid"


def test_shape_and_choice_answers():
    shape = ask(torch.Size([2, 64, 7, 7])).spec
    assert shape["kind"] == "shape" and check(shape, "2x64x7x7").right
    assert check(shape, "(2, 64, 7)").message == "Not quite: the answer has 4 numbers, you gave 3."
    assert check(shape, "(2, 64, 7, 8)").state == "wrong"
    pick = Question("Which?", "b", choices=["a", "b", "c"], hint="h", solution="s")
    assert pick.spec == {"kind": "choice", "answer": 1}
    assert check(pick.spec, 1).right and check(pick.spec, "1").right
    assert check(pick.spec, 2).state == "wrong" and check(pick.spec, None).state == "invalid"
    yes_no = Question("Holes?", True, hint="h", solution="s")
    assert yes_no.choices == ["yes", "no"] and yes_no.answer_text() == "yes"


def test_answer_from_a_tensor_is_a_plain_number():
    q = ask(torch.tensor(7))
    assert q.spec["answer"] == 7 and isinstance(q.spec["answer"], int)
    assert json.loads(json.dumps(q.spec))["answer"] == 7


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(answer=0.3), ValueError, "tol"),  # a float needs a stated tolerance
    (dict(answer=3, tol=-1), ValueError, "tol"),
    (dict(answer="c", choices=["a", "b"]), ValueError, "choices"),
    (dict(answer="a", choices=["a"]), ValueError, "choices"),
    (dict(answer="a", choices=["a", "a"]), ValueError, "choices"),
    (dict(answer="a", choices=["a", "b"], tol=1), ValueError, "tol"),
    (dict(answer=(2, 3.5)), TypeError, "answer"),
    (dict(answer=()), TypeError, "answer"),
    (dict(answer="abc"), TypeError, "answer"),
    (dict(answer=None), TypeError, "answer"),
    (dict(answer=3, prompt="What is $k^2$?"), ValueError, "prompt"),
    (dict(answer=3, hint="<b>open"), ValueError, "hint"),
    (dict(answer=3, solution="<script>alert(1)</script>"), ValueError, "solution"),
    (dict(answer=3, solution=""), TypeError, "solution"),
])
def test_bad_questions_are_refused_naming_the_argument(kwargs, error, words):
    args = dict(prompt="How many?", hint="Count.", solution="Counted.") | kwargs
    with pytest.raises(error, match=words):
        Question(args.pop("prompt"), args.pop("answer"), **args)


# ---------------------------------------------------------------- static and live renderings

def test_static_html_carries_the_spec_and_folds(static_mode):
    q = Question("Output shape of <code>conv(x)</code>?", (1, 8, 5, 5), hint="o = i − k + 1",
                 solution="(1, 8, 5, 5), no padding")
    bundle = q._repr_mimebundle_()
    page = bundle["text/html"]
    assert page.startswith('<div class="kx-check"') and "<script" not in page
    assert "<details open" not in page and page.count("<details") == 2
    spec = json.loads(html.unescape(re.search(r'data-kx-spec="([^"]*)"', page).group(1)))
    assert spec == q.spec == {"kind": "shape", "answer": [1, 8, 5, 5]}


def test_live_question_checks_in_python(live_mode):
    q = ask(12)
    bundle = q._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    q.input.value = "13"  # Enter in the Text box sends the value: it checks at once
    assert "too big" in q.feedback.value and "kx-check-wrong" in q.feedback.value
    q.input.value = "12"
    assert "Right!" in q.feedback.value
    button = next(w for w in q.widget.children[1].children if type(w).__name__ == "Button")
    q.input.value = "x"
    button.click()  # the Check button runs the same callback
    assert "Type a number" in q.feedback.value


def test_live_choice_checks_the_picked_radio(live_mode):
    q = Question("Which rates leave holes?", "(2, 2, 2)", choices=["(1, 2, 5)", "(2, 2, 2)"],
                 hint="h", solution="s")
    button = next(w for w in q.widget.children[1].children if type(w).__name__ == "Button")
    button.click()
    assert "Pick one" in q.feedback.value
    q.input.value = 0
    button.click()
    assert "Not quite" in q.feedback.value
    q.input.value = 1
    button.click()
    assert "Right!" in q.feedback.value


def test_reopened_notebook_shows_the_question_and_a_note(live_mode):
    bundle = ask(12)._repr_mimebundle_()
    assert REOPEN_NOTE in bundle["text/html"] and "<script" not in bundle["text/html"]
    assert "How many?" in bundle["text/html"] and "Worked answer" in bundle["text/html"]
    assert REOPEN_NOTE in bundle["text/plain"]


# ---------------------------------------------------------------- the page's checker (browser)

# Every input of the parser tables, asked of a number, a tolerant number, a shape and a choice.
INPUTS = [t for t, _ in NUMBER_CASES + SHAPE_CASES] + ["12", "13", "11", "0.26", "0.24", "0.3", "2x64x7x7", "(2, 64, 7)", "0", "1", "2", "-1"]
SPECS = [ask(12).spec, ask(0.25, tol=0.01).spec, ask(200.0, rel_tol=0.1).spec,
         ask(-3).spec, ask((2, 64, 7, 7)).spec, ask(1024).spec,
         Question("Which?", "b", choices=["a", "b", "c"], hint="h", solution="s").spec]


def _blank_page(b, questions=()):
    page = b.new_context(viewport={"width": 1280, "height": 720}).new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    body = "".join(q.to_html() for q in questions)
    page.set_content(f"<!doctype html><html><head><style>"
                     f"{(STATIC / 'kernels-self-check.css').read_text()}</style></head>"
                     f"<body>{body}</body></html>")
    page.add_script_tag(content=(STATIC / "kernels-self-check.js").read_text())
    return page, errors


@pytest.fixture(scope="module")
def chromium():
    from site_server import browser

    with browser() as b:
        yield b


@pytest.mark.browser
def test_page_checker_agrees_with_python_on_every_input(chromium):
    page, errors = _blank_page(chromium)
    cases = [(spec, text) for spec in SPECS for text in INPUTS]
    got = page.evaluate("cases => cases.map(([s, t]) => window.kxSelfCheck.check(s, t))", cases)
    want = [vars(check(spec, text)) for spec, text in cases]
    diff = [(c, g, w) for c, g, w in zip(cases, got, want) if g != w]
    assert diff == [] and errors == []
    assert {w["state"] for w in want} == {"right", "wrong", "invalid"}


def _state(question):
    return question.get_attribute("data-kx-state")


@pytest.mark.browser
def test_a_question_in_a_page_marks_wrong_then_right(chromium, static_mode):
    questions = [ask(12), ask((2, 64, 7, 7)),
                 Question("Which?", "b", choices=["a", "b"], hint="h", solution="s")]
    page, errors = _blank_page(chromium, questions)
    try:
        number, shape, choice = page.query_selector_all("div.kx-check")
        for q in (number, shape, choice):
            assert all(not d.evaluate("d => d.open") for d in q.query_selector_all("details"))
        number.query_selector("input").fill("13")
        number.query_selector("button").click()
        assert _state(number) == "wrong"
        assert number.query_selector(".kx-check-feedback").inner_text() == "Not quite: too big."
        number.query_selector("input").fill("12")  # typing clears the old verdict
        assert _state(number) is None
        number.query_selector("input").press("Enter")  # Enter checks, like the button
        assert _state(number) == "right"
        shape.query_selector("input").fill("2×64×7×7")
        shape.query_selector("input").press("Enter")
        assert _state(shape) == "right"
        choice.query_selector("button").click()
        assert _state(choice) == "invalid"
        choice.query_selector('input[value="0"]').check()
        choice.query_selector("button").click()
        assert _state(choice) == "wrong"
        choice.query_selector('input[value="1"]').check()
        choice.query_selector("button").click()
        assert _state(choice) == "right"
        number.query_selector("summary").click()
        assert number.query_selector("details").evaluate("d => d.open")
        assert errors == []
    finally:
        page.context.close()


# ---------------------------------------------------------------- every chapter of the site

def _chapters():
    import yaml

    root = Path(__file__).resolve().parents[1]
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


def right_and_wrong(spec: dict) -> tuple:
    """A right and a wrong reply to ``spec`` as a reader gives them (text, or a choice index)."""
    a = spec["answer"]
    if spec["kind"] == "choice":
        return a, 1 if a == 0 else 0
    if spec["kind"] == "shape":
        return "×".join(map(str, a)), "×".join(map(str, [a[0] + 1, *a[1:]]))
    off = 2 * (spec["tol"] + spec["rel_tol"] * abs(a)) + 1
    return repr(a), repr(a + off)


@pytest.fixture(scope="module")
def site(chromium):
    from site_server import SITE, serve

    with serve(SITE) as url:
        yield SITE, url, chromium


@pytest.mark.browser
@pytest.mark.parametrize("chapter", _chapters())
def test_every_chapter_has_questions_that_mark_wrong_and_right(site, chapter):
    root, url, b = site
    if not (root / f"{chapter}.html").exists():
        pytest.fail(f"{chapter} is not built: run `make html` (or set KX_SITE)")
    page = b.new_context(viewport={"width": 1280, "height": 720}).new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{url}/{chapter}.html", wait_until="load")
        questions = page.query_selector_all("div.kx-check")
        assert len(questions) >= MIN_QUESTIONS, \
            f"{chapter} has {len(questions)} self-check questions, needs {MIN_QUESTIONS}"
        page.wait_for_function("() => window.kxSelfCheck !== undefined", timeout=10_000)
        for i, q in enumerate(questions):
            spec = json.loads(q.get_attribute("data-kx-spec"))
            assert [d.evaluate("d => d.open") for d in q.query_selector_all("details")] == \
                [False, False], f"{chapter} question {i}: hint and answer must start folded"
            right, wrong = right_and_wrong(spec)
            assert not check(spec, wrong).right and check(spec, right).right
            for reply, state in ((wrong, "wrong"), (right, "right")):
                if spec["kind"] == "choice":
                    q.query_selector(f'input[type=radio][value="{reply}"]').check()
                else:
                    q.query_selector("input.kx-check-input").fill(str(reply))
                q.query_selector("button.kx-check-button").click()
                assert _state(q) == state, f"{chapter} question {i}: {reply!r} not marked {state}"
        assert errors == []
    finally:
        page.context.close()
