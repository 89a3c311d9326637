"""Credentials go only where the user sent them: real specs against a real header-recording server on 127.0.0.1.

Issue 27: the environment's ``OPENAI_API_KEY`` went to whatever host a spec named, and a base spec
pulled in with ``extends:`` could send any variable (``GITHUB_TOKEN``) anywhere.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fteval_testutil import SPECS, fteval_run

from fteval.spec.credential_routes import api_credential, url_host

pytest.importorskip("openai")

USER_KEY = "sk-user-own-openai-key-5f1e2d3c4b5a69788"
TEAM_TOKEN = "ghp_teamtokenthatmuststayhome0123456789"
SPEC_KEY = "spec-named-key-value-0a9b8c7d6e"


class _Recorder(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that records every Authorization header and echoes it in completions."""

    seen: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization", ""))  # type: ignore[attr-defined]
        self._answer({"id": "m", "object": "model", "created": 1, "owned_by": "x"})

    def do_POST(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.server.seen.append(auth)  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        message = {"role": "assistant", "content": f"yes (you sent {auth})"}
        self._answer(
            {
                "id": "c",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
            }
        )


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/v1"


def _spec(tmp_path: Path, model: str, *, extends: str | None = None, name: str = "spec.yaml") -> Path:
    """A two-row yes/no spec with one zero-shot openai target ``api`` whose model section is ``model``."""
    data = tmp_path / "eval.csv"
    data.write_text("question,answer\nIs a cat a mammal?,yes\nIs a trout a mammal?,no\n")
    spec = tmp_path / name
    head = f"extends: {extends}\n" if extends else ""
    spec.write_text(
        f"fteval: 1\n{head}name: routes\n"
        f"dataset:\n  eval: {{path: {data}}}\n"
        'prompt:\n  user: "Q: {{ question }}"\n  target: "{{ answer }}"\n'
        'parser: {name: choice, labels: ["yes", "no"]}\n'
        "generation: {max_new_tokens: 8}\n"
        f"targets:\n  api:\n    trainer: openai\n    evaluator_only: true\n    model: {model}\n"
    )
    return spec


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    # FTEVAL_CONFIG points at a file that does not exist unless a test writes it: the user's own is never read
    base = {"OPENAI_API_KEY": USER_KEY, "FTEVAL_CONFIG": str(tmp_path / "user-config.yaml")}
    return fteval_run(*args, store=tmp_path / "store" / "runs.db", env_extra={**base, **(env or {})})


def _stored(tmp_path: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in (tmp_path / "store").rglob("*") if p.is_file())


def test_the_users_openai_key_never_goes_to_another_host(tmp_path: Path, server: ThreadingHTTPServer) -> None:
    spec = _spec(tmp_path, f"{{name: m, base_url: '{_url(server)}', max_retries: 0}}")
    checked = _cli(tmp_path, "validate", str(spec))
    assert checked.returncode == 0, checked.stderr
    assert f"target api sends no key to 127.0.0.1:{server.server_address[1]}" in checked.stdout
    ran = _cli(tmp_path, "run", str(spec))
    assert ran.returncode == 0, ran.stderr
    assert server.seen and all(USER_KEY not in h for h in server.seen)  # type: ignore[attr-defined]
    assert set(server.seen) == {"Bearer fteval-no-key"}  # type: ignore[attr-defined]


def test_a_key_the_users_spec_names_goes_there_and_is_scrubbed_from_echoed_outputs(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    spec = _spec(tmp_path, f"{{name: m, base_url: '{_url(server)}', api_key_env: SPEC_KEY, max_retries: 0}}")
    checked = _cli(tmp_path, "validate", str(spec), env={"SPEC_KEY": SPEC_KEY})
    assert f"target api sends the key in $SPEC_KEY to 127.0.0.1:{server.server_address[1]}" in checked.stdout
    ran = _cli(tmp_path, "run", str(spec), env={"SPEC_KEY": SPEC_KEY})
    assert ran.returncode == 0, ran.stderr
    assert f"Bearer {SPEC_KEY}" in server.seen  # type: ignore[attr-defined]
    # the server echoed the key into every completion: neither outputs nor the response cache keep it
    stored = _stored(tmp_path)
    assert SPEC_KEY not in stored and USER_KEY not in stored
    with sqlite3.connect(tmp_path / "store" / "runs.db") as con:
        outputs = [row[0] for row in con.execute("SELECT output FROM examples")]
    assert outputs and all("you sent Bearer <redacted>" in o for o in outputs)


def test_a_base_spec_cannot_send_a_token_elsewhere_without_the_users_approval(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    """The team's base file names GITHUB_TOKEN for its target; the user's spec only extends it."""
    base = _spec(
        tmp_path,
        f"{{name: m, base_url: '{_url(server)}', api_key_env: GITHUB_TOKEN, max_retries: 0}}",
        name="base.yaml",
    )
    spec = tmp_path / "mine.yaml"
    spec.write_text("fteval: 1\nextends: base.yaml\nname: mine\n")
    env = {"GITHUB_TOKEN": TEAM_TOKEN}
    host = f"127.0.0.1:{server.server_address[1]}"
    refused = _cli(tmp_path, "run", str(spec), env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"{base}:14:" in refused.stderr and "targets.api.model.api_key_env" in refused.stderr
    assert f"would send $GITHUB_TOKEN to {host}" in refused.stderr
    assert f"--allow-credential '$GITHUB_TOKEN@{host}'" in refused.stderr
    assert server.seen == []  # type: ignore[attr-defined]
    assert _cli(tmp_path, "validate", str(spec), env=env).returncode == 2
    # approved on the command line: it runs, and the token went to that host only
    ran = _cli(tmp_path, "--allow-credential", f"$GITHUB_TOKEN@{host}", "run", str(spec), env=env)
    assert ran.returncode == 0, ran.stderr
    assert f"Bearer {TEAM_TOKEN}" in server.seen  # type: ignore[attr-defined]
    assert TEAM_TOKEN not in _stored(tmp_path) + ran.stdout + ran.stderr
    # approved in the user config file instead
    (tmp_path / "user-config.yaml").write_text(f"allow_credentials: ['$GITHUB_TOKEN@{host}']\n")
    assert _cli(tmp_path, "validate", str(spec), env=env).returncode == 0
    # an approval for another host does not carry over
    (tmp_path / "user-config.yaml").write_text("allow_credentials: ['$GITHUB_TOKEN@127.0.0.1:1']\n")
    assert _cli(tmp_path, "validate", str(spec), env=env).returncode == 2


def test_a_base_url_from_a_base_file_with_the_users_key_name_needs_approval(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    _spec(tmp_path, f"{{name: m, base_url: '{_url(server)}', max_retries: 0}}", name="base.yaml")
    spec = tmp_path / "mine.yaml"
    spec.write_text("fteval: 1\nextends: base.yaml\ntargets:\n  api:\n    model: {api_key_env: OPENAI_API_KEY}\n")
    out = _cli(tmp_path, "validate", str(spec))
    assert out.returncode == 2 and "targets.api.model.base_url" in out.stderr, out.stderr
    assert "would send $OPENAI_API_KEY to 127.0.0.1" in out.stderr


def test_a_user_config_with_an_unknown_key_is_a_located_error(tmp_path: Path, server: ThreadingHTTPServer) -> None:
    _spec(tmp_path, f"{{name: m, base_url: '{_url(server)}', api_key_env: GITHUB_TOKEN}}", name="base.yaml")
    spec = tmp_path / "mine.yaml"
    spec.write_text("fteval: 1\nextends: base.yaml\n")
    config = tmp_path / "user-config.yaml"
    config.write_text("allow_credential: []\n")
    out = _cli(tmp_path, "validate", str(spec))
    assert out.returncode == 2 and f"{config}:1:1: allow_credential" in out.stderr, out.stderr


def test_a_key_file_that_is_not_a_key_is_refused_without_quoting_it(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:hunter2-secret:/root:/bin/bash\ndaemon:x:1:1::/:/bin/sh\n")
    spec = _spec(tmp_path, f"{{name: m, base_url: '{_url(server)}', api_key_file: {passwd}, max_retries: 0}}")
    out = _cli(tmp_path, "run", str(spec))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"key file {passwd} is not a key file: it has 2 lines, not one line with the key" in out.stderr
    assert "hunter2" not in out.stdout + out.stderr and server.seen == []  # type: ignore[attr-defined]
    zero = _spec(tmp_path, f"{{name: m, base_url: '{_url(server)}', api_key_file: /dev/zero}}", name="z.yaml")
    out = _cli(tmp_path, "run", str(zero))
    assert (
        out.returncode == 1
        and "key file /dev/zero cannot be read (not a regular file (a device, pipe or socket))" in out.stderr
    )


@pytest.mark.parametrize(
    ("url", "key_env", "secret", "host", "options"),
    [
        (None, None, "$OPENAI_API_KEY", "api.openai.com", ()),
        ("https://api.openai.com/v1", "OPENAI_API_KEY", "$OPENAI_API_KEY", "api.openai.com", ()),
        ("http://api.openai.com/v1", None, "", "api.openai.com", ("model.base_url",)),
        ("http://u:pw@127.0.0.1:8000/v1", None, "", "127.0.0.1:8000", ("model.base_url",)),
        ("http://h:9/v1", "K", "$K", "h:9", ("model.api_key_env", "model.base_url")),
        (None, "K", "$K", "api.openai.com", ("model.api_key_env",)),
    ],
)
def test_routes(url: str | None, key_env: str | None, secret: str, host: str, options: tuple[str, ...]) -> None:
    route = api_credential(url, key_env, None, default_url="https://api.openai.com/v1", default_env="OPENAI_API_KEY")
    assert (route.secret, route.host, route.options) == (secret, host, options)


def test_url_host_never_keeps_a_password() -> None:
    assert url_host("http://me:hunter2@Example.COM:8080/v1") == "example.com:8080"
    assert url_host("http://[::1]:8000/v1") == "[::1]:8000"


def test_shipped_specs_that_point_at_fteval_serve_name_their_key() -> None:
    text = (SPECS / "viggo-openai.yaml").read_text()
    for line in text.splitlines():
        if "base_url:" in line and "127.0.0.1" in line:
            assert "api_key_env:" in line, line


def test_a_password_in_base_url_is_redacted_in_stdout_store_show_and_reports(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    password = "url-pass-7c6b5a4d3e2f"
    url = f"http://me:{password}@127.0.0.1:{server.server_address[1]}/v1"
    spec = _spec(tmp_path, f"{{name: m, base_url: '{url}', max_retries: 0}}")
    results = [
        _cli(tmp_path, "run", str(spec)),
        _cli(tmp_path, "show", "latest", "--json"),
        _cli(tmp_path, "runs"),
        _cli(tmp_path, "report", "latest", "--md", "-", "--html", str(tmp_path / "r.html")),
    ]
    assert all(r.returncode == 0 for r in results), [r.stderr[-500:] for r in results]
    everything = "".join(r.stdout + r.stderr for r in results) + _stored(tmp_path)
    everything += (tmp_path / "r.html").read_text(encoding="utf-8")
    assert password not in everything
    shown = json.loads(results[1].stdout)
    assert f"127.0.0.1:{server.server_address[1]}" in json.dumps(shown)


def test_resolve_redacts_secret_looking_values_from_extended_files(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(
        "fteval: 1\nname: b\nnotes: {oauth_token: oauth-value-1234567, aws_secret: aws-value-7654321,"
        " dsn: 'postgres://u:pg-pass-123456@db/x', max_new_tokens: 5}\n"
    )
    spec = tmp_path / "mine.yaml"
    spec.write_text("fteval: 1\nextends: base.yaml\n")
    for args in (("resolve", str(spec)), ("resolve", str(spec), "--why")):
        out = _cli(tmp_path, *args)
        assert out.returncode == 0, out.stderr
        for secret in ("oauth-value-1234567", "aws-value-7654321", "pg-pass-123456"):
            assert secret not in out.stdout
        assert "<redacted>" in out.stdout and "max_new_tokens" in out.stdout


def test_a_base_spec_cannot_send_another_token_to_the_hub(tmp_path: Path) -> None:
    """A hub token is the user's HF_TOKEN; a base file naming GITHUB_TOKEN as one needs approval."""
    base = tmp_path / "base.yaml"
    data = tmp_path / "eval.csv"
    data.write_text("question,answer\nq,yes\n")
    base.write_text(
        f"fteval: 1\nname: hub\ndataset:\n  train: {{path: {data}}}\n  eval: {{path: {data}}}\n"
        'prompt:\n  user: "{{ question }}"\n  target: "{{ answer }}"\nparser: text\n'
        "targets:\n  hub:\n    trainer: hf\n    model: {id: org/private-model, token_env: GITHUB_TOKEN}\n"
    )
    spec = tmp_path / "mine.yaml"
    spec.write_text("fteval: 1\nextends: base.yaml\n")
    out = _cli(tmp_path, "validate", str(spec), env={"HF_ENDPOINT": ""})
    assert out.returncode == 2 and "would send $GITHUB_TOKEN to huggingface.co" in out.stderr, out.stderr
    base.write_text(base.read_text().replace("GITHUB_TOKEN", "HF_TOKEN"))
    out = _cli(tmp_path, "validate", str(spec), env={"HF_ENDPOINT": ""})
    assert out.returncode == 0, out.stderr
    assert "target hub sends the key in $HF_TOKEN to huggingface.co" in out.stdout


def test_scrub_outputs_replaces_known_secrets_and_leaves_short_values() -> None:
    from fteval.plugin import Generation
    from fteval.spec.credential_routes import scrub_outputs

    outputs = [Generation("key sk-live-12345678 and abc", 0.1), Generation("nothing here", 0.2)]
    scrubbed = scrub_outputs(outputs, frozenset({"sk-live-12345678", "abc"}))
    assert [g.text for g in scrubbed] == ["key <redacted> and abc", "nothing here"]
    assert scrubbed[1] is outputs[1] and scrubbed[0].latency_s == 0.1


def test_validate_prints_the_approval_a_user_can_copy_unredacted(tmp_path: Path) -> None:
    """The hint names the config entry in full: the error printer's redaction must not eat part of it."""
    (tmp_path / "base.yaml").write_text(
        f"extends: {SPECS / 'yesno.yaml'}\ntargets:\n  api:\n    trainer: openai\n    evaluator_only: true\n"
        "    model: {name: m, base_url: 'http://127.0.0.1:9/v1', api_key_env: TEAM_KEY}\n"
    )
    spec = tmp_path / "mine.yaml"
    spec.write_text("extends: base.yaml\n")
    for command in ("validate", "run"):
        out = _cli(tmp_path, command, str(spec))
        assert out.returncode == 2 and "<redacted>" not in out.stderr, out.stderr
        assert f"add '$TEAM_KEY@127.0.0.1:9' to allow_credentials in {tmp_path / 'user-config.yaml'}" in out.stderr
