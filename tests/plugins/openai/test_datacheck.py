"""The data check before upload: format errors with row numbers, token counts offline, the token budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fteval_openai.datacheck import check_records, default_epochs, fit_budget, format_errors
from fteval_openai.prices import PRICES_DATE, context_limit, rates

from fteval.errors import FtevalError

pytest.importorskip("tiktoken")

GOOD = {
    "messages": [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({}, "missing or empty 'messages' list"),
        ({"messages": []}, "missing or empty 'messages' list"),
        ({"messages": [{"role": "user", "content": "u"}]}, "no assistant message"),
        (
            {"messages": [{"role": "robot", "content": "u"}, {"role": "assistant", "content": "a"}]},
            "unknown role 'robot'",
        ),
        (
            {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]},
            "missing or empty content",
        ),
        ({"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}, "lacks 'role' or 'content'"),
        ({**GOOD, "prompt": "x"}, "unknown key 'prompt'"),
        (
            {"messages": [{"role": "user", "content": "u", "colour": 1}, {"role": "assistant", "content": "a"}]},
            "unknown key 'colour'",
        ),
        ("not an object", "not a JSON object"),
    ],
)
def test_each_format_error_names_its_row_and_reason(record: object, reason: str) -> None:
    errors = format_errors([GOOD, GOOD, record])
    assert errors and all(row == 2 for row, _ in errors)
    assert any(reason in r for _, r in errors)


def test_check_records_rejects_before_counting_with_row_numbers() -> None:
    bad = {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "  "}]}
    with pytest.raises(FtevalError) as err:
        check_records([GOOD, bad, GOOD, bad], split="train", context=100, epochs=1, training_per_1k=0.0)
    assert "train row 1: message 1 (assistant) has missing or empty content" in str(err.value)
    assert "train row 3" in str(err.value) and "nothing was uploaded" in str(err.value)


def test_examples_over_the_context_limit_are_rejected() -> None:
    long = {"messages": [{"role": "user", "content": "word " * 300}, {"role": "assistant", "content": "a"}]}
    with pytest.raises(FtevalError, match=r"train row 1: \d+ tokens > the model's limit of 100"):
        check_records([GOOD, long], split="train", context=100, epochs=1, training_per_1k=0.0)


def test_billed_tokens_and_cost_follow_the_cookbook_count() -> None:
    # 3 (reply) + 3 messages x (3 framing + 1 role token + 1 content token) = 18 tokens per example.
    report = check_records([GOOD] * 10, split="train", context=100, epochs=2, training_per_1k=0.008)
    assert report.tokens == [18] * 10
    assert report.billed_tokens == 360 and report.cost_usd == pytest.approx(0.00288)


def test_auto_epochs_like_the_service() -> None:
    assert default_epochs(1000) == 3
    assert default_epochs(10) == 10  # 100 examples seen at least
    assert default_epochs(20_000) == 1


def test_budget_drops_a_seeded_subset_until_it_fits() -> None:
    tokens = [100] * 7000
    keep = fit_budget(tokens, 2, 1_150_000, seed=0)
    assert len(keep) == 5750 and sum(tokens[i] for i in keep) * 2 <= 1_150_000
    assert keep == fit_budget(tokens, 2, 1_150_000, seed=0)
    assert keep != fit_budget(tokens, 2, 1_150_000, seed=1)
    assert keep == sorted(keep)
    assert fit_budget(tokens, 2, None, seed=0) == list(range(7000))
    with pytest.raises(FtevalError, match="too small"):
        fit_budget([100, 100], 1, 50, seed=0)


def test_prices_are_dated_and_overridable() -> None:
    base = rates("gpt-4o-mini-2024-07-18", fine_tuned=False)
    assert base.date == PRICES_DATE and base.training == 0.003 and base.input == 0.00015
    tuned = rates("ft:gpt-4o-mini-2024-07-18:org:x:abc", fine_tuned=True, output=0.5, date="2030-01-01")
    assert tuned.input == 0.0003 and tuned.output == 0.5 and tuned.date == "2030-01-01"
    assert rates("gpt-4o-mini", fine_tuned=False, training=1.0).date.endswith("(partly overridden)")
    assert context_limit("gpt-3.5-turbo-0125") == 16385


def test_token_counting_needs_no_network(tmp_path: Path) -> None:
    """With an empty tiktoken cache and every proxy pointing at a closed port, counting still works."""
    code = (
        "import json, sys\n"
        "from fteval_openai.tokens import count_messages, count_text\n"
        "print(json.dumps([count_text('hello world'), count_messages([{'role': 'user', 'content': 'hi'}])]))\n"
        "print(json.dumps(sorted(m for m in ('requests', 'urllib3') if m in sys.modules)))\n"
    )
    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "cache"),
        "DATA_GYM_CACHE_DIR": str(tmp_path / "cache"),
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "NO_PROXY": "",
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    counts, http_modules = (json.loads(line) for line in out.stdout.splitlines())
    assert counts == [2, 3 + 3 + 1 + 1]
    assert http_modules == []  # tiktoken imports requests only to download


def test_preference_pairs_share_the_checks_and_say_pairs() -> None:
    from fteval_openai.preference import check_preference_records

    def pair(user: str, rejected: str = "b") -> dict[str, object]:
        return {
            "input": {"messages": [{"role": "user", "content": user}]},
            "preferred_output": [{"role": "assistant", "content": "a"}],
            "non_preferred_output": [{"role": "assistant", "content": rejected}],
        }

    report = check_preference_records([pair("u")], split="train", context=100, epochs=2, training_per_1k=0.0)
    assert report.epochs == 2 and len(report.tokens) == 1 and report.tokens[0] > 0
    with pytest.raises(
        FtevalError,
        match=r"(?s)1 pair\(s\) too long in the train data.*train row 1: \d+ tokens > the model's limit of 100",
    ):
        check_preference_records(
            [pair("u"), pair("word " * 300)], split="train", context=100, epochs=1, training_per_1k=0.0
        )
    with pytest.raises(FtevalError, match=r"format error\(s\) in the valid preference data; nothing was uploaded"):
        check_preference_records([pair("u", rejected=" ")], split="valid", context=100, epochs=1, training_per_1k=0.0)
