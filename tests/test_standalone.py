"""The repository stands alone: no test, benchmark, package or spec reads a path outside it.

A clone has nothing beside it, so a path that climbs out of the repository (the team's
``../shared/data`` folder, above all) works on one machine and fails everywhere else. Three checks:
Python paths built from ``__file__`` must stay inside the repository; no file names the shared data
folder's layout; relative paths in YAML files must resolve inside the repository.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "benchmarks", "fteval", "plugins", "specs")
# Names only the sibling shared folder has: its location and its folder layout (the repository's
# own copies live in specs/data/{sql,viggo} and tests/data/reference).
SHARED_NAMES = re.compile(r"/work/shared\b|\bshared[/\\]data\b|sql-create-context-spider|\bopenai-format\b")
# A relative path in YAML that climbs at least one level, e.g. ``../data/viggo/train.csv``.
YAML_RELATIVE = re.compile(r"(?<![\w./-])((?:\.\./)+[\w./-]*)")
PATH_CALLS = {"Path", "PurePath", "resolve", "absolute", "abspath", "realpath", "normpath"}


def _levels(text: str) -> tuple[int, int]:
    """(net depth change, lowest point reached) of a relative path string such as ``../a/b``."""
    depth = lowest = 0
    for part in re.split(r"[/\\]", text):
        if part == "..":
            depth -= 1
            lowest = min(lowest, depth)
        elif part not in ("", "."):
            depth += 1
    return depth, lowest


class _Escapes(ast.NodeVisitor):
    """Lines where a path derived from ``__file__`` climbs above the repository root."""

    def __init__(self, file_depth: int) -> None:
        self.file_depth = file_depth  # components of the file's path below the root
        self.names: dict[str, int] = {}
        self.lines: set[int] = set()

    def depth(self, node: ast.AST) -> int | None:
        """Depth below the repository root of the path ``node`` evaluates to, if known."""
        value = self._depth(node)
        if value is not None and value < 0:
            self.lines.add(node.lineno)  # type: ignore[attr-defined]
        return value

    def _depth(self, node: ast.AST) -> int | None:
        if isinstance(node, ast.Name):
            return self.file_depth if node.id == "__file__" else self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            inner = self.depth(node.value)
            return None if inner is None else inner - 1
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
        ):
            inner = self.depth(node.value.value)
            return None if inner is None else inner - 1 - int(node.slice.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self._join(self.depth(node.left), [node.right])
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _call(self, node: ast.Call) -> int | None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if isinstance(func, ast.Attribute) and name in ("resolve", "absolute", "joinpath"):
            inner = self.depth(func.value)
            return self._join(inner, node.args) if name == "joinpath" else inner
        if not node.args:
            return None
        first = self.depth(node.args[0])
        if name == "dirname":
            return None if first is None else first - 1
        if name == "join":
            return self._join(first, node.args[1:])
        return first if name in PATH_CALLS else None

    def _join(self, base: int | None, parts: list[ast.expr]) -> int | None:
        """Depth after joining constant string ``parts`` onto a path at depth ``base``."""
        if base is None:
            return None
        for part in parts:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                return None
            change, lowest = _levels(part.value)
            if base + lowest < 0:
                self.lines.add(part.lineno)
            base += change
        return base

    def visit_Assign(self, node: ast.Assign) -> None:
        value = self.depth(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and value is not None:
                self.names[target.id] = value
        self.generic_visit(node)

    def visit_expr(self, node: ast.expr) -> None:
        self.depth(node)
        self.generic_visit(node)

    visit_Attribute = visit_Subscript = visit_BinOp = visit_Call = visit_expr


def outside_references(relative: str, text: str) -> list[str]:
    """Each ``path:line: reason`` where the file's text reaches outside the repository.

    Args:
        relative: The file's path inside the repository, e.g. ``tests/plugins/sql/conftest.py``.
        text: The file's contents.

    Returns:
        One entry per offending line, empty when the file stays inside the repository.
    """
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if SHARED_NAMES.search(line):
            found.append(f"{relative}:{number}: names the shared data folder")
    file_depth = len(Path(relative).parts)
    if relative.endswith(".py"):
        visitor = _Escapes(file_depth)
        visitor.visit(ast.parse(text))
        found += [f"{relative}:{n}: path from __file__ leaves the repository" for n in sorted(visitor.lines)]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            for match in YAML_RELATIVE.finditer(line.split("#", 1)[0]):
                if file_depth - 1 + _levels(match.group(1))[1] < 0:
                    found.append(f"{relative}:{number}: {match.group(1)} leaves the repository")
    return found


def scanned_files() -> list[Path]:
    """Python and YAML files of the scanned folders, except this test (which quotes old code)."""
    me = Path(__file__).resolve()
    return sorted(
        path
        for folder in SCANNED
        for pattern in ("*.py", "*.yaml", "*.yml")
        for path in (ROOT / folder).rglob(pattern)
        if path.resolve() != me and ".venv" not in path.parts
    )


def test_nothing_reads_outside_the_repository():
    files = scanned_files()
    assert len(files) > 50, "the scan found suspiciously few files"
    found = [
        hit for path in files for hit in outside_references(path.relative_to(ROOT).as_posix(), path.read_text("utf-8"))
    ]
    assert found == []


# The lines that read ../shared/data before the repository stood alone, verbatim, with their files.
OLD_CODE = [
    (
        "tests/plugins/sql/conftest.py",
        """
