"""docs/spec-reference.md is generated from the spec models and kept in sync."""

from __future__ import annotations

import pytest

from fteval.spec.docgen import REFERENCE, spec_reference
from fteval.spec.model import Source, Spec

pytestmark = pytest.mark.fast


def test_spec_reference_is_in_sync() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == spec_reference(), "run: python -m fteval.spec.docgen --write"


def test_spec_reference_lists_every_key_with_its_help() -> None:
    text = spec_reference()
    for model in (Spec, Source):
        for name, info in model.model_fields.items():
            key = info.alias or name
            assert f"| `{key}` |" in text
            assert (info.description or "").split("`")[0][:30] in text
