"""A Jinja sandbox with bounded cost: caps on the size of what a template builds, a step and time budget.

Jinja's own sandbox closes Python internals but not cost: ``'x' * 3000000000`` allocates 3 GB and
two nested ``range(99999)`` loops run for hours. Here every operation that can build a large value
is checked *before* it runs (repetition, concatenation, padding, joins, ``%``/``format`` widths,
large integer powers), every loop iteration and call spends one step of a per-render budget, and
the budget also carries a wall-clock deadline. Whatever trips a limit raises ``SecurityError``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "MAX_CHARS",
    "MAX_RANGE",
    "MAX_STEPS",
    "MAX_TOTAL_CHARS",
    "TIME_BUDGET_S",
    "BoundedSandbox",
    "Budget",
    "PrintError",
    "bound_ast",
]

MAX_CHARS = 10_000_000  # largest string/list one operation may build, and the largest rendered output
MAX_RANGE = 100_000  # most items of one range(), as in Jinja's sandbox
MAX_TOTAL_CHARS = 50_000_000  # characters/items all operations of one render may build together, output included
MAX_STEPS = 10_000_000  # loop iterations + calls + intercepted operators per render
TIME_BUDGET_S = 10.0  # wall-clock seconds per render
MAX_POW_BITS = 4096  # largest integer ``**`` may produce
_CHECK_EVERY = 1024  # steps between deadline checks
_FORMAT_NUMBER = re.compile(r"\d+")
_LOOP_FILTER = "_fteval_loop"
_GROWING = frozenset({"append", "extend", "insert", "update", "setdefault", "add", "__setitem__"})
_CONCAT_FILTER = "_fteval_concat"


class PrintError(Exception):
    """``{{ value }}`` would print a null, a list or a mapping as Python text."""


def _finalize(value: Any) -> Any:
    """Refuse to print a null, list or mapping: it would reach the prompt or the gold as Python repr.

    What is printed counts toward the render's total (a loop printing 9 MB each time).
    """
    if value is None or isinstance(value, list | tuple | dict):
        kind = "null (None)" if value is None else type(value).__name__
        raise PrintError(
            f"{{{{ ... }}}} prints a {kind} value as Python text; index or join it instead "
            "(e.g. {{ items|join(', ') }}, {{ obj.key }}), or use |tojson"
        )
    _build(len(value) if isinstance(value, str) else 1)
    return value


@dataclass
class Budget:
    """Work left to one render."""

    steps: int = 0
    deadline: float = 0.0
    #: Characters (or items) built and printed so far: every value a checked operation builds counts.
    built: int = 0

    def build(self, n: int) -> None:
        """Count ``n`` characters built; stop the render when its total is over ``MAX_TOTAL_CHARS``."""
        self.built += n
        if self.built > MAX_TOTAL_CHARS:
            raise SecurityError(
                f"the template built more than {MAX_TOTAL_CHARS:,} characters in all (strings, lists and output)"
            )

    def spend(self, n: int = 1) -> None:
        """Count ``n`` steps; stop the render when the step budget or the time budget is spent."""
        self.steps += n
        if self.steps > MAX_STEPS:
            raise SecurityError(f"the template did more than {MAX_STEPS:,} steps (loops and calls)")
        if self.steps % _CHECK_EVERY < n and time.monotonic() > self.deadline:
            raise SecurityError(f"rendering took more than {TIME_BUDGET_S:g} s")

    @classmethod
    def start(cls) -> Budget:
        """A fresh budget whose deadline is ``TIME_BUDGET_S`` from now."""
        return cls(0, time.monotonic() + TIME_BUDGET_S)


CURRENT: ContextVar[Budget | None] = ContextVar("fteval_template_budget", default=None)


def _spend(n: int = 1) -> None:
    budget = CURRENT.get()
    if budget is not None:
        budget.spend(n)


def _build(n: int) -> None:
    budget = CURRENT.get()
    if budget is not None:
        budget.build(n)


def _too_big(size: int, what: str) -> None:
    """Refuse one value over ``MAX_CHARS``, and count it toward the render's total."""
    if size > MAX_CHARS:
        raise SecurityError(f"{what} would build {size:,} items; the limit is {MAX_CHARS:,}")
    _build(size)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | bytes) else len(str(value))


def _check_ints(args: Iterable[Any], what: str) -> None:
    """Refuse integer arguments (widths, counts) larger than any value a template may build."""
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_CHARS:
            raise SecurityError(f"{what}: argument {arg:,} is over the limit of {MAX_CHARS:,}")


def _check_format(fmt: Any, what: str) -> None:
    """Refuse a %- or {}-format string whose widths or precisions exceed the limit."""
    if isinstance(fmt, str):
        _check_ints((int(n) for n in _FORMAT_NUMBER.findall(fmt) if len(n) <= 20), what)
        if any(len(n) > 20 for n in _FORMAT_NUMBER.findall(fmt)):
            raise SecurityError(f"{what}: a format width is over the limit of {MAX_CHARS:,}")


def _joined_size(items: list[Any], sep: Any) -> int:
    return sum(_length(i) for i in items) + _length(sep) * max(len(items) - 1, 0)


