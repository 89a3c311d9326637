"""Which secret each target sends to which host, and the user's approval of routes a spec inherited.

A credential goes only where the user sent it. An API plugin describes each route with
:func:`api_credential` (the environment's default key goes only to the API's own host; another host
gets a key only when the spec names one) and reads the secret with :func:`credential_value`. A route
chosen by a file the user did not write (a base spec pulled in with ``extends:`` or ``pkg:``) is
refused at load time unless the user approved it outside that spec: in the user config file
(:func:`user_config_path`), in ``$FTEVAL_ALLOW_CREDENTIALS`` or with ``fteval --allow-credential``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fteval.data.textfile import TextFileError, read_regular
from fteval.errors import FtevalError, Issue, PluginError, SpecError
from fteval.plugin import Credential, Generation
from fteval.redaction import REDACTED

if TYPE_CHECKING:
    from fteval.spec.loader import LoadedSpec

__all__ = [
    "ALLOW_ENV",
    "NO_KEY",
    "api_credential",
    "approved_routes",
    "credential_value",
    "route_label",
    "scrub_outputs",
    "sent_secrets",
    "target_credentials",
    "unapproved_routes",
    "url_host",
    "user_config_path",
]

#: Sent as the key where a target sends none but its client needs a string: not a secret.
NO_KEY = "fteval-no-key"
#: Environment variable with approved routes, one ``SECRET@HOST`` per line (``--allow-credential`` sets it).
ALLOW_ENV = "FTEVAL_ALLOW_CREDENTIALS"
MAX_KEY_FILE_BYTES = 4096
#: Known secrets shorter than this are not scrubbed from outputs (a short value would mangle text).
MIN_SCRUBBED = 8
KeyPath = tuple[str | int, ...]


def url_host(url: str) -> str:
    """host[:port] of ``url``, lower-cased; never the user name or password a URL may carry."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parsed.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def api_credential(
    base_url: str | None,
    key_env: str | None,
    key_file: str | None,
    *,
    default_url: str,
    default_env: str,
    section: str = "model",
) -> Credential:
    """The route of an OpenAI-style API key: which secret goes to which host.

    Args:
        base_url: the endpoint the spec names (``None``: ``default_url``).
        key_env: the environment variable the spec names, if any.
        key_file: the key file the spec names, if any (used when ``key_env`` is not named).
        default_url: the API's own endpoint (e.g. ``https://api.openai.com/v1``).
        default_env: the variable that holds the user's key for that API (e.g. ``OPENAI_API_KEY``);
            it is sent only to ``default_url``'s host over https, never elsewhere.
        section: the config section these options live in, for ``Credential.options``.

    Returns:
        The route; ``secret`` is ``""`` when the target sends no key.
    """
    url = base_url or default_url
    host = url_host(url)
    home = url_host(default_url) == host and urlparse(url).scheme == "https"
    where = (f"{section}.base_url",) if base_url and not home else ()
    if key_env:
        default_pair = home and key_env == default_env
        return Credential(f"${key_env}", host, () if default_pair else (f"{section}.api_key_env", *where))
    if key_file:
        return Credential(f"file {key_file}", host, (f"{section}.api_key_file", *where))
    if home:
        return Credential(f"${default_env}", host)
    return Credential("", host, where)


def credential_value(credential: Credential) -> str:
    """The secret a route sends, read now (``NO_KEY`` when it sends none).

    Raises:
        FtevalError: the variable is unset, or the key file is missing, empty or not a one-line key.
    """
    source = credential.secret
    if not source:
        return NO_KEY
    if source.startswith("$"):
        value = os.environ.get(source[1:], "").strip()
        if not value:
            raise FtevalError(f"no API key for {credential.host}: set the environment variable {source[1:]}")
        return value
    path = Path(source.removeprefix("file ")).expanduser()
    try:
        data = read_regular(path, MAX_KEY_FILE_BYTES)  # a pipe would block, /dev/zero never end
    except (OSError, TextFileError) as exc:
        why = exc.message if isinstance(exc, TextFileError) else (exc.strerror or type(exc).__name__)
        raise FtevalError(f"key file {path} cannot be read ({why})") from None
    lines = data.decode("utf-8", errors="replace").strip().splitlines()
    if len(lines) != 1 or not lines[0].strip():
        # never quote the file: it may be something else (a spec naming /etc/passwd)
        raise FtevalError(f"key file {path} is not a key file: it has {len(lines)} lines, not one line with the key")
    return lines[0].strip()


