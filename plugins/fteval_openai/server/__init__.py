"""``fteval serve``: an OpenAI-compatible HTTP server on 127.0.0.1 whose fine-tuning jobs train locally.

Files, fine-tuning jobs (with events and cancel), models and chat completions, enough for the
official ``openai`` client and the ``openai`` trainer/generator to run a whole workflow offline.
Jobs train through the ``hf`` trainer (scratch preset) in a background thread; state lives in
``state_dir`` and survives restarts. Needs ``pip install 'fteval[serve,hf]'``.
"""

from __future__ import annotations

from fteval_openai.server.options import ServeOptions

__all__ = ["ServeOptions", "serve"]


def serve(options: ServeOptions) -> None:
    """Run the server until interrupted."""
    import uvicorn

    from fteval_openai.server.app import create_app

    uvicorn.run(create_app(options), host=options.host, port=options.port, log_level="warning")
