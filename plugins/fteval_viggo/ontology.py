"""The ViGGO ontology (function and slot names) shipped with this package."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["Ontology", "load_ontology"]

_FUNCTIONS_KEY = "da"


@dataclass(frozen=True)
class Ontology:
    """Known function (dialogue act) names and slot names."""

    functions: frozenset[str]
    slots: frozenset[str]


def load_ontology(path: str | Path | None = None) -> Ontology:
    """Load an ontology JSON: ``{"da": [functions], "<slot>": [values], ...}``.

    Args:
        path: A JSON file in the ViGGO ontology format; None loads the shipped ``ontology.json``.

    Returns:
        The function names (the ``da`` list) and the slot names (every other key).
    """
    if path is None:
        text = resources.files("fteval_viggo").joinpath("ontology.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    data = json.loads(text)
    return Ontology(
        functions=frozenset(data[_FUNCTIONS_KEY]),
        slots=frozenset(key for key in data if key != _FUNCTIONS_KEY),
    )