def sent_secrets(trainer: Any) -> frozenset[str]:
    """The values a trainer's routes send (those that can be read now), to scrub from stored outputs."""
    found = set()
    for credential in trainer.credentials():
        try:
            value = credential_value(credential)
        except FtevalError:
            continue
        if value != NO_KEY and len(value) >= MIN_SCRUBBED:
            found.add(value)
    return frozenset(found)


def scrub_outputs(generations: list[Generation], secrets: frozenset[str]) -> list[Generation]:
    """``generations`` with each known secret of 8+ characters (a key a server echoed) replaced by ``<redacted>``."""
    secrets = frozenset(s for s in secrets if len(s) >= MIN_SCRUBBED)
    if not secrets:
        return generations
    out = []
    for generation in generations:
        text = generation.text
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        out.append(generation if text == generation.text else dataclasses.replace(generation, text=text))
    return out


def route_label(credential: Credential) -> str:
    """``SECRET@HOST``, the form the user approves a route in."""
    return f"{credential.secret}@{credential.host}"


# ------------------------------------------------------------------ approval outside the spec


class _UserConfig(BaseModel):
    """The user config file: settings that only the user, never a spec, may give."""

    model_config = ConfigDict(extra="forbid")

    allow_credentials: list[str] = Field(
        default_factory=list,
        description="Routes a spec the user did not write may use, as SECRET@HOST: `$TEAM_KEY@llm.internal:8000`.",
    )


def user_config_path() -> Path:
    """``$FTEVAL_CONFIG``, else ``$XDG_CONFIG_HOME/fteval/config.yaml`` (``~/.config/fteval/config.yaml``)."""
    if os.environ.get("FTEVAL_CONFIG"):
        return Path(os.environ["FTEVAL_CONFIG"]).expanduser()
    root = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(root) / "fteval" / "config.yaml"


def approved_routes() -> set[str]:
    """Routes the user approved: the user config's ``allow_credentials`` and ``$FTEVAL_ALLOW_CREDENTIALS``.

    Raises:
        SpecError: the user config file is not valid (with its file, line and key).
    """
    from fteval.spec.yamlsafe import format_path, load_yaml

    routes = {line.strip() for line in os.environ.get(ALLOW_ENV, "").splitlines() if line.strip()}
    path = user_config_path()
    if not path.is_file():
        return routes
    data, source = load_yaml(path)
    try:
        config = _UserConfig.model_validate(data if data is not None else {})
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            where = tuple(err["loc"])
            _, line, col = source.locate(where)
            issues.append(Issue(path, line, col, format_path(where), err["msg"]))
        raise SpecError(issues) from None
    return routes | {r.strip() for r in config.allow_credentials}


def target_credentials(loaded: LoadedSpec) -> Iterator[tuple[str, Credential]]:
    """(target name, route) of every credential route of every target, in spec order.

    Raises:
        PluginError: a trainer's ``credentials()`` failed.
    """
    for name, target in loaded.targets.items():
        trainer: Any = target.trainer(target.config)
        try:
            routes = trainer.credentials()
        except Exception as exc:  # a plugin bug must name the plugin, not end in a traceback
            raise PluginError(f"trainer {target.spec.trainer!r}: credentials() failed: {exc}") from None
        for credential in routes:
            yield name, credential


def _chosen_elsewhere(loaded: LoadedSpec, path: KeyPath) -> Path | None:
    """The file that set ``path`` when it is not the spec the user ran (nor the command line)."""
    file, _, _ = loaded.source.locate(path)
    return file if isinstance(file, Path) and file.resolve() != loaded.file else None


def unapproved_routes(loaded: LoadedSpec) -> list[tuple[KeyPath, str]]:
    """Routes a file the user did not write chose and the user did not approve, as (key path, message)."""
    approved: set[str] | None = None
    found = []
    for name, credential in target_credentials(loaded):
        if not credential.secret:
            continue
        for option in credential.options:
            path: KeyPath = ("targets", name, *option.split("."))
            other = _chosen_elsewhere(loaded, path)
            if other is None:
                continue
            approved = approved_routes() if approved is None else approved
            label = route_label(credential)
            if label in approved:
                break
            found.append(
                (
                    path,
                    f"target {name} would send {credential.secret} to {credential.host}, chosen by {other}, a file "
                    f"this spec extends: approve it outside the spec with `fteval --allow-credential '{label}' ...` "
                    f"or add '{label}' to allow_credentials in {user_config_path()}, or set it in this spec",
                )
            )
            break
    return found
