"""``POST /v1/chat/completions``: the request as the API validates it, choices, and server-sent events.

Refused as the API refuses them (400 with the API's error body): missing or empty ``messages``, a
missing ``model``, temperature outside 0..2, top_p outside 0..1, ``n`` outside 1..128, more than 4
``stop`` strings, ``max_tokens`` below 1 or over the server's limit, unknown arguments.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fteval_openai.server.errors import ApiError
from fteval_openai.server.models import Completion, Models

__all__ = ["ChatRequest", "answer", "stream"]


class Message(BaseModel):
    """One chat message; fields beyond role, content and name (tool calls) are kept but unused."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"] = Field(description="Author.")
    content: str | list[dict[str, Any]] | None = Field(None, description="Text, or content parts.")
    name: str | None = Field(None, description="Author name.")

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    """``stream_options``."""

    model_config = ConfigDict(extra="forbid")

    include_usage: bool | None = Field(None, description="Send a last chunk with the usage.")
    include_obfuscation: bool | None = Field(None, description="Accepted and ignored.")


class ChatRequest(BaseModel):
    """The chat-completion arguments this server understands; any other is refused, as the API does."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, description="Model id.")
    messages: list[Message] = Field(min_length=1, description="The conversation.")
    max_tokens: int | None = Field(None, description="Deprecated spelling of max_completion_tokens.")
    max_completion_tokens: int | None = Field(None, description="Most tokens to generate per choice.")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature; null means 1.")
    top_p: float | None = Field(None, ge=0, le=1, description="Nucleus mass; null means 1.")
    n: int | None = Field(None, ge=1, le=128, description="Choices to generate.")
    stop: str | list[str] | None = Field(None, description="Up to 4 strings that end a choice.")
    seed: int | None = Field(None, description="Sampling seed.")
    stream: bool | None = Field(None, description="Answer with server-sent events.")
    stream_options: StreamOptions | None = Field(None, description="Streaming options.")
    logprobs: bool | None = Field(None, description="Return each output token's log probability.")
    top_logprobs: int | None = Field(None, ge=0, le=20, description="Most likely alternatives per token.")
    user: str | None = Field(None, description="End-user id (ignored).")
    store: bool | None = Field(None, description="Ignored.")
    metadata: dict[str, str] | None = Field(None, description="Ignored.")
    presence_penalty: float | None = Field(None, ge=-2, le=2, description="Accepted; not applied.")
    frequency_penalty: float | None = Field(None, ge=-2, le=2, description="Accepted; not applied.")

    def stops(self) -> tuple[str, ...]:
        """``stop`` as a tuple."""
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def limit(self, most: int) -> int:
        """The token limit asked for (default ``most``).

        Raises:
            ApiError: below 1 or over ``most``.
        """
        for param in ("max_completion_tokens", "max_tokens"):
            value = getattr(self, param)
            if value is not None and not 1 <= value <= most:
                raise ApiError(
                    400,
                    f"Invalid '{param}': {value}. It must be at least 1 and at most {most} for this server.",
                    "invalid_value",
                    param,
                )
        return self.max_completion_tokens or self.max_tokens or most

    def check(self) -> None:
        """Cross-field rules of the API.

        Raises:
            ApiError: more than 4 stop strings, or top_logprobs without logprobs.
        """
        if len(self.stops()) > 4:
            raise ApiError(400, f"Invalid 'stop': at most 4 strings, got {len(self.stops())}.", "invalid_value", "stop")
        if self.top_logprobs and not self.logprobs:
            raise ApiError(400, "'top_logprobs' needs 'logprobs' set to true.", "invalid_value", "top_logprobs")
        if self.stream_options is not None and not self.stream:
            raise ApiError(
                400, "'stream_options' is only allowed with 'stream': true.", "invalid_value", "stream_options"
            )


def _choices(models: Models, req: ChatRequest, most: int) -> list[Completion]:
    req.check()
    limit = req.limit(most)
    messages = [{"role": m.role, "content": m.text()} for m in req.messages]
    temperature = 1.0 if req.temperature is None else req.temperature
    top_p = 1.0 if req.top_p is None else req.top_p
    if top_p == 0:  # the API takes 0: only the most likely token remains
        temperature, top_p = 0.0, 1.0
    return [
        models.complete(
            req.model,
            messages,
            max_tokens=limit,
            temperature=temperature,
            top_p=top_p,
            stop=req.stops(),
            seed=(req.seed or 0) + i,
            logprobs=bool(req.logprobs),
        )
        for i in range(req.n or 1)
    ]


def _logprobs(c: Completion, req: ChatRequest) -> dict[str, Any] | None:
    if not req.logprobs:
        return None
    return {
        "content": [_token(t, lp, req.top_logprobs or 0) for t, lp in zip(c.tokens, c.logprobs, strict=True)],
        "refusal": None,
    }


def _token(token: str, logprob: float, top: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"token": token, "logprob": logprob, "bytes": list(token.encode())}
    entry["top_logprobs"] = [dict(entry)] if top else []
    return entry


def _usage(choices: list[Completion]) -> dict[str, int]:
    prompt = choices[0].prompt_tokens
    completion = sum(c.completion_tokens for c in choices)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def answer(models: Models, req: ChatRequest, most: int) -> dict[str, Any]:
    """The ``chat.completion`` object for a request."""
    choices = _choices(models, req, most)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model,
        "system_fingerprint": "fteval-serve",
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": c.text, "refusal": None},
                "finish_reason": c.finish_reason,
                "logprobs": _logprobs(c, req),
            }
            for i, c in enumerate(choices)
        ],
        "usage": _usage(choices),
    }


def stream(models: Models, req: ChatRequest, most: int) -> Iterator[str]:
    """Server-sent events as the API sends them: a role chunk, one chunk per token, a finish chunk per
    choice, then (``stream_options.include_usage``) a chunk with the usage and no choices, then ``[DONE]``.

    Raises:
        ApiError: an invalid request (raised before the first event, so it is an ordinary error answer).
    """
    choices = _choices(models, req, most)
    usage = bool(req.stream_options and req.stream_options.include_usage)
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": req.model,
        "system_fingerprint": "fteval-serve",
    }

    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        chunk = {**base, "choices": choices, **({"usage": None} if usage else {}), **extra}
        return f"data: {json.dumps(chunk)}\n\n"

    def events() -> Iterator[str]:
        for i, c in enumerate(choices):
            yield event(
                [{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}]
            )
            for j, token in enumerate(c.tokens):
                lp = {"content": [_token(token, c.logprobs[j], req.top_logprobs or 0)], "refusal": None}
                delta = {"content": token}
                yield event(
                    [{"index": i, "delta": delta, "logprobs": lp if req.logprobs else None, "finish_reason": None}]
                )
            yield event([{"index": i, "delta": {}, "logprobs": None, "finish_reason": c.finish_reason}])
        if usage:
            yield event([], usage=_usage(choices))
        yield "data: [DONE]\n\n"

    return events()
