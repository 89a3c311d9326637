"""Sandboxed Jinja prompt templates: strict about undefined names, closed to Python internals."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from fteval.errors import TemplateError

__all__ = ["environment", "check_template", "render"]


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The one Jinja environment fteval renders prompts with."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


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
        if node.name == "attr" and node.args and isinstance(node.args[0], nodes.Const)
        and str(node.args[0].value).startswith("_")
    ]
    return meta.find_undeclared_variables(ast), problems


@lru_cache(maxsize=64)
def _compiled(source: str) -> Any:
    return environment().from_string(source)


def render(source: str, row: Mapping[str, Any], *, where: str = "template") -> str:
    """Render ``source`` with the row's fields as variables.

    Raises:
        TemplateError: an undefined variable or a sandbox violation, naming ``where``.
    """
    try:
        return _compiled(source).render(**row)
    except SecurityError as exc:
        raise TemplateError(f"{where}: blocked by the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{where}: {exc.message}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
