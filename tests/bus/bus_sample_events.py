"""Event types used by the bus tests; importable as ``bus_sample_events``."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Base:
    n: int


@dataclass(frozen=True)
class Child(Base):
    extra: str = "x"


@dataclass(frozen=True)
class Other:
    n: int


class Color(enum.Enum):
    RED = "red"
    GREEN = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int


@dataclass(frozen=True)
class Line:
    start: Point
    end: Point
    label: str = ""


@dataclass(frozen=True)
class Everything:
    text: str
    number: int
    ratio: float
    flag: bool
    nothing: None
    pair: tuple
    items: list
    mapping: dict
    blob: bytes
    when: object
    day: object
    color: Color
    level: Level
    ident: object
    amount: object
    line: Line


@dataclass
class WithComputed:
    n: int
    doubled: int = field(init=False)

    def __post_init__(self) -> None:
        self.doubled = self.n * 2


@dataclass(frozen=True)
class Holder:
    value: object


class NotADataclass:
    def __init__(self, n: int) -> None:
        self.n = n


class Perm(enum.Flag):
    R = 1
    W = 2
    X = 4


@dataclass(frozen=True, eq=False)
class Loose:
    """Compared by identity: a replayed copy is never ``==`` to the original."""

    n: int


@dataclass(frozen=True)
class Bumped:
    """A class whose ``__post_init__`` changes a field, so rebuilding it changes it again."""

    n: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", self.n + 1)


@dataclass(frozen=True)
class Hidden:
    n: int
    note: object = field(default=None, compare=False)
