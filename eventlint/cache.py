"""The on-disk cache: per-file facts and the results of whole runs.

The cache folder usually sits in the project under review, and a repository can carry
one (committed, or restored by CI), so nothing read from it is trusted:

- an entry is plain data, JSON of positional lists, and is decoded only into the record
  classes of ``eventlint.model`` listed in ``RECORDS`` and the members of the enums listed
  in ``ENUMS`` (stored as their text), each field checked against its annotation; nothing
  read from disk is ever executed or unpickled;
- every entry carries an HMAC-SHA256 of its kind, its name and its payload, keyed by a
  random key kept in the user's cache folder (``platformdirs.user_cache_dir``), outside
  every project. A repository cannot know the key, so it cannot forge an entry.

An entry that is missing, is not a regular file, is too large, fails the HMAC, does not
parse or decodes into anything but the expected records is a miss: the file is analysed
again. Without a usable key the cache is neither read nor written.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import secrets
import stat
import tempfile
import types
import typing
from dataclasses import MISSING, fields
from enum import Enum
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Protocol

from . import model
from .discovery import read_at_most
from .model import (Binding, CallFact, ClassFact, Dispatch, FileFacts, Finding, Fix, FunctionFact, Location, LoopFact,
                    Param, Payload, Problem, ReturnFact, Span, Suppression, Table, TableKey, Tag, TextEdit)

# Version 1 of the format was a pickle behind an unkeyed digest: never read again.
_ENTRY_MAGIC = b"eventlint-cache-2\n"  # a cache entry: this, the HMAC, the JSON payload
_ENTRY_MAC = 32  # HMAC-SHA256
# The largest facts entry of the standard library (without tests) is 355 KiB: an entry a
# hundred times that size is not read into memory.
_ENTRY_LIMIT = 64 * 1024 * 1024

KEY_DIR_VARIABLE = "EVENTLINT_CACHE_KEY_DIR"
_KEY_FILE = "cache-key"
_KEY_SIZE = 32

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by eventlint.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)
_GITIGNORE = "# Created by eventlint: the cache is never committed.\n*\n"

# The only classes an entry can be decoded into.
RECORDS: tuple[type, ...] = (Span, Location, TextEdit, Fix, Finding, ClassFact, Param, FunctionFact, Tag, Payload,
                             CallFact, Binding, ReturnFact, Dispatch, TableKey, Table, LoopFact, Suppression, Problem,
                             FileFacts)
# The only enums a field may hold: those of eventlint.model.  A member is stored as its
# text and decoded by looking the text up among the members (an unknown text makes the
# entry invalid): decoding never constructs anything else.
ENUMS: tuple[type, ...] = tuple(value for value in vars(model).values()
                                if isinstance(value, type) and issubclass(value, Enum)
                                and value.__module__ == model.__name__ and len(value))


class _Invalid(Exception):
    """An entry's data does not match the records it should hold."""


# ---- the key -----------------------------------------------------------------------------


def key_folder() -> Path:
    """Where the cache key lives: ``$EVENTLINT_CACHE_KEY_DIR``, else the user's cache folder
    (``platformdirs`` honours ``XDG_CACHE_HOME`` on Linux)."""
    configured = os.environ.get(KEY_DIR_VARIABLE)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("eventlint", appauthor=False))


_keys: dict[str, bytes | None] = {}


def cache_key() -> bytes | None:
    """The key that authenticates cache entries, created on first use; None when it can
    neither be read nor created (a read-only home): the cache is then off for this run."""
    folder = key_folder()
    known = _keys.get(str(folder), b"")
    if known != b"":
        return known
    key = _read_key(folder / _KEY_FILE)
    if key is None:
        key = _create_key(folder)
    _keys[str(folder)] = key
    return key


def _read_key(path: Path) -> bytes | None:
    try:
        data = _read_regular(path, _KEY_SIZE, private=True)
    except OSError:
        return None
    return data if data is not None and len(data) == _KEY_SIZE else None


def _create_key(folder: Path) -> bytes | None:
    """Write a random key with mode 0600 to a temporary file and link it into place, so no
    reader ever sees half a key; when another process won the race, its key is used."""
    key = secrets.token_bytes(_KEY_SIZE)
    temp = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=".key-")  # created with mode 0600
        with os.fdopen(handle, "wb") as out:
            out.write(key)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, folder / _KEY_FILE)
        except FileExistsError:
            return _read_key(folder / _KEY_FILE)
        except OSError:  # a file system without hard links
            os.replace(temp, folder / _KEY_FILE)
            temp = None
    except OSError:
        return None
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
    return _read_key(folder / _KEY_FILE)