def _check_str_method(name: str, text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Bound the str methods that can grow their input: padding, tabs, replace, format."""
    what = f"str.{name}"
    _check_ints((*args, *kwargs.values()), what)
    if name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        _too_big(len(text) + text.count("\t") * max(int(tab), 0), what)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        count = text.count(old) if old else len(text) + 1
        _too_big(len(text) + count * max(len(new) - len(old), 0), what)
    elif name in ("format", "format_map"):
        _check_format(text, what)


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose renders are bounded in size, steps and time (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_finalize)
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum
        self.filters[_LOOP_FILTER] = _loop
        self.filters[_CONCAT_FILTER] = _concat
        for name in ("center", "indent", "format", "join", "replace", "batch", "slice", "wordwrap", "truncate"):
            self.filters[name] = _bounded_filter(name, self.filters[name])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Check repetition, concatenation, ``%`` widths and integer powers before computing them."""
        _spend()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _too_big(len(seq) * max(times, 0), "repetition")
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _too_big(len(left) + len(right), "concatenation")
        elif operator == "%" and isinstance(left, str):
            _check_format(left, "% formatting")
            _check_ints(right if isinstance(right, tuple) else (right,), "% formatting")
        elif (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right > 0
            and right * math.log2(abs(left)) > MAX_POW_BITS
        ):
            raise SecurityError(f"power: the result would have more than {MAX_POW_BITS} bits")
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Spend a step per call (macros included) and bound the str methods that grow text."""
        _spend()
        # The sandbox hands out str.format wrapped; the wrapper keeps the bound method as __wrapped__.
        bound = getattr(obj, "__wrapped__", obj)
        owner, name = getattr(bound, "__self__", None), getattr(bound, "__name__", "")
        if isinstance(owner, str) and name == "join" and args:
            items = list(args[0])
            _too_big(_joined_size(items, owner), "str.join")
            args = (items, *args[1:])
        elif isinstance(owner, str):
            _check_str_method(name, owner, args, kwargs)
        elif isinstance(owner, list | dict | set) and name in _GROWING:
            # l.extend(l) doubles a list without any checked operation: count what is added
            added = sum(len(a) if isinstance(a, str | list | tuple | dict | set) else 1 for a in args)
            if len(owner) + added > MAX_CHARS:
                raise SecurityError(f"{type(owner).__name__}.{name} would hold over {MAX_CHARS:,} items")
            _build(added + 1)
        return super().call(context, obj, *args, **kwargs)


def _range(*args: int) -> range:
    """``range`` with at most ``MAX_RANGE`` items."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() of {len(rng):,} items; the limit is {MAX_RANGE:,}")
    return rng


#: Characters a lorem-ipsum word may take at most (with its separator), to bound ``lipsum`` before it runs.
_LIPSUM_WORD_CHARS = 16


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # Jinja's names
    """Jinja's ``lipsum`` with its worst-case size checked before a word is generated."""
    from jinja2.utils import generate_lorem_ipsum

    _check_ints((n, min, max), "lipsum()")
    _too_big(abs(n) * abs(max) * _LIPSUM_WORD_CHARS, "lipsum()")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _loop(iterable: Any) -> Iterator[Any]:
    """Every ``{% for %}`` iterates through this: one step per item."""
    for item in iterable:
        _spend()
        yield item


def _concat(parts: list[Any]) -> str:
    """The ``~`` operator, size-checked before joining."""
    texts = [str(p) for p in parts]
    _too_big(sum(len(t) for t in texts), "~ concatenation")
    return "".join(texts)


def _bounded_filter(name: str, func: Any) -> Any:
    """Wrap a built-in filter that can build large values with a size check that runs first."""

    def check(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        _spend()
        what = f"filter {name}"
        _check_ints((*args, *kwargs.values()), what)
        if name == "join":
            value = list(value)
            sep = args[0] if args else kwargs.get("d", "")
            _too_big(_joined_size(value, sep), what)
        elif name == "replace":
            _check_str_method("replace", str(value), args[:2], {})
        elif name == "indent":
            width = args[0] if args else kwargs.get("width", 4)
            pad = len(width) if isinstance(width, str) else int(width)
            text = str(value)
            _too_big(len(text) + (text.count("\n") + 1) * max(pad, 0), what)
        elif name == "format":
            _check_format(value, what)
        return value

    # Keep Jinja's pass_* markers: the eval-context/environment argument comes first when set.
    pass_arg = getattr(func, "jinja_pass_arg", None)
    if pass_arg is not None:

        def wrapper(first: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            return func(first, check(value, args, kwargs), *args, **kwargs)

        wrapper.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    else:

        def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return func(check(value, args, kwargs), *args, **kwargs)

    wrapper.__name__ = getattr(func, "__name__", name)
    return wrapper


def bound_ast(ast: nodes.Template) -> nodes.Template:
    """Route every loop and every ``~`` of a parsed template through the budgeted helpers."""
    for loop in ast.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
    # Children before parents, so a ``~`` nested in another is rewritten before its parent is.
    for parent in reversed(list(ast.find_all(nodes.Node))):
        for field in parent.fields:
            child = getattr(parent, field, None)
            if isinstance(child, nodes.Concat):
                setattr(parent, field, _concat_node(child))
            elif isinstance(child, list):
                setattr(parent, field, [_concat_node(c) if isinstance(c, nodes.Concat) else c for c in child])
    return ast


def _concat_node(node: nodes.Concat) -> nodes.Filter:
    return nodes.Filter(
        nodes.List(node.nodes, lineno=node.lineno), _CONCAT_FILTER, [], [], None, None, lineno=node.lineno
    )
