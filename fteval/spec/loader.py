"""Turn a spec file into a validated ``LoadedSpec``: extends, validation, plugin and template checks.

Every problem found is collected and raised together as one ``SpecError`` whose lines read
``file:line:col: key.path: message``.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from fteval import registry
from fteval.errors import Issue, PluginError, SpecError
from fteval.identity import canonical_hash
from fteval.plugin import EmptyConfig, GenerationSettings, Generator, Metric, Parser, PluginConfig, Trainer, _Plugin
from fteval.redaction import is_secret_key, redact, secret_values
from fteval.running.costs import unknown_price
from fteval.spec.credentials import inline_secrets
from fteval.spec.goldcheck import VALIDATE_ROWS, check_gold, gold_problems
from fteval.spec.model import PluginRef, Spec, Target
from fteval.spec.templates import check_template
from fteval.spec.yamlsafe import SourceMap, format_path, load_yaml

__all__ = [
    "LoadedSpec",
    "ResolvedPlugin",
    "ResolvedTarget",
    "format_path",
    "load_spec",
    "local_model_path",
    "looks_local",
    "merged_spec",
]

KeyPath = tuple[str | int, ...]


P = TypeVar("P", bound=_Plugin)


@dataclass(frozen=True)
class ResolvedPlugin(Generic[P]):
    """A plugin class with its validated config; ``build()`` makes the instance."""

    name: str
    cls: type[P]
    config: PluginConfig

    def build(self) -> P:
        """A new instance of the plugin with its config."""
        return self.cls(self.config)


@dataclass(frozen=True)
class ResolvedTarget:
    """A target after resolution: trainer and generator classes, trainer config, generation settings."""

    name: str
    spec: Target
    trainer: type[Trainer]
    config: PluginConfig
    generator_name: str
    generator: type[Generator]
    settings: GenerationSettings

    @property
    def is_baseline(self) -> bool:
        """Whether the trainer is a baseline (labelled as such in summaries)."""
        return self.trainer.is_baseline

    def plugins(self) -> dict[str, type[_Plugin]]:
        """The target's trainer and generator by ``kind.name``."""
        return {f"trainer.{self.spec.trainer}": self.trainer, f"generator.{self.generator_name}": self.generator}


@dataclass
class LoadedSpec:
    """A validated, fully resolved spec: every plugin class and config, per-target settings, provenance."""

    file: Path
    spec: Spec
    resolved: dict[str, Any]
    source: SourceMap
    files: list[Path]
    targets: dict[str, ResolvedTarget] = field(default_factory=dict)
    parser: ResolvedPlugin[Parser] | None = None
    metrics: dict[str, ResolvedPlugin[Metric]] = field(default_factory=dict)
    #: Problems that do not stop a run (e.g. a secret written in the spec), as located issues.
    warnings: list[Issue] = field(default_factory=list)
    #: The gold-answer check of each split (``fteval.spec.goldcheck.GoldCheck``): rows checked, label counts.
    gold: list[Any] = field(default_factory=list)

    @property
    def secrets(self) -> frozenset[str]:
        """Values of the ``SecretStr`` fields of every resolved plugin config."""
        plugins = [p for p in (self.parser, *self.metrics.values()) if p is not None]
        return secret_values(*(t.config for t in self.targets.values()), *(p.config for p in plugins))

    @property
    def hash(self) -> str:
        """sha256 of the resolved spec (canonical JSON), secrets redacted so the hash reveals none."""
        return canonical_hash(redact(self.resolved, self.secrets))


class _Issues:
    def __init__(self, source: SourceMap, default_file: Path) -> None:
        self.source, self.default_file = source, default_file
        self.items: list[Issue] = []
        self.warnings: list[Issue] = []

    def add(self, path: KeyPath, message: str) -> None:
        self.items.append(self._issue(path, message))

    def warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append(self._issue(path, message))

    def _issue(self, path: KeyPath, message: str) -> Issue:
        file, line, col = self.source.locate(path)
        return Issue(file or self.default_file, line, col, format_path(path), message)


# ------------------------------------------------------------------ extends


# Keys of a target's model section that name a model file or folder when their value looks local.
MODEL_PATH_KEYS = ("id", "gguf")


