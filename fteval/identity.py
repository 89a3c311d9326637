"""Identity in one place: canonical hashes, job/run/cache keys, file digests and secret redaction.

Everything that decides "is this the same thing as before?" (reuse a training job, resume a run,
answer from the response cache) goes through this module, so the rules are stated once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from fteval.plugin import GenerationSettings, PluginConfig, Prompt
from fteval.spec import Source, Spec

__all__ = [
    "REDACTED",
    "cache_key",
    "canonical_hash",
    "canonical_json",
    "file_digest",
    "is_secret_key",
    "job_key",
    "redact",
    "redact_text",
    "run_config",
    "secret_values",
]

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
_TOKEN_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b")
# Known secret values shorter than this are only redacted where they are a whole value, never
# inside other text (replacing "abc" everywhere would mangle unrelated strings).
_MIN_SECRET_IN_TEXT = 6


def canonical_json(data: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, non-JSON values as ``str``."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def canonical_hash(data: Any) -> str:
    """sha256 of ``data`` serialised as canonical JSON."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_identity(source: Source | None) -> Any:
    """A dataset split's identity: its selection options and the sha256 of its file's bytes."""
    if source is None:
        return None
    data = source.model_dump()
    if data.get("on_bad_row") == "error":  # the default; left out so older runs keep their identity
        del data["on_bad_row"]
    if source.path:
        data["path"] = f"sha256:{file_digest(source.path)}"
    return data


def job_key(spec: Spec, target: str) -> str:
    """Identity of a target's training: training data, prompts, the target's sections and the seed."""
    t = spec.targets[target]
    return canonical_hash({
        "train": source_identity(spec.dataset.train), "valid": source_identity(spec.dataset.valid),
        "prompt": spec.prompt.model_dump(), "target": redact(t.model_dump(exclude={"generation", "generator"})),
        "seed": spec.seed,
    })


def run_config(
    spec: Spec, target: str, metrics: dict[str, PluginConfig], model_identity: str, generator: str,
    settings: GenerationSettings,
) -> dict[str, Any]:
    """Everything that determines a run's results; its ``canonical_hash`` is the run's key."""
    t = spec.targets[target]
    return {
        "spec": spec.name, "eval": source_identity(spec.dataset.eval), "prompt": spec.prompt.model_dump(),
        "parser": spec.parser.model_dump(), "metrics": {n: c.model_dump() for n, c in metrics.items()},
        "target": target, "target_config": redact(t.model_dump(exclude={"generation"})), "generator": generator,
        "fingerprint": model_identity, "generation": settings.model_dump(exclude={"batch_size"}), "seed": spec.seed,
        "limits": spec.limits.model_dump(),
    }


def cache_key(model_identity: str, generator: str, prompt: Prompt, settings: GenerationSettings) -> str:
    """Response-cache key: the model's identity, the generator, the messages and decoding settings.

    ``batch_size`` is left out: it changes speed, not outputs.
    """
    return canonical_hash([model_identity, generator, prompt.messages(), settings.model_dump(exclude={"batch_size"})])


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