def _read_regular(path: Path, limit: int, *, private: bool = False) -> bytes | None:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes (and, when
    ``private``, owned by this user and writable by no one else); None otherwise. Links are
    not followed and opening never blocks: an entry can be a symlink to ``/dev/zero`` or a
    FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    handle = os.open(path, flags)
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        if private and hasattr(os, "geteuid") and (info.st_uid != os.geteuid() or info.st_mode & 0o022):
            return None
        return read_at_most(handle, limit)
    finally:
        os.close(handle)


# ---- encoding ----------------------------------------------------------------------------
#
# A record is a JSON list of its field values in declaration order. A field holding a
# record whose own fields are all str, int or bool (a Span) is spliced into that list
# instead of nested: spans are about half of all records, and each nested list costs as
# much to parse and check as the record around it. Decoding compares the type of every
# element against the signatures a record may have in one step, so most of the checking
# happens in C; nothing but the classes in RECORDS is ever constructed.

_PLAIN = (str, int, bool)
Decoder = Callable[[Any], Any]


def _hints(cls: type) -> list:
    hints = typing.get_type_hints(cls, vars(model))
    return [hints[field.name] for field in fields(cls)]


def _optional_of(hint):
    """``X`` for ``X | None``, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        arguments = typing.get_args(hint)
        if len(arguments) == 2 and type(None) in arguments:
            return arguments[0] if arguments[1] is type(None) else arguments[1]
    return None


def _is_flat(hint) -> bool:
    """A record made of plain values only: spliced into the record holding it."""
    return hint in RECORDS and all(h in _PLAIN for h in _hints(hint))


_GETTERS: dict[type, Callable[[Any], tuple]] = {}
_SPLICED: dict[type, tuple[tuple[int, Callable[[Any], tuple]], ...]] = {}
# per record: how many leading fields are always written, and the defaults of the others
_TRIMMED: dict[type, tuple[int, tuple]] = {}
for _record in RECORDS:
    _names = [f.name for f in fields(_record)]
    _GETTERS[_record] = attrgetter(*_names) if len(_names) > 1 else (lambda obj, _n=_names[0]: (getattr(obj, _n),))
    _defaults = [f.default for f in fields(_record)]
    _required = sum(1 for f in fields(_record) if f.default is MISSING and f.default_factory is MISSING)
    _TRIMMED[_record] = (max(_required, 1), tuple(_defaults))
for _record in RECORDS:
    _SPLICED[_record] = tuple((position, _GETTERS[hint]) for position, hint in enumerate(_hints(_record))
                              if _is_flat(hint))


def _as_list(value):
    """A record's field values, trailing defaults left out, spans spliced in."""
    cls = type(value)
    getter = _GETTERS.get(cls)
    if getter is None:
        raise TypeError(f"not a cache record: {cls.__name__}")
    values = list(getter(value))
    required, defaults = _TRIMMED[cls]
    end = len(values)
    while end > required and type(values[end - 1]) is type(defaults[end - 1]) and values[end - 1] == defaults[end - 1]:
        end -= 1
    del values[end:]
    for position, inner in reversed(_SPLICED[cls]):
        values[position:position + 1] = inner(values[position])
    return values


def encode(value) -> bytes:
    """Records as JSON lists of their field values (tuples become lists too)."""
    return json.dumps(value, default=_as_list, separators=(",", ":"), check_circular=False,
                      allow_nan=False).encode("ascii")


def _leaf(kind: type) -> Decoder:
    def decode(value):
        if type(value) is not kind:
            raise _Invalid
        return value

    return decode


def _tuple_of_leaves(kind: type) -> Decoder:
    allowed = {kind}

    def decode(value):
        if type(value) is not list or (value and set(map(type, value)) != allowed):
            raise _Invalid
        return tuple(value)

    return decode


_LIST = {list}
_LIST_OR_NONE = {list, type(None)}
_join = "".join  # raises TypeError unless every element is a str: a check done in C
_chain = itertools.chain.from_iterable


def _strings(value):
    """``tuple[str, ...]``"""
    if type(value) is not list:
        raise _Invalid
    _join(value)
    return tuple(value)


def _string_tuples(value):
    """``tuple[tuple[str, ...], ...]``: a tuple of references."""
    if type(value) is not list or (value and not set(map(type, value)) <= _LIST):
        raise _Invalid
    _join(_chain(value))
    return tuple(map(tuple, value))


