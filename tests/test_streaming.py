"""Streamed generation (contract 12, ``fteval.running.streaming``): a generator that ``streams`` hands all its
cache misses to one ``LoadedModel.stream`` call; the engine stores outputs in groups as they arrive."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fteval_testutil import SCRIPT_PLUGIN, fteval_cli, stored_examples

from fteval.errors import PluginError
from fteval.plugin import Generation, Generator, LoadedModel, Prompt
from fteval.running import streaming
from fteval.running.engine import Engine
from fteval.running.streaming import SAVE_EVERY, save_streamed
from fteval.spec.loader import load_spec
from fteval.storage.records import RunRecord
from fteval.storage.store import Store
from fteval.testing import RecordedBar

pytestmark = pytest.mark.usefixtures("script_plugin_path")


def _spec(tmp_path: Path, rows: int = 20, **model: object) -> Path:
    """``rows`` questions ``q<i>`` answered ``a<i>`` (wrongly for q0, q10, ...), by three targets with the same
    script: ``plain`` (the contract-11 ``script`` generator), ``streamed`` (``script_stream``) and ``whole``
    (``script_whole``, the default ``stream``). ``model`` adds options to the script."""
    data = tmp_path / "rows.csv"
    data.write_text("q,a\n" + "".join(f"q{i},a{i}\n" for i in range(rows)))
    options = {
        "rules": [{"match": r"q(\d*)0$", "reply": ["wrong"]}, {"match": r"q(\d+)", "reply": [r"a\1"]}],
        "log": str(tmp_path / "calls.jsonl"),
        **model,
    }
    script = json.dumps(options)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""fteval: 1
name: streamed
dataset: {{train: {{path: {data}}}, eval: {{path: {data}}}}}
prompt: {{user: "{{{{ q }}}}", target: "{{{{ a }}}}"}}
parser: text
metrics: [exact_match, char_exact]
generation: {{batch_size: 4}}
targets:
  plain: {{trainer: script, model: {script}}}
  streamed: {{trainer: script, generator: script_stream, model: {script}}}
  whole: {{trainer: script, generator: script_whole, model: {script}}}
"""
    )
    return spec


def _engine(spec: Path, tmp_path: Path) -> Engine:
    return Engine(load_spec(spec), Store(tmp_path / "runs.db"), tmp_path)


def _calls() -> list[int]:
    """The size of each ``generate`` call of the script model in this process, from now on."""
    from fteval_script_plugin import ScriptLoaded

    ScriptLoaded.calls.clear()
    return ScriptLoaded.calls


