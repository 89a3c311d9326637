"""Examples/s of the openai generator at max_concurrency 1, 8 and 32 against ``fteval serve``.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/api_concurrency.py [--latency-ms 200] [--rounds 10]

The server adds a fixed latency to every chat completion (``--latency-ms``) and answers base models
with its echo stand-in, so the ideal throughput at concurrency c is c / latency. Each level sends
``rounds x c`` ViGGO test prompts through ``OpenAIGenerator.load(...).generate`` exactly as the
engine does (one call of up to 64 prompts at a time) and reports the share of the ideal reached.
Goal: at least 0.8 of ideal at concurrency 8.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from fteval_openai.config import OpenAIConfig
from fteval_openai.generator import OpenAIGenerator
from fteval_openai.server.launch import Served

from fteval.plugin import GenerationSettings, ModelHandle, Prompt

ROOT = Path(__file__).resolve().parents[1]
KEY_ENV = "FTEVAL_BENCH_KEY"


def prompts(n: int) -> list[Prompt]:
    """``n`` ViGGO test sentences as user prompts (repeated if needed)."""
    with (ROOT / "specs" / "data" / "viggo" / "test.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r["ref"] for r in csv.DictReader(fh)]
    return [Prompt(None, rows[i % len(rows)]) for i in range(n)]


def measure(url: str, concurrency: int, n: int) -> float:
    """Seconds to generate ``n`` completions at ``concurrency``, in engine-sized calls."""
    config = OpenAIConfig.model_validate(
        {"model": {"name": "gpt-4o-mini", "base_url": url, "api_key_env": KEY_ENV, "max_concurrency": concurrency}}
    )
    generator = OpenAIGenerator()
    settings = GenerationSettings(max_new_tokens=32)
    loaded = generator.load(ModelHandle("openai", "bench", "gpt-4o-mini"), config, settings)
    batch, size = prompts(n), generator.call_size(settings)
    try:
        started = time.perf_counter()
        for start in range(0, n, size):
            loaded.generate(batch[start : start + size])
        return time.perf_counter() - started
    finally:
        loaded.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=10, help="Prompts per level = rounds x concurrency.")
    parser.add_argument("--levels", default="1,8,32")
    args = parser.parse_args()
    os.environ[KEY_ENV] = "bench-key"
    latency = args.latency_ms / 1000
    with (
        tempfile.TemporaryDirectory() as tmp,
        Served(Path(tmp) / "state", "--latency-ms", str(args.latency_ms), key="bench-key") as server,
    ):
        measure(server.url, 4, 8)  # warm-up: imports, connections
        print(f"fixed latency {args.latency_ms:.0f} ms; ideal = concurrency / latency")
        print(f"{'concurrency':>11} {'n':>5} {'seconds':>8} {'ex/s':>7} {'ideal':>7} {'share':>6}")
        for level in (int(x) for x in args.levels.split(",")):
            n = args.rounds * level
            seconds = measure(server.url, level, n)
            rate, ideal = n / seconds, level / latency
            print(f"{level:>11} {n:>5} {seconds:>8.2f} {rate:>7.1f} {ideal:>7.1f} {rate / ideal:>6.2f}")


if __name__ == "__main__":
    main()
