"""Frozen dataclasses read and rebuilt cheaply: their constructor arguments in one C call, and pickling through
the constructor. A module of its own so that every module can use it, ``rules`` too (which the model imports)."""

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
