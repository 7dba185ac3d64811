"""Self-registering plugins: recorders, factors and strategies.

Built-in plugins register when their class is defined (ZVT's idea); third-party packages declare an entry
point in one of the groups below, and the registry imports it the first time a plugin is looked up, so
installing a package is all it takes and ``import zvt_crypto`` stays cheap::

    [options.entry_points]
    zvt_crypto.recorders =
        myvenue = my_package.recorders      # importing the module defines (and so registers) its recorders

One replace policy for every registry (:meth:`PluginRegistry.register`): a name belongs to the first module that
registers it. The same module may register it again (a reload, a re-run notebook cell); a plugin (any module
outside ``zvt_crypto``) overriding a built-in wins, with a logged note, whatever the import order; anything else
(two plugins, or two built-ins, claiming one name) is an error that names both modules.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from zvt_crypto.contract.errors import InvalidInputError

log = logging.getLogger(__name__)
T = TypeVar("T")

RECORDERS_GROUP = "zvt_crypto.recorders"
FACTORS_GROUP = "zvt_crypto.factors"
STRATEGIES_GROUP = "zvt_crypto.strategies"
STEPS_GROUP = "zvt_crypto.steps"


def origin(plugin: object) -> str:
    """The module that defined ``plugin`` (a class, a function, or an instance: its class's module)."""
    return getattr(plugin, "__module__", None) or type(plugin).__module__


def is_builtin(plugin: object) -> bool:
    """Defined inside the ``zvt_crypto`` package (anything else is a plugin, a user's module included)."""
    module = origin(plugin)
    return module == "zvt_crypto" or module.startswith("zvt_crypto.")


class PluginRegistry(Generic[T]):
    """Named plugins of one kind, filled by ``register`` and by the entry points of ``group``.

    ``builtins`` (entry-point name → ``module`` or ``module:attr``) repeats the package's own entries of ``group``
    for an install whose metadata predates them (an editable install not re-run after ``setup.cfg`` changed):
    an entry the installed metadata lacks is loaded from here."""

    def __init__(self, group: str, kind: str, builtins: Mapping[str, str] | None = None) -> None:
        self.group = group
        self.kind = kind
        self.builtins = dict(builtins or {})
        self._items: dict[str, T] = {}
        self._loaded = False
        self._lock = threading.RLock()
        self.load_errors: dict[str, str] = {}

    def register(self, name: str, plugin: T, *, replace: bool = False) -> T:
        """Register ``plugin`` as ``name`` under the module docstring's policy (``replace=True``: unconditionally)."""
        with self._lock:
            held = self._items.get(name)
            if held is None or held is plugin or replace or origin(held) == origin(plugin):
                self._items[name] = plugin
            elif is_builtin(held) and not is_builtin(plugin):
                log.info("%s %r: the plugin from %s overrides the built-in from %s", self.kind, name, origin(plugin),
                         origin(held))
                self._items[name] = plugin
            elif is_builtin(plugin) and not is_builtin(held):
                log.info("%s %r: the plugin from %s overrides the built-in from %s", self.kind, name, origin(held),
                         origin(plugin))
            else:
                raise InvalidInputError(f"a {self.kind} named {name!r} is already registered (by {origin(held)}); "
                                        f"{origin(plugin)} must pick another name")
        return plugin

    def unregister(self, name: str) -> None:
        """Forget ``name`` (a test's temporary plugin)."""
        with self._lock:
            self._items.pop(name, None)

    def _entry_points(self) -> list[EntryPoint]:
        points = list(entry_points(group=self.group))
        declared = {point.name for point in points}
        return points + [EntryPoint(name=name, value=value, group=self.group)
                         for name, value in self.builtins.items() if name not in declared]

    def _load_entry_points(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            for point in self._entry_points():
                try:
                    loaded: Any = point.load()
                    if not isinstance(loaded, type(logging)):  # a module registers what it defines itself
                        self.register(point.name, loaded)
                except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the others
                    self.load_errors[point.name] = f"{type(exc).__name__}: {exc}"
                    log.warning("could not load %s plugin %r (%s): %s", self.kind, point.name, point.value, exc)

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
    """The recorder class registered for ``schema`` (as ``"<Schema>:<provider>…"``) that supports ``exchange``.

    Precedence: a recorder that names the venue (``exchange in cls.exchanges``) beats a generic one (empty
    ``exchanges``: the ccxt family, every ccxt id); at the same level a plugin beats a built-in (logged). Two
    plugins at the same level are an error naming both: uninstall one.

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
    supporting = [cls for cls in candidates.values()
                  if getattr(cls, "supports", None) is None or cls.supports(exchange)]
    if not supporting:
        raise InvalidInputError(
            f"no {schema.__name__} recorder supports exchange {exchange!r} "
            f"(installed: {', '.join(sorted(candidates))})"
        )

    def rank(cls: Any) -> tuple[bool, bool]:
        return exchange in getattr(cls, "exchanges", ()), not is_builtin(cls)

    best = max(map(rank, supporting))
    chosen = [cls for cls in supporting if rank(cls) == best]
    if len(chosen) > 1:
        raise InvalidInputError(
            f"{len(chosen)} plugins record {schema.__name__} from {exchange!r} "
            f"({', '.join(sorted(f'{cls.__module__}.{cls.__qualname__}' for cls in chosen))}); uninstall all but one"
        )
    passed_over = [cls for cls in supporting if is_builtin(cls) and cls is not chosen[0]]
    if passed_over and not is_builtin(chosen[0]):
        log.info("recording %s from %s with the plugin %s.%s instead of the built-in %s", schema.__name__, exchange,
                 chosen[0].__module__, chosen[0].__qualname__, ", ".join(cls.__qualname__ for cls in passed_over))
    return chosen[0]