def looks_local(value: str, base: Path) -> bool:
    """Whether a model reference is a path: it starts with ``./``, ``../``, ``/`` or ``~``, or is a file or folder under ``base``."""
    return value.startswith(("./", "../", "/", "~")) or value in (".", "..") or (base / value).exists()


def local_model_path(value: str, base: Path) -> str:
    """A model reference made absolute against ``base`` when it looks local; a hub id or API name is kept."""
    return str((base / Path(value).expanduser()).resolve()) if looks_local(value, base) else value


def _absolutise_paths(data: dict[str, Any], base: Path) -> None:
    """Data and model paths resolve against the spec file's folder, not the current directory."""
    dataset = data.get("dataset")
    for split in dataset.values() if isinstance(dataset, dict) else ():
        if isinstance(split, dict) and isinstance(split.get("path"), str):
            split["path"] = str((base / split["path"]).resolve())
    targets = data.get("targets")
    for target in targets.values() if isinstance(targets, dict) else ():
        model = target.get("model") if isinstance(target, dict) else None
        if not isinstance(model, dict):
            continue
        for key in MODEL_PATH_KEYS:
            if isinstance(model.get(key), str) and model[key]:
                model[key] = local_model_path(model[key], base)
        gguf = model.get("gguf")
        if isinstance(gguf, str) and gguf and not gguf.startswith("pkg:"):  # a GGUF file is a path, never a hub id
            model["gguf"] = str((base / Path(gguf).expanduser()).resolve())


def deep_merge(base: Any, child: Any) -> Any:
    """Merge mappings recursively, child wins; lists and scalars are replaced."""
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            out[key] = deep_merge(base[key], value) if key in base else value
        return out
    return child


def _parent_file(file: Path, parent: str, line: int | None, col: int | None) -> Path:
    """The file an ``extends`` entry names: a path relative to ``file``, or ``pkg:PACKAGE/FILE``."""
    from fteval.spec.specpkgs import PREFIX, resolve_ref

    if not parent.startswith(PREFIX):
        return (file.parent / parent).resolve()
    try:
        return resolve_ref(parent)
    except ValueError as exc:
        raise SpecError([Issue(file, line, col, "extends", str(exc))]) from None


def _remove_targets(inherited: dict[str, Any], data: dict[str, Any], file: Path, source: SourceMap) -> None:
    """Apply ``targets: {name: null}``: the inherited target goes, and ``source.removed`` says where it was removed.

    Raises:
        SpecError: a null target that names no inherited target (a typo would otherwise pass unnoticed).
    """
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return
    found = inherited.get("targets")
    have: dict[str, Any] = found if isinstance(found, dict) else {}
    issues = []
    known = ", ".join(have) or "none"  # before any removal: every target the user could have meant
    for name in [n for n, value in targets.items() if value is None]:
        where = source.locate(("targets", name))
        if name not in have:
            message = (
                f"null removes an inherited target, but no spec this one extends has {name!r} (they have: {known})"
            )
            issues.append(Issue(file, where[1], where[2], f"targets.{name}", message))
            continue
        del targets[name], have[name]
        source.removed[("targets", name)] = (file, where[1] or 1, where[2] or 1)
    if issues:
        raise SpecError(issues)


def _resolve(file: Path, stack: tuple[Path, ...], files: list[Path]) -> tuple[dict[str, Any], SourceMap]:
    data, source = load_yaml(file)
    files.append(file)
    if not isinstance(data, dict):
        raise SpecError([Issue(file, 1, 1, "", "a spec must be a mapping of keys")])
    _absolutise_paths(data, file.parent)
    parents = data.pop("extends", None)
    if parents is None:
        _remove_targets({}, data, file, source)
        return data, source
    parent_list = [parents] if isinstance(parents, str) else parents
    merged: dict[str, Any] = {}
    merged_source = SourceMap()
    for i, parent in enumerate(parent_list if isinstance(parent_list, list) else [None]):
        where = ("extends", i) if isinstance(parents, list) else ("extends",)
        _, line, col = source.locate(where)
        if not isinstance(parent, str):
            raise SpecError([Issue(file, line, col, "extends", "must be a file path or a list of paths")])
        target = _parent_file(file, parent, line, col)
        if target in stack:
            chain = " -> ".join(p.name for p in (*stack, target))
            raise SpecError([Issue(file, line, col, "extends", f"extends cycle: {chain}")])
        if not target.is_file():
            raise SpecError([Issue(file, line, col, "extends", f"file not found: {parent}")])
        parent_data, parent_source = _resolve(target, (*stack, target), files)
        merged = deep_merge(merged, parent_data)
        merged_source.update(parent_source)
    _remove_targets(merged, data, file, source)
    for removed in source.removed:  # positions of what the parents said about a removed target go too
        merged_source.positions = {p: v for p, v in merged_source.positions.items() if p[: len(removed)] != removed}
    merged_source.update(source)
    return deep_merge(merged, data), merged_source


