"""The store's schema: migrations in their own module, stores of older fteval versions, typed writes, the doc."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path

from fteval.plugin import Score
from fteval.storage.migrations import MIGRATIONS, SCHEMA_VERSION
from fteval.storage.records import NewRun
from fteval.storage.store import Store
from fteval.storage.storedoc import STORE_DOC, schema_section, updated_doc

STORES = Path(__file__).parent / "data" / "stores"  # written by fteval at b045859: see PROVENANCE.md there


def _schema(path: Path) -> list[tuple[str, str, str, str | None]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copy(STORES / name, tmp_path / name))


def test_migrations_are_named_functions_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1)) and SCHEMA_VERSION == 11
    assert len({m.name for m in MIGRATIONS}) == len(MIGRATIONS) and all(m.summary for m in MIGRATIONS)
    assert (MIGRATIONS[0].name, MIGRATIONS[8].name, MIGRATIONS[-1].name) == ("initial_schema", "ratings", "exports")


def test_a_store_written_before_the_migrations_module_opens_unchanged(tmp_path: Path) -> None:
    old = _copy("v11.sqlite", tmp_path)
    before = _schema(old)
    store = Store(old)
    assert store.writable
    run = store.get_run("best")
    assert (run.label, run.skipped_rows, run.model_identity, run.prices) == (
        "v1",
        1,
        "id1",
        {"input_per_1k": 0.001, "output_per_1k": 0.002},
    )
    first, second = store.examples(run.id)
    assert first.scores == {"exact_match": Score(0.0, "wrong"), "f1": Score(0.5, "half", {"tp": 1.0, "fp": 1.0})}
    assert second.is_right("exact_match", higher_is_better=True) and second.queue_s == 0.01
    assert [(a.metric, a.value, a.method) for a in store.aggregates(run.id)] == [("exact_match", 0.5, "wilson")]
    assert [e.path for e in store.exports(run_id=run.id)] == ["/exp"]
    store.close()
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    assert _schema(old) == before == _schema(fresh), "a new store has exactly the schema the old code made"


def test_a_first_release_store_migrates_to_the_schema_of_a_new_one(tmp_path: Path) -> None:
    old = _copy("v1.sqlite", tmp_path)
    store = Store(old)
    versions = [r[0] for r in store.db.execute("SELECT version FROM migrations ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    run = store.get_run("s-t-00000001")
    assert (run.status, run.skipped_rows, run.label, run.tags) == ("complete", 0, None, ())
    assert store.examples(run.id)[0].scores == {"exact_match": Score(1.0)}
    store.close()
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    assert _schema(old) == _schema(fresh)


def test_create_run_writes_every_field_of_the_typed_record(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    new = NewRun(
        run_key="k",
        spec_name="s",
        spec_hash="h",
        spec={"name": "s", "metrics": ["exact_match"]},
        target="t",
        trainer="lookup",
        generator="lookup",
        model_fingerprint="fp",
        generation={"max_new_tokens": 4},
        config={"parser": {"name": "text"}},
        versions={"fteval": "1"},
        seed=7,
        n_examples=3,
        is_baseline=True,
        job_id="job",
        skipped_rows=2,
        model_location="/m",
        model_identity="ident",
    )
    run = store.get_run(store.create_run(new))
    written = {f.name: getattr(run, f.name) for f in dataclasses.fields(NewRun)}
    assert written == dataclasses.asdict(new)
    assert run.status == "running" and run.id.startswith("s-t-") and run.pid is not None


def test_the_store_doc_shows_the_schema_the_migrations_make() -> None:
    text = STORE_DOC.read_text(encoding="utf-8")
    assert updated_doc(text) == text, "run: python -m fteval.storage.storedoc --write"
    section = schema_section()
    for migration in MIGRATIONS:
        assert f"| {migration.version} | `{migration.name}` |" in section
    assert "| `queue_s` | REAL |  |  |  | 10 |" in section  # examples.queue_s, added by migration 10
