"""Plugin discovery helpers: install hints from the distribution's extras, provenance of what ran."""

from __future__ import annotations

import pytest
from fteval_generic.lookup import LookupTrainer

from fteval import registry

pytestmark = pytest.mark.fast


def test_hint_names_the_extra_that_provides_a_module() -> None:
    assert registry.hint_for("trainer", "hf", "torch") == "pip install 'fteval[hf]'"
    assert registry.hint_for("trainer", "hf", "transformers.models") == "pip install 'fteval[hf]'"
    assert registry.hint_for("trainer", "hf", "no_such_module_xyz") == "pip install no_such_module_xyz"


def test_provenance_records_package_version_and_declared_libraries() -> None:
    from fteval_hf.trainer import HFTrainer

    info = registry.provenance("trainer", "hf", HFTrainer)
    assert info["package"] == "fteval" and info["entry_point"] == "fteval_hf.trainer:HFTrainer"
    assert set(info["libraries"]) == {"torch", "transformers", "peft", "tokenizers"}
    assert registry.provenance("trainer", "lookup", LookupTrainer)["libraries"] == {}