# ------------------------------------------------------------------ validation


def _model_at(model: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at ``path``, if any."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
        while typing.get_origin(current) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[0] if len(args) == 1 else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _written_path(loc: KeyPath, data: Any) -> KeyPath:
    """``loc`` without the parts the user did not write (a union's tag such as ``hub`` in ``model.hub.id``)."""
    out: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict) and not last and part not in current:
            continue  # not a key of the mapping the user wrote: the validator's name for a union member
        out.append(part)
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            current = None
    return tuple(out)


def _report_validation(
    exc: ValidationError, model: type[BaseModel], prefix: KeyPath, issues: _Issues, data: Any = None
) -> None:
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or not str(p).startswith(("function-", "[")))
        loc = _written_path(loc, data) if data is not None else loc
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            parent = _model_at(model, loc[:-1])
            allowed = sorted(f.alias or n for n, f in parent.model_fields.items()) if parent else []
            close = difflib.get_close_matches(key, allowed, n=1)
            message = f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            if allowed:
                message += f"; allowed: {', '.join(allowed)}"
        elif err["type"] == "missing":
            message = f"missing required key {str(loc[-1])!r}"
        elif any(is_secret_key(part) for part in loc):
            pass  # never echo what was given for a secret
        elif "input" in err and err["type"] not in ("value_error",):
            message += f" (got {err['input']!r})" if not isinstance(err["input"], dict | list) else ""
        issues.add(prefix + loc, message)


def _plugin_config(
    kind: str, name: str, options: dict[str, Any], path: KeyPath, name_key: str, issues: _Issues
) -> tuple[type[_Plugin] | None, PluginConfig | None]:
    """Load a plugin class and validate its options; problems go to ``issues``, inline secrets to its warnings."""
    try:
        cls = registry.load(kind, name)
    except PluginError as exc:
        issues.add(path + (name_key,), str(exc))
        return None, None
    try:
        config = cls.Config.model_validate(options)
    except ValidationError as exc:
        _report_validation(exc, cls.Config, path, issues, options)
        return cls, None
    for where, message in inline_secrets(options, config):
        issues.warn(path + where, message)
    return cls, config


def _generator_for(
    target: Target, trainer: type[Trainer], path: KeyPath, issues: _Issues
) -> tuple[str, type[Generator]] | None:
    """The target's generator (the trainer's default unless named), checked to load what the trainer makes."""
    name = target.generator or getattr(trainer, "default_generator", None)
    key = path + ("generator",) if target.generator else path + ("trainer",)
    if not name:
        issues.add(key, f"trainer {target.trainer!r} names no default generator; set 'generator'")
        return None
    try:
        generator = registry.load("generator", name)
    except PluginError as exc:
        issues.add(key, str(exc))
        return None
    produced = getattr(trainer, "model_format", None)
    accepted = getattr(generator, "model_formats", ())
    if produced is None or produced not in accepted:
        able = [
            g
            for g in registry.names("generator")
            if produced in getattr(_safe_load("generator", g), "model_formats", ())
        ]
        issues.add(
            key,
            f"generator {name!r} cannot load what trainer {target.trainer!r} produces ({produced or 'no model_format'});"
            f" generators that can: {', '.join(able) or 'none installed'}",
        )
        return None
    return name, generator


def _safe_load(kind: str, name: str) -> type[_Plugin] | None:
    try:
        return registry.load(kind, name)
    except PluginError:
        return None


