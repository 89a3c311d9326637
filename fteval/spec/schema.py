"""The JSON Schema of a spec file, with each installed plugin's own sections (for editors and tests).

Editors check a file on its own, so a file with ``extends`` needs none of the required keys (its
parents may give them). A target's ``model``/``train``/``cost`` follow its trainer's config, and
``parser`` and ``metrics`` entries their plugin's options, through ``if``/``then`` on the name.
"""

from __future__ import annotations

from typing import Any

from fteval import registry
from fteval.errors import PluginError
from fteval.spec.model import Spec

__all__ = ["spec_schema"]


def _plugin_schema(kind: str, name: str, defs: dict[str, Any]) -> dict[str, Any] | None:
    """The config schema of one plugin, its ``$defs`` moved into ``defs`` under a prefix; None if it won't load."""
    try:
        cls = registry.load(kind, name)
    except PluginError:
        return None
    prefix = f"{kind}.{name}."
    schema = cls.Config.model_json_schema(ref_template=f"#/$defs/{prefix}{{model}}")
    for key, sub in schema.pop("$defs", {}).items():
        defs[prefix + key] = sub
    schema.pop("title", None)
    return schema


def _named_plugin(kind: str, defs: dict[str, Any]) -> dict[str, Any]:
    """A plugin reference: a name, or ``{name: ..., <options>}`` checked against that plugin's options."""
    names = registry.names(kind)
    branches = []
    for name in names:
        config = _plugin_schema(kind, name, defs)
        if config is None:
            continue
        then = dict(config)
        then["properties"] = {"name": {"const": name}, **config.get("properties", {})}
        branches.append({"if": {"properties": {"name": {"const": name}}, "required": ["name"]}, "then": then})
    mapping = {
        "type": "object",
        "properties": {"name": {"enum": names, "description": f"Registered {kind} name."}},
        "required": ["name"],
        "allOf": branches,
    }
    return {"anyOf": [{"enum": names, "description": f"Registered {kind} name."}, mapping]}


def _trainer_sections(defs: dict[str, Any]) -> list[dict[str, Any]]:
    """``if trainer == X then model/train/cost follow X's config``, one per installed trainer."""
    out = []
    for name in registry.names("trainer"):
        config = _plugin_schema("trainer", name, defs)
        if config is None:
            continue
        sections = {k: v for k, v in config.get("properties", {}).items() if k in ("model", "train", "cost")}
        out.append({"if": {"properties": {"trainer": {"const": name}}}, "then": {"properties": sections}})
    return out


def spec_schema() -> dict[str, Any]:
    """The spec format's JSON Schema, including every installed plugin's options."""
    schema = Spec.model_json_schema()
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    defs["Target"]["allOf"] = _trainer_sections(defs)
    defs["Target"]["properties"]["trainer"]["enum"] = registry.names("trainer")
    schema["properties"]["parser"] = {"description": "Output parser plugin.", **_named_plugin("parser", defs)}
    schema["properties"]["metrics"] = {
        "description": "Metric plugins; default: the parser's own set.",
        "anyOf": [{"type": "array", "items": _named_plugin("metric", defs)}, {"type": "null"}],
    }
    schema["properties"]["extends"] = {
        "description": "Base spec(s) merged under this one (child wins): paths relative to this file, or pkg:PACKAGE/FILE.",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    }
    required = schema.pop("required", [])
    schema["if"] = {"required": ["extends"]}
    schema["else"] = {"required": required}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
