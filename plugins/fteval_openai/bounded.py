"""One chat completion with bounds: a deadline for the whole request and a cap on the answer's bytes.

``request_timeout_s`` bounds the request from connecting to the last byte of the body (a server that
trickles one byte a second, or never ends its stream, cannot hang a run), and the body is read in
chunks up to a cap derived from ``max_new_tokens`` (a 300 MB answer is never held in memory). A 200
answer that is not a usable chat completion (not JSON, HTML, no choices, no text) is a
:class:`BadAnswer`: it is not retried and nothing of it is cached.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LIFECYCLE_CAP",
    "BadAnswer",
    "Completed",
    "completion",
    "parse_completion",
    "response_cap",
    "sync_http_client",
]

# Most bytes of one answer to a job-lifecycle call (files, jobs, events, models): small JSON objects.
LIFECYCLE_CAP = 8 * 2**20

# Room for the JSON around the text; the text itself is bounded like the engine bounds outputs
# (max_new_tokens * 32 characters), each character up to 6 bytes once JSON-escaped (\uXXXX).
_ENVELOPE_BYTES = 64 * 1024
_CHARS_PER_TOKEN = 32
_BYTES_PER_CHAR = 6


class BadAnswer(Exception):
    """The server answered, but not with a chat completion fteval can use (the message says why)."""


@dataclass(frozen=True)
class Completed:
    """What one chat completion gave: its text and usage counts (None when the server sent none)."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None


def response_cap(max_new_tokens: int) -> int:
    """Most bytes read of one answer."""
    return _ENVELOPE_BYTES + max_new_tokens * _CHARS_PER_TOKEN * _BYTES_PER_CHAR


async def completion(client: Any, request: dict[str, Any], *, deadline_s: float, cap: int) -> Completed:
    """Send one chat completion and read its answer within ``deadline_s`` seconds and ``cap`` bytes.

    Raises:
        TimeoutError: the deadline passed (connecting, waiting for headers or reading the body).
        BadAnswer: the body went over ``cap`` bytes or is not a usable chat completion.
        openai.APIError: the client's own errors (status >= 400, connection errors).
    """
    body = bytearray()
    async with asyncio.timeout(deadline_s):
        async with client.chat.completions.with_streaming_response.create(**request) as response:
            async for chunk in response.iter_bytes():
                body += chunk
                if len(body) > cap:
                    raise BadAnswer(
                        f"the answer went over {cap:,} bytes (the cap for max_new_tokens"
                        f" {request.get('max_tokens') or request.get('max_completion_tokens')}); stopped reading it"
                    )
    return parse_completion(bytes(body))


def _start(body: bytes) -> str:
    return repr(body[:60].decode("utf-8", errors="replace"))


def parse_completion(body: bytes) -> Completed:
    """The first choice's text and the usage of a chat-completion body.

    Raises:
        BadAnswer: not JSON (an HTML page, say), not an object, no choices, or a choice without text.
    """
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        kind = "an HTML page" if body.lstrip()[:1] == b"<" else "not JSON"
        raise BadAnswer(f"the answer is {kind} (it starts {_start(body)})") from None
    if not isinstance(data, dict):
        raise BadAnswer(f"the answer is JSON but not an object (it starts {_start(body)})")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadAnswer(f"the answer has no choices ({'choices: []' if choices == [] else 'choices missing'})")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    content = message.get("content", "") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise BadAnswer(f"the first choice's message content is {type(content).__name__}, not text")
    if not isinstance(message, dict):
        raise BadAnswer("the first choice has no message")
    reported = data.get("usage")
    usage = reported if isinstance(reported, dict) else {}
    return Completed(content or "", _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def sync_http_client(deadline_s: float, cap: int = LIFECYCLE_CAP) -> Any:
    """An HTTP client for the official sync client whose answers are read within ``deadline_s`` of the
    request's start and up to ``cap`` bytes (job-lifecycle calls: files, jobs, events, models).

    The headers are awaited on a helper thread: when the deadline passes first, the connection pool is
    closed (which ends that thread's read) and the call is a timeout, retried by the client.
    """
    import openai

    # The HTTP library the installed openai client is built on (httpx, or httpx2 for openai >= 3).
    httpx: Any = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])

    class TooLarge(openai.OpenAIError):
        """An answer over the cap (not retried)."""

    class Body(httpx.SyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, deadline: float) -> None:
            self.inner, self.deadline = inner, deadline

        def __iter__(self) -> Any:
            seen = 0
            for chunk in self.inner:
                seen += len(chunk)
                if seen > cap:
                    raise TooLarge(f"the answer went over {cap:,} bytes; stopped reading it")
                if time.monotonic() > self.deadline:
                    raise httpx.ReadTimeout(f"no complete answer within {deadline_s:g} s")
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class Transport(httpx.BaseTransport):  # type: ignore[misc]
        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fteval-openai-http")

        def handle_request(self, request: Any) -> Any:
            deadline = time.monotonic() + deadline_s
            pending = self.pool.submit(self.inner.handle_request, request)
            try:
                response = pending.result(timeout=deadline_s)
            except FutureTimeout:
                # Closing the pool closes its sockets: the helper thread's read ends with an error.
                self.inner.close()
                self.inner = httpx.HTTPTransport()
                raise httpx.ReadTimeout(f"no answer headers within {deadline_s:g} s", request=request) from None
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=Body(response.stream, deadline),
                extensions=response.extensions,
                request=request,
            )

        def close(self) -> None:
            self.inner.close()
            self.pool.shutdown(wait=False, cancel_futures=True)

    return openai.DefaultHttpxClient(transport=Transport(), timeout=deadline_s)
