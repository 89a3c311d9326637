"""Sandboxed prompt templates: rendering, strict undefined names, static checks, escapes blocked."""

from __future__ import annotations

import pytest

from fteval.errors import TemplateError
from fteval.spec.templates import check_template, render

pytestmark = pytest.mark.fast

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ row._private }}",
    "{{ row['_private'] }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ ''['__class__'] }}",
]


class Row:
    """An object with a private attribute, to check the sandbox blocks it."""

    _private = "secret"
    public = "fine"


def test_render_fills_columns_and_keeps_text_verbatim() -> None:
    out = render("Q: {{ question }}\nA: {{ answer | upper }}\n", {"question": "Is a cat a mammal?", "answer": "yes"})
    assert out == "Q: Is a cat a mammal?\nA: YES\n"


def test_render_does_not_escape_html() -> None:
    assert render("{{ x }}", {"x": "<a & 'b'>"}) == "<a & 'b'>"


def test_render_allows_loops_and_public_attributes() -> None:
    out = render("{% for s in slots %}{{ s }};{% endfor %}{{ obj.public }}", {"slots": ["a", "b"], "obj": Row()})
    assert out == "a;b;fine"


def test_undefined_variable_is_an_error_naming_where() -> None:
    with pytest.raises(TemplateError, match=r"^prompt\.user: 'questoin' is undefined"):
        render("{{ questoin }}", {"question": "x"}, where="prompt.user")


def test_undefined_attribute_use_is_an_error() -> None:
    with pytest.raises(TemplateError):
        render("{{ row.missing ~ '!' }}", {"row": {}})


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_payloads_fail_at_render_time(source: str) -> None:
    with pytest.raises(TemplateError) as exc:
        render(source, {"row": Row()}, where="prompt.user")
    message = str(exc.value)
    assert message.startswith("prompt.user: ")
    assert "secret" not in message and "<class" not in message


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_payloads_are_flagged_statically(source: str) -> None:
    _, problems = check_template(source)
    assert problems
    assert all("private attribute" in p for p in problems)


def test_check_template_lists_variables_but_not_loop_locals() -> None:
    source = "{{ a }} {% for s in items %}{{ s }}{{ b.c }}{% endfor %}{% set d = 1 %}{{ d }}"
    variables, problems = check_template(source)
    assert (variables, problems) == ({"a", "items", "b"}, [])


def test_check_template_reports_syntax_errors_with_template_line() -> None:
    variables, problems = check_template("line one\n{{ question }\n")
    assert variables == set()
    assert len(problems) == 1 and problems[0].startswith("template syntax error on template line 2:")


def test_check_template_accepts_plain_text() -> None:
    assert check_template("Answer the question with yes or no.") == (set(), [])


def test_attr_filter_to_a_private_name_is_flagged_statically() -> None:
    """``|attr('__class__')`` is attribute access too: the sandbox blocks it, so validate must flag it."""
    source = "{{ ''|attr('__class__') }}"
    with pytest.raises(TemplateError, match="blocked by the sandbox"):
        render(source, {})
    _, problems = check_template(source)
    assert problems and "private attribute '__class__'" in problems[0]


def test_computed_private_names_are_still_blocked_at_render_time() -> None:
    for source in ("{{ ''[('__'~'class__')] }}", "{{ '{0.__class__}'.format('') }}"):
        with pytest.raises(TemplateError, match="blocked by the sandbox"):
            render(source, {})


def test_lipsum_is_bounded_before_it_generates() -> None:
    import time

    start = time.perf_counter()
    with pytest.raises(TemplateError, match=r"lipsum\(\) would build"):
        render("{{ lipsum(400000) }}", {})
    assert time.perf_counter() - start < 1.0  # refused up front (it used to build the text for 31 s)
    assert len(render("{{ lipsum(2, html=False, min=3, max=5) }}", {})) > 0


def test_a_split_whose_templates_are_slow_per_row_stops_at_its_pace() -> None:
    from fteval.spec.templates import RenderBudget

    slow = "{% for i in range(300) %}{% for j in range(300) %}{% endfor %}{% endfor %}x"
    budget = RenderBudget("eval split (data.csv)", rows=1000, base_s=0.5, per_row_s=0.0)
    with pytest.raises(TemplateError, match=r"eval split \(data.csv\): rendering the prompts takes .* s per row"):
        for done in range(1, 1001):
            render(slow, {})
            budget.check(done)
    assert done < 1000  # stopped by the projected pace, long before every row was rendered
    fast = RenderBudget("eval split (data.csv)", rows=1000, base_s=0.5, per_row_s=0.0)
    for done in range(1, 1001):
        render("{{ x }}", {"x": done})
        fast.check(done)
