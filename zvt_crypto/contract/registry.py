"""Self-registering plugins: recorders, factors and strategies.

Built-in plugins register when their class is defined (ZVT's idea); third-party packages declare an entry
point in one of the groups below, and the registry imports it the first time a plugin is looked up, so
installing a package is all it takes and ``import zvt_crypto`` stays cheap::

    [options.entry_points]
    zvt_crypto.recorders =
        myvenue = my_package.recorders      # importing the module defines (and so registers) its recorders
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from zvt_crypto.contract.errors import InvalidInputError

log = logging.getLogger(__name__)
T = TypeVar("T")

RECORDERS_GROUP = "zvt_crypto.recorders"
FACTORS_GROUP = "zvt_crypto.factors"
STRATEGIES_GROUP = "zvt_crypto.strategies"


class PluginRegistry(Generic[T]):
    """Named plugins of one kind, filled by ``register`` and by the entry points of ``group``."""

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._items: dict[str, T] = {}
        self._loaded = False
        self._lock = threading.RLock()
        self.load_errors: dict[str, str] = {}

    def register(self, name: str, plugin: T, *, replace: bool = False) -> T:
        with self._lock:
            if name in self._items and self._items[name] is not plugin and not replace:
                raise InvalidInputError(f"a {self.kind} named {name!r} is already registered; pick another name")
            self._items[name] = plugin
        return plugin

    def _load_entry_points(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            for point in entry_points(group=self.group):
                try:
                    loaded: Any = point.load()
                except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the others
                    self.load_errors[point.name] = f"{type(exc).__name__}: {exc}"
                    log.warning("could not load %s plugin %r (%s): %s", self.kind, point.name, point.value, exc)
                    continue
                if not isinstance(loaded, type(logging)) and point.name not in self._items:
                    self._items[point.name] = loaded

    def get(self, name: str) -> T:
        self._load_entry_points()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            broken = f"; failed to load: {', '.join(self.load_errors)}" if self.load_errors else ""
            raise InvalidInputError(f"unknown {self.kind} {name!r}; known: {known}{broken}") from None

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def items(self) -> dict[str, T]:
        self._load_entry_points()
        return dict(self._items)


recorders: PluginRegistry[Any] = PluginRegistry(RECORDERS_GROUP, "recorder")
factors: PluginRegistry[Any] = PluginRegistry(FACTORS_GROUP, "factor")
strategies: PluginRegistry[Any] = PluginRegistry(STRATEGIES_GROUP, "strategy")


def recorder_for(schema: type, exchange: str | None) -> Any:
    """The recorder class registered for ``schema`` (as ``"<Schema>:<provider>"``) that supports ``exchange``.

    Built-in recorders (the ccxt family) are imported here, on first use; plugins arrive by entry point."""
    import zvt_crypto.recorders  # noqa: F401 - defining the built-in recorders registers them

    if not exchange:
        raise InvalidInputError("recording needs an exchange: pass exchange='binance' (a ccxt id)")
    candidates = {name: cls for name, cls in recorders.items().items() if name.split(":", 1)[0] == schema.__name__}
    if not candidates:
        raise InvalidInputError(
            f"no recorder is installed for {schema.__name__}; install a plugin that provides one "
            f"(entry-point group {RECORDERS_GROUP})"
        )
    for cls in candidates.values():
        supports = getattr(cls, "supports", None)
        if supports is None or supports(exchange):
            return cls
    raise InvalidInputError(
        f"no {schema.__name__} recorder supports exchange {exchange!r} (installed: {', '.join(sorted(candidates))})"
    )
