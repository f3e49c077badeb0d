"""The API catalogue: which callables create channels, register handlers, block, or
bound time.  It is data (``rules/catalog/*.toml``), loaded once per run and extended by
users under ``[tool.eventlint.catalog]`` with the same schema.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .model import CallFact, End, Named, Ref, Safety, ScopeKind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class CatalogError(ValueError):
    """The catalogue (shipped or user-supplied) does not follow the schema."""


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """Where a call takes one argument: by keyword, by position, or both."""

    keyword: str | None = None
    position: int | None = None
    default: str | None = None

    def argument(self, call: CallFact) -> Ref | None:
        """The argument ``call`` passes here (its reference), or None when not passed."""
        return self._passed(call.keywords, call.args)

    def argument_text(self, call: CallFact) -> str | None:
        """The argument's summary text ("None", "5", "?"), or None when not passed."""
        return self._passed(call.keyword_texts, call.arg_texts)

    def _passed(self, by_keyword, by_position):
        if self.keyword is not None:
            for name, item in by_keyword:
                if name == self.keyword:
                    return item
        if self.position is not None and self.position < len(by_position):
            return by_position[self.position]
        return None


@dataclass(frozen=True, slots=True)
class ChannelApi:
    name: str
    family: str
    put: tuple[str, ...]
    get: tuple[str, ...]
    ends: tuple[End, ...] = ()  # for constructors returning a tuple: the end each item is
    maxsize: ParamSpec | None = None
    # the types its ends are annotated with (``execnet.Channel``): a parameter annotated so is
    # the channel its callers pass
    types: tuple[str, ...] = ()
    # methods that hand each received item to the callback they are given (``setcallback``)
    callbacks: tuple[str, ...] = ()
    # the argument naming the code run at the other end (``remote_exec(module)``), in which
    # the global or parameter ``remote_name`` is that end of the channel
    remote: ParamSpec | None = None
    remote_name: str = ""
    # the argument naming the address the constructor connects to (``Client(address)``), which
    # the constructor of the listener whose ``accepted_by`` method returns the other end takes
    # in the same place (``Listener(address).accept()``)
    address: ParamSpec | None = None
    accepted_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SubscriptionApi:
    """A call (or decorator) that registers ``handler`` to be called later."""

    name: str
    handler: ParamSpec
    by_name: bool = False  # matched by its last name alone (distinctive names only)
    decorator: bool = False  # ``@api(...)`` registers the decorated function
    call_result: bool = False  # the handler argument is a call: ``create_task(fn())``
    override: str = ""  # subclasses' method of this name is a handler (``Thread.run``)
    callback: bool = False  # the name is a callback keyword or attribute (``on_message=fn``)
    # the function runs in a thread, task, process or green thread of its own
    # (``Thread(target=fn)``, ``create_task(fn())``), not in whichever flow dispatches an event
    own_flow: bool = False


class ApiContext(Named):
    """Where a catalogued API blocks."""

    ANY = "any"  # wherever it is called
    ASYNC = "async"  # it only stalls a running event loop (a sync call inside ``async def``)
    AWAIT = "await"  # an awaited operation: it waits when awaited with no deadline


class WaitRole(Named):
    """What a catalogued blocking call waits for."""

    WAIT = "wait"  # a result or the outside world (a request, a process, a thread's end)
    # the next item or signal from another part of the program (a queue's get, an event's
    # wait): at the head of a loop it is the loop's input
    INPUT = "input"
    LOCK = "lock"  # a lock or semaphore: it guards memory, it does not wait for the outside world


@dataclass(frozen=True, slots=True)
class BlockingApi:
    name: str
    timeout: ParamSpec | None  # None: the API takes no timeout (wrap it instead)
    default: float | None = None  # library default timeout in seconds; None = waits forever
    fix: Safety = Safety.UNSAFE  # safety of adding the timeout
    reason: str = ""
    context: ApiContext = ApiContext.ANY
    by_name: bool = False
    requires: str = ""  # a condition the graph checks, e.g. "bounded" for put
    role: WaitRole = WaitRole.WAIT


