"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from fteval_testutil import EXTERNAL_PLUGIN, SCRIPT_PLUGIN


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m fast`` (``make test-fast``), do not import test modules that mark no test ``fast``.

    Importing every module (the openai, hf and reliability suites) would cost more than the fast tests do.
    """
    if config.getoption("markexpr") != "fast" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return "pytest.mark.fast" not in collection_path.read_text(encoding="utf-8")


@pytest.fixture(autouse=True, scope="session")
def _digest_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the file-digest cache (and everything else fteval caches) out of the user's home."""
    import os

    os.environ["FTEVAL_CACHE_DIR"] = str(tmp_path_factory.mktemp("fteval-cache"))


@pytest.fixture(autouse=True)
def _fast_tests_stay_in_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked ``fast`` that starts the fteval CLI in a subprocess fails: use ``fteval_run``."""
    if request.node.get_closest_marker("fast") is None:
        return
    import subprocess

    popen_init = subprocess.Popen.__init__

    def refuse_fteval(self: subprocess.Popen, args: object, *rest: object, **kw: object) -> None:
        argv = [str(a) for a in args] if isinstance(args, list | tuple) else [str(args)]
        if any(a == "fteval" or a.endswith("/fteval") for a in argv):
            raise AssertionError(f"a fast test starts the CLI in a subprocess ({argv}); call fteval_run instead")
        popen_init(self, args, *rest, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse_fteval)


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