def _answered(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.jsonl"
    return [json.loads(line)["user"] for line in log.read_text().splitlines()] if log.exists() else []


def _only_run(store: Store, target: str) -> RunRecord:
    (run,) = store.list_runs("streamed", target)
    return run


def _stored(store: Store, run_id: str) -> dict[int, tuple[str, bool, dict[str, float]]]:
    return {e.idx: (e.output, e.cached, {m: s.value for m, s in e.scores.items()}) for e in store.examples(run_id)}


@pytest.mark.fast
def test_a_streamed_run_stores_what_a_call_by_call_run_does(tmp_path: Path) -> None:
    engine = _engine(_spec(tmp_path), tmp_path)
    calls = _calls()
    plain = engine.run("plain")
    assert calls == [4, 4, 4, 4, 4] and engine.model_calls == 20
    calls.clear()
    streamed = engine.run("streamed")
    # one stream, not call_size calls: the plugin answers groups of 3 from the last one, each reversed
    assert calls == [2, 3, 3, 3, 3, 3, 3] and engine.model_calls == 40
    assert _answered(tmp_path)[20:25] == ["q18", "q19", "q15", "q16", "q17"]
    expected = _stored(engine.store, plain)
    assert _stored(engine.store, streamed) == expected and len(expected) == 20
    assert expected[10] == ("wrong", False, {"exact_match": 0.0, "char_exact": 0.0})
    assert expected[11] == ("a11", False, {"exact_match": 1.0, "char_exact": 1.0})
    assert engine.store.get_run(plain).status == engine.store.get_run(streamed).status == "complete"
    aggregates = [{a.metric: a.value for a in engine.store.aggregates(r)} for r in (plain, streamed)]
    assert aggregates[0] == aggregates[1] and aggregates[0]["exact_match"] == 0.9


@pytest.mark.fast
def test_cached_rows_are_stored_and_only_the_misses_are_streamed(tmp_path: Path) -> None:
    engine = _engine(_spec(tmp_path), tmp_path)
    calls = _calls()
    first = engine.run("streamed")
    more = _engine(_spec(tmp_path, rows=25), tmp_path)  # 5 more rows: another run, the first 20 answers cached
    calls.clear()
    second = more.run("streamed")
    assert second != first and more.model_calls == 5 and calls == [2, 3]
    stored = _stored(more.store, second)
    assert [i for i, (_, cached, _) in stored.items() if not cached] == [20, 21, 22, 23, 24]
    assert {i: (out, scores) for i, (out, _, scores) in stored.items() if i < 20} == {
        i: (out, scores) for i, (out, _, scores) in _stored(engine.store, first).items()
    }


@pytest.mark.fast
def test_the_default_stream_is_one_generate_call(tmp_path: Path) -> None:
    engine = _engine(_spec(tmp_path), tmp_path)
    calls = _calls()
    plain, whole = engine.run("plain"), engine.run("whole")
    assert calls == [4, 4, 4, 4, 4, 20] and engine.model_calls == 40
    assert _stored(engine.store, whole) == _stored(engine.store, plain)
    calls.clear()
    again = engine.run("whole", rerun=True, use_cache=False)
    assert again != whole and calls == [20] and _stored(engine.store, again) == _stored(engine.store, plain)


@pytest.mark.fast
def test_an_interrupted_stream_keeps_what_arrived_and_resumes_with_the_rest(tmp_path: Path) -> None:
    marker = tmp_path / "interrupted"
    spec = _spec(tmp_path, interrupt_on="^q5$", kill_marker=str(marker))
    engine = _engine(spec, tmp_path)
    calls = _calls()
    with pytest.raises(KeyboardInterrupt):
        engine.run("streamed")
    # groups of 3 from the last: 18-19, 15-17, 12-14, 9-11, 6-8 arrived; the group 3-5 stopped at q5
    assert marker.exists() and calls == [2, 3, 3, 3, 3, 3]
    run = _only_run(engine.store, "streamed")
    assert run.status == "interrupted" and engine.store.done_indexes(run.id) == set(range(6, 20))
    assert engine.model_calls == 14 and len(_answered(tmp_path)) == 16  # q3 and q4 answered, not stored
    resumed = _engine(spec, tmp_path)
    calls.clear()
    assert resumed.run("streamed") == run.id
    assert resumed.model_calls == 6 and calls == [3, 3]
    assert _answered(tmp_path)[16:] == ["q3", "q4", "q5", "q0", "q1", "q2"]
    assert resumed.store.get_run(run.id).status == "complete" and len(resumed.store.examples(run.id)) == 20


@pytest.mark.fast
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("out_of_range", r"generator 'script_stream': stream yielded index 20, not one of its 20 prompts \(0 to 19"),
        ("twice", r"generator 'script_stream': stream yielded index 13 twice"),
        (
            "short",
            r"generator 'script_stream': stream ended after 7 of 20 outputs \(never yielded: 0, 1, 2, 3, 4, \.\.\.",
        ),
    ],
)
def test_a_stream_that_breaks_the_contract_is_a_plugin_error_after_saving_what_was_valid(
    tmp_path: Path, fault: str, message: str
) -> None:
    spec = _spec(tmp_path, stream_fault=fault, stream_fault_after=7, kill_marker=str(tmp_path / "faulted"))
    engine = _engine(spec, tmp_path)
    with pytest.raises(PluginError, match=message):
        engine.run("streamed")
    run = _only_run(engine.store, "streamed")
    assert run.status == "interrupted" and engine.store.done_indexes(run.id) == set(range(13, 20))
    again = _engine(spec, tmp_path)  # the fault happens once: the same command resumes the run
    assert again.run("streamed") == run.id and again.model_calls == 13