@dataclass(frozen=True, slots=True)
class TimeoutScopeApi:
    name: str
    kind: ScopeKind
    deadline: ParamSpec | None = None  # no deadline when this argument is absent or None


@dataclass(frozen=True, slots=True)
class NoWaitWhen:
    """The client's ``methods`` do not wait when its constructor got one of ``values``
    (full names, ``socket.SOCK_DGRAM``) as ``argument``."""

    argument: ParamSpec
    values: tuple[str, ...]
    methods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClientApi:
    """A constructor of a client object whose methods block (``requests.Session``)."""

    name: str
    methods: tuple[str, ...]
    timeout: ParamSpec | None = None  # each method's own timeout argument
    constructor_timeout: ParamSpec | None = None  # the client's timeout argument
    default: float | None = None  # the client's default when neither is given
    timeout_method: str = ""  # calling this on the object sets a timeout (``settimeout``)
    fix: Safety = Safety.UNSAFE
    reason: str = ""
    context: ApiContext = ApiContext.ANY
    # methods that take their own timeout argument (redis ``blpop(keys, 5)``), by name
    method_timeouts: tuple[tuple[str, ParamSpec], ...] = ()
    # constructor arguments that bring the client's settings from another object (redis
    # ``connection_pool=``): the timeout is then not known from the creation
    configured_by: tuple[str, ...] = ()
    # methods that return a new client of the same kind, by name, with the position of the
    # client in a returned tuple (``conn, address = sock.accept()``): ``accept = 0``
    makes: tuple[tuple[str, int], ...] = ()
    # a constructor argument that makes some methods return at once (a datagram socket's
    # ``connect`` only records the peer): ``no-wait-when``
    no_wait_when: NoWaitWhen | None = None

    def method_timeout(self, method: str) -> ParamSpec | None:
        for name, spec in self.method_timeouts:
            if name == method:
                return spec
        return None


_NOT_SEEN = object()


@dataclass(frozen=True, slots=True)
class ModuleAlias:
    """A module that stands in for another with the same API and the same waits
    (``eventlet.green.socket`` for ``socket``): a name under it that has no entry of its
    own is looked up under the module it replaces."""

    name: str
    module: str


@dataclass(frozen=True, slots=True)
class ConsumerApi:
    """A consumer object iterated for messages (``for msg in KafkaConsumer(...)``): the
    loop's body is a handler."""

    name: str


class _Matcher:
    """Looks up catalogue entries by dotted name; ``*`` stands for one segment."""

    def __init__(self, entries: dict[str, object]):
        self.exact: dict[str, object] = {}
        self.patterns: list[tuple[re.Pattern[str], object]] = []
        for name, entry in entries.items():
            if "*" in name:
                regex = r"\.".join(
                    ".+" if part == "**" else "[^.]+" if part == "*" else re.escape(part) for part in name.split(".")
                )
                self.patterns.append((re.compile(regex + r"\Z"), entry))
            else:
                self.exact[name] = entry
        self.memo: dict[str, object] = {}
        # one regular expression matching what any pattern matches: most names match none,
        # and are told so by one match instead of one per pattern
        self.any = re.compile("|".join(f"(?:{regex.pattern})" for regex, _ in self.patterns)) if self.patterns else None

    def matches(self, dotted: str) -> bool:
        """Whether the name is an entry's, exactly or by a pattern."""
        return dotted in self.exact or (self.any is not None and self.any.match(dotted) is not None)

    def get(self, dotted: str):
        entry = self.exact.get(dotted)
        if entry is not None or not self.patterns:
            return entry
        found = self.memo.get(dotted, _NOT_SEEN)
        if found is _NOT_SEEN:
            found = None if not self.any.match(dotted) else \
                next((candidate for regex, candidate in self.patterns if regex.match(dotted)), None)
            self.memo[dotted] = found
        return found


