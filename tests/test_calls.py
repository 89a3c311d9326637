"""The call layer (``fteval.running.calls``): a target answering prompts from inside the engine, cached and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fteval.plugin import Prompt
from fteval.running.calls import CallSite, TargetCaller
from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.callstore import load_calls, step_stats
from fteval.storage.store import Store

pytestmark = [pytest.mark.fast, pytest.mark.usefixtures("script_plugin_path")]


def _spec(tmp_path: Path, log: Path) -> Path:
    data = tmp_path / "rows.csv"
    data.write_text("question,answer\nIs a cat a mammal?,yes\nIs a trout a mammal?,no\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""fteval: 1
name: calls
dataset: {{train: {{path: {data}}}, eval: {{path: {data}}}}}
prompt: {{user: "{{{{ question }}}}", target: "{{{{ answer }}}}"}}
parser: text
targets:
  judge:
    trainer: script
    evaluator_only: true
    model:
      rules:
        - {{match: "cat", reply: ["yes"]}}
        - {{match: "vote (.*)", reply: ["a \\\\1", "b \\\\1", "c \\\\1"]}}
      default: "no"
      latency_s: 0.5
      call_usd: 0.002
      log: {log}
"""
    )
    return spec


def _engine(tmp_path: Path, log: Path) -> Engine:
    return Engine(load_spec(_spec(tmp_path, log)), Store(tmp_path / "runs.db"), tmp_path)


def _log(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_generate_answers_in_order_and_records_each_call(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    engine = _engine(tmp_path, log)
    caller = TargetCaller(engine, "judge")
    prompts = [Prompt(None, "Is a cat a mammal?"), Prompt("sys", "Is a trout a mammal?")]
    sites = [CallSite("run-1", 0, "judge"), CallSite("run-1", 1, "judge")]
    gens = caller.generate(prompts, purpose="judge", sites=sites)
    assert [g.text for g in gens] == ["yes", "no"]
    assert [g.cost_usd for g in gens] == [0.002, 0.002] and caller.model_calls == 2 == engine.model_calls
    records = load_calls(engine.store, "run-1")
    assert [(r.index, r.step, r.number, r.purpose, r.target) for r in records] == [
        (0, "judge", 0, "judge", "judge"),
        (1, "judge", 0, "judge", "judge"),
    ]
    assert records[1].prompt == prompts[1] and records[1].generation.text == "no"
    assert records[1].generation.prompt_tokens == 5 and not records[1].cached
    caller.close()


def test_a_second_caller_answers_from_the_cache_and_a_recorded_site_is_not_recorded_again(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    first = TargetCaller(_engine(tmp_path, log), "judge")
    prompts = [Prompt(None, "Is a cat a mammal?")]
    first.generate(prompts, sites=[CallSite("run-1", 0, "s")])
    again = TargetCaller(_engine(tmp_path, log), "judge")
    calls = again.calls(prompts, sites=[CallSite("run-2", 0, "s")])
    assert calls[0].source == "cache" and calls[0].cached and again.model_calls == 0
    assert [r.cached for r in load_calls(again.engine.store, "run-2")] == [True]
    # the same site again: the record answers, nothing is called or re-recorded
    resumed = again.calls(prompts, sites=[CallSite("run-1", 0, "s")])
    assert resumed[0].source == "record" and resumed[0].generation.text == "yes"
    assert [r.cached for r in load_calls(again.engine.store, "run-1")] == [False]
    assert len(_log(log)) == 1


def test_no_cache_asks_the_model_again_but_a_recorded_site_still_answers(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    prompts = [Prompt(None, "Is a cat a mammal?")]
    TargetCaller(_engine(tmp_path, log), "judge").generate(prompts, sites=[CallSite("run-1", 0, "s")])
    engine = _engine(tmp_path, log)
    engine.use_cache = False  # what `fteval eval --no-cache` sets through Engine.evaluate(use_cache=False)
    again = TargetCaller(engine, "judge")
    calls = again.calls(prompts, sites=[CallSite("run-2", 0, "s")])
    assert calls[0].source == "fresh" and again.model_calls == 1 and len(_log(log)) == 2
    assert again.calls(prompts, sites=[CallSite("run-2", 0, "s")])[0].source == "record"  # resuming is not caching


def test_other_settings_are_other_cache_entries_and_sampling_follows_the_seed(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    caller = TargetCaller(_engine(tmp_path, log), "judge")
    prompt = Prompt(None, "vote x")
    sampled = [caller.settings.model_copy(update={"temperature": 0.7, "seed": seed}) for seed in range(4)]
    texts = [caller.generate([prompt], settings=s)[0].text for s in sampled]
    assert texts == ["a x", "b x", "c x", "a x"]
    assert caller.generate([prompt])[0].text == "a x"  # greedy: the first reply
    assert len(_log(log)) == 5  # four seeds and greedy: five cache keys, five model calls
    caller.close()


def test_step_stats_sum_calls_per_step(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    caller = TargetCaller(_engine(tmp_path, log), "judge")
    p = [Prompt(None, "Is a cat a mammal?"), Prompt(None, "Is a dog a fish?")]
    caller.generate(p, sites=[CallSite("r", 0, "first"), CallSite("r", 1, "first")])
    caller.generate(p[:1], sites=[CallSite("r", 0, "second", 0)])
    stats = {s.step: s for s in step_stats(caller.engine.store, "r")}
    assert list(stats) == ["first", "second"]
    assert (stats["first"].examples, stats["first"].calls, stats["first"].cached) == (2, 2, 0)
    assert (stats["second"].calls, stats["second"].cached) == (1, 1)  # the same prompt: from the cache
    assert stats["first"].cost_usd == pytest.approx(0.004) and stats["first"].latency_s == 0.5


def test_mismatched_sites_are_refused(tmp_path: Path) -> None:
    caller = TargetCaller(_engine(tmp_path, tmp_path / "l"), "judge")
    with pytest.raises(ValueError, match="2 prompts but 1 call sites"):
        caller.generate([Prompt(None, "a"), Prompt(None, "b")], sites=[CallSite("r", 0, "s")])
