"""The test helpers themselves: the in-process CLI leaves no trace in the test process, waits wait."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from fteval_testutil import EXTERNAL_PLUGIN, SPECS, fteval_run, wait_until

from fteval import registry

pytestmark = pytest.mark.fast


def test_fteval_run_restores_the_environment_path_directory_and_argv(tmp_path: Path) -> None:
    before = (dict(os.environ), list(sys.path), os.getcwd(), list(sys.argv))
    listed = fteval_run(
        "--allow-credential",  # the command sets FTEVAL_ALLOW_CREDENTIALS in os.environ
        "$K@127.0.0.1",
        "plugins",
        store=tmp_path / "r.db",
        extra_path=EXTERNAL_PLUGIN,
        env_extra={"FTEVAL_TESTUTIL_PROBE": "1"},
        cwd=tmp_path,
    )
    assert listed.returncode == 0, listed.stderr
    assert "first_word" in listed.stdout, "the extra path's plugins were discovered during the call"
    assert (dict(os.environ), list(sys.path), os.getcwd(), list(sys.argv)) == before
    assert ("parser", "first_word") not in registry.discover(), "and are forgotten after it"


def test_fteval_run_gives_exit_codes_and_the_streams_apart(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((SPECS / "yesno.yaml").read_text().replace("parser:", "parsr:"))
    out = fteval_run("validate", str(bad), store=tmp_path / "r.db")
    assert out.returncode == 2 and out.stdout == "" and f"{bad}:20:1: parsr: unknown key" in out.stderr
    ok = fteval_run("validate", str(SPECS / "yesno.yaml"), store=tmp_path / "r.db")
    assert ok.returncode == 0 and ok.stderr == "" and "yesno" in ok.stdout


def test_an_exception_escaping_the_command_is_exit_1_with_its_traceback(tmp_path: Path) -> None:
    # a store path that is a folder inside a file cannot even be opened; --debug lets the error escape
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = fteval_run("--debug", "runs", store=blocker / "runs.db")
    assert out.returncode == 1 and "Traceback (most recent call last)" in out.stderr


def test_wait_until_returns_the_truthy_value_or_fails_naming_what_it_waited_for() -> None:
    start = time.monotonic()
    assert wait_until(lambda: time.monotonic() - start > 0.1 and "done", 5) == "done"
    with pytest.raises(AssertionError, match="timed out after 0.1 s waiting for nothing"):
        wait_until(lambda: None, 0.1, what="nothing")