@dataclass(frozen=True)
class Catalog:
    channels: tuple[ChannelApi, ...] = ()
    subscriptions: tuple[SubscriptionApi, ...] = ()
    blocking: tuple[BlockingApi, ...] = ()
    timeout_scopes: tuple[TimeoutScopeApi, ...] = ()
    clients: tuple[ClientApi, ...] = ()
    consumers: tuple[ConsumerApi, ...] = ()
    module_aliases: tuple[ModuleAlias, ...] = ()
    digest: str = ""
    _index: dict = field(default_factory=dict, repr=False, compare=False, hash=False)

    def _matcher(self, section: str) -> _Matcher:
        matcher = self._index.get(section)
        if matcher is None:
            matcher = _Matcher({entry.name: entry for entry in getattr(self, section)})
            self._index[section] = matcher
        return matcher

    def channel(self, dotted: str) -> ChannelApi | None:
        return self._lookup("channels", dotted)

    def channel_type(self, dotted: str) -> ChannelApi | None:
        """The channel whose ends have the type ``dotted`` (its ``types``), or None."""
        types = self._index.get("channel_types")
        if types is None:
            types = self._index["channel_types"] = {}
            for channel in self.channels:
                for name in channel.types:
                    types.setdefault(name, channel)
        found = types.get(dotted)
        if found is None and types:
            replaced = self.replaced(dotted)
            found = types.get(replaced) if replaced is not None else None
        return found

    def replaced(self, dotted: str) -> str | None:
        """``dotted`` spelled in the module its module stands in for (``[[module-alias]]``:
        ``eventlet.green.socket.create_connection`` is ``socket.create_connection``), or
        None when no alias covers it."""
        aliases = self._index.get("module_aliases")
        if aliases is None:
            aliases = self._index["module_aliases"] = {alias.name: alias.module for alias in self.module_aliases}
            self._index["replaced"] = {}
        if not aliases:
            return None
        known = self._index["replaced"]  # asked for every name a lookup misses: once each
        if dotted in known:
            return known[dotted]
        found = None
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = aliases.get(".".join(parts[:cut]))
            if module is not None:
                found = ".".join([module, *parts[cut:]])
                break
        known[dotted] = found
        return found

    def implements_channels(self, module: str) -> bool:
        """``module`` stands in (``[[module-alias]]``) for a module that defines catalogued
        channels (billiard's ``connection`` for ``multiprocessing.connection``): its code is
        those channels' own implementation, not a program using them."""
        replaced = self.replaced(f"{module}.*")
        if replaced is None:
            return False
        modules = self._index.get("channel_modules")
        if modules is None:
            modules = self._index["channel_modules"] = {api.name.split("().")[0].rpartition(".")[0] for api in self.channels}
        return replaced[:-2] in modules

    def _lookup(self, section: str, dotted: str):
        entry = self._matcher(section).get(dotted)
        if entry is None:
            replaced = self.replaced(dotted)
            if replaced is not None:
                entry = self._matcher(section).get(replaced)
        return entry

    def subscriptions_for(self, dotted: str) -> list[SubscriptionApi]:
        """Every subscription entry whose name matches (a name may have several roles)."""
        memo = self._index.get("subscriptions_memo")
        if memo is not None and dotted in memo:
            return memo[dotted]
        index = self._index.get("subscriptions_all")
        if index is None:
            index = {}
            for entry in self.subscriptions:
                index.setdefault(entry.name, []).append(entry)
            self._index["subscriptions_all"] = index
            self._index["subscriptions_patterns"] = [
                (_Matcher({entry.name: entry}), entry) for entry in self.subscriptions if "*" in entry.name
            ]
            self._index["subscriptions_any"] = _Matcher(
                {entry.name: entry for entry in self.subscriptions if "*" in entry.name})
        memo = self._index.setdefault("subscriptions_memo", {})
        found = memo.get(dotted)
        if found is None:
            found = []
            for name in (dotted, self.replaced(dotted)):
                if name is None or found:
                    continue
                found = list(index.get(name, ()))
                if not self._index["subscriptions_any"].matches(name):
                    continue
                for matcher, entry in self._index["subscriptions_patterns"]:
                    if matcher.get(name) is not None:
                        found.append(entry)
            memo[dotted] = found
        return found

    def subscriptions_by_name(self, last: str) -> list[SubscriptionApi]:
        index = self._index.get("subscriptions_by_name")
        if index is None:
            index = {}
            for entry in self.subscriptions:
                if entry.by_name:
                    index.setdefault(entry.name, []).append(entry)
            self._index["subscriptions_by_name"] = index
        return index.get(last, [])

    def blocking_api(self, dotted: str) -> BlockingApi | None:
        return self._lookup("blocking", dotted)

    def blocking_by_name(self, last: str) -> BlockingApi | None:
        """The ``by-name`` blocking entry whose last name is ``last`` (a distinctive method
        name, matched whatever its receiver resolves to)."""
        index = self._index.get("blocking_by_name")
        if index is None:
            index = {e.name.rsplit(".", 1)[-1]: e for e in self.blocking if e.by_name}
            self._index["blocking_by_name"] = index
        return index.get(last)

    def timeout_scope(self, dotted: str) -> TimeoutScopeApi | None:
        return self._matcher("timeout_scopes").get(dotted)

    def client(self, dotted: str) -> ClientApi | None:
        return self._lookup("clients", dotted)

    def consumer(self, dotted: str) -> ConsumerApi | None:
        return self._matcher("consumers").get(dotted)

    @property
    def channel_methods(self) -> frozenset[str]:
        methods = self._index.get("channel_methods")
        if methods is None:
            methods = frozenset(m for c in self.channels for m in (*c.put, *c.get))
            self._index["channel_methods"] = methods
        return methods

    @property
    def channel_callbacks(self) -> frozenset[str]:
        """The methods of any channel that hand its items to a callback."""
        methods = self._index.get("channel_callbacks")
        if methods is None:
            methods = self._index["channel_callbacks"] = frozenset(m for c in self.channels for m in c.callbacks)
        return methods


