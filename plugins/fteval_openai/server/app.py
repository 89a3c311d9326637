"""The HTTP routes: the subset of the OpenAI API that fteval and the official client use.

Every answer is the API's JSON (errors included, see ``errors.py``); ``guard.py`` checks the Host,
Origin, key, content type and size of every request first.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from fteval_openai.server.chat import ChatRequest, answer, stream
from fteval_openai.server.errors import ApiError, error_response, install_error_handlers
from fteval_openai.server.faults import Faults
from fteval_openai.server.guard import Guard
from fteval_openai.server.jobs_api import FILE_PURPOSES, CreateJob, job_fields
from fteval_openai.server.models import ModelNotFound, Models
from fteval_openai.server.options import ServeOptions
from fteval_openai.server.state import State, public
from fteval_openai.server.worker import ACTIVE, Worker

__all__ = ["create_app"]

CHAT = "/v1/chat/completions"


async def _json_body(request: Request) -> Any:
    """The request's JSON body.

    Raises:
        ApiError: the body is not JSON.
    """
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(
            400, "We could not parse the JSON body of your request: send a JSON object", "invalid_json"
        ) from None


def _validated(model: type[Any], body: Any) -> Any:
    """``body`` as ``model``; a validation error becomes the API's 400 naming the first bad parameter."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object", "invalid_json")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        # A union ("auto" or 1-50) reports one error per member: prefer the member's own constraint.
        err = next((e for e in errors if e["type"] != "literal_error"), errors[0])
        names = [p for p in err["loc"] if isinstance(p, int) or str(p).isidentifier()]  # drop union member tags
        param = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in names).lstrip(".") or None
        if err["type"] == "extra_forbidden":
            raise ApiError(
                400, f"Unrecognized request argument supplied: {param}", "unknown_parameter", param
            ) from None
        if err["type"] == "missing":
            raise ApiError(
                400, f"Missing required parameter: '{param}'.", "missing_required_parameter", param
            ) from None
        raise ApiError(400, f"Invalid value for '{param}': {err['msg']}", "invalid_value", param) from None


def _page(items: list[dict[str, Any]], limit: int, after: str | None) -> tuple[list[dict[str, Any]], bool]:
    """Items after the id ``after`` (none when it is unknown), at most ``limit``, and whether more remain."""
    if after is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return items[:limit], len(items) > limit


