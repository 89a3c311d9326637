"""What fteval sends to an OpenAI-compatible server, and the API limits ``validate`` checks first.

A real HTTP server on 127.0.0.1 records each request body; nothing is patched.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fteval_openai.config import OpenAIConfig
from fteval_openai.generator import OpenAIGenerator
from fteval_testutil import fteval_run
from openai_helpers import KEY_ENV, VIGGO

from fteval.plugin import GenerationSettings, ModelHandle, Prompt


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]]

    def do_POST(self) -> None:  # the http.server hook
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)  # type: ignore[attr-defined]
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _sent(server: ThreadingHTTPServer, model: str, settings: GenerationSettings, **model_extra: Any) -> dict[str, Any]:
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    config = OpenAIConfig.model_validate(
        {"model": {"name": model, "base_url": url, "api_key_env": KEY_ENV, **model_extra}}
    )
    loaded = OpenAIGenerator().load(ModelHandle("openai", f"openai:{model}", model), config, settings)
    try:
        assert loaded.generate([Prompt(None, "hi")])[0].text == "ok"
    finally:
        loaded.close()
    body: dict[str, Any] = server.bodies.pop()  # type: ignore[attr-defined]
    return body


def test_reasoning_models_get_max_completion_tokens_and_no_sampling_parameters(
    recorder: ThreadingHTTPServer, api_key: str
) -> None:
    plain = _sent(recorder, "gpt-4o-mini", GenerationSettings(max_new_tokens=7, stop=("\n",)))
    assert plain["max_tokens"] == 7 and "max_completion_tokens" not in plain
    assert plain["temperature"] == 0 and plain["stop"] == ["\n"]
    reasoning = _sent(recorder, "o3-mini", GenerationSettings(max_new_tokens=7, temperature=1.0))
    assert reasoning["max_completion_tokens"] == 7 and "max_tokens" not in reasoning
    assert "temperature" not in reasoning and "top_p" not in reasoning
    forced = _sent(recorder, "gpt-4o-mini", GenerationSettings(max_new_tokens=7), token_limit="max_completion_tokens")
    assert forced["max_completion_tokens"] == 7 and "max_tokens" not in forced


def _spec(path: Path, *, generation: str = "", target_generation: str = "", train: str = "") -> Path:
    path.write_text(
        f"""fteval: 1
name: limits
dataset:
  train: {{path: {VIGGO / "train.csv"}, limit: 4}}
  eval: {{path: {VIGGO / "test.csv"}, limit: 4}}
prompt: {{user: "{{{{ ref }}}}", target: "{{{{ mr }}}}"}}
parser: viggo
generation: {{max_new_tokens: 8{generation}}}
targets:
  gpt:
    trainer: openai
    model: {{name: o3-mini}}
    train: {{epochs: 1{train}}}
    generation: {{temperature: 1{target_generation}}}
""",
        encoding="utf-8",
    )
    return path


def test_validate_checks_what_the_api_checks(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    ok = fteval_run("validate", str(_spec(tmp_path / "ok.yaml")), store=store)
    assert ok.returncode == 0, ok.stderr
    stops = fteval_run(
        "validate", str(_spec(tmp_path / "stops.yaml", generation=", stop: [a, b, c, d, e]")), store=store
    )
    assert stops.returncode != 0 and "stops.yaml:8:" in stops.stderr and "at most 4 stop strings" in stops.stderr
    seed = fteval_run("validate", str(_spec(tmp_path / "seed.yaml", train=", seed: -1")), store=store)
    assert seed.returncode != 0 and "seed.yaml:13:" in seed.stderr and "targets.gpt.train.seed" in seed.stderr
    hot = fteval_run("validate", str(_spec(tmp_path / "hot.yaml", target_generation=", top_p: 0.5")), store=store)
    assert hot.returncode != 0 and "targets.gpt.generation.top_p" in hot.stderr and "reasoning model" in hot.stderr
