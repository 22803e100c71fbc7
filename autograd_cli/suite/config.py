"""Project configuration: ``[tool.gradcheck]`` in pyproject.toml, or ``gradcheck.toml``.

Found as ruff and pytest find theirs: from the working directory upward, the first
folder holding ``gradcheck.toml``, or a ``pyproject.toml`` with a ``[tool.gradcheck]``
table, wins (``gradcheck.toml`` first when a folder has both); ``--config FILE`` names
one outright. Keys are the long option names (``dtype``, ``backends``, ``max-ulps``).

The search is for the project's own file, never someone else's: it stops at the
repository root (a folder holding ``.git``) or the home folder, and, as git's
``safe.directory`` rule does for repositories, it skips (with a note) a file that
another user owns or could have written: one in a folder writable by every user
(``/tmp`` included, sticky bit or not) or writable by every user itself. A file named
with ``--config`` or ``GRADCHECK_CONFIG`` is always used: it was named on purpose.

Precedence, highest first: command line, environment (``GRADCHECK_*``), config file,
built-in defaults. The file's values become click's ``default_map``, which click
consults only after the command line and the environment, so the order is click's own.

Every problem is a :class:`ConfigError` naming the file, the key (or case), what is
wrong and a fix; the CLI prints it and exits 2. The validators here are shared with
suite files (:mod:`autograd_cli.suite.schema`), so a key means the same in both.
"""

from __future__ import annotations

import math
import os
import re
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from autograd_cli.core.dtypes import ALL_DTYPES
from autograd_cli.core.model import DEVICES, MAX_ORDER, MODE_CHOICES
from autograd_cli.core.names import nearest, short_number, unknown
from autograd_cli.report.render import FORMATS

CONFIG_NAME = "gradcheck.toml"
PYPROJECT = "pyproject.toml"

#: Largest configuration or suite file read, in bytes (a suite of a thousand cases is
#: a tenth of it); a larger file is refused before it is read.
MAX_FILE_BYTES = 1 << 20
#: Longest --timeout or timeout key, in seconds (as inputs.MAX_TIMEOUT: larger values
#: overflow the OS's timers).
MAX_TIMEOUT = 86_400.0
#: Widest excerpt of a file line shown under an error.
_EXCERPT = 76

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


class ConfigError(ValueError):
    """A bad configuration or suite file: where, what, and how to fix it."""

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        excerpt: Sequence[str] = (),
    ) -> None:
        self.path = str(path)
        self.where = where
        self.message = message
        self.hint = hint
        self.excerpt = tuple(excerpt)
        super().__init__(self.headline())

    def headline(self) -> str:
        place = f"{self.path}: {self.where}" if self.where else self.path
        return f"{place}: {self.message}"

    def render(self) -> str:
        """The message, any excerpt of the file or expression, and the hint (for stderr)."""
        lines = [f"error: {self.headline()}", *(f"  {line}" for line in self.excerpt)]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class Invalid(ValueError):
    """A value of the wrong kind; the caller adds the file and the key."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


Validator = Callable[[Any], Any]


def describe(value: Any) -> str:
    """How a TOML value reads in a message: its kind and a short rendering."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
             dict: "table"}
    kind = next((name for cls, name in kinds.items() if isinstance(value, cls)), "value")
    text = repr(value).replace("True", "true").replace("False", "false")
    if len(text) > 40:
        text = text[:37] + "..."
    return f"the {kind} {text}"


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def unquote_hint(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return None
        return f"write the number without quotes: {value.strip()}"
    return None


def number(
    minimum: float = 0.0, *, open_minimum: bool = False, maximum: float = math.inf
) -> Validator:
    """A finite number >= minimum (> minimum when ``open_minimum``), <= maximum."""

    def check(value: Any) -> float:
        bound = f"> {minimum:g}" if open_minimum else f">= {minimum:g}"
        if not is_number(value):
            raise Invalid(f"expected a number {bound}, got {describe(value)}",
                          unquote_hint(value))
        result = float(value)
        if math.isfinite(maximum) and not result <= maximum:
            bound += f" and <= {maximum:g}"
        if not math.isfinite(result):
            raise Invalid(f"expected a finite number {bound}, got {short_number(value)}")
        if result < minimum or result > maximum or (open_minimum and result == minimum):
            raise Invalid(f"expected a number {bound}, got {short_number(value)}")
        return result

    return check


def integer(minimum: int, maximum: int | None = None) -> Validator:
    def check(value: Any) -> int:
        bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid(f"expected a whole number {bound}, got {describe(value)}",
                          unquote_hint(value))
        if value < minimum or (maximum is not None and value > maximum):
            raise Invalid(f"expected a whole number {bound}, got {short_number(value)}")
        return value

    return check


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        hint = "write true or false, without quotes" if isinstance(value, (str, int)) else None
        raise Invalid(f"expected true or false, got {describe(value)}", hint)
    return value


def choice(choices: Sequence[str], what: str) -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(f"expected one of {', '.join(choices)}, got {describe(value)}",
                          f'write it as a string: "{choices[0]}"')
        if value not in choices:
            raise Invalid(unknown(what, value, choices, in_file=True))
        return value

    return check


def names(value: Any) -> tuple[str, ...]:
    """A list of strings, or one comma-separated string (as on the command line)."""
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value]
    else:
        raise Invalid(f"expected a list of strings, got {describe(value)}",
                      'for example ["analytic", "torch"]')
    return tuple(item for item in items if item)


