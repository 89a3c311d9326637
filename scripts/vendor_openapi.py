"""Write the pinned subset of the official OpenAI OpenAPI description that the conformance test uses.

Usage: python scripts/vendor_openapi.py PATH/TO/openai-openapi/openapi.yaml COMMIT
Keeps the named component schemas and everything they reference, as JSON (offline tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

OUT = Path(__file__).resolve().parents[1] / "tests" / "plugins" / "openai" / "openapi"
ROOTS = (
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "ErrorResponse",
    "OpenAIFile",
    "ListFilesResponse",
    "DeleteFileResponse",
    "FineTuningJob",
    "ListPaginatedFineTuningJobsResponse",
    "ListFineTuningJobEventsResponse",
    "ListFineTuningJobCheckpointsResponse",
    "Model",
    "ListModelsResponse",
)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _plain(node: Any) -> Any:
    """ruamel nodes to plain JSON values, without the long docs (``x-oaiMeta``, ``description``)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items() if k not in ("x-oaiMeta", "description")}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def main(source: str, commit: str) -> None:
    spec = YAML(typ="safe").load(Path(source).read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    keep: dict[str, Any] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep[name] = _plain(schemas[name])
            todo.extend(_refs(keep[name]) - keep.keys())
    subset = {
        "x-provenance": {
            "repository": "https://github.com/openai/openai-openapi",
            "file": "openapi.yaml",
            "commit": commit,
            "info.version": spec["info"]["version"],
            "roots": list(ROOTS),
            "note": "component schemas named in roots and everything they reference; descriptions dropped",
        },
        "components": {"schemas": dict(sorted(keep.items()))},
    }
    (OUT / "openai-openapi-subset.json").write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    print(f"{len(keep)} schemas -> {OUT / 'openai-openapi-subset.json'}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
