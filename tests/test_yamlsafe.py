"""Safe YAML loading: plain data, source positions, refused tags, duplicate keys, caps on hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fteval.errors import SpecError
from fteval.spec import yamlsafe
from fteval.spec.yamlsafe import SourceMap, load_yaml

pytestmark = pytest.mark.fast


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def only_issue(exc: pytest.ExceptionInfo[SpecError]):
    assert len(exc.value.issues) == 1, exc.value.issues
    return exc.value.issues[0]


def test_plain_data_and_positions(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\ntargets:\n  a:\n    trainer: lookup\nlist:\n  - 1\n  - {k: v}\n")
    data, source = load_yaml(path)
    assert data == {"name": "x", "targets": {"a": {"trainer": "lookup"}}, "list": [1, {"k": "v"}]}
    assert source.positions[("name",)] == (path, 1, 1)
    assert source.positions[("targets", "a", "trainer")] == (path, 4, 5)
    assert source.positions[("list", 1)] == (path, 7, 5)
    assert source.positions[("list", 1, "k")] == (path, 7, 6)
    assert source.positions[()] == (path, 1, 1)


def test_scalars_are_yaml_1_2_and_dates_become_strings(tmp_path: Path) -> None:
    data, _ = load_yaml(write(tmp_path, "a: yes\nb: 1.5\nc: null\nd: 2024-01-02\ne: true\nf: '007'\n"))
    assert data == {"a": "yes", "b": 1.5, "c": None, "d": "2024-01-02", "e": True, "f": "007"}


def test_empty_file_is_an_empty_mapping(tmp_path: Path) -> None:
    assert load_yaml(write(tmp_path, "# nothing\n")) == ({}, SourceMap())


def test_locate_falls_back_to_longest_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, "parser:\n  name: choice\n")
    _, source = load_yaml(path)
    assert source.locate(("parser", "labels", 0)) == (path, 1, 1)
    assert source.locate(("parser", "name")) == (path, 2, 3)
    assert SourceMap().locate(("x",)) == (None, None, None)


def test_update_moves_positions_under_a_prefix_and_overrides() -> None:
    a, b = SourceMap({("x",): (Path("a"), 1, 1)}), SourceMap({("x",): (Path("b"), 2, 2), (): (Path("b"), 1, 1)})
    a.update(b, prefix=("p",))
    assert a.positions == {("x",): (Path("a"), 1, 1), ("p", "x"): (Path("b"), 2, 2), ("p",): (Path("b"), 1, 1)}
    a.update(SourceMap({("x",): (Path("c"), 3, 3)}))
    assert a.locate(("x",)) == (Path("c"), 3, 3)


def test_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(SpecError) as exc:
        load_yaml(path)
    issue = only_issue(exc)
    assert (issue.file, issue.line, issue.path) == (path, 3, "")
    assert issue.message.startswith("YAML syntax error")


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        load_yaml(write(tmp_path, "a: 1\nb: 2\na: 3\n"))
    issue = only_issue(exc)
    assert (issue.line, issue.col, issue.path, issue.message) == (3, 1, "a", "duplicate key")


def test_error_paths_inside_lists_use_the_loader_format(tmp_path: Path) -> None:
    """Key paths must read like the loader's (``metrics[0].name``), not ``metrics.0.name``."""
    with pytest.raises(SpecError) as exc:
        load_yaml(write(tmp_path, "metrics:\n  - {name: a, name: b}\n"))
    assert only_issue(exc).path == "metrics[0].name"


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['true']\n",
        "a: !!python/name:os.system\n",
        "a: !!python/object:collections.OrderedDict {}\n",
        "a: !custom [1]\n",
        "a: !!set {x, y}\n",
        "a: !!omap [{x: 1}]\n",
    ],
)
def test_non_plain_tags_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(SpecError) as exc:
        load_yaml(write(tmp_path, text))
    issue = only_issue(exc)
    assert (issue.line, issue.path) == (1, "a")
    assert "is not allowed" in issue.message


def test_merge_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        load_yaml(write(tmp_path, "base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n"))
    issue = only_issue(exc)
    assert (issue.line, issue.col) == (3, 3)
    assert "merge" in issue.message


def test_small_aliases_are_expanded(tmp_path: Path) -> None:
    data, _ = load_yaml(write(tmp_path, "labels: &l [yes, no]\nparser: {name: choice, labels: *l}\n"))
    assert data["parser"]["labels"] == ["yes", "no"] == data["labels"]


def test_billion_laughs_fails_fast(tmp_path: Path) -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=False):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    path = write(tmp_path, "\n".join(lines) + "\nboom: *i\n")
    assert path.stat().st_size < 1000
    start = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        load_yaml(path)
    elapsed = time.perf_counter() - start
    assert "alias bomb" in only_issue(exc).message
    # "Well under 2 s" on a busy CI machine: counting the expansion on the node graph takes ~10 ms.
    assert elapsed < 0.5, f"took {elapsed:.2f} s"


def test_deep_nesting_is_a_spec_error_not_a_crash(tmp_path: Path) -> None:
    """A 1 KB file of nested brackets must be refused like any hostile input, not raise RecursionError."""
    path = write(tmp_path, "a: " + "[" * 500 + "]" * 500 + "\n")
    with pytest.raises(SpecError) as exc:
        load_yaml(path)
    assert only_issue(exc).file == path


def test_recursive_alias_is_a_spec_error_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, "a: &a [1, *a]\n")
    with pytest.raises(SpecError) as exc:
        load_yaml(path)
    assert only_issue(exc).file == path


def test_oversized_file_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "MAX_FILE_BYTES", 100)
    path = write(tmp_path, "a: " + "x" * 200 + "\n")
    with pytest.raises(SpecError) as exc:
        load_yaml(path)
    issue = only_issue(exc)
    assert issue.line is None
    assert "limit is 100" in issue.message


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        load_yaml(tmp_path / "nope.yaml")
    assert "cannot read spec" in only_issue(exc).message


def test_an_impossible_date_is_an_issue_at_its_line_not_a_crash(tmp_path: Path) -> None:
    """``cost: {date: 2024-13-45}`` looks like a YAML timestamp that cannot be built."""
    with pytest.raises(SpecError) as exc:
        load_yaml(write(tmp_path, "targets:\n  t:\n    cost: {date: 2024-13-45}\n"))
    issue = only_issue(exc)
    assert (issue.line, issue.col, issue.path) == (3, 18, "targets.t.cost.date")
    assert issue.message == "'2024-13-45' is not a valid date (month must be in 1..12); quote it to make it text"
