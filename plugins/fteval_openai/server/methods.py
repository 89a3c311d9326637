"""The fine-tuning ``method`` of a job request: supervised (the default) or dpo, with its hyperparameters."""

from __future__ import annotations

from typing import Any

__all__ = ["METHODS", "job_method", "preference_examples_from_jsonl"]

METHODS = ("supervised", "dpo")


def job_method(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | tuple[None, str]:
    """The method type and its hyperparameters from a create-job body, or ``(None, reason)``.

    The API takes ``method: {type: dpo, dpo: {hyperparameters: {beta: ...}}}``; the older top-level
    ``hyperparameters`` still apply, the method's own win.
    """
    method = body.get("method") or {"type": "supervised"}
    kind = method.get("type") if isinstance(method, dict) else None
    if kind not in METHODS:
        return None, f"Invalid method type {kind!r}: this server trains {', '.join(METHODS)}"
    settings = method.get(kind) or {}
    hyper = settings.get("hyperparameters") if isinstance(settings, dict) else None
    if not isinstance(hyper or {}, dict):
        return None, f"method.{kind}.hyperparameters must be an object"
    beta = (hyper or {}).get("beta", "auto")
    if kind == "dpo" and beta != "auto" and not (isinstance(beta, int | float) and beta > 0):
        return None, f"method.dpo.hyperparameters.beta must be a positive number or 'auto', not {beta!r}"
    return kind, dict(hyper or {})


def preference_examples_from_jsonl(content: bytes) -> tuple[list[Any], list[tuple[int, str]]]:
    """DPO lines -> examples (preferred as target, non-preferred as rejected), plus format errors by row."""
    import json

    from fteval_openai.preference import preference_errors, preference_examples

    records: list[Any] = []
    for line in content.decode("utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                records.append(f"invalid JSON: {exc}")
    errors = preference_errors(records)
    return ([], errors) if errors else (preference_examples(records), [])
