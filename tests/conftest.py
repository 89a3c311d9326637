"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from fteval_testutil import EXTERNAL_PLUGIN, SCRIPT_PLUGIN


@pytest.fixture(autouse=True, scope="session")
def _digest_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the file-digest cache (and everything else fteval caches) out of the user's home."""
    import os

    os.environ["FTEVAL_CACHE_DIR"] = str(tmp_path_factory.mktemp("fteval-cache"))


@pytest.fixture
def external_plugin_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the external test plugin (with its own dist-info) on sys.path for this test."""
    from fteval import registry

    monkeypatch.syspath_prepend(str(EXTERNAL_PLUGIN))
    registry.discover.cache_clear()
    yield EXTERNAL_PLUGIN
    registry.discover.cache_clear()


@pytest.fixture
def script_plugin_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the scripted test model (``trainer.script``, ``generator.script``) on sys.path for this test."""
    from fteval import registry

    monkeypatch.syspath_prepend(str(SCRIPT_PLUGIN))
    registry.discover.cache_clear()
    yield SCRIPT_PLUGIN
    registry.discover.cache_clear()
