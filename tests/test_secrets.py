"""Secrets never reach the run store or any output: redaction rules, env-var references, real runs grepped."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from fteval_testutil import EXTERNAL_PLUGIN, SPECS, fteval_run
from pydantic import BaseModel, SecretStr

from fteval.redaction import REDACTED, is_secret_key, redact, redact_text, secret_values
from fteval.spec.credentials import inline_secrets

# Every form of secret the reliability probe found stored in clear, each with a distinct value.
SECRET_KEYS = {
    "hf_token": "hf-token-value-1111",
    "token": "plain-token-value-2222",
    "github_token": "github-token-value-3333",
    "secret_key": "secret-key-value-4444",
    "aws_secret_access_key": "aws-secret-value-5555",
    "private_key": "private-key-value-6666",
    "passwd": "passwd-value-7777",
    "api-key": "dashed-api-key-value-8888",
}
URL_PASSWORD = "url-password-9999"
HEADER_TOKEN = "header-bearer-value-aaaa"
TEXT_TOKEN = "query-string-token-bbbb"
SECRET_API_KEY = "secretstr-api-key-cccc"
ENV_API_KEY = "env-api-key-value-dddd"
# Settings whose names merely resemble secrets: kept as they are.
NOT_SECRETS = {
    "max_new_tokens": 77,
    "max_train_tokens": 88,
    "tokenizer": "gpt2-tokenizer-name",
    "api_key_env": "MY_API_KEY_VAR",
    "token_env": "MY_TOKEN_VAR",
    "pad_token": "<pad-token-item>",
    "keep_tokens": "yes",
}
ALL_SECRETS = [*SECRET_KEYS.values(), URL_PASSWORD, HEADER_TOKEN, TEXT_TOKEN, SECRET_API_KEY]


# ------------------------------------------------------------------ the redaction rules


@pytest.mark.parametrize(
    "key", [*SECRET_KEYS, "Authorization", "X-Api-Key", "client_secret", "session_token", "password"]
)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)
    assert redact({key: "value-of-a-secret"}) == {key: REDACTED}


@pytest.mark.parametrize("key", sorted(NOT_SECRETS))
def test_settings_that_only_look_like_secrets_stay(key: str) -> None:
    assert not is_secret_key(key)
    assert redact({key: NOT_SECRETS[key]}) == {key: NOT_SECRETS[key]}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"https://me:{URL_PASSWORD}@example.invalid/v1", URL_PASSWORD),
        (f"postgres://bob:{URL_PASSWORD}@db:5432/x", URL_PASSWORD),
        (f"Authorization: Bearer {HEADER_TOKEN}", HEADER_TOKEN),
        (f"authorization=Basic {HEADER_TOKEN}", HEADER_TOKEN),
        (f"curl -H 'Bearer {HEADER_TOKEN}'", HEADER_TOKEN),
        (f"https://api.invalid/v1?api_key={TEXT_TOKEN}&q=1", TEXT_TOKEN),
        (f"host=db user=bob password={TEXT_TOKEN}", TEXT_TOKEN),
        (f"X-Api-Key: {TEXT_TOKEN}", TEXT_TOKEN),
        ("key sk-proj-abcdefghijklmnop0123 in text", "sk-proj-abcdefghijklmnop0123"),
        ("hf_abcdefghijklmnopqrstuvwx", "hf_abcdefghijklmnopqrstuvwx"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
        ("AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
    ],
)
def test_credentials_inside_text_are_removed(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out and REDACTED in out


@pytest.mark.parametrize(
    "text",
    ["count token frequencies", "max_new_tokens: 128", "pad_token: </s>", "https://example.com/a?q=1", "Note: hello"],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_nested_headers_and_lists_are_redacted() -> None:
    data = {
        "client": {"headers": {"Authorization": f"Bearer {HEADER_TOKEN}", "Accept": "json"}},
        "urls": [f"https://u:{URL_PASSWORD}@h/x"],
        "max_new_tokens": 5,
    }
    out = redact(data)
    assert out == {
        "client": {"headers": {"Authorization": REDACTED, "Accept": "json"}},
        "urls": [f"https://u:{REDACTED}@h/x"],
        "max_new_tokens": 5,
    }


def test_known_secret_values_are_removed_whatever_their_key() -> None:
    class Section(BaseModel):
        hub_auth: SecretStr
        inner: dict[str, SecretStr] = {}

    secrets = secret_values(Section(hub_auth=SecretStr("opaque-credential"), inner={"x": SecretStr("another-one")}))
    assert secrets == {"opaque-credential", "another-one"}
    data = {"hub_auth": "opaque-credential", "note": "uses another-one here"}
    assert redact(data, secrets) == {"hub_auth": REDACTED, "note": f"uses {REDACTED} here"}


def test_inline_secrets_are_found_and_point_at_the_env_option() -> None:
    class Model(BaseModel):
        api_key: SecretStr | None = None
        api_key_env: str | None = None
        endpoint: str | None = None

    data = {"api_key": "abc", "endpoint": f"https://u:{URL_PASSWORD}@h"}
    found = dict(inline_secrets(data, Model.model_validate(data)))
    assert set(found) == {("api_key",), ("endpoint",)}
    assert "set api_key_env: <VARIABLE>" in found[("api_key",)]
    assert inline_secrets({"api_key_env": "MY_VAR", "max_new_tokens": 3}) == []


# ------------------------------------------------------------------ real runs, grepped


def _spec(tmp_path: Path, model: str, name: str = "secret.yaml") -> Path:
    spec = tmp_path / name
    text = (EXTERNAL_PLUGIN / "delayed.yaml").read_text().replace("../../../specs", str(SPECS))
    spec.write_text(text.replace("model: {delay_s: 0.0}", f"model: {model}"))
    return spec


def _everything(store: Path, *outputs: object) -> str:
    """Every byte of the store directory (db, -wal, -shm, jobs/ workdirs) and of the given CLI results."""
    text = "".join(getattr(o, "stdout", "") + getattr(o, "stderr", "") for o in outputs)
    return text + "".join(p.read_bytes().decode("latin-1") for p in store.parent.rglob("*") if p.is_file())


def test_every_secret_form_is_kept_out_of_store_and_output(tmp_path: Path) -> None:
    """Secrets by key name, in URLs, in nested headers, in a SecretStr field, echoed by a careless plugin."""
    client = ", ".join(f"{k}: {v}" for k, v in SECRET_KEYS.items())
    client += ", " + ", ".join(f"{k}: {v}" for k, v in NOT_SECRETS.items())
    client += f", headers: {{Authorization: 'Bearer {HEADER_TOKEN}'}}, docs: 'https://api.invalid/x?token={TEXT_TOKEN}'"
    model = (
        f"{{delay_s: 0.0, api_key: {SECRET_API_KEY}, endpoint: 'https://me:{URL_PASSWORD}@example.invalid/v1',"
        f" echo_secrets: true, client: {{{client}}}}}"
    )
    spec, store = _spec(tmp_path, model), tmp_path / "store" / "runs.db"
    results = [
        fteval_run("validate", str(spec), store=store, extra_path=EXTERNAL_PLUGIN),
        fteval_run("run", str(spec), store=store, extra_path=EXTERNAL_PLUGIN),
        fteval_run("show", "latest", "-n", "3", store=store),
        fteval_run("runs", store=store),
        fteval_run("export", str(spec), store=store, extra_path=EXTERNAL_PLUGIN),
    ]
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    everything = _everything(store, *results)
    leaked = [s for s in ALL_SECRETS if s in everything]
    assert leaked == []
    # validate and run warn about the inline secrets, at their line, recommending the *_env option.
    assert "secret.yaml:15:" in results[0].stderr and "set api_key_env: <VARIABLE>" in results[0].stderr
    assert results[1].stderr.count("warning:") == results[0].stderr.count("warning:") >= len(SECRET_KEYS) + 2
    with sqlite3.connect(store) as con:
        spec_json, config_json = con.execute("SELECT spec_json, config_json FROM runs").fetchone()
        job_config, stats, external_id, handle = con.execute(
            "SELECT config_json, stats_json, external_id, handle_json FROM jobs"
        ).fetchone()
    for stored in (spec_json, config_json, job_config):
        assert all(str(v) in stored for v in NOT_SECRETS.values()), stored  # look-alikes are kept
        assert "me:<redacted>@example.invalid" in stored
    assert REDACTED in stats and REDACTED in external_id and REDACTED in handle
    assert "lookup.json" in handle  # the location that is no secret survives


def test_a_secret_named_by_an_environment_variable_is_used_and_never_stored(tmp_path: Path) -> None:
    spec, store = (
        _spec(tmp_path, "{delay_s: 0.0, api_key_env: FTEVAL_TEST_API_KEY, echo_secrets: true}"),
        tmp_path / "runs.db",
    )
    assert "FTEVAL_TEST_API_KEY" not in os.environ
    unset = fteval_run("run", str(spec), store=store, extra_path=EXTERNAL_PLUGIN)
    assert unset.returncode == 1 and "FTEVAL_TEST_API_KEY (named by model.api_key_env) is not set" in unset.stderr
    assert "Traceback" not in unset.stderr
    env = {"FTEVAL_TEST_API_KEY": ENV_API_KEY}
    checked = fteval_run("validate", str(spec), store=store, extra_path=EXTERNAL_PLUGIN, env_extra=env)
    ran = fteval_run("run", str(spec), store=store, extra_path=EXTERNAL_PLUGIN, env_extra=env)
    shown = fteval_run("show", "latest", store=store)
    assert checked.returncode == ran.returncode == shown.returncode == 0, ran.stderr
    assert "warning" not in checked.stderr + ran.stderr  # a variable's name is not a secret
    everything = _everything(store, checked, ran, shown)
    assert ENV_API_KEY not in everything and "FTEVAL_TEST_API_KEY" in everything


@pytest.mark.parametrize(
    "text", ["x" * 1_000_000, "a-" * 500_000 + "token", "a://" + "b" * 1_000_000, "token: " * 150_000]
)
def test_redaction_takes_linear_time_on_long_text(text: str) -> None:
    import time

    start = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - start < 3  # was quadratic: 130 s for 100,000 letters
