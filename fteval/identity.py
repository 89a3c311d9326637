"""Identity in one place: canonical hashes, job/run/cache keys and file digests.

Everything that decides "is this the same thing as before?" (reuse a training job, resume a run,
answer from the response cache) goes through this module, so the rules are stated once.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fteval.plugin import GenerationSettings, PluginConfig, Prompt
from fteval.redaction import redact
from fteval.spec.model import Source, Spec, Splits

__all__ = [
    "api_model_identity",
    "cache_key",
    "canonical_hash",
    "canonical_json",
    "digest_cache_path",
    "directory_digest",
    "file_digest",
    "job_key",
    "run_config",
    "source_identity",
    "split_identity",
]


def canonical_json(data: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, non-JSON values as ``str``."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def canonical_hash(data: Any) -> str:
    """sha256 of ``data`` serialised as canonical JSON."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_cache_path() -> Path:
    """Where file digests are cached: ``$FTEVAL_CACHE_DIR`` or ``$XDG_CACHE_HOME/fteval`` (``~/.cache/fteval``)."""
    root = (
        os.environ.get("FTEVAL_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fteval"
    )
    return Path(root) / "file-digests.json"


def _stat_key(path: Path) -> str:
    # size + mtime + ctime + inode: a file replaced or rewritten in place changes at least one
    # (ctime cannot be set back by a copy tool), so a cached digest is never stale.
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _load_digest_cache(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or corrupt: it is only a cache
    return data if isinstance(data, dict) else {}


def _save_digest_cache(path: Path, data: dict[str, list[str]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".digests-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new cache
    except OSError:
        pass  # an unwritable cache only costs re-hashing next time


def directory_digest(folder: str | Path, patterns: Sequence[str] | None = None) -> str:
    """Content hash of a directory: the relative names and bytes of its files.

    Each file's sha256 is cached (see ``digest_cache_path``) under its absolute path, keyed by size,
    mtime, ctime and inode, so hashing a multi-gigabyte model again costs only ``stat`` calls.

    Args:
        folder: the directory.
        patterns: ``fnmatch`` patterns on file names (e.g. ``*.safetensors``); files matching none
            are left out. ``None`` takes every file. Hidden files and directories are always left out.

    Returns:
        A sha256 hex digest.

    Raises:
        FileNotFoundError: ``folder`` is not a directory.
    """
    root = Path(folder).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"not a directory: {folder}")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and (patterns is None or any(fnmatch.fnmatch(p.name, pat) for pat in patterns))
    )
    cache_path = digest_cache_path()
    cache = _load_digest_cache(cache_path)
    changed = False
    digest = hashlib.sha256()
    for path in files:
        stat_key = _stat_key(path)
        entry = cache.get(str(path))
        if not (isinstance(entry, list) and len(entry) == 2 and entry[0] == stat_key):
            entry = [stat_key, file_digest(path)]
            cache[str(path)], changed = entry, True
        digest.update(f"{path.relative_to(root).as_posix()}\0{entry[1]}\n".encode())
    if changed:
        _save_digest_cache(cache_path, cache)
    return digest.hexdigest()


def api_model_identity(name: str, snapshot: str | None = None) -> str:
    """Identity of a model behind an API: its name, plus the dated snapshot the API reports when it does.

    The hook for API trainers' ``model_identity``: pass the snapshot (e.g. the ``model`` field an
    API echoes, ``gpt-4o-2024-08-06``) once the plugin can learn it without a paid call.
    """
    return f"api:{name}" + (f"@{snapshot}" if snapshot else "")


def source_identity(source: Source | None) -> Any:
    """A dataset split's identity: its selection options and the sha256 of its file's bytes."""
    if source is None:
        return None
    data = source.model_dump(by_alias=True)
    if data.get("on_bad_row") == "error":  # the default; left out so older runs keep their identity
        del data["on_bad_row"]
    for key in ("from", "fraction"):  # unset unless carved from train; left out for the same reason
        if data.get(key) is None:
            data.pop(key, None)
    if source.path:
        data["path"] = f"sha256:{file_digest(source.path)}"
    return data


def split_identity(splits: Splits, name: str) -> Any:
    """A split's identity: its own, plus the train split's for a split carved from train, plus the
    carved splits' for train (whose rows are what the carving leaves)."""
    source = getattr(splits, name)
    if source is None:
        return None
    own = source_identity(source)
    if source.from_ is not None:
        own["train"] = source_identity(splits.train)
    elif name == "train":
        carved = {n: source_identity(s) for n in ("valid", "eval") if (s := getattr(splits, n)) and s.from_}
        if carved:
            own["carved"] = carved
    return own


# Spec fields added after runs were stored: left out of keys while unset, so existing keys stay as they were.
_LATER_PROMPT_FIELDS = frozenset({"rejected"})
_LATER_TARGET_FIELDS = frozenset({"after", "rejected_from"})


def _dump_set(model: Any, later: frozenset[str], exclude: set[str] | None = None) -> dict[str, Any]:
    """``model.model_dump()`` without the ``later`` fields that are unset (None)."""
    data: dict[str, Any] = model.model_dump(exclude=exclude)
    return {k: v for k, v in data.items() if not (k in later and v is None)}


def job_key(spec: Spec, target: str, model_identity: str | None = None) -> str:
    """Identity of a target's training: training data, prompts, the target's sections, the seed and
    the identity of the (base) model the target names (``Trainer.model_identity``; left out when None,
    so keys of targets without an outside model stay as they were)."""
    t = spec.targets[target]
    data = {
        "train": split_identity(spec.dataset, "train"),
        "valid": split_identity(spec.dataset, "valid"),
        "prompt": _dump_set(spec.prompt, _LATER_PROMPT_FIELDS),
        "target": redact(_dump_set(t, _LATER_TARGET_FIELDS, {"generation", "generator", "pipeline"})),
        "seed": spec.seed,
    }
    if model_identity is not None:
        data["model_identity"] = model_identity
    return canonical_hash(data)


def run_config(
    spec: Spec,
    target: str,
    metrics: dict[str, PluginConfig],
    fingerprint: str,
    generator: str,
    settings: GenerationSettings,
    base_identity: str | None = None,
) -> dict[str, Any]:
    """Everything that determines a run's results; its ``canonical_hash`` is the run's key.

    ``fingerprint`` is the evaluated model's (``ModelHandle.fingerprint``); ``base_identity`` the
    trainer's ``model_identity`` (left out when None, so existing run keys stay as they were).
    """
    t = spec.targets[target]
    config = {
        "spec": spec.name,
        "eval": split_identity(spec.dataset, "eval"),
        "prompt": _dump_set(spec.prompt, _LATER_PROMPT_FIELDS),
        "parser": spec.parser.model_dump(),
        "metrics": {n: c.model_dump() for n, c in metrics.items()},
        "target": target,
        "target_config": redact(_dump_set(t, _LATER_TARGET_FIELDS, {"generation", "pipeline"})),
        "generator": generator,
        "fingerprint": fingerprint,
        "generation": settings.model_dump(exclude={"batch_size"}),
        "seed": spec.seed,
        "limits": spec.limits.model_dump(),
    }
    if base_identity is not None:
        config["model_identity"] = base_identity
    return config


def pipeline_identity(spec: Spec, target: str, fingerprints: dict[str, str]) -> dict[str, Any]:
    """What a pipeline target adds to its run's identity: steps, templates, shot selection and seeds,
    the models its steps call (by fingerprint), and the train split its shots come from.

    Args:
        spec: the spec.
        target: a target with a ``pipeline`` section.
        fingerprints: the fingerprint of each target a step calls (the pipeline's own included).
    """
    pipeline = spec.targets[target].pipeline
    assert pipeline is not None
    out: dict[str, Any] = {"definition": pipeline.model_dump(), "models": dict(sorted(fingerprints.items()))}
    if pipeline.shots is not None:
        out["shots_from"] = split_identity(spec.dataset, "train")
    return out


def cache_key(model_identity: str, generator: str, prompt: Prompt, settings: GenerationSettings) -> str:
    """Response-cache key: the model's identity, the generator, the messages and decoding settings.

    ``batch_size`` is left out: it changes speed, not outputs.
    """
    return canonical_hash([model_identity, generator, prompt.messages(), settings.model_dump(exclude={"batch_size"})])