def rules_dir() -> Path:
    """The folder holding rule pages and the catalogue: shipped inside the package as
    ``eventlint/_rules``, or the repository's top-level ``rules/`` when run from a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_rules"
    if (packaged / "catalog").is_dir():
        return packaged
    return here.parent / "rules"


def _param(raw, where: str) -> ParamSpec | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return ParamSpec(keyword=raw)
    if not isinstance(raw, dict) or not set(raw) <= {"keyword", "position", "default"}:
        raise CatalogError(f"{where}: expected {{keyword = ..., position = ..., default = ...}}")
    position = raw.get("position")
    if position is not None and (not isinstance(position, int) or position < 0):
        raise CatalogError(f"{where}: position must be a non-negative integer")
    default = raw.get("default")
    return ParamSpec(raw.get("keyword"), position, None if default is None else str(default))


def _no_wait_when(raw, where: str) -> NoWaitWhen | None:
    if raw is None:
        return None
    shape = "no-wait-when = { keyword = ..., position = ..., values = [...], methods = [...] }"
    if not isinstance(raw, dict) or not set(raw) <= {"keyword", "position", "values", "methods"}:
        raise CatalogError(f"{where}: expected {shape}")
    values, methods = raw.get("values"), raw.get("methods")
    for listed in (values, methods):
        if not isinstance(listed, list) or not listed or not all(isinstance(v, str) and v for v in listed):
            raise CatalogError(f"{where}: expected {shape}, with values and methods lists of names")
    argument = _param({key: raw[key] for key in ("keyword", "position") if key in raw}, where)
    if argument is None or (argument.keyword is None and argument.position is None):
        raise CatalogError(f"{where}: no-wait-when needs the argument's keyword or position")
    return NoWaitWhen(argument, tuple(values), tuple(methods))


def _makes(raw, where: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, dict) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                            for v in raw.values()):
        raise CatalogError(f"{where}: makes must be a table of method = position, like makes = {{ accept = 0 }}")
    return tuple(sorted(raw.items()))


def _method_timeouts(raw, where: str) -> tuple[tuple[str, ParamSpec], ...]:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: method-timeouts must be a table of method = {{keyword = ..., position = ...}}")
    return tuple((str(name), spec) for name, value in raw.items() if (spec := _param(value, where)) is not None)


def _seconds(raw: dict, where: str) -> float | None:
    """A library's default timeout: a finite number of seconds, at least 0, or absent."""
    value = raw.get("default")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise CatalogError(f"{where}: default must be a finite number of seconds, at least 0 (got {value!r})")
    return float(value)


