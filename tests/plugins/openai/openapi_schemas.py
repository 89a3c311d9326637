"""The vendored OpenAI OpenAPI component schemas as JSON Schema validators (offline)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SUBSET = Path(__file__).parent / "openapi" / "openai-openapi-subset.json"
URI = "urn:openai-openapi-subset"


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` (still used in places) as JSON Schema's "or null"."""
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) is True:
            return {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    data: dict[str, Any] = _nullable(json.loads(SUBSET.read_text(encoding="utf-8")))
    return data


def validator(name: str) -> jsonschema.protocols.Validator:
    """A Draft 2020-12 validator of the component schema ``name``."""
    registry: Registry[Any] = Registry().with_resource(URI, Resource.opaque(_document()))
    return jsonschema.Draft202012Validator({"$ref": f"{URI}#/components/schemas/{name}"}, registry=registry)


def conforms(body: Any, name: str) -> None:
    """Assert ``body`` is a valid ``name`` object; the message lists every violation."""
    errors = sorted(validator(name).iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
