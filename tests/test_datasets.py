"""Dataset loading: CSV/JSON/JSONL, limit, seeded shuffle, renames, errors, header-only reads, hub offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fteval.data.datasets import header_columns, load_rows
from fteval.errors import DatasetError
from fteval.identity import file_digest
from fteval.spec.model import Source

ROWS = [{"question": f"q{i}", "answer": "yes" if i % 3 else "no"} for i in range(20)]


def source(path: Path, **kw: Any) -> Source:
    return Source.model_validate({"path": str(path), **kw})


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    lines = [",".join(rows[0])] + [",".join(str(v) for v in r.values()) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(params=["csv", "json", "jsonl"])
def data_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"rows.{request.param}"
    if request.param == "csv":
        return write_csv(path, ROWS)
    if request.param == "json":
        path.write_text(json.dumps(ROWS, indent=1), encoding="utf-8")
        return path
    return write_jsonl(path, ROWS)


@pytest.mark.fast
def test_each_format_loads_all_rows_in_order(data_file: Path) -> None:
    assert load_rows(source(data_file)) == ROWS
    assert header_columns(source(data_file)) == {"question", "answer"}


@pytest.mark.fast
def test_jsonl_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\n', encoding="utf-8")
    assert load_rows(source(path)) == [{"a": 1}, {"a": 2}]


@pytest.mark.fast
def test_csv_values_stay_strings_with_quoting(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text('q,a\n"Is it, really?","line one\nline two"\n007,1\n', encoding="utf-8")
    assert load_rows(source(path)) == [{"q": "Is it, really?", "a": "line one\nline two"}, {"q": "007", "a": "1"}]


@pytest.mark.fast
def test_explicit_format_overrides_the_suffix(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rows.txt", ROWS[:2])
    with pytest.raises(DatasetError, match="cannot tell the format"):
        load_rows(source(path))
    assert load_rows(source(path, format="jsonl")) == ROWS[:2]


@pytest.mark.fast
def test_limit_keeps_the_first_rows(data_file: Path) -> None:
    assert load_rows(source(data_file, limit=3)) == ROWS[:3]
    assert load_rows(source(data_file, limit=1000)) == ROWS


@pytest.mark.fast
def test_shuffle_is_reproducible_and_seeded(data_file: Path) -> None:
    one = load_rows(source(data_file, shuffle=True, seed=7))
    assert one == load_rows(source(data_file, shuffle=True, seed=7))
    assert one != ROWS and sorted(one, key=lambda r: int(r["question"][1:])) == ROWS
    assert one != load_rows(source(data_file, shuffle=True, seed=8))


@pytest.mark.fast
def test_limit_applies_after_the_shuffle(data_file: Path) -> None:
    full = load_rows(source(data_file, shuffle=True, seed=3))
    assert load_rows(source(data_file, shuffle=True, seed=3, limit=5)) == full[:5]
    assert full[:5] != ROWS[:5]


@pytest.mark.fast
def test_columns_rename(data_file: Path) -> None:
    rows = load_rows(source(data_file, columns={"input": "question", "output": "answer"}))
    assert [(r["input"], r["output"]) for r in rows] == [(r["question"], r["answer"]) for r in ROWS]
    assert header_columns(source(data_file, columns={"input": "question"})) >= {"input", "question", "answer"}


@pytest.mark.fast
def test_missing_renamed_column_is_an_error(data_file: Path) -> None:
    with pytest.raises(DatasetError, match=r"columns \['label'\] not found; have \['answer', 'question'\]"):
        load_rows(source(data_file, columns={"y": "label"}))


@pytest.mark.fast
def test_a_later_row_missing_a_renamed_column_is_a_dataset_error(tmp_path: Path) -> None:
    """Rows of a JSONL file may differ in keys: a missing column anywhere is a DatasetError, not a KeyError."""
    path = write_jsonl(tmp_path / "rows.jsonl", [{"q": "a", "label": "yes"}, {"q": "b"}])
    with pytest.raises(DatasetError, match="label"):
        load_rows(source(path, columns={"answer": "label"}))


@pytest.mark.fast
def test_csv_with_a_byte_order_mark_has_clean_column_names(tmp_path: Path) -> None:
    """Spreadsheet exports start with a UTF-8 BOM; it must not become part of the first column's name."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffquestion,answer\nIs a cat a mammal?,yes\n".encode())
    assert header_columns(source(path)) == {"question", "answer"}
    assert load_rows(source(path)) == [{"question": "Is a cat a mammal?", "answer": "yes"}]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", b'[{"a": 1},', "not valid json"),
        ("bad.jsonl", b'{"a": 1}\n{"a": \n', "bad.jsonl:2: data row 2: not valid JSON"),
        ("dict.json", b'{"a": 1}', "expected a JSON list of objects, found an object"),
        ("scalars.json", b"[1, 2]", "scalars.json:1: data row 1: expected a JSON object, found a number"),
        ("scalars.jsonl", b'{"a": 1}\n"text"\n', "scalars.jsonl:2: data row 2: expected a JSON object, found a string"),
        ("latin1.csv", "q,a\ncaf\xe9,1\n".encode("latin-1"), "not valid csv"),
    ],
)
def test_malformed_files_are_dataset_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as exc:
        load_rows(source(path))
    assert str(path) in str(exc.value)


