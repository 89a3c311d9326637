"""``fteval serve`` answers as the OpenAI API does, checked over real HTTP on 127.0.0.1.

Every JSON body a test receives is validated against the official OpenAPI schemas (vendored in
``openapi/``); the official ``openai`` client drives the streaming and job paths.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fteval_openai.server.launch import Served, free_port
from fteval_testutil import FTEVAL, wait_until
from openai_helpers import KEY
from openapi_schemas import conforms

BODY_LIMIT_MB = 0.05  # JSON bodies over ~52 KB are refused
UPLOAD_LIMIT_MB = 0.5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    state = tmp_path_factory.mktemp("serve") / "state"
    args = ("--train-max-steps", "4", "--max-body-mb", str(BODY_LIMIT_MB), "--max-upload-mb", str(UPLOAD_LIMIT_MB))
    with Served(state, *args, key=KEY) as served:
        yield served


def call(
    server: Served,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request with the key; ``body`` is sent as JSON, ``raw`` as is."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    sent = {"Authorization": f"Bearer {KEY}", **(headers or {})}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if body is not None and "Content-Type" not in sent:
        sent["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    out = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    conn.close()
    return out


def json_call(server: Served, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    status, headers, data = call(server, method, path, body, **kw)
    assert headers.get("content-type", "").startswith("application/json"), (status, data[:200])
    return status, json.loads(data)


def error(server: Served, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, dict[str, Any]]:
    """An error answer: checked to be the API's error body."""
    status, payload = json_call(server, method, path, body, **kw)
    conforms(payload, "ErrorResponse")
    return status, payload["error"]


def client(server: Served) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=server.url, max_retries=0, timeout=60)


CHAT = "/v1/chat/completions"
ASK = [{"role": "user", "content": "name the game: the witcher 3 wild hunt is a great rpg"}]


def test_chat_completion_honours_n_stop_length_and_logprobs(server: Served) -> None:
    status, body = json_call(server, "POST", CHAT, {"model": "gpt-4o-mini", "messages": ASK, "n": 3})
    assert status == 200 and len(body["choices"]) == 3
    conforms(body, "CreateChatCompletionResponse")
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert (
        body["choices"][0]["finish_reason"] == "stop" and body["choices"][0]["message"]["content"] == ASK[0]["content"]
    )

    status, cut = json_call(server, "POST", CHAT, {"model": "gpt-4o-mini", "messages": ASK, "max_tokens": 3})
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 3
    conforms(cut, "CreateChatCompletionResponse")

    _, stopped = json_call(server, "POST", CHAT, {"model": "gpt-4o-mini", "messages": ASK, "stop": ["wild", "rpg"]})
    assert stopped["choices"][0]["message"]["content"] == "name the game: the witcher 3 "
    assert stopped["choices"][0]["finish_reason"] == "stop"

    request = {"model": "gpt-4o-mini", "messages": ASK, "logprobs": True, "top_logprobs": 2, "max_completion_tokens": 4}
    _, probs = json_call(server, "POST", CHAT, request)
    conforms(probs, "CreateChatCompletionResponse")
    tokens = probs["choices"][0]["logprobs"]["content"]
    assert len(tokens) == 4 and "".join(t["token"] for t in tokens) == probs["choices"][0]["message"]["content"]