def _string_pairs(value):
    """``tuple[tuple[str, str], ...]``"""
    if type(value) is not list or (value and (not set(map(type, value)) <= _LIST or set(map(len, value)) != {2})):
        raise _Invalid
    _join(_chain(value))
    return tuple(map(tuple, value))


def _optional_string_tuples(value):
    """``tuple[tuple[str, ...] | None, ...]``: a call's positional arguments."""
    if type(value) is not list:
        raise _Invalid
    if not value:
        return ()
    kinds = set(map(type, value))
    if kinds <= _LIST:
        _join(_chain(value))
        return tuple(map(tuple, value))
    if not kinds <= _LIST_OR_NONE:
        raise _Invalid
    _join(_chain(filter(None, value)))
    return tuple([None if element is None else tuple(element) for element in value])


def _named_optional_string_tuples(value):
    """``tuple[tuple[str, tuple[str, ...] | None], ...]``: a call's keyword arguments."""
    if type(value) is not list or (value and (not set(map(type, value)) <= _LIST or set(map(len, value)) != {2})):
        raise _Invalid
    names = [name for name, _ in value]
    _join(names)
    return tuple(zip(names, _optional_string_tuples([reference for _, reference in value])))


_SPECIALISED: dict[object, Decoder] = {
    tuple[str, ...]: _strings,
    tuple[model.Ref, ...]: _string_tuples,
    tuple[tuple[str, str], ...]: _string_pairs,
    tuple[model.Ref | None, ...]: _optional_string_tuples,
    tuple[tuple[str, model.Ref | None], ...]: _named_optional_string_tuples,
}


def _sequence_of(item: Decoder, build: type = tuple) -> Decoder:
    """A JSON array decoded item by item into ``build`` (a tuple or a list)."""
    def decode(value):
        if type(value) is not list:
            raise _Invalid
        return build(map(item, value))

    return decode


def _fixed_tuple(items: list[Decoder]) -> Decoder:
    size = len(items)

    def decode(value):
        if type(value) is not list or len(value) != size:
            raise _Invalid
        return tuple([item(element) for item, element in zip(items, value)])

    return decode


def _optional(inner: Decoder) -> Decoder:
    def decode(value):
        return None if value is None else inner(value)

    return decode


def _record(cls: type, decoders: dict[type, Decoder]) -> Decoder:
    """Check a record's list and rebuild it. Every shape the list may take (which optional
    fields are None, how many trailing defaults were left out) is known in advance, each
    with its plan: looking the element types up is the whole shape check."""
    slot_types: list[tuple[type, ...]] = []  # the JSON types each element of the list may have
    slot_kinds: list[object] = []  # per element: None (plain), "strings" or (decoder, value when empty)
    members: list[tuple[int, dict[str, object]]] = []  # (element, the enum's members by text) of enum fields
    spliced: list[tuple[int, int, type]] = []  # (first element, end, record) of spliced records
    field_ends: list[int] = []  # the number of elements up to and including each field
    for hint in _hints(cls):
        if hint in _PLAIN:
            slot_types.append((hint,))
            slot_kinds.append(None)
        elif hint in ENUMS:
            members.append((len(slot_types), {member.value: member for member in hint}))
            slot_types.append((str,))
            slot_kinds.append(None)
        elif _is_flat(hint):
            inner = _hints(hint)
            spliced.append((len(slot_types), len(slot_types) + len(inner), hint))
            slot_types.extend((h,) for h in inner)
            slot_kinds.extend(None for _ in inner)
        else:
            optional = _optional_of(hint)
            target = hint if optional is None else optional
            if target in _PLAIN:
                slot_types.append((target, type(None)))
                slot_kinds.append(None)
            else:
                slot_types.append((list,) if optional is None else (list, type(None)))
                if target == tuple[str, ...]:
                    slot_kinds.append("strings")
                else:
                    empty = () if typing.get_origin(target) is tuple else None
                    slot_kinds.append((_decoder(target, decoders), empty))
        field_ends.append(len(slot_types))
    required = sum(1 for field in fields(cls) if field.default is MISSING and field.default_factory is MISSING)
    plans: dict[tuple[type, ...], tuple[tuple[int, ...], tuple[tuple[int, Decoder, tuple | None], ...]]] = {}
    for end in field_ends[max(required, 1) - 1:]:
        for signature in itertools.product(*slot_types[:end]):
            strings = tuple(i for i, kind in enumerate(slot_kinds[:end]) if kind == "strings" and signature[i] is list)
            nested = tuple((i, *kind) for i, kind in enumerate(slot_kinds[:end])
                           if isinstance(kind, tuple) and signature[i] is list)
            plans[signature] = (strings, nested)
    spliced_ = tuple(reversed(spliced))  # from the right, so earlier positions stay valid
    members_ = tuple(members)
    join = _join
    find = plans.get

    def decode(value):
        plan = find(tuple(map(type, value))) if type(value) is list else None
        if plan is None:
            raise _Invalid
        strings, nested = plan
        for position, by_text in members_:
            if position < len(value):
                member = by_text.get(value[position])
                if member is None:
                    raise _Invalid
                value[position] = member
        for position in strings:
            element = value[position]
            join(element)
            value[position] = tuple(element)
        for position, inner, empty in nested:
            element = value[position]
            if element:
                value[position] = inner(element)
            elif empty is None:
                raise _Invalid
            else:
                value[position] = empty
        for start, end, record in spliced_:
            value[start:end] = (record(*value[start:end]),)
        return cls(*value)

    return decode


