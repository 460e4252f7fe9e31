"""Frozen dataclasses read and rebuilt cheaply: their constructor arguments in one C call, and pickling through
the constructor. A module of its own so that every module can use it, ``rules`` too (which the model imports).

**Value classes.** The classes the compiled modules build per exchange or per token (``Jwt``, ``TokenReport``,
``ExchangeResult``, ``Finding``, ...) are not ``@dataclass(frozen=True, slots=True)`` but

    @dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
    class Name:
        field: Final[Type]

        def __init__(self, field: Type) -> None:
            self.field = field

mypyc cannot compile a frozen dataclass as a native class: it stays a Python class whose generated ``__init__``
sets each field through ``object.__setattr__``, ~2.2 µs for six fields compiled (slower than pure Python, 1.4 µs).
The shape above is compiled to a native class: built in ~0.13 µs, its fields read-only at run time (``Final``; an
assignment raises ``AttributeError``), and pure Python builds it in ~0.4-0.7 µs. The dataclass still gives
``__eq__``, ``__hash__`` (as a frozen one's), ``__repr__``, ``fields()`` and ``dataclasses.replace`` (which calls the
written ``__init__``). What it gives up: in pure Python a field can be assigned at run time (mypy strict refuses it
statically, and the compiled build at run time), a default lives in ``__init__``'s signature (a ``Final`` with a
value in the class body is a class constant to mypy), and ``field(repr=False)`` is a written ``__repr__``.
Measured: bench/ab.py and the note of this change (issue 15)."""

from __future__ import annotations

import copyreg
from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any


def field_values(cls: type[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A reader of a dataclass's constructor arguments (its ``init`` fields, in order), in one C call
    (``dataclasses.replace`` and a frozen class's pickling walk ``fields()`` in Python for every object)."""
    names = [each.name for each in fields(cls) if each.init]
    if len(names) == 1:  # attrgetter of one name returns the value, not a tuple
        (name,) = names
        return lambda item: (getattr(item, name),)
    return attrgetter(*names)


def pickled_by_constructor(cls: type[Any]) -> None:
    """Pickle ``cls`` as a call of its constructor with its fields, not through the ``__getstate__``/
    ``__setstate__`` dataclasses writes in Python for a frozen class with slots: items cross between processes by
    the ten thousand (``--jobs``, ``--separately``, Dask), and this makes their pickling and unpickling about a
    third cheaper. Every frozen class that crosses processes needs it in a compiled build (mypyc), whose own
    unpickling assigns the fields one by one, which a frozen class refuses."""
    values = field_values(cls)
    copyreg.pickle(cls, lambda item: (cls, values(item)))