def test_streaming_sends_chunks_then_the_usage_then_done(server: Served) -> None:
    status, headers, data = call(
        server,
        "POST",
        CHAT,
        {"model": "gpt-4o-mini", "messages": ASK, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in data.decode().split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        conforms(chunk, "CreateChatCompletionStreamResponse")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 1
    assert all(c["usage"] is None for c in chunks[:-1]) and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]) == ASK[0]["content"]

    # The official client's stream yields the same text and the usage.
    stream = client(server).chat.completions.create(
        model="gpt-4o-mini", messages=ASK, stream=True, stream_options={"include_usage": True}, max_tokens=5
    )
    got = list(stream)
    assert len(got) >= 7 and got[-1].usage is not None and got[-1].usage.completion_tokens == 5
    assert got[-2].choices[0].finish_reason == "length"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-4o-mini"}, "messages"),
        ({"messages": ASK}, "model"),
        ({"model": "gpt-4o-mini", "messages": []}, "messages"),
        ({"model": "gpt-4o-mini", "messages": ASK, "temperature": 5}, "temperature"),
        ({"model": "gpt-4o-mini", "messages": ASK, "top_p": 1.5}, "top_p"),
        ({"model": "gpt-4o-mini", "messages": ASK, "n": 0}, "n"),
        ({"model": "gpt-4o-mini", "messages": ASK, "max_tokens": 1_000_000_000}, "max_tokens"),
        ({"model": "gpt-4o-mini", "messages": ASK, "max_tokens": -1}, "max_tokens"),
        ({"model": "gpt-4o-mini", "messages": ASK, "max_completion_tokens": 0}, "max_completion_tokens"),
        ({"model": "gpt-4o-mini", "messages": ASK, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": "gpt-4o-mini", "messages": ASK, "bogus": 1}, "bogus"),
        ({"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ],
)
def test_bad_chat_input_is_a_4xx_json_error_naming_the_parameter(server: Served, body: dict, param: str) -> None:
    status, err = error(server, "POST", CHAT, body)
    assert status == 400 and err["param"] == param, err


def test_what_the_api_accepts_is_accepted(server: Served) -> None:
    for extra in ({"temperature": None}, {"top_p": 0}, {"stop": "witcher"}, {"seed": 7}):
        status, body = json_call(server, "POST", CHAT, {"model": "gpt-4o-mini", "messages": ASK, **extra})
        assert status == 200, (extra, body)
        conforms(body, "CreateChatCompletionResponse")


def test_unknown_model_non_json_and_framework_errors_are_json(server: Served) -> None:
    status, err = error(server, "POST", CHAT, {"model": "nope", "messages": ASK})
    assert status == 404 and err["code"] == "model_not_found"
    status, err = error(server, "POST", CHAT, raw=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and err["code"] == "invalid_json"
    status, err = error(server, "GET", "/v1/no/such/path")
    assert status == 404
    status, err = error(server, "DELETE", "/v1/models")
    assert status == 405
    status, err = error(server, "GET", "/v1/files?limit=0")  # the framework's 422 becomes the API's 400
    assert status == 400 and err["param"] == "limit"
    for path in ("/v1/models/nope", "/v1/files/file-nope", "/v1/fine_tuning/jobs/ftjob-nope"):
        assert error(server, "GET", path)[0] == 404


def _upload(server: Served, name: str, content: bytes, purpose: str) -> tuple[int, Any]:
    boundary = "fteval-boundary"
    parts = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/jsonl\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return json_call(
        server, "POST", "/v1/files", raw=parts, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )


TRAIN = b"".join(
    json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}).encode()
    + b"\n"
    for i in range(12)
)


def test_files_purpose_filters_and_delete(server: Served) -> None:
    status, err = _upload(server, "x.jsonl", TRAIN, "bogus")
    assert status == 400 and err["error"]["param"] == "purpose"
    conforms(err, "ErrorResponse")
    status, tune = _upload(server, "t.jsonl", TRAIN, "fine-tune")
    assert status == 200
    conforms(tune, "OpenAIFile")
    _, batch = _upload(server, "b.jsonl", TRAIN, "batch")
    _, listed = json_call(server, "GET", "/v1/files?purpose=batch")
    conforms(listed, "ListFilesResponse")
    assert [f["id"] for f in listed["data"]] == [batch["id"]]
    _, one = json_call(server, "GET", "/v1/files?limit=1&order=asc")
    assert len(one["data"]) == 1 and one["has_more"] and one["first_id"] == one["last_id"]
    status, deleted = json_call(server, "DELETE", f"/v1/files/{batch['id']}")
    assert status == 200 and deleted == {"id": batch["id"], "object": "file", "deleted": True}
    conforms(deleted, "DeleteFileResponse")
    assert error(server, "GET", f"/v1/files/{batch['id']}")[0] == 404
    assert error(server, "DELETE", f"/v1/files/{batch['id']}")[0] == 404
    assert (
        error(server, "POST", "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": batch["id"]})[0] == 400
    )


def test_jobs_validate_take_method_hyperparameters_and_list_checkpoints(server: Served) -> None:
    _, tune = _upload(server, "t.jsonl", TRAIN, "fine-tune")
    base = {"model": "gpt-4o-mini", "training_file": tune["id"]}
    for bad, param in (
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        (
            {"method": {"type": "supervised", "supervised": {"hyperparameters": {"batch_size": 0}}}},
            "method.supervised.hyperparameters.batch_size",
        ),
        ({"seed": -1}, "seed"),
        ({"suffix": "x" * 65}, "suffix"),
        ({"model": "gpt-9"}, "model"),
    ):
        status, err = error(server, "POST", "/v1/fine_tuning/jobs", {**base, **bad})
        assert status == 400 and err["param"] == param, (bad, err)
    api = client(server)
    job = api.fine_tuning.jobs.create(
        **base, method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}, suffix="conf"
    )
    assert job.hyperparameters.n_epochs == 2 and job.method.supervised.hyperparameters.n_epochs == 2
    finished = ("succeeded", "failed", "cancelled")
    wait_until(lambda: api.fine_tuning.jobs.retrieve(job.id).status in finished, 240, interval=0.5, what="the job")
    _, body = json_call(server, "GET", f"/v1/fine_tuning/jobs/{job.id}")
    conforms(body, "FineTuningJob")
    assert body["status"] == "succeeded", body
    _, checkpoints = json_call(server, "GET", f"/v1/fine_tuning/jobs/{job.id}/checkpoints")
    conforms(checkpoints, "ListFineTuningJobCheckpointsResponse")
    assert checkpoints["data"][0]["fine_tuned_model_checkpoint"].startswith(body["fine_tuned_model"] + ":ckpt-step-")
    for path, schema in (
        ("/v1/fine_tuning/jobs", "ListPaginatedFineTuningJobsResponse"),
        (f"/v1/fine_tuning/jobs/{job.id}/events", "ListFineTuningJobEventsResponse"),
        ("/v1/models", "ListModelsResponse"),
        (f"/v1/models/{body['fine_tuned_model']}", "Model"),
    ):
        status, listed = json_call(server, "GET", path)
        assert status == 200
        conforms(listed, schema)
    _, answer = json_call(server, "POST", CHAT, {"model": body["fine_tuned_model"], "messages": ASK, "max_tokens": 4})
    conforms(answer, "CreateChatCompletionResponse")
    assert answer["usage"]["completion_tokens"] <= 4
    request = {"model": body["fine_tuned_model"], "messages": ASK, "max_tokens": 6, "logprobs": True}
    status, scored = json_call(server, "POST", CHAT, request)
    assert status == 200, scored
    conforms(scored, "CreateChatCompletionResponse")
    tokens = scored["choices"][0]["logprobs"]["content"]
    assert "".join(t["token"] for t in tokens) == scored["choices"][0]["message"]["content"]
    assert tokens and all(t["logprob"] <= 0 for t in tokens) and any(t["logprob"] < 0 for t in tokens)
    status, err = error(server, "POST", f"/v1/fine_tuning/jobs/{job.id}/cancel")
    assert status == 400 and err["code"] == "job_finished"