def dtypes(value: Any) -> str | tuple[str, ...]:
    """One dtype, or several (a list, or "float16,float32" as on the command line): a
    comparison in each."""
    check = choice(ALL_DTYPES, "dtype")
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        return check(value)
    chosen = tuple(dict.fromkeys(check(item.strip() if isinstance(item, str) else item)
                                 for item in items))
    return chosen[0] if len(chosen) == 1 else chosen


def backends(value: Any) -> tuple[str, ...]:
    """Backend names, each one known (a missing framework is a row, not a config error)."""
    from autograd_cli.backends import REGISTRY

    chosen = names(value)
    if not chosen:
        raise Invalid(f"name at least one of {', '.join(REGISTRY)}")
    for name in chosen:
        if name not in REGISTRY:
            raise Invalid(unknown("backend", name, tuple(REGISTRY), in_file=True))
    return tuple(dict.fromkeys(chosen))


#: The keys of a project configuration: long option names, each with its validator.
PROJECT_KEYS: dict[str, Validator] = {
    "dtype": dtypes,
    "device": choice(DEVICES, "device"),
    "backends": backends,
    "rtol": number(),
    "atol": number(),
    "max-ulps": number(),
    "strict": flag,
    "timeout": number(open_minimum=True, maximum=MAX_TIMEOUT),
    "order": integer(1, MAX_ORDER),
    "mode": choice(MODE_CHOICES, "mode"),
    "jobs": integer(1),
    "format": choice(FORMATS, "format"),
    "verbose": flag,
    "no-isolate": flag,
}


def key_name(key: str) -> str:
    """``max_ulps`` and ``max-ulps`` are one key (TOML users write either)."""
    return key.replace("_", "-")


def validate_table(
    table: Mapping[str, Any],
    keys: Mapping[str, Validator],
    path: Path | str,
    where: str | None,
    *,
    kind: str = "key",
) -> dict[str, Any]:
    """Check every key and value of ``table``; the result is keyed by the canonical name."""
    result: dict[str, Any] = {}
    for raw, value in table.items():
        key = key_name(raw)
        if key not in keys:
            close = nearest(key, keys)
            hint = f"did you mean {close!r}?" if close else None
            known = f"known: {', '.join(keys)}"
            raise ConfigError(path, f"unknown {kind} {raw!r}", where=where,
                              hint=f"{hint} {known}" if hint else known)
        if key in result:
            raise ConfigError(path, f"{key!r} is given twice", where=where,
                              hint=f"keep one of {key!r} and {key.replace('-', '_')!r}")
        try:
            result[key] = keys[key](value)
        except Invalid as error:
            place = f"{where}: {raw}" if where else raw
            raise ConfigError(path, str(error), where=place, hint=error.hint) from None
    return result


