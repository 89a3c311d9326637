"""Spec loading: extends and deep merge, validation results, plugin configs, hashing, error positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from fteval.errors import SpecError
from fteval.spec.loader import deep_merge, format_path, load_spec

pytestmark = pytest.mark.fast

SPECS = Path(__file__).resolve().parent.parent / "specs"

TARGETS = "targets:\n  lookup: {trainer: lookup}\n"
BASE = """\
fteval: 1
name: base
dataset:
  train: {path: data/train.csv}
  eval: {path: data/eval.jsonl}
prompt:
  system: Answer yes or no.
  user: "Q: {{ question }}"
  target: "{{ answer }}"
parser: {name: choice, labels: ["yes", "no"]}
metrics: [accuracy, format_rate]
generation: {max_new_tokens: 4, temperature: 0.5}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def data_files(folder: Path) -> None:
    write(folder / "train.csv", "question,answer\nIs a cat a mammal?,yes\nIs a trout a mammal?,no\n")
    write(folder / "eval.jsonl", '{"question": "Is a pig a mammal?", "answer": "yes"}\n')


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """shared/base.yaml with its data next to it, and a team file elsewhere that only adds targets."""
    data_files(tmp_path / "shared" / "data")
    write(tmp_path / "shared" / "base.yaml", BASE)
    return write(tmp_path / "teams" / "a.yaml", "extends: ../shared/base.yaml\ntargets:\n  lookup: {trainer: lookup}\n")


def issues_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    return [str(i) for i in exc.value.issues]


# ------------------------------------------------------------------ helpers


def test_deep_merge_child_wins_and_lists_are_replaced() -> None:
    base = {"a": 1, "n": {"x": 1, "y": [1, 2], "deep": {"k": 1}}, "l": [1, 2, 3]}
    child = {"a": 2, "n": {"y": [9], "deep": {"j": 2}}, "l": [4], "new": None}
    merged = deep_merge(base, child)
    assert merged == {"a": 2, "n": {"x": 1, "y": [9], "deep": {"k": 1, "j": 2}}, "l": [4], "new": None}
    assert base == {"a": 1, "n": {"x": 1, "y": [1, 2], "deep": {"k": 1}}, "l": [1, 2, 3]}


def test_deep_merge_a_scalar_replaces_a_mapping_and_back() -> None:
    assert deep_merge({"p": {"name": "choice"}}, {"p": "text"}) == {"p": "text"}
    assert deep_merge({"p": "text"}, {"p": {"name": "json"}}) == {"p": {"name": "json"}}


def test_format_path() -> None:
    assert format_path(("targets", "tiny", "train", 0)) == "targets.tiny.train[0]"
    assert format_path(("metrics", 1, "name")) == "metrics[1].name"
    assert format_path(()) == ""


# ------------------------------------------------------------------ shipped specs and results


@pytest.mark.parametrize("name", ["yesno.yaml", "viggo.yaml"])
def test_shipped_specs_load(name: str) -> None:
    loaded = load_spec(SPECS / name)
    assert loaded.spec.targets
    assert set(loaded.targets) == set(loaded.spec.targets)
    assert loaded.parser is not None
    assert len(loaded.hash) == 64


def test_loaded_spec_carries_validated_plugin_configs(team: Path) -> None:
    loaded = load_spec(team)
    assert loaded.spec.name == "base"
    assert loaded.parser.config.labels == ["yes", "no"]
    assert list(loaded.metrics) == ["accuracy", "format_rate"]
    assert loaded.targets["lookup"].config.model.normalize is True
    assert loaded.files == [team.resolve(), (team.parent.parent / "shared" / "base.yaml").resolve()]
    assert "extends" not in loaded.resolved


def test_metrics_default_to_the_parsers_own(tmp_path: Path) -> None:
    data_files(tmp_path / "data")
    text = BASE.replace("metrics: [accuracy, format_rate]\n", "") + TARGETS
    loaded = load_spec(write(tmp_path / "spec.yaml", text))
    assert loaded.spec.metrics is None
    assert list(loaded.metrics) == ["accuracy", "macro_f1", "format_rate"]


def test_hash_is_stable_and_follows_content(tmp_path: Path) -> None:
    data_files(tmp_path / "data")
    one = write(tmp_path / "one.yaml", BASE + TARGETS)
    reordered = "# comment\n" + BASE.replace("fteval: 1\n", "") + "targets: {lookup: {trainer: lookup}}\nfteval: 1\n"
    two = write(tmp_path / "two.yaml", reordered)
    three = write(tmp_path / "three.yaml", BASE.replace("temperature: 0.5", "temperature: 0.7") + TARGETS)
    assert load_spec(one).hash == load_spec(one).hash == load_spec(two).hash
    assert load_spec(one).hash != load_spec(three).hash


# ------------------------------------------------------------------ extends


def test_extends_child_wins_nested_merge_and_lists_replaced(tmp_path: Path) -> None:
    data_files(tmp_path / "data")
    write(tmp_path / "base.yaml", BASE)
    child = write(
        tmp_path / "child.yaml",
        "extends: base.yaml\nname: child\nmetrics: [exact_match]\ngeneration: {temperature: 0}\n"
        "prompt: {user: 'Question: {{ question }}'}\ntargets:\n  lookup: {trainer: lookup}\n",
    )
    spec = load_spec(child).spec
    assert spec.name == "child"
    assert [m.name for m in spec.metrics] == ["exact_match"]
    assert (spec.generation.temperature, spec.generation.max_new_tokens) == (0.0, 4)
    assert spec.prompt.user == "Question: {{ question }}"
    assert spec.prompt.system == "Answer yes or no."


