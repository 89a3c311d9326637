"""Bad data files: every case fails with its file, physical line and data row, or is skipped and counted.

Each test writes a real data file and runs the real CLI (or, for the loader's own interface, the
real ``load_rows``); see issue 11, "Data".
"""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import pytest
from fteval_generic.metrics import CharExact, ExactMatch
from fteval_generic.parsers import ChoiceParser, TextParser
from reliability_util import assert_clean_failure, run_cli, write_spec

from fteval.data.datasets import load_rows
from fteval.errors import DatasetError
from fteval.plugin import Example, Parsed, Prompt, ScoreItem
from fteval.spec.model import Source

HEADER = "question,answer\n"


def test_csv_row_with_a_missing_cell_is_an_error_not_the_string_none(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text=HEADER + "Is a cat a mammal?,yes\nIs a trout a mammal?\n")
    out = run_cli("run", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 1, f"{tmp_path / 'eval.csv'}:3: data row 2: has 1 cells; the header has 2")
    assert "on_bad_row: skip" in out.stderr


def test_csv_row_with_extra_cells_is_an_error_not_a_type_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text=HEADER + "Is a cat a mammal?,yes,surplus,more\nIs a trout a mammal?,no\n")
    out = run_cli("run", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 1, f"{tmp_path / 'eval.csv'}:2: data row 1: has 4 cells; the header has 2")
    assert "TypeError" not in out.stderr


def test_jsonl_null_value_is_an_error_with_file_line_and_row(tmp_path: Path) -> None:
    rows = (
        '{"question": "Is a cat a mammal?", "answer": "yes"}\n\n{"question": "Is a trout a mammal?", "answer": null}\n'
    )
    spec = write_spec(tmp_path, eval_text=rows, eval_name="eval.jsonl")
    out = run_cli("run", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 1, f"{tmp_path / 'eval.jsonl'}:3: data row 2: column 'answer' is null (a missing value)")


@pytest.mark.parametrize(("value", "kind"), [('{"a": 1}', "dict"), ('["yes"]', "list")])
def test_jsonl_object_or_list_printed_into_the_gold_is_an_error_not_python_text(
    tmp_path: Path, value: str, kind: str
) -> None:
    rows = f'{{"question": "Is a cat a mammal?", "answer": {value}}}\n'
    spec = write_spec(tmp_path, eval_text=rows, eval_name="eval.jsonl")
    out = run_cli("run", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 1, "prompt.target", f"prints a {kind} value as Python text")


def test_jsonl_list_values_stay_usable_through_join(tmp_path: Path) -> None:
    rows = '{"question": ["Is a cat", "a mammal?"], "answer": "yes"}\n'
    spec = write_spec(tmp_path, eval_text=rows, eval_name="eval.jsonl", user="Q: {{ question|join(' ') }}")
    out = run_cli("run", str(spec), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr


def test_lone_surrogate_in_gold_is_rejected_at_load_with_file_and_line(tmp_path: Path) -> None:
    rows = '{"question": "Is a cat a mammal?", "answer": "yes"}\n{"question": "q2", "answer": "\\ud800"}\n'
    spec = write_spec(tmp_path, eval_text=rows, eval_name="eval.jsonl")
    for _ in range(2):  # the same clear error on a re-run: never a run stuck half-stored
        out = run_cli("run", str(spec), tmp_path=tmp_path)
        assert_clean_failure(
            out, 1, f"{tmp_path / 'eval.jsonl'}:2: data row 2: column 'answer' holds a lone surrogate U+D800"
        )
    assert "UnicodeEncodeError" not in out.stderr
    out = run_cli("export", str(spec), "--split", "eval", "-o", str(tmp_path / "x.jsonl"), tmp_path=tmp_path)
    assert_clean_failure(out, 1, "lone surrogate U+D800")


def test_eval_split_with_a_header_and_no_rows_is_an_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text=HEADER)
    out = run_cli("run", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 1, f"{tmp_path / 'eval.csv'}: no data rows; a split needs at least one row")
    assert "0.000" not in out.stdout


def test_duplicate_csv_column_names_are_an_error_naming_the_column(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text="question,answer,answer\nIs a cat a mammal?,yes,no\n")
    out = run_cli("validate", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 2, "duplicate column name 'answer' (column 3)")


def test_broken_jsonl_line_is_reported_at_its_own_line(tmp_path: Path) -> None:
    good = '{"question": "q", "answer": "yes"}\n'
    spec = write_spec(tmp_path, eval_text=good * 3 + '{"question": "q", "answer": \n', eval_name="eval.jsonl")
    out = run_cli("run", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 1, f"{tmp_path / 'eval.jsonl'}:4: data row 4: not valid JSON")
    assert ":1:" not in out.stderr.replace(str(spec), "")


def test_json_object_instead_of_a_list_says_what_was_expected(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text='{"rows": [{"question": "q", "answer": "yes"}]}', eval_name="eval.json")
    out = run_cli("validate", str(spec), tmp_path=tmp_path)
    assert_clean_failure(out, 2, "expected a JSON list of objects, found an object")
    assert "cannot read header: 0" not in out.stderr


def test_data_file_that_is_not_utf8_names_line_and_column(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text=HEADER.encode() + "caf\xe9,yes\n".encode("latin-1"))
    out = run_cli("run", str(spec), tmp_path=tmp_path)  # found when the spec is validated, before running
    assert_clean_failure(
        out, 2, f"{tmp_path / 'eval.csv'}:2: not valid csv: not valid UTF-8: byte 0xe9 at line 2, column 4"
    )


def test_on_bad_row_skip_drops_and_counts_bad_rows(tmp_path: Path) -> None:
    data = tmp_path / "eval.csv"
    data.write_text(HEADER + "a,yes\nb\nc,no,extra\nd,no\n")
    rows = load_rows(Source(path=str(data), on_bad_row="skip"))
    assert rows == [{"question": "a", "answer": "yes"}, {"question": "d", "answer": "no"}]
    assert rows.skipped == 2
    assert rows.skip_reasons == [
        f"{data}:3: data row 2: has 1 cells; the header has 2",
        f"{data}:4: data row 3: has 3 cells; the header has 2",
    ]
    with pytest.raises(DatasetError, match="2 bad data row"):
        load_rows(Source(path=str(data)))


def test_on_bad_row_skip_runs_end_to_end(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, eval_text=HEADER + "Is a cat a mammal?,yes\nbroken\n", eval_extra=", on_bad_row: skip")
    out = run_cli("run", str(spec), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "1 bad eval rows were skipped" in out.stdout
    with sqlite3.connect(next(tmp_path.rglob("*.db"))) as con:
        assert con.execute("SELECT n_examples, skipped_rows FROM runs").fetchall() == [(1, 1)]


def test_nfd_and_nfc_forms_of_a_label_compare_equal() -> None:
    nfc, nfd = "café", unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    choice = ChoiceParser(ChoiceParser.Config(labels=[nfc, "thé"]))
    assert choice.parse(nfd) == Parsed(ok=True, value=nfc)
    text = TextParser()
    pred, gold = text.parse(nfd), text.parse(nfc)
    example = Example(0, {}, Prompt(None, "q"), nfc)
    assert ExactMatch().score(ScoreItem(example, nfd, pred, gold)).value == 1.0
    assert CharExact().score(ScoreItem(example, nfd, pred, gold)).value == 1.0
