"""The core imports no plugin and names none: every plugin capability reaches it through the contract's hooks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Every package under plugins/: the built-ins, registered through entry points like a third party's.
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file())
#: (core file, plugin package) pairs allowed to name a plugin in a string, each with its reason. Empty.
ALLOWED: set[tuple[str, str]] = set()


def _mentions(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, what, plugin) for every import of a plugin and every string that names one."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, PLUGINS)) + r")\b")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = pattern.findall(node.value)
            found += [(node.lineno, "string", name) for name in names]
            continue
        else:
            continue
        found += [(node.lineno, "import", n.split(".")[0]) for n in names if n.split(".")[0] in PLUGINS]
    return found


def test_the_plugin_list_is_the_built_ins() -> None:
    assert {"fteval_generic", "fteval_hf", "fteval_openai", "fteval_sql", "fteval_viggo"} <= set(PLUGINS)


def test_no_core_module_imports_or_names_a_plugin() -> None:
    offences = []
    for path in sorted((ROOT / "fteval").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, what, plugin in _mentions(ast.parse(path.read_text(encoding="utf-8"), rel)):
            if (rel, plugin) not in ALLOWED:
                offences.append(f"{rel}:{line}: {what} {plugin}")
    assert offences == []


def test_the_check_finds_an_import_a_dynamic_import_and_a_docstring() -> None:
    code = (
        '"""Uses fteval_hf."""\n'
        "import fteval_openai.server\n"
        "from fteval_sql import parser\n"
        'importlib.import_module(f"fteval_viggo.{name}")\n'
        "import fteval_generic_extra  # another package: not a plugin\n"
    )
    assert sorted(_mentions(ast.parse(code))) == [
        (1, "string", "fteval_hf"),
        (2, "import", "fteval_openai"),
        (3, "import", "fteval_sql"),
        (4, "string", "fteval_viggo"),
    ]
