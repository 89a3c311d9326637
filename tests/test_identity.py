"""Model identity helpers: directory content hashes with a stat-keyed digest cache."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from fteval_testutil import SPECS

from fteval.identity import api_model_identity, digest_cache_path, directory_digest, job_key
from fteval.spec.loader import load_spec

pytestmark = pytest.mark.fast


def _model_dir(path: Path, weights: bytes) -> Path:
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(weights)
    (path / "config.json").write_text('{"hidden": 4}')
    (path / "README.md").write_text("notes")
    return path


def test_replaced_file_of_equal_size_and_mtime_changes_the_digest(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "release", b"A" * 1000)
    before = directory_digest(model)
    st = (model / "model.safetensors").stat()
    # a copy tool that keeps the size and sets the old mtime back: only ctime/inode tell
    shutil.copyfile(_model_dir(tmp_path / "new", b"B" * 1000) / "model.safetensors", model / "model.safetensors")
    os.utime(model / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (model / "model.safetensors").stat().st_size == st.st_size
    assert directory_digest(model) != before


def test_digest_covers_names_and_chosen_patterns_only(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "m", b"w")
    weights_only = directory_digest(model, ["*.safetensors", "*.json"])
    everything = directory_digest(model)
    (model / "README.md").write_text("other notes")
    (model / ".cache").mkdir()
    (model / ".cache" / "x.json").write_text("{}")  # hidden folders (download metadata) never count
    assert directory_digest(model, ["*.safetensors", "*.json"]) == weights_only
    assert directory_digest(model) != everything
    (model / "config.json").rename(model / "config2.json")  # same bytes, another name
    assert directory_digest(model, ["*.safetensors", "*.json"]) != weights_only


def test_digests_come_from_the_cache_until_the_file_changes(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "m", b"w" * 10)
    real = directory_digest(model)
    cache_file = digest_cache_path()
    cache = json.loads(cache_file.read_text())
    entry = cache[str((model / "model.safetensors").resolve())]
    cache[str((model / "model.safetensors").resolve())] = [entry[0], "0" * 64]  # a planted digest
    cache_file.write_text(json.dumps(cache))
    assert directory_digest(model) != real, "an unchanged file must be answered from the cache"
    (model / "model.safetensors").write_bytes(b"w" * 10)  # rewritten: stat changes, re-hashed
    assert directory_digest(model) == real


def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "m", b"w")
    real = directory_digest(model)
    digest_cache_path().write_text("{not json")
    assert directory_digest(model) == real


def test_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        directory_digest(tmp_path / "absent")


def test_job_key_changes_with_model_identity_and_keeps_old_keys_without_one() -> None:
    loaded = load_spec(SPECS / "yesno.yaml")
    plain = job_key(loaded.spec, "lookup")
    assert job_key(loaded.spec, "lookup", None) == plain
    assert job_key(loaded.spec, "lookup", "dir-sha256:a") not in (plain, job_key(loaded.spec, "lookup", "dir-sha256:b"))


def test_api_identity_hook() -> None:
    assert api_model_identity("gpt-x") == "api:gpt-x"
    assert api_model_identity("gpt-x", "gpt-x-2026-01-01") == "api:gpt-x@gpt-x-2026-01-01"