def test_guard_refuses_cross_site_foreign_hosts_bad_keys_and_big_bodies(server: Served) -> None:
    body = {"model": "gpt-4o-mini", "messages": ASK}
    status, err = error(server, "POST", CHAT, raw=json.dumps(body).encode(), headers={"Content-Type": "text/plain"})
    assert status == 415
    assert error(server, "POST", CHAT, body, headers={"Host": "evil.example:8000"})[0] == 403
    assert error(server, "POST", CHAT, body, headers={"Origin": "https://evil.example"})[0] == 403
    assert json_call(server, "POST", CHAT, body, headers={"Origin": f"http://127.0.0.1:{server.port}"})[0] == 200
    assert error(server, "GET", "/v1/models", headers={"Authorization": KEY})[0] == 401  # no Bearer scheme
    assert error(server, "GET", "/v1/models", headers={"Authorization": f"Bearer {KEY}x"})[0] == 401
    big = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * int(BODY_LIMIT_MB * 2**20)}]}
    status, err = error(server, "POST", CHAT, big)
    assert status == 413 and err["code"] == "request_too_large"
    # A body without Content-Length (chunked) is counted as it arrives.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    chunks = (b"x" * 8192 for _ in range(16))
    conn.request(
        "POST",
        CHAT,
        body=chunks,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = conn.getresponse()
    assert response.status == 413 and json.loads(response.read())["error"]["code"] == "request_too_large"
    conn.close()
    status, err = _upload(server, "big.jsonl", b"x" * int(UPLOAD_LIMIT_MB * 2**20 + 10), "fine-tune")
    assert status == 413


def test_a_bind_beyond_loopback_without_a_key_is_refused(tmp_path: Path) -> None:
    out = subprocess.run(
        [*FTEVAL, "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "--api-key-env" in out.stderr and "Traceback" not in out.stderr
