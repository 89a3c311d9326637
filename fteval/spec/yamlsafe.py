"""Safe YAML loading that keeps source positions and refuses hostile input.

The file is composed into a node graph (no Python objects are ever constructed from tags), then
turned into plain data by hand, which lets us cap alias expansion (billion laughs) and record the
line and column of every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from fteval.data.textfile import TextFileError, decode_utf8, position, read_capped
from fteval.errors import Issue, SpecError

MAX_FILE_BYTES = 2_000_000
MAX_NODES = 200_000
MAX_DEPTH = 64
_SCALAR_TAGS = {"str", "int", "float", "bool", "null", "timestamp", "binary"}
Path_ = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Where each key path of the loaded data came from: path -> (file, line, col), 1-based."""

    positions: dict[Path_, tuple[Path, int, int]] = field(default_factory=dict)
    #: Key paths an extending spec removed (``targets: {name: null}``), with where it said so.
    removed: dict[Path_, tuple[Path, int, int]] = field(default_factory=dict)

    def locate(self, path: Path_) -> tuple[Path | None, int | None, int | None]:
        """Position of the longest prefix of ``path`` that has one."""
        for cut in range(len(path), -1, -1):
            hit = self.positions.get(tuple(path[:cut]))
            if hit:
                return hit
        return None, None, None

    def update(self, other: SourceMap, prefix: Path_ = ()) -> None:
        """Take ``other``'s positions (moved under ``prefix``), overriding ours."""
        for key, pos in other.positions.items():
            self.positions[prefix + key] = pos
        for key, pos in other.removed.items():
            self.removed[prefix + key] = pos


def format_path(path: Path_) -> str:
    """``("targets", "tiny", "train", 0)`` -> ``targets.tiny.train[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _expanded_size(node: Node, memo: dict[int, int], depth: int) -> int:
    """Nodes under ``node`` once aliases are expanded; memoised, so shared nodes are counted cheaply.

    Raises:
        ValueError: a recursive alias, or nesting deeper than ``MAX_DEPTH``.
    """
    known = memo.get(id(node))
    if known is not None:
        if known < 0:
            raise ValueError("recursive alias")
        return known
    if depth > MAX_DEPTH:
        raise ValueError(f"nesting is deeper than {MAX_DEPTH} levels")
    memo[id(node)] = -1
    if isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, SequenceNode):
        children = list(node.value)
    else:
        children = []
    size = 1 + sum(_expanded_size(child, memo, depth + 1) for child in children)
    memo[id(node)] = size
    return size


def _check_expansion(root: Node, file: Path) -> None:
    """Refuse alias bombs, recursive aliases and deep nesting before building anything."""
    entries: list[tuple[Any, Any, tuple[str | int, ...]]]
    if isinstance(root, MappingNode):
        entries = [(key, value, (str(key.value),)) for key, value in root.value]
    elif isinstance(root, SequenceNode):
        entries = [(item, item, (i,)) for i, item in enumerate(root.value)]
    else:
        return
    memo: dict[int, int] = {}
    total = 1
    for at, value, path in entries:
        try:
            total += 1 + _expanded_size(value, memo, 1)
        except ValueError as exc:
            problem = str(exc)
        else:
            if total <= MAX_NODES:
                continue
            problem = f"the document expands to more than {MAX_NODES} nodes (alias bomb?)"
        line, col = at.start_mark.line + 1, at.start_mark.column + 1
        raise SpecError([Issue(file, line, col, format_path(path), problem)])


def _tag_name(node: Node) -> str:
    tag = str(node.tag)
    return tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag


class _Builder:
    def __init__(self, yaml: YAML, file: Path, source: SourceMap) -> None:
        self.yaml, self.file, self.source = yaml, file, source

    def mark(self, node: Node, path: Path_) -> None:
        self.source.positions.setdefault(path, (self.file, node.start_mark.line + 1, node.start_mark.column + 1))

    def fail(self, node: Node, path: Path_, message: str) -> SpecError:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        return SpecError([Issue(self.file, line, col, format_path(path), message)])

    def build(self, node: Node, path: Path_) -> Any:
        """Plain data from ``node``; ``_check_expansion`` has already bounded its size and depth."""
        tag = _tag_name(node)
        if isinstance(node, MappingNode):
            if tag != "map":
                raise self.fail(node, path, f"tag {node.tag!s} is not allowed")
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or _tag_name(key_node) == "merge":
                    raise self.fail(key_node, path, "keys must be plain scalars (no merge keys)")
                key = str(key_node.value)
                if key in out:
                    raise self.fail(key_node, path + (key,), "duplicate key")
                self.mark(key_node, path + (key,))
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, SequenceNode):
            if tag != "seq":
                raise self.fail(node, path, f"tag {node.tag!s} is not allowed")
            items = []
            for i, item in enumerate(node.value):
                self.mark(item, path + (i,))
                items.append(self.build(item, path + (i,)))
            return items
        if tag not in _SCALAR_TAGS:
            raise self.fail(node, path, f"tag {node.tag!s} is not allowed (safe loading)")
        try:
            value = self.yaml.constructor.construct_object(node, deep=True)
        except ValueError as exc:  # a scalar that looks like a timestamp but is none: 2024-13-45
            kind = "date" if tag == "timestamp" else tag
            raise self.fail(
                node, path, f"{node.value!r} is not a valid {kind} ({exc}); quote it to make it text"
            ) from None
        return value.isoformat() if hasattr(value, "isoformat") else value


def load_yaml(file: Path) -> tuple[Any, SourceMap]:
    """Load one YAML file safely.

    Returns:
        The data (dicts, lists, scalars) and a map of key paths to positions.

    Raises:
        SpecError: unreadable, too large, a syntax error, a disallowed tag, or an alias bomb.
    """
    try:
        text = decode_utf8(read_capped(file, MAX_FILE_BYTES))
    except OSError as exc:
        raise SpecError([Issue(file, None, None, "", f"cannot read spec: {exc.strerror}")]) from None
    except TextFileError as exc:
        raise SpecError([Issue(file, exc.line, exc.col, "", f"the spec is {exc.message}")]) from None
    yaml = YAML(typ="safe", pure=True)
    source = SourceMap()
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise SpecError([Issue(file, line, col, "", f"YAML syntax error: {problem}")]) from None
    except ReaderError as exc:
        # A control character: ruamel reports a character offset and no line; say where and what.
        line, col = position(text, exc.position) if isinstance(exc.position, int) else (None, None)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        raise SpecError(
            [
                Issue(
                    file,
                    line,
                    col,
                    "",
                    f"control character U+{code:04X} is not allowed in YAML; remove it, or write it as \\x{code:02x} "
                    "inside a double-quoted string",
                )
            ]
        ) from None
    except RecursionError:
        raise SpecError([Issue(file, None, None, "", f"YAML nesting is deeper than {MAX_DEPTH} levels")]) from None
    if node is None:
        return {}, source
    _check_expansion(node, file)
    data = _Builder(yaml, file, source).build(node, ())
    source.positions.setdefault((), (file, node.start_mark.line + 1, node.start_mark.column + 1))
    return data, source
