"""SQLiteEventStore: an append-only log of published events, with replay.

Each row holds an event's type as an import path (``module:QualName``) and
its dataclass fields as JSON. Values JSON can't express are written as
tagged objects ``{"$": tag, ...}`` (every JSON object in a row is tagged, so
nothing user-supplied can be mistaken for one), which keeps tuples, nested
dataclasses, datetime, date, Enum (flag combinations included), UUID,
Decimal and bytes intact; dicts and lists of those work too. Any other type
is refused with TypeError.

What is stored is what replay gives back: ``append`` decodes the row it is
about to write and compares it with the event, field by field and type by
type, and refuses (ValueError, nothing written) a value that would come back
different, such as a datetime whose ``timezone`` has a name or a naive
datetime with ``fold=1``. NaN (float or Decimal) is refused too: it is not
equal to itself, so a replayed event could never equal the appended one; so
are strings holding surrogate code points, which are not Unicode text.

Replay is never stopped by one row: a row that can't be rebuilt (damaged
bytes or JSON, a type that no longer imports, a class whose fields changed)
is reported with its offset and replay goes on with the next one.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import logging
import math
import sqlite3
import sys
import threading
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from os import PathLike
from typing import Any, Callable, Iterator
from uuid import UUID

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover - zoneinfo is stdlib from 3.9
    ZoneInfo = None  # type: ignore[assignment,misc]

__all__ = ["CorruptEvent", "ReplayError", "SQLiteEventStore"]

logger = logging.getLogger("eventlint.bus")

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
        if kind is str:
            if not value.isascii():
                _check_text(value, where)
        elif kind is float and value != value:
            raise ValueError(
                f"cannot store {where}: NaN is not equal to itself, so the replayed "
                "event could never equal this one (store None instead)"
            )
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
        if kind.__members__.get(value.name) is value:  # type: ignore[arg-type]
            return {"$": "enum", "t": type_path(kind), "v": value.name}
        # A combination of Flag members (Perm.R | Perm.W) is no member of its
        # own; it is rebuilt from its value.
        return {"$": "enumv", "t": type_path(kind), "v": _encode(value.value, f"{where}.value")}
    if kind is datetime:
        return _encode_datetime(value, where)
    if kind is date:
        return {"$": "date", "v": value.isoformat()}
    if kind is UUID:
        return {"$": "uuid", "v": str(value)}
    if kind is Decimal:
        if value.is_nan():
            raise ValueError(
                f"cannot store {where}: Decimal {value} is not equal to itself, so the "
                "replayed event could never equal this one"
            )
        return {"$": "decimal", "v": str(value)}
    if kind is bytes:
        return {"$": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"$": "dc", "t": type_path(kind), "v": _encode_fields(value, where)}
    raise TypeError(
        f"cannot store {where} of type {kind.__qualname__}; supported: {_SUPPORTED}"
    )


def _check_text(value: str, where: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"cannot store {where}: the string holds the surrogate code point "
            f"{value[exc.start]!r} at index {exc.start}, which is not Unicode text "
            "(decode the original bytes properly, or store them as bytes)"
        ) from None


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
    """Return ``(type path, JSON of the fields)`` for a dataclass event.

    Raises TypeError for a type the codec does not keep and ValueError for a
    value it would not give back exactly (checked by decoding the result).
    """
    cls = type(event)
    if not dataclasses.is_dataclass(cls):
        raise TypeError(
            f"cannot store a {cls.__qualname__} event: events published to a bus "
            "with a store must be dataclass instances"
        )
    path = type_path(cls)
    name = cls.__qualname__
    try:
        data = json.dumps(_encode_fields(event, name), separators=(",", ":"))
    except RecursionError:
        raise ValueError(f"cannot store {name}: its values are nested too deeply") from None
    except ValueError as exc:
        if str(exc).startswith("cannot store"):
            raise
        # json's own refusals, e.g. an int beyond sys.get_int_max_str_digits().
        raise ValueError(f"cannot store {name}: {exc}") from None
    try:
        rebuilt = decode_event(0, path, data)
    except RecursionError:
        raise ValueError(f"cannot store {name}: its values are nested too deeply") from None
    except Exception as exc:
        raise ValueError(
            f"cannot store {name}: it could not be rebuilt from what would be stored "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    difference = _difference(event, rebuilt, name)
    if difference is not None:
        raise ValueError(f"cannot store {difference}; nothing was stored")
    return path, data


# -- the round-trip check -----------------------------------------------------


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _difference(original: Any, rebuilt: Any, where: str) -> str | None:
    """Describe the first place where ``rebuilt`` is not exactly ``original``.

    Stricter than ``==``: types must be identical (``1``, ``1.0`` and
    ``True`` are equal but not the same), every dataclass field counts (also
    those with ``compare=False``), dict order counts, and a datetime must keep
    its fold and its time zone, not only the instant. User ``__eq__`` methods
    are never called.
    """
    kind = type(original)
    if type(rebuilt) is not kind:
        same = False
    elif kind is list or kind is tuple:
        if len(original) != len(rebuilt):
            same = False
        else:
            for i, (a, b) in enumerate(zip(original, rebuilt)):
                found = _difference(a, b, f"{where}[{i}]")
                if found is not None:
                    return found
            return None
    elif kind is dict:
        if len(original) != len(rebuilt):
            same = False
        else:
            for (ka, va), (kb, vb) in zip(original.items(), rebuilt.items()):
                found = _difference(ka, kb, f"{where} key {_short(ka)}")
                if found is None:
                    found = _difference(va, vb, f"{where}[{_short(ka)}]")
                if found is not None:
                    return found
            return None
    elif isinstance(original, Enum):
        same = original is rebuilt
    elif kind is float:
        same = original == rebuilt and math.copysign(1.0, original) == math.copysign(1.0, rebuilt)
    elif kind is Decimal:
        same = str(original) == str(rebuilt)
    elif kind is datetime:
        same = _same_datetime(original, rebuilt)
    elif dataclasses.is_dataclass(kind):
        for f in dataclasses.fields(original):
            found = _difference(
                getattr(original, f.name), getattr(rebuilt, f.name), f"{where}.{f.name}"
            )
            if found is not None:
                return found
        return None
    else:
        same = original == rebuilt
    if same:
        return None
    return f"{where}: {_short(original)} would be replayed as {_short(rebuilt)}"


def _same_datetime(a: datetime, b: datetime) -> bool:
    if a.replace(tzinfo=None) != b.replace(tzinfo=None) or a.fold != b.fold:
        return False
    tz_a, tz_b = a.tzinfo, b.tzinfo
    if type(tz_a) is not type(tz_b):
        return False
    if tz_a is None:
        return True
    if ZoneInfo is not None and type(tz_a) is ZoneInfo and tz_a.key != tz_b.key:
        return False
    return (a.utcoffset(), a.tzname(), a.dst()) == (b.utcoffset(), b.tzname(), b.dst())


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
        if tag == "enumv":
            return self.type(data["t"], "enum type")(self.value(v))
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


@dataclasses.dataclass(frozen=True, slots=True)
class CorruptEvent:
    """A stored row that ``replay`` could not turn back into an event.

    ``type`` and ``data`` are the row's columns as stored (text, or bytes when
    they are not valid UTF-8; None when missing); ``error`` says why the row
    could not be rebuilt: damaged JSON, a type that no longer imports, a class
    whose fields changed, ...
    """

    offset: int
    type: str | bytes | None
    data: str | bytes | None
    error: Exception


class ReplayError(LookupError):
    """Raised by ``replay`` after the last readable event, if some rows were unreadable.

    ``corrupt`` lists them, in offset order. Every other event was yielded
    before this is raised. A LookupError, as an unknown stored type was before
    unreadable rows stopped being fatal.
    """

    def __init__(self, corrupt: list[CorruptEvent]) -> None:
        self.corrupt = tuple(corrupt)
        shown = "; ".join(f"offset {c.offset}: {c.error}" for c in self.corrupt[:5])
        more = f"; and {len(self.corrupt) - 5} more" if len(self.corrupt) > 5 else ""
        count = len(self.corrupt)
        super().__init__(
            f"{count} stored event{'s' if count != 1 else ''} could not be replayed "
            f"(every other event was): {shown}{more}"
        )


def _text(raw: Any, column: str) -> str:
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the {column} column is not valid UTF-8: {exc}") from None
    raise ValueError(f"the {column} column is {raw!r}, not text")


def _column(raw: Any) -> str | bytes | None:
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
    return raw


class SQLiteEventStore:
    """An append-only, replayable event log in one SQLite file (WAL mode).

    ``append`` commits before returning, so an event is durable once it is
    acknowledged (it survives the process being killed, and with
    ``synchronous=FULL`` a power loss); offsets start at 1 and only grow.
    ``append`` refuses, writing nothing, any value that ``replay`` would not
    give back exactly. ``replay(since=n)`` yields the events after offset
    ``n`` as objects of their original types; a row it cannot rebuild is
    reported with its offset and skipped, never blocking the rows after it.
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

        The row is decoded again and compared with ``event`` before it is
        written: TypeError if the event or a field value has a type the store
        does not keep, ValueError if a value would be replayed differently
        (the message names the field and both values). Either way nothing is
        stored. Once this returns, the event is committed.
        """
        path, data = encode_event(event)
        with self._lock:
            cursor = self._connection().execute(
                "INSERT INTO events (type, data) VALUES (?, ?)", (path, data)
            )
            return cursor.lastrowid  # type: ignore[return-value]

    def replay(
        self,
        since: int = 0,
        *,
        on_corrupt: Callable[[CorruptEvent], Any] | None = None,
    ) -> Iterator[Any]:
        """Yield the stored events with offset > ``since``, oldest first.

        Events appended while replaying are not included, so replaying and
        re-publishing to the same store ends.

        A row that can't be rebuilt (damaged bytes or JSON, a stored type that
        no longer imports, a class whose fields changed) never stops the
        replay: it is logged as a warning on the ``eventlint.bus`` logger with
        its offset, and the rows after it are still yielded. Then, with
        ``on_corrupt``, that callable receives a ``CorruptEvent`` (offset, raw
        columns, error) for each such row, as it is met, and replay ends
        normally; without it, ``ReplayError`` listing every such row is raised
        after the last readable event has been yielded, so nothing is skipped
        unnoticed.
        """
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise ValueError(f"since must be an int >= 0, got {since!r}")
        if on_corrupt is not None and not callable(on_corrupt):
            raise TypeError(f"on_corrupt must be callable or None, got {on_corrupt!r}")
        with self._lock:
            (end,) = self._connection().execute("SELECT MAX(id) FROM events").fetchone()
        return self._replay(since, end or 0, on_corrupt)

    def _replay(
        self, last: int, end: int, on_corrupt: Callable[[CorruptEvent], Any] | None
    ) -> Iterator[Any]:
        corrupt: list[CorruptEvent] = []
        while last < end:
            with self._lock:
                # Columns are read as bytes and decoded per row: text that is
                # not valid UTF-8 would otherwise fail the whole batch.
                rows = self._connection().execute(
                    "SELECT id, CAST(type AS BLOB), CAST(data AS BLOB) FROM events "
                    "WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
                    (last, end, _REPLAY_BATCH),
                ).fetchall()
            if not rows:
                break
            for offset, raw_type, raw_data in rows:
                try:
                    event = decode_event(
                        offset, _text(raw_type, "type"), _text(raw_data, "data")
                    )
                except Exception as exc:
                    bad = CorruptEvent(offset, _column(raw_type), _column(raw_data), exc)
                    logger.warning("replay skipped the event stored at offset %d: %s",
                                   offset, exc)
                    if on_corrupt is not None:
                        on_corrupt(bad)
                    else:
                        corrupt.append(bad)
                    continue
                yield event
            last = rows[-1][0]
        if corrupt:
            raise ReplayError(corrupt)

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
