"""Self-registering plugins: recorders, factors, strategies (and the steps and schemas groups).

A plugin registers when its class is defined (ZVT's idea). The core names none: every package, zvt_crypto's own
built-ins included, declares its modules in one of the entry-point groups below (``setup.cfg``), and the registry
imports them the first time a plugin is looked up, so installing a package is all it takes and
``import zvt_crypto`` stays cheap::

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
SCHEMAS_GROUP = "zvt_crypto.schemas"
MIGRATIONS_GROUP = "zvt_crypto.migrations"

# The package's own entries of each group, for a checkout whose installed metadata predates them (an editable
# install not re-run after setup.cfg changed) or that is not installed at all (``PYTHONPATH``). setup.cfg declares
# the same (a test checks that they agree); the built-ins are loaded as any third party's plugins are.
BUILTIN_ENTRY_POINTS: dict[str, dict[str, str]] = {
    RECORDERS_GROUP: {"zvt_crypto": "zvt_crypto.recorders"},
    FACTORS_GROUP: {"zvt_crypto": "zvt_crypto.factors.builtin"},
    STRATEGIES_GROUP: {"zvt_crypto": "zvt_crypto.trader.builtin"},
    SCHEMAS_GROUP: {"zvt_crypto": "zvt_crypto.domain.builtin"},
    MIGRATIONS_GROUP: {"zvt_crypto": "zvt_crypto.domain:migrations"},
}


def origin(plugin: object) -> str:
    """The module that defined ``plugin`` (a class, a function, or an instance: its class's module)."""
    return getattr(plugin, "__module__", None) or type(plugin).__module__


def is_builtin(plugin: object) -> bool:
    """Defined inside the ``zvt_crypto`` package (anything else is a plugin, a user's module included)."""
    module = origin(plugin)
    return module == "zvt_crypto" or module.startswith("zvt_crypto.")


def declared_entry_points(group: str, builtins: Mapping[str, str] | None = None) -> list[EntryPoint]:
    """The installed entry points of ``group``, plus each of ``builtins`` (name → value) the metadata lacks."""
    points = list(entry_points(group=group))
    declared = {point.name for point in points}
    return points + [EntryPoint(name=name, value=value, group=group)
                     for name, value in (builtins or {}).items() if name not in declared]


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
        return declared_entry_points(self.group, self.builtins)

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


recorders: PluginRegistry[Any] = PluginRegistry(RECORDERS_GROUP, "recorder", BUILTIN_ENTRY_POINTS[RECORDERS_GROUP])
factors: PluginRegistry[Any] = PluginRegistry(FACTORS_GROUP, "factor", BUILTIN_ENTRY_POINTS[FACTORS_GROUP])
strategies: PluginRegistry[Any] = PluginRegistry(STRATEGIES_GROUP, "strategy", BUILTIN_ENTRY_POINTS[STRATEGIES_GROUP])
#: modules that define schemas (their tables register with ``Schema``'s SQLAlchemy registry, not by name here)
schema_modules: PluginRegistry[Any] = PluginRegistry(SCHEMAS_GROUP, "schema module",
                                                     BUILTIN_ENTRY_POINTS[SCHEMAS_GROUP])


def entry_point_values(group: str) -> list[str]:
    """The values declared in ``group`` (the package's own from ``BUILTIN_ENTRY_POINTS`` when the installed
    metadata lacks them), not loaded: for a group whose entries are not modules (migrations)."""
    return [point.value for point in declared_entry_points(group, BUILTIN_ENTRY_POINTS.get(group))]


def recorder_for(schema: type, exchange: str | None) -> Any:
    """The recorder class registered for ``schema`` (as ``"<Schema>:<provider>…"``) that supports ``exchange``.

    Precedence: a recorder that names the venue (``exchange in cls.exchanges``) beats a generic one (empty
    ``exchanges``: the ccxt family, every ccxt id); at the same level a plugin beats a built-in (logged). Two
    plugins at the same level are an error naming both: uninstall one.

    Every recorder, the built-in ccxt family included, arrives by entry point on first use."""
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
