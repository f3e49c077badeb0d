"""``[tool.eventlint]`` settings: loaded, validated, frozen."""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A bad setting; the message names the key."""


DEFAULT_TAG_KEYS = ("type", "kind", "event", "name", "op", "action", "cmd", "command", "msg_type", "method")
# More worker processes than this only add start-up cost and memory: the analysis of one
# file takes milliseconds, and a machine with more cores is rare for a developer tool.
MAX_JOBS = 256


@dataclass(frozen=True, slots=True)
class Config:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    default_timeout: float = 10.0
    max_default_timeout: float = 60.0
    catalog: dict = field(default_factory=dict, hash=False, compare=False)
    jobs: int = 0  # 0: one per core; at most MAX_JOBS
    cache_dir: str = ".eventlint_cache"
    src: tuple[str, ...] = ("src", ".")
    tag_keys: tuple[str, ...] = DEFAULT_TAG_KEYS
    max_file_size: int = 4_000_000  # bytes; a larger file is EVT000 unread beyond this
    file_time_limit: float = 30.0  # seconds of analysis per file before it is EVT000
    respect_gitignore: bool = True  # skip what the project's .gitignore files ignore
    source: str = ""  # where the settings came from, for messages

    def with_overrides(self, **changes) -> "Config":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_CODE_OR_PREFIX = re.compile(r"(?:ALL|E|EV|EVT[0-9]{0,3})\Z")


def _codes(key: str, value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(" ", "").split(",") if v]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"`{key}` must be a list of rule codes, e.g. [\"EVT001\"]")
    codes = tuple(v.strip().upper() for v in value)
    for code in codes:
        if not _CODE_OR_PREFIX.match(code):
            raise ConfigError(f"`{key}`: {code!r} is not a rule code or prefix (EVT001, EVT, ALL)")
    return codes


def _strings(key: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`{key}` must be a list of strings")
    return tuple(value)


def _pattern(key: str, pattern: str) -> str:
    """``pattern`` when gitignore syntax can compile it (``eventlint.paths`` matches with
    the same ``pathspec`` compiler); a bad one is a config error, not a silent no-match."""
    import pathspec  # here: a project without patterns never pays its import (~60 ms)

    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except (ValueError, re.error) as error:
        reason = f" ({error.msg})" if isinstance(error, re.error) else ""
        raise ConfigError(f"`{key}`: {pattern!r} is not a valid gitignore-style pattern{reason}") from None
    return pattern


def _per_file_pattern(glob: str) -> str:
    """A ``per-file-ignores`` key: a pattern, or ``!`` and a pattern (then it means the
    files that pattern does not match)."""
    pattern = glob[1:] if glob.startswith("!") else glob
    if glob == "!":
        raise ConfigError("`per-file-ignores`: '!' is not a valid gitignore-style pattern")
    _pattern("per-file-ignores", pattern)
    return glob


def _number(key: str, value, *, minimum: float = 0.0) -> float:
    """A finite number above ``minimum``: the timeouts are written into code as literals,
    where ``nan`` or ``inf`` would be a ``NameError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= minimum:
        raise ConfigError(f"`{key}` must be a finite number greater than {minimum:g}, not {_toml(value)}")
    return float(value)


def _toml(value) -> str:
    """``value`` as it is spelled in TOML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, dict)):
        return "an array" if isinstance(value, list) else "a table"
    return repr(value)


def _jobs(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_JOBS:
        raise ConfigError(f"`jobs` must be a whole number from 1 to {MAX_JOBS} (0 = one per core), not {_toml(value)}")
    return value


KNOWN_SETTINGS = ("select", "ignore", "per-file-ignores", "exclude", "extend-exclude", "default-timeout",
                  "max-default-timeout", "catalog", "jobs", "cache-dir", "src", "tag-keys", "max-file-size",
                  "file-time-limit", "respect-gitignore")


def parse_settings(raw: dict, source: str) -> Config:
    """Settings from the ``[tool.eventlint]`` table of ``source``; a bad one raises a
    ``ConfigError`` that names the file and the key."""
    try:
        return _parse_settings(raw, source)
    except ConfigError as error:
        table = "[tool.eventlint] " if Path(source).name == "pyproject.toml" else ""
        raise ConfigError(f"{_shown(source)}: {table}{error}") from None


def _shown(source: str) -> str:
    try:
        return Path(source).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return source


def _parse_settings(raw: dict, source: str) -> Config:
    values: dict = {"source": source}
    for key, value in raw.items():
        if key in ("select", "ignore"):
            values[key] = _codes(key, value)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError("`per-file-ignores` must be a table of glob = [codes]")
            values["per_file_ignores"] = tuple((_per_file_pattern(glob), _codes(f"per-file-ignores.{glob}", codes))
                                               for glob, codes in value.items())
        elif key in ("exclude", "extend-exclude"):
            values[key.replace("-", "_")] = tuple(_pattern(key, p) for p in _strings(key, value))
        elif key in ("src", "tag-keys"):
            values[key.replace("-", "_")] = _strings(key, value)
        elif key == "respect-gitignore":
            if not isinstance(value, bool):
                raise ConfigError(f"`respect-gitignore` must be true or false, not {_toml(value)}")
            values["respect_gitignore"] = value
        elif key == "max-file-size":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError("`max-file-size` must be a number of bytes greater than 0")
            values["max_file_size"] = value
        elif key in ("default-timeout", "max-default-timeout", "file-time-limit"):
            values[key.replace("-", "_")] = _number(key, value)
        elif key == "jobs":
            values["jobs"] = _jobs(value)
        elif key == "cache-dir":
            if not isinstance(value, str) or not value:
                raise ConfigError("`cache-dir` must be a path")
            values["cache_dir"] = value
        elif key == "catalog":
            if not isinstance(value, dict):
                raise ConfigError("`catalog` must be a table of catalogue sections")
            values["catalog"] = value
        else:
            close = difflib.get_close_matches(key, KNOWN_SETTINGS, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"known: {', '.join(KNOWN_SETTINGS)}"
            raise ConfigError(f"unknown setting `{key}` ({hint})")
    return Config(**values)


def find_project_root(start: Path) -> Path:
    """The nearest ancestor of ``start`` holding pyproject.toml, else .git, else the cwd."""
    start = start.resolve()
    if start.is_file() or not start.exists():
        start = start.parent
    chain = [start, *start.parents]
    for marker in ("pyproject.toml", ".git"):
        for folder in chain:
            if (folder / marker).exists():
                return folder
    return Path(os.getcwd()).resolve()


def load_config(root: Path, explicit: Path | None = None) -> Config:
    path = explicit if explicit is not None else root / "pyproject.toml"
    if not path.is_file():
        if explicit is not None:
            raise ConfigError(f"config file not found: {explicit}")
        return Config()
    shown = _shown(str(path))
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {shown}: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{shown}: not UTF-8 (TOML files must be): byte {error.start + 1} "
                          f"is {raw[error.start:error.start + 1]!r}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown}: invalid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{shown}: invalid TOML: arrays or tables nested too deeply to read") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{shown}: `tool` must be a table ([tool.eventlint]), not {_toml(tool)}")
    if explicit is not None and path.name != "pyproject.toml":
        section = tool.get("eventlint", data)
    else:
        section = tool.get("eventlint", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{shown}: [tool.eventlint] must be a table")
    return parse_settings(section, str(path))