@pytest.mark.fast
def test_a_generate_call_with_too_few_outputs_is_the_same_kind_of_plugin_error(tmp_path: Path) -> None:
    engine = _engine(_spec(tmp_path, drop_output=True), tmp_path)
    with pytest.raises(PluginError, match=r"generator 'script': generate returned 3 outputs for 4 prompts"):
        engine.run("plain")
    with pytest.raises(PluginError, match=r"ScriptLoaded.generate returned 19 outputs for 20 prompts"):
        engine.run("whole")  # the default stream: which prompt each output answers is unknown
    assert engine.store.done_indexes(_only_run(engine.store, "whole").id) == set()


@pytest.mark.fast
def test_an_exception_from_the_stream_saves_what_arrived_before_it(tmp_path: Path) -> None:
    engine = _engine(_spec(tmp_path, stream_fault="raise", stream_fault_after=5), tmp_path)
    with pytest.raises(RuntimeError, match="the script model crashed"):
        engine.run("streamed")
    run = _only_run(engine.store, "streamed")
    assert run.status == "interrupted" and engine.store.done_indexes(run.id) == {15, 16, 17, 18, 19}
    assert engine.model_calls == 5


class _V11Model(LoadedModel):
    """A loaded model written for contract 11: ``generate`` only."""

    def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        return [Generation(p.user.upper(), 0.5) for p in prompts]


@pytest.mark.fast
def test_a_contract_11_generator_does_not_stream_and_its_model_streams_through_generate() -> None:
    from fteval_script_plugin import ScriptGenerator

    assert ScriptGenerator.streams is False and Generator.streams is False
    prompts = [Prompt(None, "a"), Prompt(None, "b")]
    assert list(_V11Model().stream(prompts)) == [(0, Generation("A", 0.5)), (1, Generation("B", 0.5))]


def test_a_killed_stream_loses_only_what_arrived_since_the_last_save(tmp_path: Path) -> None:
    """SIGKILL in the middle of a stream of 150 outputs: the groups saved before it stay, the resumed run asks for the rest."""
    rows, marker = 150, tmp_path / "killed"
    spec = _spec(tmp_path, rows=rows, stream_group=10, kill_on="^q9$", kill_marker=str(marker))
    db = tmp_path / "runs.db"
    killed = fteval_cli("run", str(spec), "--target", "streamed", store=db, extra_path=SCRIPT_PLUGIN)
    assert killed.returncode != 0 and marker.exists(), killed.stderr
    # 140 outputs arrived (groups 140-149 ... 10-19) before the kill at q9: every full SAVE_EVERY was saved
    saved = stored_examples(db)
    assert rows - 10 - (SAVE_EVERY - 1) <= saved <= rows - 10, saved
    done = fteval_cli("run", str(spec), "--target", "streamed", store=db, extra_path=SCRIPT_PLUGIN)
    assert done.returncode == 0 and f"model calls this invocation: {rows - saved}" in done.stdout, done.stderr
    assert stored_examples(db) == rows


@pytest.mark.fast
def test_outputs_are_saved_every_save_every_and_at_the_end_and_the_bar_follows_each_one() -> None:
    count = 2 * SAVE_EVERY + 2
    saved: list[list[int]] = []
    bar = RecordedBar(count, "evaluating")
    seen_by_bar: list[int] = []

    def outputs() -> Iterator[tuple[int, Generation]]:
        for i in reversed(range(count)):
            seen_by_bar.append(bar.done)
            yield i, Generation(str(i), 0.1)

    save_streamed(outputs(), count, "g", lambda group: saved.append([i for i, _ in group]), bar)
    assert [len(g) for g in saved] == [SAVE_EVERY, SAVE_EVERY, 2]
    assert [i for g in saved for i in g] == list(reversed(range(count)))
    assert seen_by_bar == list(range(count)) and bar.done == count, "one step per output, as it arrives"


@pytest.mark.fast
def test_outputs_are_saved_when_save_seconds_passed_however_few(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "SAVE_SECONDS", 0.0)  # every output arrives "late"
    saved: list[list[int]] = []
    save_streamed(
        enumerate(Generation(t, 0.1) for t in "abc"),
        3,
        "g",
        lambda g: saved.append([i for i, _ in g]),
        RecordedBar(3, ""),
    )
    assert saved == [[0], [1], [2]]