ROOT = Path(__file__).resolve().parents[3]
VAL = ROOT.parent / "shared" / "data" / "sql-create-context-spider" / "val.json"
""",
    ),
    (
        "tests/plugins/viggo/viggo_helpers.py",
        """
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "viggo"
""",
    ),
    (
        "benchmarks/_hf_common.py",
        """
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
""",
    ),
    (
        "benchmarks/score_sql.py",
        """
VAL = Path(__file__).resolve().parents[1].parent / "shared/data/sql-create-context-spider/val.json"
""",
    ),
    (
        "tests/plugins/hf/test_decode.py",
        """
VIGGO = (
    Path(__file__).resolve().parents[4]
    / "shared"
    / "data"
    / "openai-format"
    / "viggo_validation.jsonl"
)
""",
    ),
]


@pytest.mark.parametrize(("relative", "text"), OLD_CODE, ids=[r for r, _ in OLD_CODE])
def test_the_old_reads_of_shared_data_are_caught(relative, text):
    # The path check alone catches each (the name check only some), so a rename would not slip past.
    assert any("leaves the repository" in hit for hit in outside_references(relative, text))


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        # Renamed so that no shared-folder name helps: the path check alone must catch these.
        (
            "tests/plugins/x/conftest.py",
            'ROOT = Path(__file__).resolve().parents[3]\nX = ROOT.parent / "elsewhere"\n',
        ),
        ("benchmarks/b.py", 'X = Path(__file__).resolve().parents[2] / "elsewhere"\n'),
        ("benchmarks/b.py", 'X = Path(__file__).parent.parent.parent / "elsewhere"\n'),
        ("benchmarks/b.py", 'X = Path(__file__).parent / "../../elsewhere"\n'),
        (
            "benchmarks/b.py",
            'X = os.path.join(os.path.dirname(__file__), "..", "..", "elsewhere")\n',
        ),
        ("specs/x.yaml", "dataset:\n  train: {path: ../../elsewhere/train.csv}\n"),
        ("specs/base/x.yaml", "extends: ../../../elsewhere/base.yaml\n"),
    ],
)
def test_paths_that_leave_the_repository_are_caught(relative, text):
    assert outside_references(relative, text)


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        (
            "tests/plugins/sql/conftest.py",
            'ROOT = Path(__file__).resolve().parents[3]\nVAL = ROOT / "specs"\n',
        ),
        ("benchmarks/b.py", 'X = Path(__file__).resolve().parents[1] / "specs" / "data"\n'),
        # A folder named "shared" inside a test's tmp_path is not the sibling folder.
        (
            "tests/test_x.py",
            'p = tmp_path / "shared" / "base.yaml"\nq = p.parent.parent / "shared"\n',
        ),
        ("specs/base/viggo.yaml", "dataset:\n  train: {path: ../data/viggo/train.csv}\n"),
    ],
)
def test_paths_inside_the_repository_pass(relative, text):
    assert outside_references(relative, text) == []