def _strings(raw: dict, key: str, where: str) -> tuple[str, ...]:
    """A list of method or end names."""
    value = raw.get(key, ())
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise CatalogError(f"{where}: {key} must be a list of names, like {key} = [\"name\"] (got {value!r})")
    return tuple(value)


def _choice(raw: dict, key: str, default: Named, where: str, excluded: tuple[Named, ...] = ()) -> Named:
    """One of the members of ``default``'s enum, spelled as its text."""
    allowed = [member for member in type(default) if member not in excluded]
    value = raw.get(key, default.value)
    for member in allowed:
        if value == member.value:
            return member
    spelled = ", ".join(f'"{member.value}"' for member in allowed)
    raise CatalogError(f"{where}: {key} must be one of {spelled} (got {value!r})")


def _ends(raw: dict, where: str) -> tuple[End, ...]:
    """The ends of the tuple a channel constructor returns, in order."""
    ends = _strings(raw, "ends", where)
    allowed = [end.value for end in End if end is not End.NONE]
    wrong = [end for end in ends if end not in allowed]
    if wrong:
        raise CatalogError(f"{where}: ends must name {', '.join(map(repr, allowed))} (got {wrong[0]!r})")
    return tuple(End(end) for end in ends)


def _names(raw: dict, where: str) -> list[str]:
    names = raw.get("names", [raw["name"]] if "name" in raw else None)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise CatalogError(f"{where}: needs `name` or a non-empty `names` list")
    return names


_SECTION_KEYS = {
    "channel": {"name", "names", "family", "put", "get", "ends", "maxsize", "types", "callbacks", "remote",
                "remote-name", "address", "accepted-by"},
    "subscription": {"name", "names", "handler", "by-name", "decorator", "call-result", "override", "callback",
                     "own-flow"},
    "blocking": {"name", "names", "timeout", "default", "fix", "reason", "context", "by-name", "requires",
                 "role"},
    "timeout-scope": {"name", "names", "kind", "deadline"},
    "client": {"name", "names", "methods", "timeout", "constructor-timeout", "default", "timeout-method", "fix",
               "reason", "context", "method-timeouts", "configured-by", "makes", "no-wait-when"},
    "consumer": {"name", "names"},
    "module-alias": {"name", "names", "module"},
}


def _parse(data: dict, source: str) -> dict[str, list]:
    sections: dict[str, list] = {key: [] for key in _SECTION_KEYS}
    for key, entries in data.items():
        if key not in _SECTION_KEYS:
            raise CatalogError(f"{source}: unknown catalogue section `{key}` (known: {', '.join(sorted(_SECTION_KEYS))})")
        if not isinstance(entries, list):
            raise CatalogError(f"{source}: `{key}` must be an array of tables ([[{key}]])")
        for number, raw in enumerate(entries, 1):
            where = f"{source}: [[{key}]] #{number}"
            if not isinstance(raw, dict):
                raise CatalogError(f"{where}: expected a table")
            unknown = set(raw) - _SECTION_KEYS[key]
            if unknown:
                raise CatalogError(f"{where}: unknown key `{sorted(unknown)[0]}`")
            for name in _names(raw, where):
                sections[key].append(_entry(key, name, raw, where))
    return sections


