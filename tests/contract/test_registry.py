"""Plugin registries: explicit registration and entry points (one broken plugin does not break the others)."""

from __future__ import annotations

import json
import logging
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from zvt_crypto.contract import registry as registry_module
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.registry import RECORDERS_GROUP, STEPS_GROUP, PluginRegistry, recorder_for
from zvt_crypto.domain import Bar

GROUP = "zvt_crypto.tests"


class FakeRecorder:
    """Stands in for a recorder plugin class; records how ``Schema.record_data`` called it."""

    calls: list[dict[str, Any]] = []
    exchanges: tuple[str, ...] = ("binance",)

    def __init__(self, store: Any = None) -> None:
        self.store = store

    @classmethod
    def supports(cls, exchange: str) -> bool:
        return exchange in cls.exchanges

    def record(self, **kwargs: Any) -> str:
        self.calls.append({"store": self.store, **kwargs})
        return "ran"


def no_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [])


def test_register_and_get(monkeypatch: pytest.MonkeyPatch) -> None:
    no_entry_points(monkeypatch)
    plugins: PluginRegistry[Any] = PluginRegistry(GROUP, "widget")
    first, second = json.dumps, logging.getLogger  # defined by two different modules
    assert plugins.register("a", first) is first
    plugins.register("b", second)
    assert plugins.get("a") is first
    assert plugins.names() == ["a", "b"]
    assert plugins.items() == {"a": first, "b": second}
    plugins.register("a", first)  # the same object again is fine
    with pytest.raises(InvalidInputError, match=r"a widget named 'a' is already registered \(by json\); "
                                                "logging must pick another name"):
        plugins.register("a", second)
    plugins.register("a", second, replace=True)
    assert plugins.get("a") is second


def test_unknown_name(monkeypatch: pytest.MonkeyPatch) -> None:
    no_entry_points(monkeypatch)
    plugins: PluginRegistry[Any] = PluginRegistry(GROUP, "widget")
    with pytest.raises(InvalidInputError, match="unknown widget 'nope'; known: none"):
        plugins.get("nope")
    plugins.register("x", 1)
    with pytest.raises(InvalidInputError, match="unknown widget 'nope'; known: x"):
        plugins.get("nope")


def test_entry_points_load_and_a_broken_one_is_recorded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    points = [
        EntryPoint(name="dumps", value="json:dumps", group=GROUP),  # an importable object
        EntryPoint(name="broken", value="zvt_crypto_no_such_module.plugins:thing", group=GROUP),
        EntryPoint(name="module_only", value="json", group=GROUP),  # a module registers itself when imported
        EntryPoint(name="explicit", value="json:loads", group=GROUP),
    ]
    asked: list[str] = []

    def fake_entry_points(group: str) -> list[EntryPoint]:
        asked.append(group)
        return [point for point in points if point.group == group]

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    plugins: PluginRegistry[Any] = PluginRegistry(GROUP, "widget")
    mine = logging.getLogger
    plugins.register("explicit", mine)  # registered by code: an entry point of the same name does not replace it

    with caplog.at_level(logging.WARNING, logger=registry_module.__name__):
        assert plugins.get("dumps") is json.dumps
    assert asked == [GROUP]
    assert plugins.get("explicit") is mine
    assert "module_only" not in plugins.names()
    assert plugins.names() == ["dumps", "explicit"]
    assert set(plugins.load_errors) == {"broken", "explicit"}  # two plugins (json, logging) claim "explicit"
    assert "already registered (by logging)" in plugins.load_errors["explicit"]
    assert "ModuleNotFoundError" in plugins.load_errors["broken"]
    assert "zvt_crypto_no_such_module" in plugins.load_errors["broken"]
    assert any("broken" in record.getMessage() for record in caplog.records)
    with pytest.raises(InvalidInputError, match="failed to load: broken, explicit"):
        plugins.get("broken")
    assert asked == [GROUP]  # entry points are read once


