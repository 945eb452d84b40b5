"""Filter stages: one file per filter, one contract.

A filter is a class with a ``name``, a ``stage`` and a ``check(record)`` method that returns ``None``
to keep the record or ``Drop(reason, detail)`` to drop it. ``reason`` is a short fixed string
(``too_small``, ``lang_mismatch``...); ``detail`` is free text for the rejects table.

Stages run in this order, so that cheap checks spend no network or CPU on doomed records:

- ``text``: before the image is requested (caption, language, price);
- ``headers``: on the image response's status line and headers, before the body is read (opt-out);
- ``image``: after the image was decoded in the worker pool (validity, size, dedup).

Parameters come from config (``filters: [{name: image_size, min_side: 200}, ...]``) and are
validated by the filter's nested pydantic ``Params`` model, so a typo fails before any request.
A user adds a filter by adding a file here (or any importable ``module:Class``) and naming it.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from lgs_crawl.record import Record

Stage = Literal["text", "headers", "image"]
STAGES: tuple[Stage, ...] = ("text", "headers", "image")


@dataclass(frozen=True, slots=True)
class Drop:
    reason: str
    detail: str = ""


class FilterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filter:
    name: ClassVar[str]
    stage: ClassVar[Stage]
    Params: ClassVar[type[FilterParams]] = FilterParams

    def __init__(self, params: FilterParams | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def check(self, record: Record) -> Drop | None:  # pragma: no cover - interface
        raise NotImplementedError

    def commit(self, record: Record) -> None:
        """Called once a record passed every stage and is written (e.g. to index its hash)."""


def filter_class(name: str) -> type[Filter]:
    """Resolve a filter by name: a module in lgs_crawl.filters, or ``package.module:Class``."""
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
    else:
        if not name.isidentifier():
            raise ValueError(f"not a filter name: {name!r}")
        module = importlib.import_module(f"{__name__}.{name}")
        found = [
            obj for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, Filter) and obj is not Filter
            and obj.__module__ == module.__name__
        ]
        if len(found) != 1:
            raise ValueError(f"module {module.__name__} must define exactly one Filter class")
        cls = found[0]
    if not (inspect.isclass(cls) and issubclass(cls, Filter)):
        raise ValueError(f"{name} is not a Filter subclass")
    return cls


def available_filters() -> list[str]:
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def build(name: str, params: dict[str, Any]) -> Filter:
    cls = filter_class(name)
    return cls(cls.Params(**params))
