"""Every YAML snippet a user would copy from the README and the docs parses (safely, as specs are loaded)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS += sorted((ROOT / "plugins").glob("*/README.md"))
BLOCK = re.compile(r"```ya?ml\n(.*?)```", re.S)
SNIPPETS = [
    (f"{path.relative_to(ROOT)}:{path.read_text(encoding='utf-8')[: m.start()].count(chr(10)) + 1}", m.group(1))
    for path in DOCS
    for m in BLOCK.finditer(path.read_text(encoding="utf-8"))
]


def test_the_docs_have_yaml_snippets() -> None:
    assert len(SNIPPETS) >= 10  # the pattern finds them: a test of nothing would pass on an empty list


@pytest.mark.parametrize(("where", "text"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_a_yaml_snippet_in_the_docs_parses(where: str, text: str) -> None:
    YAML(typ="safe", pure=True).load(text)
