"""The openai plugin's extra commands (entry-point group ``fteval.commands``): ``fteval serve``.

Imports only click at module level: ``fteval --help`` loads this module to list the command.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from fteval.errors import FtevalError, PluginError

__all__ = ["serve"]

_INSTALL = "pip install 'fteval[serve,hf]'"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, help="TCP port.")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=Path(".fteval/serve"),
    show_default=True,
    help="Files, jobs and trained models (kept across restarts).",
)
@click.option("--api-key-env", default=None, help="Require the key held in this environment variable.")
@click.option(
    "--preset",
    type=click.Choice(["tiny", "small"]),
    default="tiny",
    show_default=True,
    help="Scratch model that fine-tuning jobs train (hf trainer).",
)
@click.option("--train-epochs", default=3, show_default=True, help="Epochs when a job leaves n_epochs on auto.")
@click.option("--train-max-steps", type=int, default=None, help="Cap on optimizer steps per job (quick tests).")
@click.option("--fail-rate", default=0.0, show_default=True, help="Share of chat completions answered 429/500.")
@click.option("--latency-ms", default=0.0, show_default=True, help="Added latency per chat completion.")
@click.option("--latency-jitter-ms", default=0.0, show_default=True, help="Plus a uniform random 0..N ms.")
@click.option("--rate-limit", type=float, default=None, help="Chat completions per second; more get 429 + Retry-After.")
@click.option("--fault-seed", default=0, show_default=True, help="Seed of the injected faults.")
@click.option(
    "--base-model",
    "base_models",
    multiple=True,
    help="A base model id to accept (repeatable; answered by the echo stand-in)  [default: gpt-3.5-turbo, gpt-4o-mini, ...]",
)
@click.option(
    "--allow-no-key",
    is_flag=True,
    help="Serve beyond loopback (--host) without --api-key-env: anyone who reaches the port can use it.",
)
@click.option("--max-body-mb", default=16.0, show_default=True, help="Largest JSON request body (413 beyond).")
@click.option("--max-upload-mb", default=256.0, show_default=True, help="Largest file upload (413 beyond).")
def serve(
    host: str,
    port: int,
    state_dir: Path,
    api_key_env: str | None,
    preset: str,
    train_epochs: int,
    train_max_steps: int | None,
    fail_rate: float,
    latency_ms: float,
    latency_jitter_ms: float,
    rate_limit: float | None,
    fault_seed: int,
    base_models: tuple[str, ...],
    allow_no_key: bool,
    max_body_mb: float,
    max_upload_mb: float,
) -> None:
    """Serve an OpenAI-compatible API whose fine-tuning jobs train locally (see fteval_openai.server)."""
    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise FtevalError(f"--api-key-env {api_key_env}: the variable is not set")
    loopback = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    if not loopback and api_key is None:
        if not allow_no_key:
            raise FtevalError(
                f"--host {host} serves beyond this machine without a key: set --api-key-env VAR"
                " (or pass --allow-no-key to serve anyone who can reach the port)"
            )
        click.secho(
            f"warning: serving on {host} without a key: anyone who reaches the port can use it", fg="yellow", err=True
        )
    try:
        import fteval_openai.server as served  # fastapi, uvicorn: only when serving
        from fteval_openai.server.options import BASE_MODELS
    except ModuleNotFoundError as exc:
        raise PluginError(f"`fteval serve` needs {exc.name!r}: {_INSTALL}") from exc
    options = served.ServeOptions(
        state_dir=state_dir,
        host=host,
        port=port,
        api_key=api_key,
        preset=preset,
        train_epochs=train_epochs,
        train_max_steps=train_max_steps,
        fail_rate=fail_rate,
        latency_ms=latency_ms,
        latency_jitter_ms=latency_jitter_ms,
        rate_limit=rate_limit,
        fault_seed=fault_seed,
        max_body_bytes=int(max_body_mb * 2**20),
        max_upload_bytes=int(max_upload_mb * 2**20),
        base_models=base_models or BASE_MODELS,
    )
    click.echo(f"fteval serve: http://{host}:{port}/v1 (state in {state_dir})", err=True)
    try:
        served.serve(options)
    except ModuleNotFoundError as exc:
        raise PluginError(f"`fteval serve` needs {exc.name!r}: {_INSTALL}") from exc
