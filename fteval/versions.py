"""Versions of fteval and the libraries that shape results, read without importing them."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

LIBRARIES = ("fteval", "pydantic", "jinja2", "sqlglot", "numpy", "torch", "transformers", "peft", "tokenizers", "openai")


def library_versions() -> dict[str, str]:
    """Python and library versions (``None`` for libraries not installed)."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out