def _decoder(hint, decoders: dict[type, Decoder]) -> Decoder:
    """A function that checks JSON data against ``hint`` and rebuilds the value; only the
    annotations the model uses are understood, anything else fails at import."""
    if hint in _PLAIN:
        return _leaf(hint)
    if hint in decoders:
        return decoders[hint]
    if hint in _SPECIALISED:
        return _SPECIALISED[hint]
    if hint in RECORDS:
        raise TypeError(f"{hint.__name__} must come before the records that hold it in RECORDS")
    optional = _optional_of(hint)
    if optional is not None:
        return _optional(_decoder(optional, decoders))
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        if arguments[0] is int:
            return _tuple_of_leaves(int)
        return _sequence_of(_decoder(arguments[0], decoders))
    if origin is tuple and arguments and Ellipsis not in arguments:
        return _fixed_tuple([_decoder(argument, decoders) for argument in arguments])
    if origin is list and len(arguments) == 1:
        return _sequence_of(_decoder(arguments[0], decoders), list)
    raise TypeError(f"the cache cannot store {hint!r}")


def _build_decoders() -> dict[type, Decoder]:
    decoders: dict[type, Decoder] = {}
    for cls in RECORDS:  # in an order where a record's field types come before it
        decoders[cls] = _record(cls, decoders)
    return decoders


_DECODERS = _build_decoders()
# a stored run: (file summaries, findings)
_RUN_SHAPE = _decoder(tuple[list[FileFacts], list[Finding]], _DECODERS)


