"""Cost per question is computed from tokens and the target's prices every time, over real HTTP.

``fteval serve`` on 127.0.0.1 answers with its echo stand-in; prices change between runs and the
stored costs are compared with tokens x prices. Nothing is patched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fteval_openai.config import OpenAIConfig
from fteval_openai.generator import OpenAIGenerator
from fteval_openai.server.launch import Served
from fteval_testutil import fteval_run
from openai_helpers import write_spec

from fteval.storage.store import Store

# The August 2023 usage prices of fine-tuned GPT-3.5 Turbo (USD per 1K tokens), the example.
AUG_2023 = {"input_per_1k": 0.012, "output_per_1k": 0.016, "date": "2023-08-22", "source": "openai.com/blog (2023)"}
FT_MODEL = "ft:gpt-3.5-turbo-0613:acme::8abc123"


def _spec(path: Path, url: str, *, model: str = "gpt-3.5-turbo", cost: dict[str, Any] | None = None) -> Path:
    """The helper's spec with the zero-shot target's model and cost section set."""
    write_spec(path, url, eval_rows=5)
    spec = json.loads(path.read_text())
    zero = spec["targets"].pop("zero")
    zero["model"]["name"] = model
    zero["model"]["revision"] = "test"  # a pinned release: no identity probe, every chat request is a row's
    if cost is not None:
        zero["cost"] = cost
    spec["targets"] = {"zero": zero}
    path.write_text(json.dumps(spec, indent=1))
    return path


def _examples(store: Path, run_id: str) -> list[Any]:
    return Store(store).examples(run_id)


def test_changed_prices_reprice_cached_answers(tmp_path: Path, api_key: str) -> None:
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", key=api_key) as server:
        first = fteval_run("run", str(_spec(tmp_path / "a.yaml", server.url)), "--target", "zero", store=store)
        assert first.returncode == 0, first.stderr
        spec = _spec(tmp_path / "b.yaml", server.url, cost=AUG_2023)
        second = fteval_run("run", str(spec), "--target", "zero", store=store)
        assert second.returncode == 0, second.stderr
        assert "model calls this invocation: 0" in second.stdout  # every answer came from the cache
        assert server.stats()["served"]["chat_completions"] == 5
    new, old = Store(store).list_runs()[:2]
    assert new.prices is not None and new.prices["date"] == "2023-08-22"
    assert old.prices is not None and old.prices["input_per_1k"] == 0.0005  # the table's gpt-3.5-turbo price
    for a, b in zip(_examples(store, old.id), _examples(store, new.id), strict=True):
        assert (a.prompt_tokens, a.completion_tokens) == (b.prompt_tokens, b.completion_tokens)
        assert a.cost_usd == pytest.approx((a.prompt_tokens * 0.0005 + a.completion_tokens * 0.0015) / 1000)
        assert b.cost_usd == pytest.approx((b.prompt_tokens * 0.012 + b.completion_tokens * 0.016) / 1000)
        assert b.cached and b.cost_usd > a.cost_usd
    shown = fteval_run("show", new.id, store=store)
    assert shown.returncode == 0, shown.stderr
    assert "$0.012 / $0.016 per 1K tokens" in shown.stdout and "as of 2023-08-22" in shown.stdout
    total = sum(e.cost_usd for e in _examples(store, new.id))
    assert f"{total / 5:.6f}" in shown.stdout


def test_fine_tuned_model_on_an_evaluator_only_target_pays_fine_tuned_rates(tmp_path: Path, api_key: str) -> None:
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", "--base-model", FT_MODEL, key=api_key) as server:
        spec = _spec(tmp_path / "spec.yaml", server.url)
        out = fteval_run("run", str(spec), "--target", "zero", "--model", FT_MODEL, store=store)
        assert out.returncode == 0, out.stderr
    run = Store(store).list_runs()[0]
    assert run.model_location == FT_MODEL and run.prices is not None
    # gpt-3.5-turbo fine-tuned inference: $0.003 / $0.006 per 1K (the base model's are $0.0005 / $0.0015)
    assert (run.prices["input_per_1k"], run.prices["output_per_1k"]) == (0.003, 0.006)
    for e in _examples(store, run.id):
        assert e.cost_usd == pytest.approx((e.prompt_tokens * 0.003 + e.completion_tokens * 0.006) / 1000)


def test_unknown_price_is_unknown_cost_everywhere(tmp_path: Path, api_key: str) -> None:
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", "--base-model", "mystery-7b", key=api_key) as server:
        spec = _spec(tmp_path / "spec.yaml", server.url, model="mystery-7b")
        checked = fteval_run("validate", str(spec), store=store)
        assert checked.returncode == 0, checked.stderr
        assert "no price for mystery-7b" in checked.stderr and "cost.input_per_1k" in checked.stderr
        out = fteval_run("run", str(spec), "--target", "zero", store=store)
        assert out.returncode == 0, out.stderr
        assert "no price for mystery-7b" in out.stderr
    run = Store(store).list_runs()[0]
    examples = _examples(store, run.id)
    assert len(examples) == 5 and all(e.prompt_tokens and e.cost_usd is None for e in examples)
    shown = fteval_run("show", run.id, store=store)
    assert "unknown (no price)" in shown.stdout and "$0" not in shown.stdout
    report = fteval_run("report", run.id, "--md", "-", store=store)
    assert report.returncode == 0, report.stderr
    row = next(line for line in report.stdout.splitlines() if line.startswith("| zero"))
    assert "unknown" in row and "$0" not in row
    assert "no price for mystery-7b" in report.stdout


def test_prices_come_with_a_date_and_source_and_the_spec_overrides_them() -> None:
    generator = OpenAIGenerator()
    table = generator.token_prices(OpenAIConfig.model_validate({"model": {"name": "gpt-4o-mini-2024-07-18"}}))
    assert table is not None and table.known and table.date and table.source.startswith("https://")
    assert (table.input_per_1k, table.output_per_1k) == (0.00015, 0.0006)
    tuned = generator.token_prices(
        OpenAIConfig.model_validate({"model": {"name": "gpt-4o-mini"}}), "ft:gpt-4o-mini-2024-07-18:org:x:id1"
    )
    assert tuned is not None and (tuned.input_per_1k, tuned.output_per_1k) == (0.0003, 0.0012)
    partly = generator.token_prices(
        OpenAIConfig.model_validate({"model": {"name": "gpt-4o-mini"}, "cost": {"input_per_1k": 0.001}})
    )
    assert partly is not None and partly.input_per_1k == 0.001 and partly.output_per_1k == 0.0006
    assert partly.date is not None and "partly overridden" in partly.date and partly.source.startswith("spec cost:")
    unknown = generator.token_prices(OpenAIConfig.model_validate({"model": {"name": "mystery-7b"}}))
    assert unknown is not None and not unknown.known and unknown.cost(10, 10) is None
    half = generator.token_prices(
        OpenAIConfig.model_validate({"model": {"name": "mystery-7b"}, "cost": {"input_per_1k": 0.001}})
    )
    assert half is not None and not half.known and half.cost(10, 10) is None
