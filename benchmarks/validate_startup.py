"""Wall time of `fteval validate specs/viggo.yaml` against `python -c pass`, and heavy modules imported.

Run: python benchmarks/validate_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft", "openai", "datasets", "matplotlib", "tokenizers", "accelerate")


def _time(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--spec", default="specs/viggo.yaml")
    args = parser.parse_args()
    baseline = _time([sys.executable, "-c", "pass"], args.repeat)
    validate = _time([sys.executable, "-m", "fteval", "validate", args.spec], args.repeat)
    probe = (
        "import sys, json\nfrom fteval.cli import main\n"
        f"try:\n    main(['validate', {args.spec!r}], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    heavy = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"python -c pass          median {baseline * 1000:8.1f} ms")
    print(f"fteval validate {args.spec}  median {validate * 1000:8.1f} ms")
    print(f"ratio validate / python startup: {validate / baseline:.1f}x")
    print(f"heavy modules imported: {heavy or 'none'}")
    sys.exit(1 if heavy else 0)


if __name__ == "__main__":
    main()