def read_limited(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES. Opened without blocking
    and checked with fstat before any read, so a FIFO, /dev/zero or a huge file is
    refused at once instead of hanging or filling memory."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigError(path, "no such file", hint="check the path") from None
    except IsADirectoryError:
        raise ConfigError(path, "is a folder, not a file") from None
    except OSError as error:
        raise ConfigError(path, f"cannot read: {error.strerror or error}") from None
    with os.fdopen(fd, "rb") as stream:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(path, "is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise ConfigError(path, "is not a regular file (a pipe or a device?)",
                              hint="name a .toml file")
        try:
            data = stream.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise ConfigError(path, f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        project = path.name in (CONFIG_NAME, PYPROJECT)
        raise ConfigError(path, f"is too large (the limit is {MAX_FILE_BYTES // 1024} KiB)",
                          hint="project settings take a few lines: keep them in a small "
                          "gradcheck.toml, or name another file with --config"
                          if project else "split the suite into several files")
    return data


def read_toml(path: Path) -> dict[str, Any]:
    """The file as a dict; every way it can fail becomes a ConfigError naming it."""
    data = read_limited(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(path, f"not UTF-8 text (byte {error.start})",
                          hint="save the file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(path, "invalid TOML: arrays or tables are nested too deeply") from None
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _TOML_POSITION.search(message)
        excerpt: list[str] = []
        where = None
        if found:
            line, column = int(found.group(1)), int(found.group(2))
            message = message[: found.start()].rstrip()
            where = f"line {line}, column {column}"
            lines = text.splitlines()
            if 0 < line <= len(lines):
                shown = lines[line - 1].replace("\t", " ")
                skip = max(0, min(column - 1 - _EXCERPT // 2, len(shown) - _EXCERPT))
                shown = shown[skip : skip + _EXCERPT]
                excerpt = [shown, " " * min(column - 1 - skip, len(shown)) + "^"]
        raise ConfigError(
            path, f"invalid TOML: {message}", where=where, excerpt=excerpt,
            hint='strings need quotes (dtype = "float64"), lists brackets (at = [0.5, 1.0])',
        ) from None


@dataclass(frozen=True)
class ProjectConfig:
    """A validated project configuration: where it came from and its settings, and
    notes about files the search skipped (for stderr)."""

    path: Path | None
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: ``suites = ["tests/derivatives.toml"]``: suite files the pytest plugin collects
    #: whatever their name, resolved against the configuration's folder.
    suites: tuple[Path, ...] = ()

    @property
    def files(self) -> list[str]:
        """The configuration files in use (for ``-v`` and the JSON reports)."""
        return [] if self.path is None else [str(self.path)]

    def default_map(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The settings a command takes, as click values keyed by parameter name;
        ``params`` maps each long option name (``max-ulps``) to its parameter (``max_ulps``)."""
        result: dict[str, Any] = {}
        for key, value in self.settings.items():
            if key in params:
                result[params[key]] = ",".join(value) if isinstance(value, tuple) else value
        return result


def find_config(start: Path | None = None, notes: list[str] | None = None) -> Path | None:
    """The nearest gradcheck.toml, or pyproject.toml with [tool.gradcheck], upward from
    ``start`` to the repository root or the home folder. Files that are not safely the
    user's (:func:`unsafe`) are skipped, each with a line added to ``notes``."""
    folder = (start or Path.cwd()).resolve()
    home = _home()
    for candidate in (folder, *folder.parents):
        for name in (CONFIG_NAME, PYPROJECT):
            path = candidate / name
            if not path.is_file():
                continue
            problem = unsafe(path)
            if problem is not None:
                if notes is not None and (name == CONFIG_NAME or _mentions_us(path)):
                    notes.append(f"ignored {path}: {problem} (name it with --config to "
                                 "use it anyway)")
                continue
            if name == CONFIG_NAME or _has_tool_table(path):
                return path
        if (candidate / ".git").exists() or candidate == home:
            break
    return None


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return None


def unsafe(path: Path) -> str | None:
    """Why a found file may not be the user's own, or None: it or its folder is
    writable by every user (a sticky bit, as on /tmp, only stops others deleting it,
    not planting it), or another user owns it (git's ``safe.directory`` rule)."""
    try:
        own = path.stat()
        parent = path.parent.stat()
    except OSError as error:
        return f"cannot check who may write it ({error.strerror or error})"
    if parent.st_mode & stat.S_IWOTH:
        return f"its folder {path.parent} is writable by every user"
    if own.st_mode & stat.S_IWOTH:
        return "it is writable by every user"
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None and own.st_uid != geteuid():
        return f"it belongs to another user (uid {own.st_uid}, you are uid {geteuid()})"
    return None


def _mentions_us(path: Path) -> bool:
    """Whether a skipped pyproject.toml looks meant for gradcheck (worth a note)."""
    try:
        return b"gradcheck" in read_limited(path)
    except ConfigError:
        return False


def _has_tool_table(path: Path) -> bool:
    """Whether a pyproject.toml is meant for us. One that cannot be read, is too large
    or is broken is refused as a gradcheck.toml would be, never silently skipped (a
    skipped file would run with the defaults, unnoticed)."""
    raw = read_limited(path)
    if b"gradcheck" not in raw:
        return False
    tool = read_toml(path).get("tool")
    return isinstance(tool, dict) and "gradcheck" in tool


def load_config(path: Path) -> ProjectConfig:
    """Read and validate a project configuration (pyproject.toml or a gradcheck.toml)."""
    data = read_toml(path)
    where = None
    if path.name == PYPROJECT:
        tool = data.get("tool")
        table = tool.get("gradcheck") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigError(path, "has no [tool.gradcheck] table",
                              hint="add one, or name a gradcheck.toml with --config")
        where = "[tool.gradcheck]"
        data = table
    if not isinstance(data, dict):
        raise ConfigError(path, f"expected a table, got {describe(data)}", where=where)
    for key, value in data.items():
        if isinstance(value, dict) or (isinstance(value, list) and value
                                       and all(isinstance(item, dict) for item in value)):
            raise ConfigError(
                path, f"unexpected table [{key}]", where=where,
                hint="a project configuration holds plain keys (dtype = \"float64\"); "
                "cases belong in a suite file run with 'gradcheck suite FILE'",
            )
    data = dict(data)
    listed = data.pop("suites", None)
    suites: tuple[str, ...] = ()
    if listed is not None:
        try:
            suites = names(listed)
        except Invalid as error:
            place = f"{where}: suites" if where else "suites"
            raise ConfigError(path, str(error), where=place, hint=error.hint) from None
    settings = validate_table(data, PROJECT_KEYS, path, where)
    return ProjectConfig(path, settings, suites=tuple(path.parent / name for name in suites))


def project_config(explicit: Path | None = None, start: Path | None = None) -> ProjectConfig:
    """The configuration in force: the named file (always used), else the nearest safe
    one, else none; ``notes`` say which found files were skipped and why."""
    notes: list[str] = []
    path = explicit if explicit is not None else find_config(start, notes)
    config = ProjectConfig(None) if path is None else load_config(path)
    return replace(config, notes=tuple(notes)) if notes else config


__all__ = [
    "PROJECT_KEYS",
    "ConfigError",
    "ProjectConfig",
    "find_config",
    "load_config",
    "project_config",
    "read_toml",
    "unsafe",
]
