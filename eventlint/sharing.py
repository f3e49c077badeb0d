"""One object for each repeated value of a file's facts.

The extractor builds a new string, reference tuple, span and payload for every occurrence:
the same ``("self", "lock")`` or ``"__init__"`` a hundred times in one file.  ``share`` makes equal
values one object before the facts leave the worker, so they are pickled once, unpickled
once and held once by the main process: on the standard library the facts take a third
less memory, and the main process unpickles them faster.  Values are never changed, only
replaced by an equal one of the same type.
"""

from __future__ import annotations

from .cache import RECORDS
from .model import FileFacts, Payload, Span, Tag

# the fields of each record but ``Span``, which is shared as a whole
_FIELDS = {cls: cls.__slots__ for cls in RECORDS if cls is not Span}
_SHARED_ITEMS = frozenset({str, int, tuple, type(None), Span, Tag, Payload})  # a tuple of these is shared
_set = object.__setattr__  # the records are frozen: a field is replaced by an equal value


def share(facts: FileFacts) -> FileFacts:
    """``facts``, every repeated string, tuple, span and payload in it made one object (in place)."""
    values: dict = {}
    spans: dict = {}
    payloads: dict = {}
    fields = _FIELDS

    def walk(value):
        kind = type(value)
        if kind is str:
            return values.setdefault(value, value)
        if kind is tuple:
            items = tuple([walk(item) for item in value])
            for item in items:
                kind = type(item)
                if kind not in _SHARED_ITEMS or (kind is tuple and values.get(item) is not item):
                    # records are rarely repeated and costly to hash; and (1,) == (True,):
                    # a tuple holding a bool, at any depth, is never shared
                    return items
            return values.setdefault(items, items)
        if kind is Span:
            return spans.setdefault(value, value)
        names = fields.get(kind)
        if names is not None:
            for name in names:
                item = getattr(value, name)
                new = walk(item)
                if new is not item:
                    _set(value, name, new)
            if kind is Payload:  # what calls pass: the same parameter or tag again and again
                return payloads.setdefault(value, value)
        return value

    return walk(facts)
