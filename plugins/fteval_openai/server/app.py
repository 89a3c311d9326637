"""The HTTP routes: the subset of the OpenAI API that fteval and the official client use."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from fteval_openai.server.faults import Faults
from fteval_openai.server.methods import job_method
from fteval_openai.server.models import ModelNotFound, Models
from fteval_openai.server.options import ServeOptions
from fteval_openai.server.state import State, public
from fteval_openai.server.worker import ACTIVE, Worker

__all__ = ["create_app"]

CHAT = "/v1/chat/completions"


def _error(
    status: int, message: str, code: str, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status, headers)


def create_app(options: ServeOptions) -> FastAPI:
    """The app with its state loaded from ``options.state_dir`` and its worker started."""
    state = State(options.state_dir)
    worker, models, faults = Worker(state, options), Models(state, options), Faults(options)
    served: Counter[str] = Counter()
    app = FastAPI(title="fteval serve", description="OpenAI-compatible API backed by local training.")
    app.state.worker = worker
    worker.start()

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Any:
        if options.api_key is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if given != options.api_key:
                # Echoes the key like a careless service would: clients must not repeat it anywhere.
                return _error(401, f"Incorrect API key provided: {given}", "invalid_api_key")
        if request.url.path == CHAT:
            await faults.delay()
            failure = faults.verdict()
            if failure is not None:
                status, headers = failure
                return _error(
                    status,
                    "injected fault",
                    "rate_limit_exceeded" if status == 429 else "server_error",
                    headers=headers,
                )
        return await call_next(request)

    @app.get("/fteval/stats")
    def stats() -> dict[str, Any]:
        return {
            "served": dict(served),
            "faults": dict(faults.counts),
            "jobs": len(state.jobs),
            "files": len(state.files),
        }

    @app.post("/v1/files")
    async def upload(file: Annotated[UploadFile, File()], purpose: Annotated[str, Form()]) -> dict[str, Any]:
        return state.add_file(file.filename or "upload.jsonl", purpose, await file.read())

    @app.get("/v1/files")
    def files() -> dict[str, Any]:
        return {"object": "list", "data": list(state.files.values()), "has_more": False}

    @app.get("/v1/files/{file_id}", response_model=None)
    def file(file_id: str) -> dict[str, Any] | JSONResponse:
        return state.files.get(file_id) or _error(404, f"No such File object: {file_id}", "file_not_found", "id")

    @app.get("/v1/files/{file_id}/content", response_model=None)
    def content(file_id: str) -> Response:
        if file_id not in state.files:
            return _error(404, f"No such File object: {file_id}", "file_not_found", "id")
        return Response(state.content(file_id), media_type="application/jsonl")

    @app.post("/v1/fine_tuning/jobs", response_model=None)
    async def create_job(request: Request) -> dict[str, Any] | JSONResponse:
        body = await request.json()
        if body.get("model") not in options.base_models:
            return _error(
                400, f"Model {body.get('model')!r} is not available for fine-tuning", "model_not_available", "model"
            )
        for param in ("training_file", "validation_file"):
            if body.get(param) and body[param] not in state.files:
                return _error(400, f"invalid {param}: {body[param]}", "invalid_file", param)
        if not body.get("training_file"):
            return _error(400, "training_file is required", "missing", "training_file")
        kind, method_hyper = job_method(body)
        if kind is None:
            return _error(400, str(method_hyper), "invalid_method", "method")
        hyper = {
            "n_epochs": "auto",
            "batch_size": "auto",
            "learning_rate_multiplier": "auto",
            **({"beta": "auto"} if kind == "dpo" else {}),
            **(body.get("hyperparameters") or {}),
            **method_hyper,
        }
        job = state.add_job(
            {
                "model": body["model"],
                "training_file": body["training_file"],
                "validation_file": body.get("validation_file"),
                "hyperparameters": hyper,
                "method": {"type": kind, kind: {"hyperparameters": hyper}},
                "seed": body.get("seed", 0),
                "suffix": body.get("suffix"),
            }
        )
        worker.submit(job["id"])
        return public(job)

    @app.get("/v1/fine_tuning/jobs")
    def jobs(limit: int = 20, after: str | None = None) -> dict[str, Any]:
        ordered = sorted(state.jobs.values(), key=lambda j: j["created_at"], reverse=True)
        if after is not None:
            ids = [j["id"] for j in ordered]
            ordered = ordered[ids.index(after) + 1 :] if after in ids else []
        return {"object": "list", "data": [public(j) for j in ordered[:limit]], "has_more": len(ordered) > limit}

    @app.get("/v1/fine_tuning/jobs/{job_id}", response_model=None)
    def job(job_id: str) -> dict[str, Any] | JSONResponse:
        found = state.jobs.get(job_id)
        return public(found) if found else _error(404, f"No such fine-tuning job: {job_id}", "job_not_found", "id")

    @app.get("/v1/fine_tuning/jobs/{job_id}/events", response_model=None)
    def events(job_id: str, limit: int = 20, after: str | None = None) -> dict[str, Any] | JSONResponse:
        if job_id not in state.jobs:
            return _error(404, f"No such fine-tuning job: {job_id}", "job_not_found", "id")
        listed = state.events(job_id)
        if after is not None:
            ids = [e["id"] for e in listed]
            listed = listed[ids.index(after) + 1 :] if after in ids else []
        return {"object": "list", "data": listed[:limit], "has_more": len(listed) > limit}

    @app.post("/v1/fine_tuning/jobs/{job_id}/cancel", response_model=None)
    def cancel(job_id: str) -> dict[str, Any] | JSONResponse:
        if job_id not in state.jobs:
            return _error(404, f"No such fine-tuning job: {job_id}", "job_not_found", "id")
        if state.status(job_id) not in ACTIVE:
            return _error(400, f"Job {job_id} has already finished", "job_finished")
        state.update(job_id, status="cancelled", finished_at=int(time.time()))
        state.event(job_id, "Job cancellation requested")
        return public(state.jobs[job_id])

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": models.listing()}

    @app.get("/v1/models/{model_id:path}", response_model=None)
    def get_model(model_id: str) -> dict[str, Any] | JSONResponse:
        try:
            return models.get(model_id)
        except ModelNotFound:
            return _error(404, f"The model '{model_id}' does not exist", "model_not_found", "model")

    @app.post(CHAT, response_model=None)
    def chat(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
        from fteval_openai.tokens import count_messages, count_text

        stop = body.get("stop") or ()
        try:
            text = models.complete(
                body["model"],
                body["messages"],
                max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 128),
                temperature=float(body.get("temperature", 1.0)),
                top_p=float(body.get("top_p", 1.0)),
                stop=(stop,) if isinstance(stop, str) else tuple(stop),
                seed=int(body.get("seed") or 0),
            )
        except ModelNotFound:
            return _error(404, f"The model '{body.get('model')}' does not exist", "model_not_found", "model")
        served["chat_completions"] += 1
        prompt_tokens, completion_tokens = count_messages(body["messages"]), count_text(text)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fteval-serve",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    return app