def _check_targets(loaded: LoadedSpec, issues: _Issues) -> None:
    spec = loaded.spec
    for name, target in spec.targets.items():
        path: KeyPath = ("targets", name)
        cls, config = _plugin_config("trainer", target.trainer, target.plugin_section(), path, "trainer", issues)
        settings = None
        try:
            settings = GenerationSettings.model_validate({**spec.generation.model_dump(), **target.generation})
        except ValidationError as exc:
            _report_validation(exc, GenerationSettings, path + ("generation",), issues)
        dataset = getattr(spec, "dataset", None)
        if not target.evaluator_only and dataset is not None and dataset.train is None:
            issues.add(path, "this target trains, but the spec has no dataset.train (or set evaluator_only: true)")
        trainer = cls if cls is not None and issubclass(cls, Trainer) else None  # registry.load checked the kind
        generator = _generator_for(target, trainer, path, issues) if trainer is not None else None
        if generator is not None and config is not None:
            _warn_unknown_price(generator[1], config, path, issues)
            if settings is not None:
                _check_settings(generator[1], settings, config, target, path, issues)
        if trainer is not None and config is not None and generator is not None and settings is not None:
            loaded.targets[name] = ResolvedTarget(name, target, trainer, config, generator[0], generator[1], settings)


def _warn_unknown_price(generator: type[Generator], config: PluginConfig, path: KeyPath, issues: _Issues) -> None:
    """Warn when a target is billed per token at a price nobody knows: its costs will read unknown."""
    try:
        prices = generator(EmptyConfig()).token_prices(config)
    except Exception:  # a plugin bug here must not hide the spec's real issues
        return
    if prices is not None and not prices.known:
        issues.warn(path + ("model",), unknown_price(prices))


def _check_settings(
    generator: type[Generator],
    settings: GenerationSettings,
    config: PluginConfig,
    target: Target,
    path: KeyPath,
    issues: _Issues,
) -> None:
    """Errors for decoding settings the target's model refuses (the API's own limits), at the key that set them."""
    try:
        problems = generator(EmptyConfig()).check_settings(settings, config)
    except Exception as exc:  # a plugin bug: say so at the target, keep checking the rest
        issues.add(path + ("generation",), f"generator check_settings raised {type(exc).__name__}: {exc}")
        return
    for key, message in problems:
        where: KeyPath = path + ("generation", key) if key in target.generation else ("generation", key)
        issues.add(where, message)


def _check_credentials(loaded: LoadedSpec, issues: _Issues) -> None:
    """A credential route chosen by a file the user did not write, and not approved by the user, is an error."""
    from fteval.spec.credential_routes import unapproved_routes

    for path, message in unapproved_routes(loaded):
        issues.add(path, message)