def test_recorder_for_and_record_data(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fix: run alone, this test made recorder_for import the built-in recorders while the registry was swapped,
    # so they registered into the test's registry (and supported 'kraken'). Define them first.
    import zvt_crypto.recorders  # noqa: F401

    no_entry_points(monkeypatch)
    recorders: PluginRegistry[Any] = PluginRegistry(RECORDERS_GROUP, "recorder")
    monkeypatch.setattr(registry_module, "recorders", recorders)
    FakeRecorder.calls = []
    recorders.register("Bar:fake", FakeRecorder)

    assert recorder_for(Bar, "binance") is FakeRecorder
    with pytest.raises(InvalidInputError, match="needs an exchange"):
        recorder_for(Bar, None)
    with pytest.raises(InvalidInputError, match="no Bar recorder supports exchange 'kraken'"):
        recorder_for(Bar, "kraken")

    assert Bar.record_data(exchange="binance", symbols=["BTC/USDT"], level="1h") == "ran"
    assert FakeRecorder.calls == [{"store": None, "exchange": "binance", "symbols": ["BTC/USDT"], "level": "1h",
                                   "show_progress": True}]
    from zvt_crypto.domain import Trade

    with pytest.raises(InvalidInputError, match="no recorder is installed for Trade"):
        Trade.record_data(exchange="binance")


def test_module_registries_exist() -> None:
    assert registry_module.recorders.group == "zvt_crypto.recorders"
    assert registry_module.factors.group == "zvt_crypto.factors"
    assert registry_module.strategies.group == "zvt_crypto.strategies"

    assert registry_module.STEPS_GROUP == "zvt_crypto.steps"


def made_in(module: str, **attributes: Any) -> type:
    """A class whose defining module is ``module`` (``zvt_crypto.…``: a built-in; anything else: a plugin)."""
    return type("Made", (), {"__module__": module, **attributes})


def test_one_replace_policy(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A name belongs to the first module; the same module may redefine it; a plugin beats a built-in whichever
    registers first (logged); two plugins (or two built-ins) claiming one name is an error naming both."""
    no_entry_points(monkeypatch)
    for builtin_first in (True, False):
        plugins: PluginRegistry[Any] = PluginRegistry(GROUP, "widget")
        builtin, plugin = made_in("zvt_crypto.builtin_widgets"), made_in("acme.widgets")
        with caplog.at_level(logging.INFO, logger=registry_module.__name__):
            for one in ((builtin, plugin) if builtin_first else (plugin, builtin)):
                plugins.register("w", one)
        assert plugins.get("w") is plugin
        assert "widget 'w': the plugin from acme.widgets overrides the built-in from zvt_crypto.builtin_widgets" \
            in caplog.text
        caplog.clear()

    plugins = PluginRegistry(GROUP, "widget")
    first, again = made_in("acme.widgets"), made_in("acme.widgets")
    plugins.register("w", first)
    plugins.register("w", again)  # a reload or a re-run notebook cell
    assert plugins.get("w") is again
    with pytest.raises(InvalidInputError, match=r"'w' is already registered \(by acme.widgets\); "
                                                "other.widgets must pick another name"):
        plugins.register("w", made_in("other.widgets"))
    plugins.register("b", made_in("zvt_crypto.one"))
    with pytest.raises(InvalidInputError, match=r"'b' is already registered \(by zvt_crypto.one\)"):
        plugins.register("b", made_in("zvt_crypto.two"))
    plugins.register("w", made_in("other.widgets"), replace=True)  # said explicitly


def venue_recorder(module: str, exchanges: tuple[str, ...] = ()) -> type:
    return made_in(module, exchanges=exchanges,
                   supports=classmethod(lambda cls, exchange: not cls.exchanges or exchange in cls.exchanges))


def test_recorder_precedence(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A recorder that names the venue beats the generic one; between two that name it a plugin beats the
    built-in (logged); two plugins for one venue are an error; the generic one still serves other venues."""
    import zvt_crypto.recorders  # noqa: F401 - defined before the registry is swapped (see above)

    no_entry_points(monkeypatch)
    recorders: PluginRegistry[Any] = PluginRegistry(RECORDERS_GROUP, "recorder")
    monkeypatch.setattr(registry_module, "recorders", recorders)
    generic = recorders.register("Bar:ccxt", venue_recorder("zvt_crypto.recorders.bars"))
    generic_plugin = recorders.register("Bar:acme", venue_recorder("acme.recorders"))
    assert recorder_for(Bar, "okx") is generic_plugin  # a plugin beats the built-in at the same level
    recorders.unregister("Bar:acme")
    assert recorder_for(Bar, "binance") is generic

    builtin_binance = recorders.register("Bar:ccxt:binance", venue_recorder("zvt_crypto.recorders.v", ("binance",)))
    assert recorder_for(Bar, "binance") is builtin_binance
    assert recorder_for(Bar, "okx") is generic
    plugin_binance = recorders.register("Bar:acme:binance", venue_recorder("acme.recorders", ("binance",)))
    with caplog.at_level(logging.INFO, logger=registry_module.__name__):
        assert recorder_for(Bar, "binance") is plugin_binance
    assert "recording Bar from binance with the plugin acme.recorders.Made instead of the built-in" in caplog.text
    assert recorder_for(Bar, "okx") is generic

    recorders.register("Bar:other:binance,bybit", venue_recorder("other.recorders", ("binance", "bybit")))
    with pytest.raises(InvalidInputError, match=r"2 plugins record Bar from 'binance' \(acme.recorders.Made, "
                                                r"other.recorders.Made\); uninstall all but one"):
        recorder_for(Bar, "binance")


def test_builtin_entries_load_when_the_installed_metadata_lacks_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """An editable install made before setup.cfg declared an entry still loads the package's own entries; an
    entry the metadata has is loaded from there (once)."""
    declared = [EntryPoint(name="dumps", value="json:dumps", group=GROUP)]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: declared if group == GROUP else [])
    plugins: PluginRegistry[Any] = PluginRegistry(GROUP, "widget",
                                                  builtins={"dumps": "json:loads", "getLogger": "logging:getLogger"})
    assert plugins.items() == {"dumps": json.dumps, "getLogger": logging.getLogger}


def declared_in_setup_cfg() -> dict[str, dict[str, str]]:
    import configparser
    from pathlib import Path

    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[2] / "setup.cfg")
    section = setup["options.entry_points"]
    return {group: dict(tuple(part.strip() for part in line.split("=", 1))
                        for line in section[group].strip().splitlines())
            for group in section if group.startswith("zvt_crypto.")}


