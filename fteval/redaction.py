"""Secret redaction: credentials removed from text and data before they reach the store, a report or a log."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, SecretStr

__all__ = ["REDACTED", "is_secret_key", "redact", "redact_text", "secret_values"]

REDACTED = "<redacted>"

# Key names whose values are secrets, matched on the whole key split at "_"/"-" boundaries.
_SECRET_WORDS = (
    r"(api[_-]?key|apikey|secret|secret[_-]?key|password|passwd|pwd|token|access[_-]?token|"
    r"auth[_-]?token|access[_-]?key|private[_-]?key|credentials?|authorization|cookie)"
)
_SECRET_KEY = re.compile(rf"(^|[_-]){_SECRET_WORDS}$", re.IGNORECASE)
# Tokenizer settings that end in "_token" but hold vocabulary items, not credentials.
_NOT_SECRET_KEY = re.compile(r"^(pad|eos|bos|unk|sep|cls|mask|start|end|im_start|im_end)[_-]token$", re.IGNORECASE)
# Credentials inside URLs: scheme://user:password@host. The scheme starts at a boundary and every
# part is bounded, so a long run of letters costs linear time, not quadratic.
_URL_CREDENTIALS = re.compile(
    r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]{0,31}://)(?P<user>[^/\s:@]{0,256}):(?P<pw>[^/\s@]{1,1024})@",
    re.IGNORECASE,
)
# "key=value" / "key: value" inside text (query strings, DSNs, header lines); the key decides.
_KEY_VALUE = re.compile(
    rf"(?<![A-Za-z0-9_-])(?P<key>(?:[A-Za-z0-9]+[_-])*{_SECRET_WORDS})(?P<sep>\s*[=:]\s*)"
    r"(?P<value>(?:(?:Bearer|Basic|Token|Digest)\s+)?[^\s&;,'\"<>]+)",
    re.IGNORECASE,
)
# A bearer credential anywhere ("Bearer sk-..."), without its header name.
_BEARER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
# Well-known token shapes (OpenAI, Hugging Face, GitHub, AWS access key ids).
_TOKEN_SHAPES = re.compile(
    r"\b(sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b"
)
# Known secret values shorter than this are only redacted where they are a whole value, never
# inside other text (replacing "abc" everywhere would mangle unrelated strings).
_MIN_SECRET_IN_TEXT = 6


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``hf_token``, ``password``, ...).

    ``*_env`` keys name an environment variable (not a secret); tokenizer settings such as
    ``pad_token`` hold vocabulary items.
    """
    name = str(key)
    return bool(_SECRET_KEY.search(name)) and not _NOT_SECRET_KEY.match(name)


def redact_text(text: str, secrets: Collection[str] = ()) -> str:
    """``text`` with credentials replaced by ``<redacted>``.

    Replaces passwords in URLs, values after secret-named keys (``token=...``,
    ``Authorization: Bearer ...``), bearer credentials, well-known token shapes, and any of the
    known ``secrets`` (values of ``SecretStr`` config fields).
    """
    for secret in secrets:
        if len(secret) >= _MIN_SECRET_IN_TEXT and secret in text:
            text = text.replace(secret, REDACTED)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}" if is_secret_key(m["key"]) else m[0], text)
    text = _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", text)
    return _TOKEN_SHAPES.sub(REDACTED, text)


def redact(data: Any, secrets: Collection[str] = ()) -> Any:
    """A copy of ``data`` with secret values replaced, so they never reach the store or a report.

    Values under secret-looking keys are replaced whole (``headers: {Authorization: ...}``
    included); every other string goes through :func:`redact_text`. ``secrets`` are known
    secret values (see :func:`secret_values`), replaced wherever they occur.

    Args:
        data: JSON-like data (dicts, lists, tuples, scalars).
        secrets: known secret values to remove as well.

    Returns:
        The redacted copy (tuples become lists).
    """
    if isinstance(data, dict):
        return {
            k: REDACTED if is_secret_key(k) and v not in (None, "") else redact(v, secrets) for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact(v, secrets) for v in data]
    if isinstance(data, str):
        return REDACTED if data and data in secrets else redact_text(data, secrets)
    if isinstance(data, SecretStr):
        return REDACTED
    return data


def secret_values(*configs: Any) -> frozenset[str]:
    """The values of every ``SecretStr`` inside validated plugin configs (nested models included)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            if value.get_secret_value():
                found.add(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    for config in configs:
        walk(config)
    return frozenset(found)