def decode(payload: bytes, shape: Decoder) -> Any:
    """The value ``payload`` holds, checked and rebuilt by ``shape``; _Invalid otherwise."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as error:
        raise _Invalid from error
    return shape(data)


def decode_facts(payload: bytes) -> FileFacts:
    return decode(payload, _DECODERS[FileFacts])


# ---- entries -----------------------------------------------------------------------------


def _mac(key: bytes, kind: bytes, name: str, payload: bytes) -> bytes:
    """Kind and name are authenticated too: an entry is valid only where it was written."""
    return hmac.digest(key, b"%s\0%s\0%s" % (kind, name.encode("ascii", "replace"), payload), "sha256")


def _read_entry(path: Path, kind: bytes, shape: Callable[[Any], Any]):
    """The value stored at ``path``, or None when it is missing, not ours or damaged: the
    HMAC is checked before the payload is parsed, and the payload is only ever parsed as
    JSON and rebuilt into the records ``shape`` allows."""
    key = cache_key()
    if key is None:
        return None
    try:
        data = _read_regular(path, _ENTRY_LIMIT)
    except OSError:
        return None
    head = len(_ENTRY_MAGIC) + _ENTRY_MAC
    if data is None or len(data) < head or not data.startswith(_ENTRY_MAGIC):
        return None
    payload = data[head:]
    if not hmac.compare_digest(data[len(_ENTRY_MAGIC):head], _mac(key, kind, path.name, payload)):
        return None
    try:
        return decode(payload, shape)
    except (_Invalid, TypeError, ValueError, RecursionError):
        return None


_OWN_NAMES = {".gitignore", "CACHEDIR.TAG", "runs"}


def _is_cache_layout(root: Path) -> bool:
    """Whether ``root`` holds nothing but what eventlint puts in a cache folder (entry
    folders named by two hex digits, ``runs/``, its tags, temporary files): a folder of an
    older eventlint, or an empty one, is a cache; ``--cache-dir src`` is not."""
    try:
        names = [entry.name for entry in os.scandir(root)]
    except OSError:
        return False
    return all(name in _OWN_NAMES or name.startswith(".tmp-")
               or (len(name) == 2 and all(c in "0123456789abcdef" for c in name)) for name in names)


def _prepare_root(root: Path) -> None:
    """Give the cache folder a ``.gitignore`` (``*``: it is never committed and never shows
    in ``git status``) and a ``CACHEDIR.TAG`` (backup tools skip it), whenever one of them
    is missing: a folder just created, one of an older eventlint, one deleted while a
    process that already wrote there lives on.  Existing files are left as they are, and
    a folder that holds anything else (``--cache-dir`` pointed at the project's own code)
    gets neither, so that its files are not hidden from git."""
    tags = [(name, text) for name, text in ((".gitignore", _GITIGNORE), ("CACHEDIR.TAG", _CACHEDIR_TAG))
            if not os.path.lexists(root / name)]
    if not tags:
        return
    root.mkdir(parents=True, exist_ok=True)
    if not _is_cache_layout(root):
        return
    for name, text in tags:
        try:
            handle = os.open(root / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            continue
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(text)


def _write_entry(root: Path, folder: Path, name: str, kind: bytes, value) -> None:
    """Write atomically (temporary file + rename): two runs at once never see half a file.
    Nothing is written without a key: no later run could trust it."""
    key = cache_key()
    if key is None:
        return
    try:
        payload = encode(value)
    except (TypeError, ValueError):
        return
    temp = None
    try:
        _prepare_root(root)
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as out:
            out.write(_ENTRY_MAGIC + _mac(key, kind, name, payload) + payload)
        os.replace(temp, folder / name)
    except OSError:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass


class FileIdentity(Protocol):
    rel: str
    module: str
    aliases: tuple[str, ...]
    is_package: bool


class FactsCache:
    """Facts per file under ``folder``, keyed by a hash of the content, the eventlint
    version, the catalogue, the settings that shape facts and the module name."""

    KIND = b"facts"

    def __init__(self, folder: Path | None, salt: str):
        self.folder = folder
        self.salt = salt

    def key(self, job: FileIdentity, raw: bytes) -> str:
        digest = hashlib.blake2b(raw, digest_size=20)
        digest.update(f"\0{self.salt}\0{job.rel}\0{job.module}\0{job.aliases}\0{job.is_package}".encode())
        return digest.hexdigest()

    def get(self, key: str) -> FileFacts | None:
        if self.folder is None:
            return None
        return _read_entry(self.folder / key[:2] / key, self.KIND, _DECODERS[FileFacts])

    def size(self, key: str) -> int | None:
        """The size of the entry for ``key`` (which may still prove unusable), None when
        there is none."""
        if self.folder is None:
            return None
        try:
            return (self.folder / key[:2] / key).stat().st_size
        except OSError:
            return None

    def put(self, key: str, facts: FileFacts) -> None:
        if self.folder is None:
            return
        _write_entry(self.folder, self.folder / key[:2], key, self.KIND, facts)


class ResultsCache:
    """The findings of a whole run, keyed by every file's facts key, the settings and
    eventlint's code: re-checking an unchanged tree needs neither the facts nor the graph.
    Files are kept only as (path, module, problem) summaries."""

    KIND = b"runs"

    def __init__(self, folder: Path):
        self.root = folder
        self.folder = folder / "runs"

    def get(self, key: str) -> tuple[list[FileFacts], list[Finding]] | None:
        stored = _read_entry(self.folder / key, self.KIND, _RUN_SHAPE)
        if stored is not None:  # a run that writes nothing still tags the folder it reads
            try:
                _prepare_root(self.root)
            except OSError:
                pass
        return stored

    def put(self, key: str, files: list[FileFacts], findings: list[Finding]) -> None:
        summaries = [FileFacts(f.path, f.module, f.aliases, problem=f.problem) for f in files]
        try:
            for old in sorted(self.folder.iterdir(), key=lambda p: p.stat().st_mtime)[:-16]:
                old.unlink(missing_ok=True)  # keep the few most recent runs
        except OSError:
            pass
        _write_entry(self.root, self.folder, key, self.KIND, (summaries, findings))
