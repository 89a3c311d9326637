"""Sandboxed Jinja prompt templates: strict about undefined names, closed to Python internals, bounded in cost.

The cost limits (output size, steps, time) live in ``fteval.spec.sandbox``; a template is self-contained:
``{% include %}``, ``{% extends %}`` and ``{% import %}`` are refused when the spec is validated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from fteval.errors import TemplateError
from fteval.spec.sandbox import CURRENT, MAX_CHARS, BoundedSandbox, Budget, PrintError, bound_ast

__all__ = ["RenderBudget", "check_template", "environment", "render"]


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The one Jinja environment fteval renders prompts with."""
    return BoundedSandbox()


_NOT_SELF_CONTAINED = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}


def check_template(source: str) -> tuple[set[str], list[str]]:
    """Statically check a template.

    Returns:
        The variable names it reads, and a list of problems (syntax errors, access to private
        attributes such as ``__class__``), each as a message.
    """
    try:
        ast = environment().parse(source)
    except TemplateSyntaxError as exc:
        return set(), [f"template syntax error on template line {exc.lineno}: {exc.message}"]
    problems = [
        f"template reads private attribute {node.attr!r}, which the sandbox forbids"
        for node in ast.find_all(nodes.Getattr)
        if node.attr.startswith("_")
    ]
    problems += [
        f"template reads private attribute {node.arg.value!r}, which the sandbox forbids"
        for node in ast.find_all(nodes.Getitem)
        if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_")
    ]
    problems += [
        f"template reads private attribute {node.args[0].value!r}, which the sandbox forbids"
        for node in ast.find_all(nodes.Filter)
        if node.name == "attr"
        and node.args
        and isinstance(node.args[0], nodes.Const)
        and str(node.args[0].value).startswith("_")
    ]
    problems += [
        f"template uses {{% {tag} %}} on template line {node.lineno}; prompt templates must be "
        "self-contained (no include, extends or import)"
        for kind, tag in _NOT_SELF_CONTAINED.items()
        for node in ast.find_all(kind)
    ]
    return meta.find_undeclared_variables(ast), problems


@lru_cache(maxsize=64)
def _compiled(source: str) -> Any:
    env = environment()
    ast = env.parse(source)
    if any(True for kind in _NOT_SELF_CONTAINED for _ in ast.find_all(kind)):
        raise SecurityError("include, extends and import are not allowed; templates must be self-contained")
    return env.from_string(bound_ast(ast))


def render(source: str, row: Mapping[str, Any], *, where: str = "template") -> str:
    """Render ``source`` with the row's fields as variables.

    Raises:
        TemplateError: an undefined variable or a sandbox violation, naming ``where``.
    """
    token = CURRENT.set(Budget.start())
    try:
        out, size = [], 0
        for piece in _compiled(source).generate(**row):
            size += len(piece)
            if size > MAX_CHARS:
                raise SecurityError(f"the rendered text is longer than {MAX_CHARS:,} characters")
            out.append(piece)
        return "".join(out)
    except SecurityError as exc:
        raise TemplateError(f"{where}: blocked by the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{where}: {exc.message}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
    except PrintError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    except RecursionError:
        raise TemplateError(f"{where}: recursion too deep (a macro that calls itself without end?)") from None
    except MemoryError:
        raise TemplateError(f"{where}: out of memory while rendering") from None
    except Exception as exc:  # any other error of the template's own code (1/0, a bad filter argument)
        raise TemplateError(f"{where}: the template failed: {type(exc).__name__}: {exc}") from None
    finally:
        CURRENT.reset(token)


class RenderBudget:
    """A whole split's rendering bounded in wall time: each render has its own cap, a split's rows share this one.

    A template that stays under the per-render limits but costs a second per row would make a run
    spend minutes before anything is trained; real prompt templates render in well under a
    millisecond. The budget is ``base_s`` plus ``per_row_s`` for each row; after a few rows, a pace
    that would overrun it stops the run at once rather than when the time is spent.
    """

    def __init__(self, where: str, rows: int, base_s: float = 30.0, per_row_s: float = 0.002) -> None:
        self.where, self.rows = where, rows
        self.limit = base_s + per_row_s * rows
        self.start = time.perf_counter()

    def check(self, done: int) -> None:
        """Raise when ``done`` rows took, or the remaining rows at this pace would take, over the budget.

        Raises:
            TemplateError: naming the split, the pace and the budget.
        """
        elapsed = time.perf_counter() - self.start
        # a pace is judged once it is measurable (a first render also compiles the templates)
        projected = elapsed / done * self.rows if done >= 3 and elapsed > min(1.0, self.limit / 10) else elapsed
        if elapsed > self.limit or projected > self.limit:
            raise TemplateError(
                f"{self.where}: rendering the prompts takes {elapsed / done:.2f} s per row ({done:,} of"
                f" {self.rows:,} rows in {elapsed:.1f} s), over the budget of {self.limit:.0f} s for the split;"
                " simplify the templates (prompt templates normally render in under a millisecond per row)"
            )
