"""Secrets in specs: environment-variable references (``token_env: HF_TOKEN``) and inline-secret warnings.

A spec names the environment variable that holds a secret; the plugin reads it at run time. A
secret written in the spec itself still works (it is redacted before anything is stored, see
``fteval.redaction.redact``) but ``validate`` and ``run`` warn, because the spec file keeps it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, SecretStr

from fteval.errors import PluginError
from fteval.redaction import is_secret_key, redact_text

__all__ = ["EnvVarName", "inline_secrets", "secret_from_env"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _not_a_secret(name: str) -> str:
    # A value the redactor would remove is a credential pasted where its variable's name belongs.
    if redact_text(name) != name:
        raise ValueError("this looks like the secret itself; give the name of the environment variable that holds it")
    return name


#: The name of an environment variable holding a secret (e.g. ``HF_TOKEN``); not a secret itself.
EnvVarName = Annotated[
    str,
    Field(pattern=_ENV_NAME.pattern, max_length=200, description="Name of an environment variable."),
    AfterValidator(_not_a_secret),
]


def secret_from_env(name: str | None, option: str) -> str | None:
    """The value of environment variable ``name`` (``None`` when no variable is named).

    Args:
        name: the variable's name from the spec, or ``None``.
        option: the spec option that named it, for the error message (e.g. ``model.token_env``).

    Returns:
        The secret, or ``None`` when ``name`` is ``None``.

    Raises:
        PluginError: the variable is not set or empty.
    """
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise PluginError(f"environment variable {name} (named by {option}) is not set; export it with the secret")
    return value


def _model_at(config: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if isinstance(config, BaseModel) and isinstance(part, str):
            config = getattr(config, part, None)
        else:
            return None
    return config


def _walk(data: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _walk(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _walk(value, (*path, i))


def _secret_fields(config: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(config, SecretStr) and config.get_secret_value():
        yield path
    elif isinstance(config, BaseModel):
        for name in type(config).model_fields:
            yield from _secret_fields(getattr(config, name), (*path, name))


def inline_secrets(data: Any, config: BaseModel | None = None) -> list[tuple[tuple[str | int, ...], str]]:
    """Secrets written into a plugin's section of a spec, as (key path in ``data``, warning).

    Found by key name (``api_key``, ``hf_token``, ``password``, ...), by content (URL passwords,
    ``Bearer`` values, token shapes), and by the plugin's ``SecretStr`` fields in ``config``.
    """
    found: dict[tuple[str | int, ...], str] = {}
    for path, value in _walk(data, ()):
        key = path[-1] if path else None
        if isinstance(value, str | int | float) and value != "" and key is not None and is_secret_key(key):
            found.setdefault(path, str(key))
        elif isinstance(value, str) and redact_text(value) != value:
            found.setdefault(path, "")
    if config is not None:
        for path in _secret_fields(config, ()):
            found.setdefault(path, str(path[-1]))
    warnings = []
    for path, key in found.items():
        env_key = f"{key}_env"
        parent = _model_at(config, path[:-1]) if config is not None else None
        if key and isinstance(parent, BaseModel) and env_key in type(parent).model_fields:
            advice = f"set {env_key}: <VARIABLE> instead and export the secret in that variable"
        else:
            advice = "name an environment variable instead where the plugin has a *_env option"
        what = "a secret" if key else "a credential (URL password, bearer value or token)"
        warnings.append(
            (path, f"{what} is written in the spec: it is kept out of the run store, but this file holds it; {advice}")
        )
    return warnings
