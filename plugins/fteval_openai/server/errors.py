"""The API's JSON error body for every failure, the web framework's own (404/405/422) included."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

__all__ = ["ApiError", "error_body", "error_response", "install_error_handlers"]

_TYPES = {401: "invalid_request_error", 403: "permission_error", 404: "invalid_request_error", 429: "requests"}


class ApiError(Exception):
    """A request the API refuses: raised anywhere in a route, answered as the API's error body."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def error_body(status: int, message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` as the API writes it."""
    kind = _TYPES.get(status, "invalid_request_error") if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error body with its status."""
    return JSONResponse(error_body(status, message, code, param), status, headers)


def _param(loc: tuple[Any, ...]) -> str | None:
    """``("body", "messages", 0, "role")`` -> ``messages[0].role``."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def install_error_handlers(app: FastAPI) -> None:
    """Answer framework errors (bad bodies, unknown paths and methods, crashes) with the API's error body."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.param)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = _param(tuple(first.get("loc", ())))
        message = f"Invalid value for '{param}': {first.get('msg')}" if param else str(first.get("msg"))
        return error_response(400, message, "invalid_value" if param else "invalid_request", param)

    @app.exception_handler(HTTPException)
    async def http(request: Request, exc: HTTPException) -> JSONResponse:
        message = {404: f"Unknown request URL: {request.method} {request.url.path}"}.get(exc.status_code)
        if exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}"
        code = {404: "unknown_url", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(exc.status_code, message or str(exc.detail), code, None, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, f"The server had an error processing the request ({type(exc).__name__})")
