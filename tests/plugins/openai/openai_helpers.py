"""Helpers of the openai plugin tests: the test API key and a small spec that points at an endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from fteval_testutil import ROOT

KEY_ENV = "FTEVAL_TEST_OPENAI_KEY"
KEY = "sk-fteval-test-secret-7b1d4c9e2a6f40c88d1e"
VIGGO = ROOT / "specs" / "data" / "viggo"


def write_spec(
    path: Path,
    url: str,
    *,
    train_rows: int = 24,
    eval_rows: int = 10,
    train: dict | None = None,
    train_path: Path | None = None,
) -> Path:
    """A small ViGGO spec with a fine-tuned target ``ft`` and a zero-shot target ``zero`` on ``url``."""
    model = {"name": "gpt-4o-mini", "base_url": url, "api_key_env": KEY_ENV, "max_concurrency": 8, "backoff_s": 0.05}
    train_section = {"epochs": 1, "suffix": "e2e", "poll_interval_s": 0.2, "poll_max_s": 1.0, **(train or {})}
    spec = {
        "fteval": 1,
        "name": "viggo-openai",
        "seed": 0,
        "dataset": {
            "train": {"path": str(train_path or VIGGO / "train.csv"), "limit": train_rows},
            "eval": {"path": str(VIGGO / "test.csv"), "limit": eval_rows},
        },
        "prompt": {"user": "{{ ref }}", "target": "{{ mr }}"},
        "parser": "viggo",
        "metrics": ["exact_match", "parse_rate"],
        "generation": {"max_new_tokens": 24, "temperature": 0},
        "targets": {
            "ft": {"trainer": "openai", "model": model, "train": train_section},
            "zero": {"trainer": "openai", "evaluator_only": True, "model": model},
        },
    }
    path.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
    return path