def _entry(key: str, name: str, raw: dict, where: str):
    try:
        if key == "channel":
            remote, remote_name = _param(raw.get("remote"), where), raw.get("remote-name", "")
            if (remote is None) != (not remote_name) or not isinstance(remote_name, str):
                raise CatalogError(f"{where}: remote and remote-name go together, like remote = {{ position = 0 }}, "
                                   f"remote-name = \"channel\"")
            address, accepted_by = _param(raw.get("address"), where), _strings(raw, "accepted-by", where)
            if (address is None) != (not accepted_by):
                raise CatalogError(f"{where}: address and accepted-by go together, like address = {{ position = 0 }}, "
                                   f"accepted-by = [\"pkg.Listener().accept\"]")
            return ChannelApi(
                name, raw.get("family", name.split(".")[0]), _strings(raw, "put", where), _strings(raw, "get", where),
                _ends(raw, where), _param(raw.get("maxsize"), where), _strings(raw, "types", where),
                _strings(raw, "callbacks", where), remote, remote_name, address, accepted_by,
            )
        if key == "subscription":
            handler = _param(raw.get("handler", {"position": 0}), where)
            return SubscriptionApi(name, handler, bool(raw.get("by-name", False)), bool(raw.get("decorator", False)),
                                   bool(raw.get("call-result", False)), str(raw.get("override", "")),
                                   bool(raw.get("callback", False)), bool(raw.get("own-flow", False)))
        if key == "blocking":
            return BlockingApi(name, _param(raw.get("timeout"), where), _seconds(raw, where),
                               _choice(raw, "fix", Safety.UNSAFE, where), raw.get("reason", ""),
                               _choice(raw, "context", ApiContext.ANY, where), bool(raw.get("by-name", False)),
                               raw.get("requires", ""), _choice(raw, "role", WaitRole.WAIT, where))
        if key == "timeout-scope":
            return TimeoutScopeApi(name, _choice(raw, "kind", ScopeKind.ASYNC, where, (ScopeKind.NONE,)),
                                   _param(raw.get("deadline"), where))
        if key == "consumer":
            return ConsumerApi(name)
        if key == "module-alias":
            module = raw.get("module")
            if not isinstance(module, str) or not module or "*" in module or "*" in name:
                raise CatalogError(f"{where}: module must name the module this one stands in for, "
                                   f"like module = \"socket\" (got {module!r})")
            return ModuleAlias(name, module)
        return ClientApi(name, _strings(raw, "methods", where), _param(raw.get("timeout"), where),
                         _param(raw.get("constructor-timeout"), where), _seconds(raw, where),
                         str(raw.get("timeout-method", "")), _choice(raw, "fix", Safety.UNSAFE, where),
                         raw.get("reason", ""), _choice(raw, "context", ApiContext.ANY, where),
                         _method_timeouts(raw.get("method-timeouts", {}), where),
                         _strings(raw, "configured-by", where) if "configured-by" in raw else (),
                         _makes(raw.get("makes", {}), where), _no_wait_when(raw.get("no-wait-when"), where))
    except (TypeError, ValueError) as error:
        if isinstance(error, CatalogError):
            raise
        raise CatalogError(f"{where}: {error}") from None


_FIELDS = {"channel": "channels", "subscription": "subscriptions", "blocking": "blocking",
           "timeout-scope": "timeout_scopes", "client": "clients", "consumer": "consumers",
           "module-alias": "module_aliases"}


def load_catalog(extension: dict | None = None) -> Catalog:
    """The shipped catalogue plus a user extension (the parsed ``[tool.eventlint.catalog]``)."""
    merged: dict[str, list] = {key: [] for key in _SECTION_KEYS}
    digest = hashlib.sha256()
    for path in sorted((rules_dir() / "catalog").glob("*.toml")):
        raw = path.read_bytes()
        digest.update(raw)
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise CatalogError(f"{path.name}: {error}") from None
        for key, entries in _parse(data, path.name).items():
            merged[key].extend(entries)
    if extension:
        digest.update(repr(sorted(extension.items(), key=lambda item: item[0])).encode())
        for key, entries in _parse(extension, "[tool.eventlint.catalog]").items():
            # a user's entry for a name replaces the shipped one
            names = {entry.name for entry in entries}
            merged[key] = [e for e in merged[key] if e.name not in names] + entries
    return Catalog(**{_FIELDS[key]: tuple(entries) for key, entries in merged.items()}, digest=digest.hexdigest()[:16])
