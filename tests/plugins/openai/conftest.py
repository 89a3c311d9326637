"""Fixtures for the openai plugin tests (skipped without the openai extra)."""

from __future__ import annotations

import pytest

pytest.importorskip("openai")
pytest.importorskip("tiktoken")

from openai_helpers import KEY, KEY_ENV


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The test API key, in the environment the spec names (subprocesses inherit it)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY
