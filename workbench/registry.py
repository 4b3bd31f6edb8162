"""One small registry type and the project's registries.

Each registry is filled by explicit calls in one module (no file scanning): :data:`MODELS` (here) in
:mod:`workbench.zoo`; a registry whose items have a type of their own lives beside that type:
``DATASETS`` in :mod:`workbench.data.catalog`, ``CELL_KINDS`` in :mod:`workbench.pipeline.cells` (filled
by :mod:`workbench.pipeline.kinds`). A
duplicate id raises; an unknown id raises an error listing the known ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from workbench.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps string ids (``"fastdvdnet"``, ``"ncfl"``) to constructors or functions."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise KeyError(f"{self.kind} id {name!r} is registered twice")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)


MODELS: Registry[Callable[..., object]] = Registry("model")
