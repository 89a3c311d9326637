"""The command line: help everywhere, validate without heavy imports, exit codes, listing plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fteval_testutil import EXTERNAL_PLUGIN, ROOT, SPECS, fteval_cli, fteval_run

HEAVY = (
    "torch",
    "transformers",
    "peft",
    "openai",
    "tiktoken",
    "fastapi",
    "uvicorn",
    "datasets",
    "matplotlib",
    "tokenizers",
    "accelerate",
)
COMMANDS = (
    "validate",
    "plugins",
    "schema",
    "train",
    "eval",
    "run",
    "runs",
    "show",
    "export",
    "export-model",
    "compare",
    "plan",
    "init",
    "tag",
    "serve",
    "cancel",
    "report",
)


def _imports_after(argv: list[str]) -> tuple[int, list[str]]:
    code = (
        "import sys, json\n"
        "from fteval.cli import main\n"
        f"try:\n    main({argv!r}, standalone_mode=False)\n    rc = 0\n"
        "except SystemExit as e:\n    rc = e.code\n"
        f"print(json.dumps([rc, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    rc, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    return rc, heavy


def test_validate_every_shipped_spec_imports_nothing_heavy() -> None:
    specs = sorted(str(p) for p in SPECS.glob("*.yaml"))
    rc, heavy = _imports_after(["validate", *specs])
    assert rc == 0 and heavy == []


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_imports_nothing_heavy(command: str) -> None:
    rc, heavy = _imports_after([command, "--help"])
    assert rc == 0 and heavy == []


def test_validate_bad_spec_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((SPECS / "yesno.yaml").read_text().replace("parser:", "parsr:"))
    out = fteval_cli("validate", str(bad), store=tmp_path / "r.db")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{bad}:20:1: parsr: unknown key 'parsr' (did you mean 'parser'?); allowed: " in out.stderr


def test_runtime_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    out = fteval_cli("show", "no-such-run", store=tmp_path / "r.db")  # a usage error, as in compare and tag
    assert out.returncode == 2 and "no run 'no-such-run'" in out.stderr and "Traceback" not in out.stderr
    out = fteval_cli("run", str(SPECS / "yesno.yaml"), "--target", "nope", store=tmp_path / "r.db")
    assert out.returncode == 1 and "unknown target(s) ['nope']" in out.stderr


@pytest.mark.fast
def test_eval_before_train_says_what_to_do(tmp_path: Path) -> None:
    out = fteval_run("eval", str(SPECS / "yesno.yaml"), store=tmp_path / "r.db")
    assert out.returncode == 1 and "run `fteval train` first" in out.stderr


@pytest.mark.fast
def test_train_eval_runs_show_round_trip(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    assert fteval_run("train", str(SPECS / "yesno.yaml"), store=store).returncode == 0
    evaluated = fteval_run("eval", str(SPECS / "yesno.yaml"), store=store)
    assert evaluated.returncode == 0 and "accuracy" in evaluated.stdout and "(baseline)" in evaluated.stdout
    listed = fteval_run("runs", store=store)
    assert "yesno" in listed.stdout and "complete" in listed.stdout
    shown = fteval_run("show", "latest", "-n", "2", store=store)
    assert shown.returncode == 0 and "gold:" in shown.stdout


@pytest.mark.fast
def test_export_writes_openai_chat_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    done = fteval_run("export", str(SPECS / "yesno.yaml"), "--split", "train", "-o", str(out), store=tmp_path / "r.db")
    assert done.returncode == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 30
    roles = [m["role"] for m in lines[0]["messages"]]
    assert roles == ["system", "user", "assistant"] and lines[0]["messages"][2]["content"] in {"yes", "no"}


@pytest.mark.fast
def test_external_plugin_is_listed_and_usable(tmp_path: Path) -> None:
    listed = fteval_run("plugins", store=tmp_path / "r.db", extra_path=EXTERNAL_PLUGIN)
    assert "first_word" in listed.stdout and "fteval-delay-plugin" in listed.stdout
    ran = fteval_run("run", str(EXTERNAL_PLUGIN / "delayed.yaml"), store=tmp_path / "r.db", extra_path=EXTERNAL_PLUGIN)
    assert ran.returncode == 0, ran.stderr
    assert "exact_match" in ran.stdout
    # without the package on the path the same spec names the missing plugins
    missing = fteval_run("validate", str(EXTERNAL_PLUGIN / "delayed.yaml"), store=tmp_path / "r.db")
    assert missing.returncode == 2 and "unknown parser 'first_word'" in missing.stderr


def test_schema_is_json_schema(tmp_path: Path) -> None:
    rc, heavy = _imports_after(["schema"])
    assert rc == 0 and heavy == []
    out = fteval_run("schema", store=tmp_path / "r.db")
    schema = json.loads(out.stdout)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert {"fteval", "name", "dataset", "prompt", "parser", "targets"} <= set(schema["properties"])
    assert {"fteval", "name", "dataset", "prompt", "parser"} <= set(schema["else"]["required"]), (
        "a file with extends needs none"
    )
    target = schema["$defs"]["Target"]
    assert target["required"] == ["trainer"] and target["properties"]["trainer"]["description"]


@pytest.mark.fast
def test_missing_optional_dependency_names_the_install_command(tmp_path: Path) -> None:
    """A plugin needing an uninstalled module fails with the pip command of its package's extra."""
    spec = tmp_path / "sdk.yaml"
    text = (EXTERNAL_PLUGIN / "delayed.yaml").read_text().replace("../../../specs", str(SPECS))
    spec.write_text(text.replace("trainer: delayed_lookup", "trainer: delayed_lookup\n    generator: needs_sdk"))
    ran = fteval_run("run", str(spec), store=tmp_path / "r.db", extra_path=EXTERNAL_PLUGIN)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert "generator 'needs_sdk' needs the Python module 'fteval_remote_sdk_not_installed'" in ran.stderr
    assert "pip install 'fteval-delay-plugin[remote]'" in ran.stderr


@pytest.mark.fast
def test_export_model_of_a_trainer_that_cannot_export_says_so_in_one_line(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    assert fteval_run("run", str(SPECS / "yesno.yaml"), store=store).returncode == 0
    out = fteval_run("export-model", "latest", str(tmp_path / "rel"), store=store)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().endswith("cannot export models (it has no export_model)")
    assert not (tmp_path / "rel").exists() and not (tmp_path / "rel.partial").exists()


@pytest.mark.fast
def test_export_model_never_replaces_a_folder_holding_the_store_or_the_current_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    store = project / ".fteval" / "runs.db"
    assert fteval_run("run", str(SPECS / "yesno.yaml"), store=store).returncode == 0
    for folder in (".", str(project), str(project / ".fteval"), str(tmp_path)):
        out = fteval_run("export-model", "latest", folder, "--force", store=store, cwd=project)
        assert out.returncode == 2 and "Traceback" not in out.stderr, (folder, out.stderr)
        assert "holds the run store or the current directory" in out.stderr
    assert store.is_file() and fteval_run("show", "latest", store=store).returncode == 0


@pytest.mark.fast
def test_export_model_names_runs_as_compare_does(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    out = fteval_run("export-model", "nosuch", str(tmp_path / "rel"), store=store)
    assert out.returncode == 2 and "no run 'nosuch'" in out.stderr and "not a run id" in out.stderr
    assert fteval_run("run", str(SPECS / "yesno.yaml"), store=store).returncode == 0
    out = fteval_run("export-model", "latest~0", str(tmp_path / "rel"), store=store)
    assert out.returncode == 1 and out.stderr.strip().endswith("cannot export models (it has no export_model)")
