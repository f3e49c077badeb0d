"""SQLiteEventStore: an append-only log of published events, with replay.

Each row holds an event's type as an import path (``module:QualName``) and
its dataclass fields as JSON. Values JSON can't express are written as
tagged objects ``{"$": tag, ...}`` (every JSON object in a row is tagged, so
nothing user-supplied can be mistaken for one), which keeps tuples, nested
dataclasses, datetime, date, Enum, UUID, Decimal and bytes intact; dicts and
lists of those work too. Any other value is refused with TypeError.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import sqlite3
import sys
import threading
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from os import PathLike
from typing import Any, Iterator
from uuid import UUID

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover - zoneinfo is stdlib from 3.9
    ZoneInfo = None  # type: ignore[assignment,misc]

__all__ = ["SQLiteEventStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    data TEXT NOT NULL
)
"""

_PLAIN = frozenset({str, int, float, bool, type(None)})
_SUPPORTED = (
    "str, int, float, bool, None, list, dict, tuple, bytes, date, datetime, "
    "Enum, UUID, Decimal and dataclasses"
)
_REPLAY_BATCH = 256


# -- type paths ---------------------------------------------------------------

_path_cache: dict[type, str] = {}


def type_path(cls: type) -> str:
    """Return ``module:QualName`` for ``cls``, checking that it imports back to ``cls``."""
    try:
        return _path_cache[cls]
    except KeyError:
        pass
    path = f"{cls.__module__}:{cls.__qualname__}"
    try:
        found = resolve_type(path)
    except (ImportError, AttributeError):
        found = None
    if found is not cls:
        raise TypeError(
            f"cannot store {cls.__qualname__}: its type must be importable as "
            f"{path!r} to be replayed (define it at module level)"
        )
    _path_cache[cls] = path
    return path


def resolve_type(path: str) -> Any:
    """Import ``module:QualName``; raises ImportError or AttributeError."""
    module_name, _, qualname = path.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        module = importlib.import_module(module_name)
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


# -- encoding -----------------------------------------------------------------


