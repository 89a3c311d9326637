"""Shared test helpers: project paths and running the real CLI in a subprocess.

The recording TrainContext lives in the public ``fteval.testing``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from fteval.records import NewRun
from fteval.store import Store

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
EXTERNAL_PLUGIN = ROOT / "tests" / "fixtures" / "external_plugin"
SCRIPT_PLUGIN = ROOT / "tests" / "fixtures" / "script_plugin"
FTEVAL = [sys.executable, "-m", "fteval"]


def fteval_cli(
    *args: str,
    store: Path,
    extra_path: Path | None = None,
    timeout: float = 300,
    env_extra: dict[str, str] | None = None,
    **kw,
) -> subprocess.CompletedProcess:
    """Run the real ``fteval`` CLI in a subprocess (``env_extra``: variables added to its environment)."""
    env = {**os.environ, "COLUMNS": "250", **(env_extra or {})}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [*FTEVAL, "--store", str(store), *args], capture_output=True, text=True, env=env, timeout=timeout, **kw
    )


def delayed_spec(tmp_path: Path, rows: int, delay: float) -> Path:
    """A spec whose one target answers ViGGO rows through the external plugin, ``delay`` seconds each."""
    spec = tmp_path / "slow.yaml"
    spec.write_text(
        f"""fteval: 1
name: slow
dataset:
  train: {{path: {SPECS / "data/viggo/train.csv"}}}
  eval: {{path: {SPECS / "data/viggo/test.csv"}, limit: {rows}}}
prompt: {{user: "{{{{ ref }}}}", target: "{{{{ mr }}}}"}}
parser: text
metrics: [exact_match, char_exact]
generation: {{batch_size: 4}}
targets:
  slow: {{trainer: delayed_lookup, model: {{delay_s: {delay}}}}}
"""
    )
    return spec


def make_run(store: Store, key: str = "k", n_examples: int = 2) -> str:
    """A bare run of spec ``s``, target ``t`` in ``store``, for store-level tests."""
    run_id: str = store.create_run(
        NewRun(
            run_key=key,
            spec_name="s",
            spec_hash="h",
            spec={},
            target="t",
            trainer="lookup",
            generator="lookup",
            model_fingerprint="fp",
            generation={},
            config={},
            versions={},
            seed=0,
            n_examples=n_examples,
        )
    )
    return run_id


def stored_examples(db: Path) -> int:
    """How many examples a store file holds (0 while it is being created), read from another connection."""
    try:
        with sqlite3.connect(db, timeout=5) as con:
            count: int = con.execute("SELECT COUNT(*) FROM examples").fetchone()[0]
            return count
    except sqlite3.OperationalError:
        return 0
