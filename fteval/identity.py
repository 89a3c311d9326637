"""Identity in one place: canonical hashes, job/run/cache keys, file digests and secret redaction.

Everything that decides "is this the same thing as before?" (reuse a training job, resume a run,
answer from the response cache) goes through this module, so the rules are stated once.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from fteval.plugin import GenerationSettings, PluginConfig, Prompt
from fteval.spec import Source, Spec

__all__ = [
    "REDACTED",
    "cache_key",
    "canonical_hash",
    "canonical_json",
    "file_digest",
    "job_key",
    "run_config",
    "is_secret_key",
    "redact",
    "redact_text",
]

REDACTED = "<redacted>"

# Key names whose values are secrets, matched on the whole key split at "_"/"-" boundaries.
_SECRET_KEY = re.compile(
    r"(^|[_-])(api[_-]?key|apikey|secret|secret[_-]?key|password|passwd|pwd|token|access[_-]?token|"
    r"auth[_-]?token|access[_-]?key|private[_-]?key|credentials?|authorization|cookie)$",
    re.IGNORECASE,
)
# Credentials inside URLs: scheme://user:password@host
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<pw>[^/\s@]+)@", re.IGNORECASE)
# Header lines or values such as "Authorization: Bearer sk-..." or "Bearer sk-..."
_AUTH_VALUE = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
# Well-known token shapes (OpenAI, Hugging Face, GitHub, AWS access key ids).
_TOKEN_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b")


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
    }


def cache_key(model_identity: str, generator: str, prompt: Prompt, settings: GenerationSettings) -> str:
    """Response-cache key: the model's identity, the generator, the messages and decoding settings.

    ``batch_size`` is left out: it changes speed, not outputs.
    """
    return canonical_hash([model_identity, generator, prompt.messages(), settings.model_dump(exclude={"batch_size"})])


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``hf_token``, ``password``, ...)."""
    return bool(_SECRET_KEY.search(str(key)))


def redact_text(text: str) -> str:
    """``text`` with URL credentials, auth header values and well-known token shapes replaced."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = _AUTH_VALUE.sub(lambda m: f"{m[1]} {REDACTED}", text)
    return _TOKEN_SHAPES.sub(REDACTED, text)


def redact(data: Any) -> Any:
    """A copy of ``data`` with secret values replaced, so they never reach the store or a report.

    Values under secret-looking keys are replaced whole; every other string is scanned for
    credentials in URLs, ``Authorization``-style values and well-known token shapes.
    """
    if isinstance(data, dict):
        return {k: REDACTED if is_secret_key(k) and v not in (None, "") else redact(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact(v) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data