def create_app(options: ServeOptions) -> FastAPI:
    """The app with its state loaded from ``options.state_dir`` and its worker started."""
    state = State(options.state_dir)
    worker, models, faults = Worker(state, options), Models(state, options), Faults(options)
    served: Counter[str] = Counter()
    app = FastAPI(title="fteval serve", description="OpenAI-compatible API backed by local training.")
    app.state.worker = worker
    install_error_handlers(app)
    worker.start()

    app.add_middleware(Guard, options=options)

    @app.get("/fteval/stats")
    def stats() -> dict[str, Any]:
        return {
            "served": dict(served),
            "faults": dict(faults.counts),
            "jobs": len(state.jobs),
            "files": len(state.files),
        }

    # ------------------------------------------------------------ files

    @app.post("/v1/files")
    async def upload(file: Annotated[UploadFile, File()], purpose: Annotated[str, Form()]) -> dict[str, Any]:
        if purpose not in FILE_PURPOSES:
            raise ApiError(
                400, f"{purpose!r} is not one of {list(FILE_PURPOSES)} - 'purpose'", "invalid_value", "purpose"
            )
        return state.add_file(file.filename or "upload.jsonl", purpose, await file.read())

    @app.get("/v1/files")
    def files(
        purpose: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
        order: Literal["asc", "desc"] = "desc",
        after: str | None = None,
    ) -> dict[str, Any]:
        listed = sorted(state.files.values(), key=lambda f: (f["created_at"], f["id"]), reverse=order == "desc")
        listed = [f for f in listed if purpose is None or f["purpose"] == purpose]
        data, more = _page(listed, limit, after)
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more}

    def _file(file_id: str) -> dict[str, Any]:
        found = state.files.get(file_id)
        if found is None:
            raise ApiError(404, f"No such File object: {file_id}", "file_not_found", "id")
        return found

    @app.get("/v1/files/{file_id}")
    def file(file_id: str) -> dict[str, Any]:
        return _file(file_id)

    @app.delete("/v1/files/{file_id}")
    def delete_file(file_id: str) -> dict[str, Any]:
        _file(file_id)
        state.delete_file(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    @app.get("/v1/files/{file_id}/content", response_model=None)
    def content(file_id: str) -> Response:
        _file(file_id)
        return Response(state.content(file_id), media_type="application/jsonl")

    # ------------------------------------------------------------ fine-tuning jobs

    @app.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request) -> dict[str, Any]:
        body = _validated(CreateJob, await _json_body(request))
        job = state.add_job(job_fields(body, state, options.base_models))
        worker.submit(job["id"])
        return public(job)

    @app.get("/v1/fine_tuning/jobs")
    def jobs(limit: Annotated[int, Query(ge=1, le=100)] = 20, after: str | None = None) -> dict[str, Any]:
        ordered = sorted(state.jobs.values(), key=lambda j: (j["created_at"], j["id"]), reverse=True)
        data, more = _page([public(j) for j in ordered], limit, after)
        return {"object": "list", "data": data, "has_more": more}

    def _job(job_id: str) -> dict[str, Any]:
        found = state.jobs.get(job_id)
        if found is None:
            raise ApiError(404, f"No such fine-tuning job: {job_id}", "job_not_found", "id")
        return found

    @app.get("/v1/fine_tuning/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        return public(_job(job_id))

    @app.get("/v1/fine_tuning/jobs/{job_id}/events")
    def events(
        job_id: str, limit: Annotated[int, Query(ge=1, le=100)] = 20, after: str | None = None
    ) -> dict[str, Any]:
        _job(job_id)
        data, more = _page(state.events(job_id), limit, after)
        return {"object": "list", "data": data, "has_more": more}

    @app.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
    def checkpoints(
        job_id: str, limit: Annotated[int, Query(ge=1, le=100)] = 10, after: str | None = None
    ) -> dict[str, Any]:
        listed = list(reversed(_job(job_id).get("_checkpoints") or []))
        data, more = _page(listed, limit, after)
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more}

    @app.post("/v1/fine_tuning/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> dict[str, Any]:
        _job(job_id)
        if state.status(job_id) not in ACTIVE:
            raise ApiError(400, f"Job {job_id} has already finished", "job_finished")
        state.update(job_id, status="cancelled", finished_at=int(time.time()))
        state.event(job_id, "Job cancellation requested")
        return public(state.jobs[job_id])

    # ------------------------------------------------------------ models and chat

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": models.listing()}

    @app.get("/v1/models/{model_id:path}")
    def get_model(model_id: str) -> dict[str, Any]:
        try:
            return models.get(model_id)
        except ModelNotFound:
            raise ApiError(404, f"The model '{model_id}' does not exist", "model_not_found", "model") from None

    @app.post(CHAT, response_model=None)
    async def chat(request: Request) -> dict[str, Any] | StreamingResponse | JSONResponse:
        await faults.delay()
        failure = faults.verdict()
        if failure is not None:
            status, headers = failure
            code = "rate_limit_exceeded" if status == 429 else "server_error"
            return error_response(status, "injected fault", code, headers=headers)
        req: ChatRequest = _validated(ChatRequest, await _json_body(request))
        from starlette.concurrency import run_in_threadpool

        try:
            if req.stream:
                events = await run_in_threadpool(stream, models, req, options.max_completion_tokens)
                served["chat_completions"] += 1
                return StreamingResponse(events, media_type="text/event-stream")
            body = await run_in_threadpool(answer, models, req, options.max_completion_tokens)
        except ModelNotFound:
            raise ApiError(404, f"The model '{req.model}' does not exist", "model_not_found", "model") from None
        served["chat_completions"] += 1
        return body

    return app
