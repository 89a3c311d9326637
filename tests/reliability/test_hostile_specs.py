"""Hostile specs: each one that used to exhaust memory, hang or end in a traceback now fails fast and clearly.

Every CLI run here is memory-capped (``reliability_util.MEMORY_LIMIT``) and timed; see issue 11,
"Hostile specs", and issue 9 (a spec that is not valid UTF-8).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError
from reliability_util import assert_clean_failure, run_cli, write_spec

from fteval.spec.sandbox import _CHECK_EVERY, MAX_STEPS, Budget

SECRET_LINE = "root:x:0:0:hunter2-not-a-spec:/root:/bin/bash"


def test_huge_string_repetition_is_refused_without_allocating(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, user="{{ ('x' * 3000000000)|length }}")
    out = run_cli("run", str(spec), tmp_path=tmp_path, timeout=60)
    assert_clean_failure(out, 1, "prompt.user: blocked by the sandbox: repetition would build 3,000,000,000 items")


def test_nested_range_loops_stop_at_the_step_budget(tmp_path: Path) -> None:
    loops = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    spec = write_spec(tmp_path, user=loops)
    started = time.monotonic()
    out = run_cli("run", str(spec), tmp_path=tmp_path, timeout=60)
    # on an idle machine the step budget stops it (~5 s); on a loaded one the 10 s time budget may come first
    assert_clean_failure(out, 1, "prompt.user: blocked by the sandbox: ")
    assert "the template did more than 10,000,000 steps" in out.stderr or "rendering took more than 10 s" in out.stderr
    assert time.monotonic() - started < 30


def test_the_step_and_time_budgets_each_stop_a_render() -> None:
    steps = Budget(deadline=time.monotonic() + 3600)
    with pytest.raises(SecurityError, match="did more than 10,000,000 steps"):
        for _ in range(MAX_STEPS + 1):
            steps.spend()
    assert steps.steps == MAX_STEPS + 1
    late = Budget(deadline=time.monotonic() - 1)
    with pytest.raises(SecurityError, match="rendering took more than 10 s"):
        for _ in range(_CHECK_EVERY):
            late.spend()


@pytest.mark.parametrize(
    ("statement", "tag"),
    [
        ("{% include 'other.txt' %}", "include"),
        ("{% extends 'base.txt' %}", "extends"),
        ("{% import 'm.txt' as m %}", "import"),
    ],
)
def test_include_extends_import_are_refused_at_validate(tmp_path: Path, statement: str, tag: str) -> None:
    spec = write_spec(tmp_path, user=statement + "{{ question }}")
    out = run_cli("validate", str(spec), tmp_path=tmp_path)
    assert_clean_failure(
        out, 2, f"prompt.user: template uses {{% {tag} %}} on template line 1; prompt templates must be self-contained"
    )


def test_range_of_a_billion_is_a_clear_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, user="{{ range(10**9)|length }}")
    out = run_cli("run", str(spec), tmp_path=tmp_path, timeout=60)
    assert_clean_failure(out, 1, "blocked by the sandbox: range() of 1,000,000,000 items; the limit is 100,000")


def test_recursive_macro_is_a_clear_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, user="{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
    out = run_cli("run", str(spec), tmp_path=tmp_path, timeout=60)
    assert_clean_failure(out, 1, "prompt.user: recursion too deep")


def test_catastrophic_regex_runs_in_linear_time(tmp_path: Path) -> None:
    # one gold the pattern matches: a split whose every gold is rejected stops at validation
    rows = "question,answer\nq,aaa\n" + "".join(f"q{i},{'a' * 35}!\n" for i in range(5))
    spec = write_spec(tmp_path, eval_text=rows, parser="{name: regex, pattern: '(?P<answer>(a+)+)$'}")
    started = time.monotonic()
    out = run_cli("run", str(spec), tmp_path=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 30


def test_regex_syntax_re2_cannot_run_is_a_validate_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, parser=r"{name: regex, pattern: '(?P<answer>a)\1'}")
    out = run_cli("validate", str(spec), tmp_path=tmp_path)
    assert_clean_failure(
        out, 2, "parser.pattern", "invalid regular expression: invalid escape sequence: \\1", "RE2 syntax"
    )


def test_validate_dev_zero_reads_at_most_the_cap(tmp_path: Path) -> None:
    out = run_cli("validate", "/dev/zero", tmp_path=tmp_path, timeout=60)
    assert_clean_failure(out, 2, "/dev/zero: the spec is larger than allowed: the limit is 2000000 bytes")


def test_a_data_path_at_a_file_that_is_not_a_dataset_never_echoes_it(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text=SECRET_LINE + "\n", eval_name="passwd.csv")
    out = run_cli("validate", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 2, "template variable 'question' is not a dataset column")
    assert "hunter2" not in out.stderr + out.stdout


def test_extends_of_a_file_that_is_not_a_spec_never_echoes_it(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text(SECRET_LINE + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("fteval: 1\nextends: passwd\n")
    out = run_cli("validate", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 2, "a spec must be a mapping of keys")
    assert "hunter2" not in out.stderr + out.stdout


def test_control_character_in_a_spec_reports_file_line_col(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"fteval: 1\nname: a\x01b\n")
    out = run_cli("validate", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 2, f"{spec}:2:8: control character U+0001 is not allowed in YAML")


def test_spec_that_is_not_utf8_reports_the_first_bad_byte(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes("fteval: 1\nname: ab\ndescription: café über\n".encode("latin-1"))
    out = run_cli("validate", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 2, f"{spec}:3:17: the spec is not valid UTF-8: byte 0xe9 at line 3, column 17")


def test_a_loop_appending_9mb_strings_stops_at_the_render_total(tmp_path: Path) -> None:
    """Each string is under the one-value cap; together they were 4.3 GB in 7.5 s (issue 27)."""
    loop = "{% set l = [] %}{% for i in range(1000) %}{{ l.append('x' * 9000000) or '' }}{% endfor %}{{ question }}"
    spec = write_spec(tmp_path, user=loop)
    started = time.monotonic()
    out = run_cli("run", str(spec), tmp_path=tmp_path, timeout=60)
    assert_clean_failure(
        out, 1, "prompt.user: blocked by the sandbox: the template built more than 50,000,000 characters in all"
    )
    assert time.monotonic() - started < 30


def test_a_list_doubling_itself_is_stopped(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, user="{% set l = ['x'] %}{% for i in range(60) %}{{ l.extend(l) or '' }}{% endfor %}")
    out = run_cli("run", str(spec), tmp_path=tmp_path, timeout=60)
    assert_clean_failure(out, 1, "blocked by the sandbox: list.extend would hold over 10,000,000 items")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_dev_zero_as_a_data_path_fails_fast(tmp_path: Path, command: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "fteval: 1\nname: rel\n"
        "dataset:\n  train: {path: /dev/zero, format: csv}\n  eval: {path: /dev/zero, format: csv}\n"
        'prompt:\n  user: "Q: {{ question }}"\n  target: "{{ answer }}"\n'
        'parser: {name: choice, labels: ["yes", "no"]}\n'
        "targets:\n  lookup: {trainer: lookup}\n"
    )
    started = time.monotonic()
    out = run_cli(command, str(spec), tmp_path=tmp_path, timeout=60)
    assert_clean_failure(out, 2, "dataset.eval.path", "/dev/zero: not a regular file (a device, pipe or socket)")
    assert time.monotonic() - started < 20


def test_a_data_file_whose_first_line_never_ends_is_refused_after_a_megabyte(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text=b"q" * (3 << 20))
    out = run_cli("validate", str(spec), tmp_path=tmp_path, timeout=60)
    assert_clean_failure(out, 2, "the first line is longer than 1,048,576 bytes; not a csv file?")
