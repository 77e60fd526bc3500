"""One registry of named things (methods, targets): the names users type, and one error for a wrong one.

``harness.methods`` and ``harness.targets`` each hold a :class:`Registry`; a plugin adds to them with
their ``register``. Light (:mod:`harness.boundary`): it imports nothing but the harness's errors.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from harness import UsageError


class Named(Protocol):
    name: str


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    """Items by their ``name``, in registration order.

    ``kind`` names an item in the duplicate error ("method 'x' is already registered");
    ``asked_as`` in the unknown-name error, where it is the word the user typed the name under
    ("unknown model 'x'; valid: ..."); it defaults to ``kind``.
    """

    def __init__(self, kind: str, asked_as: str | None = None):
        self.kind = kind
        self.asked_as = asked_as or kind
        #: name -> item, in registration order (tests add to it with ``monkeypatch.setitem``)
        self.entries: dict[str, T] = {}

    def register(self, item: T) -> T:
        """Add ``item`` under its name (ValueError if the name is taken); returns it, so it can decorate."""
        if item.name in self.entries:
            raise ValueError(f"{self.kind} {item.name!r} is already registered")
        self.entries[item.name] = item
        return item

    def get(self, name: str) -> T:
        """The item of that name; a UsageError naming the valid names if none."""
        try:
            return self.entries[name]
        except KeyError:
            raise UsageError(f"unknown {self.asked_as} {name!r}; valid: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self.entries)

    def values(self) -> list[T]:
        """The registered items, in registration order."""
        return list(self.entries.values())