def _check_links(spec: Spec, issues: _Issues) -> None:
    """``after`` and ``rejected_from`` name another target that trains; ``after`` chains have no cycle."""
    targets = getattr(spec, "targets", None) or {}
    for name, target in targets.items():
        for key in ("after", "rejected_from"):
            other = getattr(target, key)
            if other is None:
                continue
            path: KeyPath = ("targets", name, key)
            if other == name:
                issues.add(path, f"a target cannot build on itself ({key}: {other})")
            elif other not in targets:
                close = difflib.get_close_matches(other, list(targets), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                issues.add(path, f"unknown target {other!r}{hint}; the spec has: {', '.join(targets)}")
            elif key == "after" and targets[other].trainer != target.trainer:
                issues.add(
                    path, f"target {other!r} is trained by {targets[other].trainer!r}, this one by {target.trainer!r}"
                )
            elif key == "after" and targets[other].model != target.model:
                issues.add(path, f"this target trains on top of {other!r}: give it the same model section")
        if target.evaluator_only and (target.after or target.rejected_from):
            issues.add(
                ("targets", name, "evaluator_only"),
                "an evaluator_only target trains nothing: drop after / rejected_from",
            )
        seen, cur = [name], target.after
        while cur in targets and cur not in seen:
            seen.append(cur)
            cur = targets[cur].after
        if cur == name and len(seen) > 1:
            issues.add(("targets", name, "after"), "a cycle of after: " + " -> ".join([*seen, name]))


def _check_evaluators(loaded: LoadedSpec, issues: _Issues) -> None:
    spec = loaded.spec
    parser_cls: type[Parser] | None = None
    if getattr(spec, "parser", None) is not None:
        cls, config = _plugin_config("parser", spec.parser.name, spec.parser.options(), ("parser",), "name", issues)
        parser_cls = cls if cls is not None and issubclass(cls, Parser) else None  # registry.load checked the kind
        if parser_cls is not None and config is not None:
            loaded.parser = ResolvedPlugin(spec.parser.name, parser_cls, config)
    refs = spec.metrics
    if refs is None and parser_cls is not None:
        refs = [PluginRef.model_validate(m) for m in parser_cls.default_metrics]
    first_at: dict[str, int] = {}
    for i, ref in enumerate(refs or []):
        if ref.name in first_at:
            issues.add(
                ("metrics", i),
                f"metric {ref.name!r} is listed twice (first at metrics[{first_at[ref.name]}]); each name is one column of results",
            )
            continue
        first_at[ref.name] = i
        cls, config = _plugin_config("metric", ref.name, ref.options(), ("metrics", i), "name", issues)
        if cls is not None and issubclass(cls, Metric) and config is not None:
            loaded.metrics[ref.name] = ResolvedPlugin(ref.name, cls, config)


def _check_metric_targets(loaded: LoadedSpec, issues: _Issues) -> None:
    """A metric that calls a target (a judge) must name one of the spec's targets."""
    names = [ref.name for ref in loaded.spec.metrics or []]
    for name, plugin in loaded.metrics.items():
        target = plugin.cls.calls_target(plugin.config)
        if target is not None and target not in loaded.spec.targets:
            at = names.index(name) if name in names else 0
            known = ", ".join(loaded.spec.targets) or "none"
            issues.add(("metrics", at, "target"), f"unknown target {target!r}; the spec's targets: {known}")


def _split_columns(spec: Spec, issues: _Issues) -> dict[str, tuple[set[str], str]]:
    """Column names of each file split that can be read cheaply, with its file; problems go to ``issues``."""
    from fteval.data.datasets import header_columns

    out: dict[str, tuple[set[str], str]] = {}
    dataset = getattr(spec, "dataset", None)
    for split_name in ("train", "valid", "eval") if dataset is not None else ():
        source = getattr(dataset, split_name)
        if source is None:
            continue
        try:
            names = header_columns(source)
        except FileNotFoundError:
            issues.add(("dataset", split_name, "path"), f"file not found: {source.path}")
            continue
        except Exception as exc:  # a malformed file: report, keep checking the rest
            issues.add(("dataset", split_name, "path"), f"cannot read header: {exc or type(exc).__name__}")
            continue
        if names is not None:
            out[split_name] = (names, str(source.path))
    return out


def _check_templates(spec: Spec, issues: _Issues) -> set[str] | None:
    """Check the prompt templates; returns the columns every file split has, when they could be read."""
    splits = _split_columns(spec, issues)
    columns = set.intersection(*(names for names, _ in splits.values())) if splits else None
    prompt = getattr(spec, "prompt", None)
    # the rejected answer is rendered for the splits that train only (eval rows need no pair)
    trains = {n: c for n, c in splits.items() if n != "eval"}
    train_columns = set.intersection(*(names for names, _ in trains.values())) if trains else None
    for key in ("system", "user", "target", "rejected") if prompt is not None else ():
        text = getattr(prompt, key, None)
        if text is None:
            continue
        variables, problems = check_template(text)
        for problem in problems:
            issues.add(("prompt", key), problem)
        cols, where = (train_columns, trains) if key == "rejected" else (columns, splits)
        if cols is not None:
            for var in sorted(variables - cols):
                issues.add(("prompt", key), _missing_column(var, where))
    return columns


def _missing_column(var: str, splits: dict[str, tuple[set[str], str]]) -> str:
    """Why template variable ``var`` is not a column: of every split, or of the ones named with their files."""
    lacking = [name for name, (names, _) in splits.items() if var not in names]
    # reliability-input: list only names a template could use, so a file that is not a dataset
    # (a spec pointing at /etc/passwd) never has its first line echoed.
    usable = sorted({c for name in lacking for c in splits[name][0] if c.isidentifier()})
    close = difflib.get_close_matches(var, usable, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(usable) if usable else "none usable as template variables"
    if len(lacking) == len(splits):
        return f"template variable {var!r} is not a dataset column{hint}; columns: {listed}"
    where = "; ".join(f"the {name} split ({splits[name][1]})" for name in lacking)
    return f"template variable {var!r} is not a column of {where}{hint}; its columns: {listed}"


def _apply_overrides(
    data: dict[str, Any], source: SourceMap, overrides: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """Merge ``overrides`` (a partial spec, e.g. from ``--model``) over ``data``; errors in the values they set name ``where``.

    A ``None`` in ``overrides`` removes that key (``--model`` sets one model source and unsets the others).
    """

    def mark(value: Any, prefix: KeyPath) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                mark(sub, (*prefix, key))
        else:  # only the values set: errors elsewhere in a merged mapping keep the file's position
            source.positions[prefix] = (where, None, None)  # type: ignore[assignment]

    for key, value in overrides.items():
        mark(value, (key,))
    merged: dict[str, Any] = deep_merge(data, copy.deepcopy(dict(overrides)))
    _drop_unset(merged, overrides)
    return merged


def _drop_unset(merged: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            _drop_unset(merged[key], value)


def merged_spec(file: str | Path) -> tuple[dict[str, Any], SourceMap, list[Path]]:
    """A spec file merged with everything it ``extends``, not validated (``fteval resolve``).

    Returns:
        The merged data (dataset paths made absolute), where each key path came from, and the files read.

    Raises:
        SpecError: a file cannot be read or parsed, or ``extends`` is broken (missing file, cycle).
    """
    path = Path(file).resolve()
    files: list[Path] = []
    data, source = _resolve(path, (path,), files)
    return data, source, files


def load_spec(
    file: str | Path,
    overrides: Mapping[str, Any] | None = None,
    overrides_from: str = "<command line>",
    gold_rows: int | None = VALIDATE_ROWS,
) -> LoadedSpec:
    """Load, merge, validate and check a spec without running anything heavy.

    Args:
        file: the spec file.
        overrides: a partial spec merged over the file's (after ``extends``), validated like the
            rest; e.g. ``{"targets": {"t": {"model": {"id": "./new"}}}}`` for ``--model``.
        overrides_from: how errors in ``overrides`` name their origin (e.g. ``--model``).
        gold_rows: render and parse the gold answers of N rows (spread evenly) of each file split (0: none;
            None: every row of every split, hub splits too, as before a run); see ``fteval.spec.goldcheck``.

    Raises:
        SpecError: with every issue found in the file, the files it extends and the overrides.
    """
    path = Path(file).resolve()
    files: list[Path] = []
    data, source = _resolve(path, (path,), files)
    source.positions.setdefault((), (path, 1, 1))
    if overrides:
        data = _apply_overrides(data, source, overrides, overrides_from)
    issues = _Issues(source, path)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        _report_validation(exc, Spec, (), issues, data)
        spec = _valid_sections(data)
    loaded = LoadedSpec(path, spec, data, source, files)
    _check_targets(loaded, issues)
    _check_links(spec, issues)
    _check_evaluators(loaded, issues)
    _check_metric_targets(loaded, issues)
    columns = _check_templates(spec, issues)
    if any(getattr(t, "pipeline", None) is not None for t in (getattr(spec, "targets", None) or {}).values()):
        from fteval.spec.pipecheck import check_pipelines  # only specs with pipelines pay for it

        check_pipelines(loaded, columns, issues.add)
    _check_credentials(loaded, issues)
    if not issues.items and gold_rows != 0:
        _check_gold(loaded, gold_rows, issues)
    if issues.items:
        raise SpecError(issues.items)
    loaded.warnings = issues.warnings
    return loaded


def _check_gold(loaded: LoadedSpec, gold_rows: int | None, issues: _Issues) -> None:
    """Gold answers the parser rejects: an issue when a split has no gold it accepts, else a warning.

    The checks (label counts) are kept on ``loaded``.
    """
    from fteval.errors import DatasetError

    try:
        loaded.gold = check_gold(loaded, gold_rows, files_only=gold_rows is not None, reuse=gold_rows is not None)
    except DatasetError:
        return  # a file that cannot be read is reported where rows are loaded, with its own message
    for path, message, every in gold_problems(loaded, loaded.gold):
        # every gold rejected: nothing could ever score (an error); some: a warning with the rows
        (issues.add if every else issues.warn)(path, message)


def _valid_sections(data: Any) -> Spec:
    """A partial spec of the top-level sections that validate on their own.

    Lets plugin and template checks still run (and report) when another section is broken.
    """
    fields = {}
    for name, info in Spec.model_fields.items():
        if isinstance(data, dict) and name in data and info.annotation is not None:
            try:
                fields[name] = TypeAdapter(info.annotation).validate_python(data[name])
            except ValidationError:
                continue
    return Spec.model_construct(**fields)
