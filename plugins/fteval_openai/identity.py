"""What identifies an API or served model: what the endpoint reports, where it is, and how it answers.

A model name at a URL can start answering differently: a hosted alias moves to a new snapshot, a
vLLM/TGI/llama.cpp/``transformers serve`` process is restarted on new weights under the same name.
The identity is built from, in order of trust:

- the full base URL, path included (gateways route by path), and ``model.revision`` when the spec pins one;
- the ``/v1/models`` entry: ``root`` (what a server loaded) and ``created`` when it is stable (a
  snapshot date; vLLM reports the time of the request, which is ignored);
- the responses' ``system_fingerprint`` and ``model``;
- where none of these tells releases apart (no stable ``created``, no ``system_fingerprint``, no
  pinned revision): the answers to a few fixed prompts asked greedily, hashed, so cached answers are
  reused only while the model still answers those prompts as it did.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from fteval_openai.client import DEFAULT_BASE_URL
from fteval_openai.config import ModelSettings

__all__ = [
    "PROBES",
    "Reported",
    "base_fingerprint",
    "endpoint_url",
    "finetuned_fingerprint",
    "reported",
    "served_fingerprint",
    "stable_identity",
]

# Fixed prompts asked greedily when nothing the endpoint reports tells two releases apart.
PROBES = (
    "Reply with one word: ping",
    "Continue the sequence: 2, 4, 6,",
    "Write a four-word sentence about the sea.",
)
_PROBE_TOKENS = 16
# A `created` this close to now is the time of the request (vLLM), not a snapshot.
_RECENT_S = 120


def finetuned_fingerprint(fine_tuned_model: str) -> str:
    """Response-cache identity of a fine-tuned model: ``openai:<fine_tuned_model>``."""
    return f"openai:{fine_tuned_model}"


def endpoint_url(model: ModelSettings) -> str:
    """The base URL with its path (gateways route by path), without credentials, query or trailing slash."""
    url = urlparse(model.base_url or DEFAULT_BASE_URL)
    host = url.hostname or ""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{host}{port}{url.path.rstrip('/')}"


def base_fingerprint(model: ModelSettings) -> str:
    """The name and where it is served: ``openai:<model>@<base URL>`` (the start of every identity here)."""
    return f"openai:{model.name}@{endpoint_url(model)}"


@dataclass(frozen=True)
class Reported:
    """What an endpoint says about a model, and how it answers the probes."""

    root: str | None
    created: int | None
    system_fingerprints: tuple[str, ...]
    served_as: tuple[str, ...]
    answers: tuple[str, ...]

    @property
    def tells_releases_apart(self) -> bool:
        """Whether a stable snapshot date or a system fingerprint identifies the release."""
        return self.created is not None or bool(self.system_fingerprints)


def _entry(client: Any, name: str) -> Any:
    """The ``/v1/models/{name}`` entry, or the matching one of ``/v1/models``; None when the server has neither."""
    import openai

    try:
        return client.models.retrieve(name)
    except (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError):
        pass
    try:
        return next((m for m in client.models.list() if getattr(m, "id", None) == name), None)
    except (openai.NotFoundError, openai.BadRequestError):
        return None


def _ask(client: Any, model: ModelSettings, prompt: str) -> Any:
    try:
        return client.chat.completions.create(
            model=model.name,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=_PROBE_TOKENS,
            temperature=0,
            seed=0,
        )
    except ValueError as exc:  # a 200 whose body is not JSON (the client's own errors are not ValueErrors)
        raise _bad_probe(model, exc) from None


def _bad_probe(model: ModelSettings, exc: Exception) -> Exception:
    from fteval.errors import FtevalError

    return FtevalError(
        f"{endpoint_url(model)} (model {model.name}): the answer to an identity probe is not a usable chat"
        f" completion ({type(exc).__name__}: {str(exc)[:200]}); nothing was stored (pin model.revision to skip probes)"
    )


def reported(client: Any, model: ModelSettings, *, answers: bool = True) -> Reported:
    """Ask the endpoint about ``model``; with ``answers``, send the probes (greedy, seed 0, 16 tokens each).

    The first probe gives the responses' ``system_fingerprint`` and ``model``; the others are sent only
    when nothing reported tells releases apart. A pinned ``revision`` names the release: no probe is sent.

    Raises:
        FtevalError: a probe's answer is not a usable chat completion (one line naming server and model).
    """
    entry = _entry(client, model.name)
    root = getattr(entry, "root", None) if entry is not None else None
    created = getattr(entry, "created", None) if entry is not None else None
    stable = isinstance(created, int) and created > 0 and abs(time.time() - created) > _RECENT_S
    texts: list[str] = []
    fingerprints: set[str] = set()
    served: set[str] = set()
    for prompt in PROBES if answers and not model.revision else ():
        response = _ask(client, model, prompt)
        try:
            texts.append(response.choices[0].message.content or "")
        except (AttributeError, IndexError, TypeError) as exc:
            raise _bad_probe(model, exc) from None
        if getattr(response, "system_fingerprint", None):
            fingerprints.add(str(response.system_fingerprint))
        if getattr(response, "model", None):
            served.add(str(response.model))
        if stable or fingerprints or model.revision:
            break  # the release is identified: no behavioural check needed
    return Reported(
        root=str(root) if root else None,
        created=created if stable else None,
        system_fingerprints=tuple(sorted(fingerprints)),
        served_as=tuple(sorted(served)),
        answers=tuple(texts),
    )


def stable_identity(model: ModelSettings, seen: Reported) -> str:
    """Name, base URL, pinned revision, and the ``/v1/models`` root and snapshot: what training is keyed on."""
    parts = [base_fingerprint(model)]
    if model.revision:
        parts.append(f"revision={model.revision}")
    if seen.root and seen.root != model.name:
        parts.append(f"root={seen.root}")
    if seen.created is not None:
        parts.append(f"created={seen.created}")
    return ";".join(parts)


def served_fingerprint(model: ModelSettings, seen: Reported) -> str:
    """The stable identity plus how the model answers now: system fingerprint, served name, or the probes' hash."""
    parts = [stable_identity(model, seen)]
    if seen.system_fingerprints:
        parts.append("system_fingerprint=" + ",".join(seen.system_fingerprints))
    if seen.served_as and seen.served_as != (model.name,):
        parts.append("model=" + ",".join(seen.served_as))
    if not seen.tells_releases_apart and not model.revision:
        digest = hashlib.sha256(json.dumps(seen.answers).encode("utf-8")).hexdigest()[:16]
        parts.append(f"behaviour={digest}")
    return ";".join(parts)
