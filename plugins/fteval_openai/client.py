"""Building OpenAI clients for a target, and keeping the API key out of every message.

The key is read from the environment (``model.api_key_env``) or a key file at the moment a client
is made and sent only where the user sent it (see :func:`credential`); it is never put on a config,
handle, record or exception. Errors that leave this plugin go through :func:`scrub`, which removes
the key itself and anything shaped like a credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from fteval.errors import FtevalError
from fteval.plugin import Credential
from fteval.redaction import REDACTED, redact_text
from fteval.spec.credential_routes import NO_KEY, api_credential, credential_value, url_host
from fteval_openai.config import ModelSettings

__all__ = [
    "api_errors",
    "api_key",
    "async_client",
    "credential",
    "endpoint_host",
    "scrub",
    "server_name",
    "sync_client",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


def credential(model: ModelSettings) -> Credential:
    """Which key this target sends to which host (``fteval.spec.credential_routes.api_credential``).

    The environment's ``OPENAI_API_KEY`` goes to api.openai.com only; another host (loopback
    included) gets the key the spec names in ``api_key_env`` or ``api_key_file``, or none.
    """
    return api_credential(
        model.base_url, model.api_key_env, model.api_key_file, default_url=DEFAULT_BASE_URL, default_env=DEFAULT_KEY_ENV
    )


def api_key(model: ModelSettings) -> str:
    """The key this target sends (``NO_KEY``, a placeholder, when it sends none).

    Raises:
        FtevalError: the named variable is unset or the key file unreadable (never quoting a value).
    """
    return credential_value(credential(model))


def endpoint_host(model: ModelSettings) -> str:
    """host[:port] of the endpoint (part of a zero-shot model's identity); never a password in the URL."""
    return url_host(model.base_url or DEFAULT_BASE_URL)


def server_name(model: ModelSettings) -> str:
    """The endpoint as ``scheme://host:port/path``, without any user or password the URL carries."""
    url = urlparse(model.base_url or DEFAULT_BASE_URL)
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.hostname}{port}{url.path}"


def scrub(text: str, model: ModelSettings) -> str:
    """``text`` without the API key (verbatim, or any 8+ character piece of it) or credential shapes."""
    try:
        key = api_key(model)
    except FtevalError:
        key = ""
    if key and key != NO_KEY:
        text = text.replace(key, REDACTED)
        # Services echo a masked key (sk-abc...wxyz); drop any long run of it as well.
        for size in (16, 8):
            for start in range(0, max(len(key) - size + 1, 0), size):
                piece = key[start : start + size]
                if len(piece) == size:
                    text = text.replace(piece, REDACTED)
    return redact_text(text)


def sync_client(model: ModelSettings, max_retries: int = 5) -> Any:
    """An ``openai.OpenAI`` client for the job lifecycle (the client retries 429/5xx itself)."""
    from openai import OpenAI

    from fteval_openai.bounded import sync_http_client

    return OpenAI(
        api_key=api_key(model),
        base_url=model.base_url,
        timeout=model.request_timeout_s,
        max_retries=max_retries,
        http_client=sync_http_client(model.request_timeout_s),
    )


def async_client(model: ModelSettings) -> Any:
    """An ``openai.AsyncOpenAI`` client with its own retries off: the generator's policy decides."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(api_key=api_key(model), base_url=model.base_url, timeout=model.request_timeout_s, max_retries=0)


@contextmanager
def api_errors(model: ModelSettings, doing: str) -> Iterator[None]:
    """Turn an ``openai`` exception into a ``FtevalError`` with the key scrubbed and no chained cause."""
    import openai

    try:
        yield
    except openai.OpenAIError as exc:
        status = getattr(exc, "status_code", None)
        detail = f"HTTP {status}: " if status else ""
        # `from None`: the original exception holds the request, headers included.
        raise FtevalError(
            scrub(f"OpenAI API error while {doing}: {detail}{type(exc).__name__}: {exc}", model)
        ) from None