def test_setup_cfg_declares_the_builtin_steps() -> None:
    """The fallback list in schedule/steps.py repeats setup.cfg's ``zvt_crypto.steps`` group: the two agree."""
    from zvt_crypto.schedule.steps import BUILTIN_STEPS

    assert declared_in_setup_cfg()[STEPS_GROUP] == BUILTIN_STEPS == {"paper": "zvt_crypto.trader.paper_step"}


def test_setup_cfg_declares_the_builtin_plugins() -> None:
    """The built-ins register through entry points like a third party; the fallback table repeats setup.cfg."""
    declared = declared_in_setup_cfg()
    assert {group: declared[group] for group in registry_module.BUILTIN_ENTRY_POINTS} \
        == registry_module.BUILTIN_ENTRY_POINTS
    assert set(declared) == {*registry_module.BUILTIN_ENTRY_POINTS, STEPS_GROUP}


def test_builtins_arrive_by_entry_point_alone() -> None:
    """In a fresh interpreter the registries find the built-in recorders, factors, strategies, schemas and the
    migration history through the entry-point groups, with nothing of the package imported beforehand."""
    import subprocess
    import sys

    code = (
        "from zvt_crypto.contract import registry, schema, migrate\n"
        "print(sorted(registry.recorders.names())[:1], 'rsi' in registry.factors.names(),\n"
        "      len(registry.strategies.names()) > 0, 'Bar' in schema.schema_registry(), migrate.script_location())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['Bar:ccxt']", "True", "True", "True", "zvt_crypto.domain:migrations"]


def test_a_missing_migration_history_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from zvt_crypto.contract import migrate
    from zvt_crypto.contract.errors import StoreError

    monkeypatch.setattr(migrate, "entry_point_values", lambda group: [])
    with pytest.raises(StoreError, match=r"exactly one migration history .*found 0: none; reinstall zvt_crypto"):
        migrate.script_location()
    monkeypatch.setattr(migrate, "entry_point_values", lambda group: ["a:migrations", "b:migrations"])
    with pytest.raises(StoreError, match="found 2: a:migrations, b:migrations"):
        migrate.script_location()
