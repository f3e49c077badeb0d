"""The facts pass's frame: what it knows of the module, class or function it is in."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from .model import Payload, Ref


@dataclass
class Frame:
    kind: str  # "module" | "class" | "function"
    qualname: str
    public: bool
    names: dict[str, Ref] = field(default_factory=dict)
    # function frames only
    is_async: bool = False
    self_ref: Ref | None = None
    self_name: str | None = None
    params: dict[str, Ref | None] = field(default_factory=dict)  # name -> annotation
    received: dict[str, Ref] = field(default_factory=dict)  # item name -> channel ref
    results: dict[str, Ref] = field(default_factory=dict)  # local -> the call it holds the result of
    tags: dict[str, Ref] = field(default_factory=dict)  # tag name (from unpacking) -> channel ref
    value_types: dict[str, Ref] = field(default_factory=dict)  # local -> class it holds
    shaped: dict[str, Payload] = field(default_factory=dict)  # local -> the tagged tuple or dict it holds
    made: dict[str, list[Ref]] = field(default_factory=dict)  # local -> every callee it was bound from
    caught: set[str] = field(default_factory=set)  # names bound by ``except ... as name``
    spliced: dict[str, cst.BaseExpression] = field(default_factory=dict)  # ``method = "on_" + kind``
    tuples: dict[str, cst.BaseExpression] = field(default_factory=dict)  # local -> what it was last bound to
    spread: dict[str, str] = field(default_factory=dict)  # ``value`` of ``for key, value in kwargs.items()`` -> "kwargs"
    star_kwargs: str = ""  # the name of the ``**`` parameter
    globals: set[str] = field(default_factory=set)  # names declared ``global``
