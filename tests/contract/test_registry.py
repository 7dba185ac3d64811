"""Plugin registries: explicit registration and entry points (one broken plugin does not break the others)."""

from __future__ import annotations

import json
import logging
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from zvt_crypto.contract import registry as registry_module
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.registry import RECORDERS_GROUP, PluginRegistry, recorder_for
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
    first, second = object(), object()
    assert plugins.register("a", first) is first
    plugins.register("b", second)
    assert plugins.get("a") is first
    assert plugins.names() == ["a", "b"]
    assert plugins.items() == {"a": first, "b": second}
    plugins.register("a", first)  # the same object again is fine
    with pytest.raises(InvalidInputError, match="a widget named 'a' is already registered"):
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
    mine = object()
    plugins.register("explicit", mine)  # registered by code: an entry point of the same name does not replace it

    with caplog.at_level(logging.WARNING, logger=registry_module.__name__):
        assert plugins.get("dumps") is json.dumps
    assert asked == [GROUP]
    assert plugins.get("explicit") is mine
    assert "module_only" not in plugins.names()
    assert plugins.names() == ["dumps", "explicit"]
    assert set(plugins.load_errors) == {"broken"}
    assert "ModuleNotFoundError" in plugins.load_errors["broken"]
    assert "zvt_crypto_no_such_module" in plugins.load_errors["broken"]
    assert any("broken" in record.getMessage() for record in caplog.records)
    with pytest.raises(InvalidInputError, match="failed to load: broken"):
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
    assert FakeRecorder.calls == [{"store": None, "exchange": "binance", "symbols": ["BTC/USDT"], "level": "1h"}]
    from zvt_crypto.domain import Trade

    with pytest.raises(InvalidInputError, match="no recorder is installed for Trade"):
        Trade.record_data(exchange="binance")


def test_module_registries_exist() -> None:
    assert registry_module.recorders.group == "zvt_crypto.recorders"
    assert registry_module.factors.group == "zvt_crypto.factors"
    assert registry_module.strategies.group == "zvt_crypto.strategies"