def test_extends_a_list_of_parents_later_wins_then_child(tmp_path: Path) -> None:
    data_files(tmp_path / "data")
    write(tmp_path / "base.yaml", BASE)
    write(tmp_path / "sampling.yaml", "generation: {temperature: 1.0, top_p: 0.9}\nname: sampling\n")
    child = write(
        tmp_path / "child.yaml",
        "extends: [base.yaml, sampling.yaml]\ngeneration: {top_p: 0.5}\ntargets:\n  lookup: {trainer: lookup}\n",
    )
    loaded = load_spec(child)
    gen = loaded.spec.generation
    assert (loaded.spec.name, gen.max_new_tokens, gen.temperature, gen.top_p) == ("sampling", 4, 1.0, 0.5)
    assert [p.name for p in loaded.files] == ["child.yaml", "base.yaml", "sampling.yaml"]


def test_diamond_extends_is_not_a_cycle(tmp_path: Path) -> None:
    data_files(tmp_path / "data")
    write(tmp_path / "base.yaml", BASE)
    write(tmp_path / "left.yaml", "extends: base.yaml\nseed: 1\n")
    write(tmp_path / "right.yaml", "extends: base.yaml\nseed: 2\n")
    child = write(tmp_path / "child.yaml", "extends: [left.yaml, right.yaml]\ntargets:\n  lookup: {trainer: lookup}\n")
    assert load_spec(child).spec.seed == 2


def test_dataset_paths_resolve_against_the_file_that_defines_them(tmp_path: Path, team: Path) -> None:
    loaded = load_spec(team)
    shared_data = (tmp_path / "shared" / "data").resolve()
    assert Path(loaded.spec.dataset.train.path) == shared_data / "train.csv"
    assert Path(loaded.spec.dataset.eval.path) == shared_data / "eval.jsonl"
    # A team that brings its own eval file: relative to the team file; train still from the base.
    write(tmp_path / "teams" / "mine.jsonl", '{"question": "Is an ant a mammal?", "answer": "no"}\n')
    own = write(tmp_path / "teams" / "b.yaml", team.read_text() + "dataset:\n  eval: {path: mine.jsonl}\n")
    loaded = load_spec(own)
    assert Path(loaded.spec.dataset.eval.path) == (tmp_path / "teams" / "mine.jsonl").resolve()
    assert Path(loaded.spec.dataset.train.path) == shared_data / "train.csv"


def test_load_spec_does_not_depend_on_the_working_directory(
    team: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path / "teams")
    assert load_spec("a.yaml").hash == load_spec(team).hash


def test_error_in_a_parent_is_reported_in_the_parent_file(tmp_path: Path) -> None:
    data_files(tmp_path / "data")
    parent = write(tmp_path / "base.yaml", BASE.replace("{{ question }}", "{{ qestion }}"))
    child = write(tmp_path / "child.yaml", "extends: base.yaml\ntargets:\n  lookup: {trainer: lookup}\n")
    (issue,) = issues_of(child)
    assert issue.startswith(f"{parent.resolve()}:8:3: prompt.user: template variable 'qestion'")


def test_child_override_moves_the_error_position_to_the_child(tmp_path: Path) -> None:
    data_files(tmp_path / "data")
    write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nseed: many\ntargets:\n  lookup: {trainer: lookup}\n")
    (issue,) = issues_of(child)
    assert issue.startswith(f"{child.resolve()}:2:1: seed: ")


def test_extends_must_be_paths(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "child.yaml", "extends: [base.yaml, 3]\n")
    (issue,) = issues_of(child)
    assert issue == f"{child.resolve()}:1:22: extends: must be a file path or a list of paths"


def test_a_spec_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "list.yaml", "- fteval: 1\n")
    assert issues_of(path) == [f"{path.resolve()}:1:1: a spec must be a mapping of keys"]


def test_missing_keys_of_an_empty_spec_still_have_a_position(tmp_path: Path) -> None:
    """Every issue reads file:line:col, even when the file is empty (then 1:1)."""
    path = write(tmp_path / "empty.yaml", "# nothing yet\n")
    issues = issues_of(path)
    for key in ("fteval", "name", "dataset", "prompt", "parser"):
        assert any(f": {key}: missing required key" in i for i in issues), issues
    assert all(i.startswith(f"{path.resolve()}:1:1: ") for i in issues), issues


def test_schema_errors_do_not_hide_plugin_and_template_errors(tmp_path: Path) -> None:
    """All errors at once: a wrong type elsewhere must not hide an unknown metric or a bad template."""
    data_files(tmp_path / "data")
    text = BASE.replace("name: base", "name: base\nseed: many").replace("[accuracy, format_rate]", "[acuracy]")
    path = write(tmp_path / "spec.yaml", text.replace("{{ question }}", "{{ qestion }}") + TARGETS)
    issues = issues_of(path)
    assert any(": seed: " in i for i in issues)
    assert any("unknown metric 'acuracy'" in i for i in issues), issues
    assert any("'qestion' is not a dataset column" in i for i in issues), issues