@pytest.mark.fast
def test_missing_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        load_rows(source(tmp_path / "nope.csv"))
    with pytest.raises(FileNotFoundError):
        header_columns(source(tmp_path / "nope.csv"))


@pytest.mark.fast
@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_header_columns_reads_only_the_header(tmp_path: Path, suffix: str) -> None:
    """The rest of the file is broken: reading the header must not touch it, loading the rows must fail."""
    path = tmp_path / f"rows.{suffix}"
    good = "question,answer\n" if suffix == "csv" else '{"question": "q", "answer": "a"}\n'
    path.write_bytes(good.encode() + b"x" * 100_000 + b"\xff\xfe not utf-8 \x00 {[\n")
    assert header_columns(source(path)) == {"question", "answer"}
    with pytest.raises(DatasetError):
        load_rows(source(path))


@pytest.mark.fast
def test_header_columns_of_a_hub_source_is_unknown() -> None:
    assert header_columns(Source.model_validate({"hf": {"path": "GEM/viggo"}})) is None


@pytest.mark.fast
def test_source_needs_exactly_one_origin(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of 'path', 'hf' or 'from'"):
        Source.model_validate({})
    with pytest.raises(ValueError, match="exactly one of 'path', 'hf' or 'from'"):
        Source.model_validate({"path": "x.csv", "hf": {"path": "GEM/viggo"}})


@pytest.mark.fast
def test_file_digest_follows_content(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", ROWS)
    b = write_jsonl(tmp_path / "b.jsonl", ROWS)
    assert file_digest(a) == file_digest(b) and len(file_digest(a)) == 64
    write_jsonl(b, ROWS[:-1])
    assert file_digest(a) != file_digest(b)


HF_SCRIPT = """
from fteval.data.datasets import load_rows
from fteval.errors import DatasetError
from fteval.spec.model import Source
try:
    load_rows(Source.model_validate({"hf": {"path": "fteval-test/does-not-exist", "split": "test"}}))
except DatasetError as exc:
    print("DatasetError:", exc)
else:
    print("loaded?!")
"""


def test_hub_source_offline_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    hf_home = tmp_path / "hf"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(hf_home), "HF_DATASETS_CACHE": str(hf_home / "ds")}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", HF_SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert out.startswith("DatasetError: could not load hub dataset 'fteval-test/does-not-exist' (split 'test')"), out
    assert "Offline?" in out
    assert elapsed < 30, f"took {elapsed:.1f} s"
