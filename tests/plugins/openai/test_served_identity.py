"""Served models identified by what they are: a real HTTP server on 127.0.0.1 swaps releases behind one name and URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fteval_openai.identity import PROBES
from fteval_testutil import fteval_run
from openai_helpers import KEY_ENV, VIGGO

from fteval.storage.store import Store


class Release:
    """What the server serves now: how it answers, and what it reports about itself."""

    def __init__(self) -> None:
        self.prefix = "A"
        self.entry: dict[str, Any] = {}  # extra fields of the /v1/models entry (created, root)
        self.system_fingerprint: str | None = None
        self.requests: list[tuple[str, str]] = []  # (path, first message) of every completion
        self.lock = threading.Lock()

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        content = body["messages"][-1]["content"]
        with self.lock:
            self.requests.append((path, content))
        text = f"{self.prefix}: {content[:12]}"
        response: dict[str, Any] = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }
        if self.system_fingerprint:
            response["system_fingerprint"] = self.system_fingerprint
        return response

    def rows_asked(self, path_part: str = "") -> int:
        """Completions of eval rows (not identity probes) sent to URLs containing ``path_part``."""
        return sum(1 for path, content in self.requests if content not in PROBES and path_part in path)

    def probes_asked(self) -> int:
        return sum(1 for _, content in self.requests if content in PROBES)


def _handler(release: Release) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, data: dict[str, Any]) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # http.server's name
            if "/models/" in self.path:
                name = self.path.split("/models/", 1)[1]
                self._send(200, {"id": name, "object": "model", "owned_by": "test", **release.entry})
            elif self.path.endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "served", "object": "model", **release.entry}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path.endswith("/chat/completions"):
                self._send(200, release.answer(self.path, body))
            else:
                self._send(404, {"error": {"message": "not found"}})

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def served() -> Iterator[tuple[Release, str]]:
    release = Release()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(release))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield release, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _spec(path: Path, base_url: str, *, revision: str | None = None, name: str = "served-spec") -> Path:
    model: dict[str, Any] = {"name": "served", "base_url": base_url, "api_key_env": KEY_ENV, "backoff_s": 0.05}
    if revision:
        model["revision"] = revision
    spec = {
        "fteval": 1,
        "name": name,
        "dataset": {"eval": {"path": str(VIGGO / "test.csv"), "limit": 4}},
        "prompt": {"user": "{{ ref }}", "target": "{{ mr }}"},
        "parser": "text",
        "metrics": ["exact_match"],
        "generation": {"max_new_tokens": 16},
        "targets": {"release": {"trainer": "openai", "evaluator_only": True, "model": model}},
    }
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def _outputs(db: Path, run_id: str) -> list[str]:
    return [e.output for e in Store(db).examples(run_id)]


def test_a_release_swapped_behind_the_same_name_and_url_is_noticed(
    tmp_path: Path, api_key: str, served: tuple[Release, str]
) -> None:
    release, url = served
    spec, db = _spec(tmp_path / "spec.yaml", f"{url}/v1"), tmp_path / "runs.db"
    first = fteval_run("run", str(spec), store=db)
    assert first.returncode == 0, first.stderr
    first_run = Store(db).get_run("latest")
    assert release.rows_asked() == 4 and all(o.startswith("A: ") for o in _outputs(db, first_run.id))
    assert release.probes_asked() == len(PROBES)  # nothing reported tells releases apart: all probes asked

    again = fteval_run("run", str(spec), store=db)
    assert again.returncode == 0 and "model calls this invocation: 0" in again.stdout
    assert Store(db).get_run("latest").id == first_run.id and release.rows_asked() == 4

    release.prefix = "B"  # new weights behind the same name, URL and /v1/models entry
    swapped = fteval_run("run", str(spec), store=db)
    assert swapped.returncode == 0, swapped.stderr
    notices = [line for line in swapped.stderr.splitlines() if "the model is not the one run" in line]
    assert len(notices) == 1 and first_run.id in notices[0]
    new_run = Store(db).get_run("latest")
    assert new_run.id != first_run.id and "model calls this invocation: 4" in swapped.stdout
    assert release.rows_asked() == 8 and all(o.startswith("B: ") for o in _outputs(db, new_run.id))

    # --no-cache asks the model for every row again, even though nothing changed
    fresh = fteval_run("run", str(spec), "--no-cache", store=db)
    assert fresh.returncode == 0 and "model calls this invocation: 4" in fresh.stdout and release.rows_asked() == 12
    assert Store(db).get_run("latest").id != new_run.id


def test_two_url_paths_on_one_host_do_not_share_answers(
    tmp_path: Path, api_key: str, served: tuple[Release, str]
) -> None:
    release, url = served
    db = tmp_path / "runs.db"
    for gateway in ("team-a", "team-b"):
        spec = _spec(tmp_path / f"{gateway}.yaml", f"{url}/{gateway}/v1")
        out = fteval_run("run", str(spec), store=db)
        assert out.returncode == 0 and "model calls this invocation: 4" in out.stdout, out.stderr
        assert release.rows_asked(gateway) == 4
    identities = {r.model_fingerprint.split(";")[0] for r in Store(db).list_runs()}
    assert identities == {f"openai:served@{url}/team-a/v1", f"openai:served@{url}/team-b/v1"}


def test_a_new_snapshot_date_or_system_fingerprint_is_a_new_model_and_needs_no_probes(
    tmp_path: Path, api_key: str, served: tuple[Release, str]
) -> None:
    release, url = served
    release.entry = {"created": 1_700_000_000, "root": "/models/current"}
    spec, db = _spec(tmp_path / "spec.yaml", f"{url}/v1"), tmp_path / "runs.db"
    assert fteval_run("run", str(spec), store=db).returncode == 0
    first = Store(db).get_run("latest")
    assert "created=1700000000" in first.model_fingerprint and "root=/models/current" in first.model_fingerprint
    assert release.probes_asked() == 1  # a stable snapshot date identifies the release: one probe, for its fingerprint
    release.entry = {"created": 1_710_000_000, "root": "/models/current"}
    moved = fteval_run("run", str(spec), store=db)
    assert moved.returncode == 0 and "model calls this invocation: 4" in moved.stdout
    release.system_fingerprint = "fp_2"
    fingerprinted = fteval_run("run", str(spec), store=db)
    assert fingerprinted.returncode == 0 and "model calls this invocation: 4" in fingerprinted.stdout
    assert "system_fingerprint=fp_2" in Store(db).get_run("latest").model_fingerprint


def test_a_pinned_revision_is_part_of_the_identity(tmp_path: Path, api_key: str, served: tuple[Release, str]) -> None:
    release, url = served
    db = tmp_path / "runs.db"
    v3 = _spec(tmp_path / "v3.yaml", f"{url}/v1", revision="v3")
    assert fteval_run("run", str(v3), store=db).returncode == 0
    assert (
        "revision=v3" in Store(db).get_run("latest").model_fingerprint and release.probes_asked() == 0
    )  # pinned: taken at its word, no probe
    v4 = fteval_run("run", str(_spec(tmp_path / "v4.yaml", f"{url}/v1", revision="v4")), store=db)
    assert v4.returncode == 0 and "model calls this invocation: 4" in v4.stdout