def _encode(value: Any, where: str) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list:
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is tuple:
        return {"$": "tuple", "v": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if kind is dict:
        return {"$": "dict", "v": [
            [_encode(k, f"{where} key"), _encode(v, f"{where}[{k!r}]")]
            for k, v in value.items()
        ]}
    if isinstance(value, Enum):
        return {"$": "enum", "t": type_path(kind), "v": value.name}
    if kind is datetime:
        return _encode_datetime(value, where)
    if kind is date:
        return {"$": "date", "v": value.isoformat()}
    if kind is UUID:
        return {"$": "uuid", "v": str(value)}
    if kind is Decimal:
        return {"$": "decimal", "v": str(value)}
    if kind is bytes:
        return {"$": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"$": "dc", "t": type_path(kind), "v": _encode_fields(value, where)}
    raise TypeError(
        f"cannot store {where} of type {kind.__qualname__}; supported: {_SUPPORTED}"
    )


def _encode_datetime(value: datetime, where: str) -> dict[str, Any]:
    tz = value.tzinfo
    if tz is None or type(tz) is timezone:
        return {"$": "datetime", "v": value.isoformat()}
    if ZoneInfo is not None and type(tz) is ZoneInfo and tz.key:
        # Keep the zone itself (not just today's offset) and which side of a
        # DST fold the wall time is on.
        naive = value.replace(tzinfo=None, fold=0).isoformat()
        return {"$": "datetime", "v": naive, "tz": tz.key, "fold": value.fold}
    raise TypeError(
        f"cannot store {where}: datetime tzinfo {type(tz).__qualname__} is not "
        "supported (use datetime.timezone or zoneinfo.ZoneInfo)"
    )


def _encode_fields(obj: Any, where: str) -> dict[str, Any]:
    return {
        f.name: _encode(getattr(obj, f.name), f"{where}.{f.name}")
        for f in dataclasses.fields(obj)
    }


def encode_event(event: Any) -> tuple[str, str]:
    """Return ``(type path, JSON of the fields)`` for a dataclass event."""
    cls = type(event)
    if not dataclasses.is_dataclass(cls):
        raise TypeError(
            f"cannot store a {cls.__qualname__} event: events published to a bus "
            "with a store must be dataclass instances"
        )
    path = type_path(cls)
    data = json.dumps(_encode_fields(event, cls.__qualname__), separators=(",", ":"))
    return path, data


# -- decoding -----------------------------------------------------------------


class _Decoder:
    """Rebuilds the values of one stored row; knows its offset for messages."""

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def type(self, path: str, what: str) -> Any:
        try:
            return resolve_type(path)
        except (ImportError, AttributeError) as exc:
            raise LookupError(
                f"cannot import {what} {path!r} stored at offset {self.offset}"
            ) from exc

    def value(self, data: Any) -> Any:
        kind = type(data)
        if kind is list:
            return [self.value(v) for v in data]
        if kind is not dict:
            return data
        tag = data["$"]
        v = data["v"]
        if tag == "tuple":
            return tuple(self.value(x) for x in v)
        if tag == "dict":
            return {self.value(k): self.value(x) for k, x in v}
        if tag == "dc":
            return self.build(self.type(data["t"], "type"), v)
        if tag == "enum":
            return self.type(data["t"], "enum type")[v]
        if tag == "datetime":
            parsed = datetime.fromisoformat(v)
            if "tz" in data:
                parsed = parsed.replace(tzinfo=ZoneInfo(data["tz"]), fold=data["fold"])
            return parsed
        if tag == "date":
            return date.fromisoformat(v)
        if tag == "uuid":
            return UUID(v)
        if tag == "decimal":
            return Decimal(v)
        if tag == "bytes":
            return base64.b64decode(v)
        raise ValueError(f"unknown tag {tag!r} in the event stored at offset {self.offset}")

    def build(self, cls: Any, fields: dict[str, Any]) -> Any:
        values = {name: self.value(v) for name, v in fields.items()}
        init = {}
        later = {}
        for f in dataclasses.fields(cls):
            if f.name in values:
                (init if f.init else later)[f.name] = values[f.name]
        try:
            obj = cls(**init)
        except TypeError as exc:
            raise TypeError(
                f"cannot rebuild {cls.__qualname__} stored at offset {self.offset} "
                f"(has the class changed?): {exc}"
            ) from exc
        for name, value in later.items():
            object.__setattr__(obj, name, value)
        return obj


def decode_event(offset: int, path: str, data: str) -> Any:
    """Rebuild the event stored at ``offset`` from its type path and JSON."""
    decoder = _Decoder(offset)
    cls = decoder.type(path, "event type")
    return decoder.build(cls, json.loads(data))


# -- the store ----------------------------------------------------------------


class SQLiteEventStore:
    """An append-only, replayable event log in one SQLite file (WAL mode).

    ``append`` commits before returning, so an event is durable once it is
    acknowledged; offsets start at 1 and only grow. ``replay(since=n)``
    yields the events after offset ``n`` as objects of their original types.
    Safe to share between threads. Also a context manager (closes on exit).
    """

    def __init__(self, path: str | PathLike[str]) -> None:
        """Open (or create) the store at ``path``."""
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None
        )
        self.journal_mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        # FULL: an acknowledged append survives a power loss, not only a crash.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"<SQLiteEventStore {str(self.path)!r}{'' if self._db else ' closed'}>"

    def __enter__(self) -> SQLiteEventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def append(self, event: Any) -> int:
        """Store ``event`` (a dataclass instance) and return its offset.

        Raises TypeError, storing nothing, if the event or one of its field
        values can't be encoded.
        """
        path, data = encode_event(event)
        with self._lock:
            cursor = self._connection().execute(
                "INSERT INTO events (type, data) VALUES (?, ?)", (path, data)
            )
            return cursor.lastrowid  # type: ignore[return-value]

    def replay(self, since: int = 0) -> Iterator[Any]:
        """Yield the stored events with offset > ``since``, oldest first.

        Events appended while replaying are not included, so replaying and
        re-publishing to the same store ends. Raises LookupError naming the
        type and offset when a stored type can no longer be imported.
        """
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise ValueError(f"since must be an int >= 0, got {since!r}")
        with self._lock:
            (end,) = self._connection().execute("SELECT MAX(id) FROM events").fetchone()
        return self._replay(since, end or 0)

    def _replay(self, last: int, end: int) -> Iterator[Any]:
        while last < end:
            with self._lock:
                rows = self._connection().execute(
                    "SELECT id, type, data FROM events WHERE id > ? AND id <= ? "
                    "ORDER BY id LIMIT ?",
                    (last, end, _REPLAY_BATCH),
                ).fetchall()
            if not rows:
                return
            for offset, path, data in rows:
                yield decode_event(offset, path, data)
            last = rows[-1][0]

    def close(self) -> None:
        """Close the database; safe to call twice."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError("the event store is closed")
        return self._db
