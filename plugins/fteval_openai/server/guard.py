"""What every request passes before a route: Host and Origin checks, the key, content types, size limits.

A pure ASGI middleware, so a body is counted as it arrives and refused (413) before it is all read.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fteval_openai.server.errors import ApiError, error_body
from fteval_openai.server.options import ServeOptions

__all__ = ["LOOPBACK", "Guard", "is_loopback"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
UPLOAD = "/v1/files"


def is_loopback(host: str) -> bool:
    """Whether a bind address or host name is this machine only (127.0.0.0/8, ::1, localhost)."""
    return host in LOOPBACK or host.startswith("127.")


def _hostname(value: str) -> str:
    """``127.0.0.1:8000`` / ``[::1]:8000`` / ``http://localhost:3000`` -> the bare host name."""
    netloc = urlsplit(value if "//" in value else f"//{value}").hostname
    return netloc or ""


class _TooLarge(ApiError):
    """A body over the limit, found while it is read: the app's error handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(*_too_large(limit))


class Guard:
    """Refuses, with the API's JSON error: a foreign ``Host`` or ``Origin`` on a loopback bind (403), a
    missing or wrong ``Bearer`` key (401), a POST that is not JSON (or multipart on uploads) (415), a body
    over the limit (413)."""

    def __init__(self, app: ASGIApp, options: ServeOptions) -> None:
        self.app, self.options = app, options
        self.loopback = is_loopback(options.host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        path = scope["path"]
        limit = self.options.max_upload_bytes if path == UPLOAD else self.options.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _answer(send, *_too_large(limit))
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await _answer(send, *_too_large(limit))

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str | None] | None:
        """(status, message, code) of a request refused before routing, or None."""
        if self.loopback:
            # DNS rebinding: a page on evil.example resolved to 127.0.0.1 still sends Host: evil.example.
            if not is_loopback(_hostname(headers.get("host", ""))):
                return 403, "Host header not allowed: this server answers only 127.0.0.1/localhost", "host_not_allowed"
            # A cross-site page may post forms (text/plain, multipart) to 127.0.0.1; browsers name the page.
            origin = headers.get("origin")
            if origin is not None and not is_loopback(_hostname(origin)):
                return 403, f"Cross-origin requests are not allowed (Origin: {origin})", "origin_not_allowed"
        key = self.options.api_key
        if key is not None:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
                # Echoes what it was given, like a careless service: clients must not repeat it anywhere.
                return 401, f"Incorrect API key provided: {given or scheme}", "invalid_api_key"
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        if scope["method"] == "POST" and has_body:
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            wanted = "multipart/form-data" if scope["path"] == UPLOAD else "application/json"
            if kind != wanted:
                return 415, f"Unsupported Content-Type {kind or '(none)'!r}: send {wanted}", "unsupported_media_type"
        return None


def _too_large(limit: int) -> tuple[int, str, str]:
    return 413, f"Request body too large: the limit is {limit:,} bytes", "request_too_large"


async def _answer(send: Send, status: int, message: str, code: str | None) -> None:
    body = json.dumps(error_body(status, message, code)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
