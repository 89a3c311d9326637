"""Write specs/data/viggo/d2t-test.jsonl: the ViGGO test split grouped by meaning representation.

Data-to-text is scored against every reference sentence of an MR (ViGGO has three per MR), so the
eval file has one row per MR: ``mr``, ``ref`` (the first sentence, the gold target) and ``refs``
(all of them, in file order). Run from the repository root: python scripts/viggo_d2t_data.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

DATA = Path("specs/data/viggo")


def main() -> None:
    """Group test.csv by MR, keeping the order of first appearance."""
    groups: dict[str, list[str]] = {}
    with (DATA / "test.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            groups.setdefault(row["mr"], []).append(row["ref"])
    with (DATA / "d2t-test.jsonl").open("w", encoding="utf-8") as out:
        for mr, refs in groups.items():
            out.write(json.dumps({"mr": mr, "ref": refs[0], "refs": refs}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
