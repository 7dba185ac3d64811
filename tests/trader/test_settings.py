"""The one settings object of backtests, paper accounts, optimisation and walk-forward: it round-trips through
JSON, every setting is checked in one place with one message (the same from a backtest and a paper account), what
runs and paper accounts stored before it existed still loads, and every entry point runs with it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.trader.test_optimize import frame_of, random_walk
from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import BacktestRun
from zvt_crypto.trader import MarketData, run_backtest
from zvt_crypto.trader.optimize import optimize
from zvt_crypto.trader.paper import PaperTrader
from zvt_crypto.trader.risk import RiskLimits
from zvt_crypto.trader.settings import RUN_OPTIONS, BacktestSettings
from zvt_crypto.trader.slippage import NO_SLIPPAGE, FixedBps, SpreadImpact
from zvt_crypto.trader.storage import load_run, rerun, save_run
from zvt_crypto.trader.walkforward import walk_forward

EVERYTHING = BacktestSettings(cash=5_000, fee=(0.0002, 0.0006), slippage=SpreadImpact(spread_bps=3, impact=0.2),
                              leverage=(3, 2), maintenance_margin=0.01, liquidation_fee=0.004,
                              risk=RiskLimits(max_position=0.5, max_drawdown=0.3), engine="vectorised",
                              periods_per_year=8760)


def test_round_trip_through_json() -> None:
    for settings in (BacktestSettings(), EVERYTHING, BacktestSettings(fee=0.001, slippage=5, leverage=2.0)):
        text = json.dumps(settings.to_dict())
        assert BacktestSettings.from_dict(json.loads(text)) == settings
    assert EVERYTHING.to_dict() == {
        "cash": 5000.0, "fee": [0.0002, 0.0006], "slippage": {"model": "SpreadImpact", "spread_bps": 3, "impact": 0.2},
        "leverage": [3.0, 2.0], "maintenance_margin": 0.01, "liquidation_fee": 0.004,
        "risk": {"max_position": 0.5, "max_drawdown": 0.3}, "engine": "vectorised", "periods_per_year": 8760.0}
    trading = EVERYTHING.to_dict(run_options=False)
    assert set(RUN_OPTIONS).isdisjoint(trading)
    assert BacktestSettings.from_dict(trading) == EVERYTHING.replace(engine="event", periods_per_year=None)


def test_normalised_when_built() -> None:
    settings = BacktestSettings(cash=100, fee=[0, 0.001], slippage=2, leverage=[1, 3], risk={"daily_loss": 0.1})
    assert settings.cash == 100.0 and type(settings.cash) is float
    assert settings.fee == (0.0, 0.001) and settings.leverage == (1.0, 3.0)
    assert settings.slippage == FixedBps(2.0) and settings.risk == RiskLimits(daily_loss=0.1)
    assert BacktestSettings(slippage=0).slippage is NO_SLIPPAGE
    assert BacktestSettings(slippage={"model": "Slippage"}) == BacktestSettings()
    with pytest.raises(AttributeError):
        settings.cash = 5.0  # type: ignore[misc]


@pytest.mark.parametrize(("changes", "message"), [
    ({"cash": -1}, "cash must be a positive number, got -1"),
    ({"cash": "10"}, "cash must be a positive number, got '10'"),
    ({"fee": 0.5}, "fee must be a rate in [-0.01, 0.1) or a (maker, taker) pair, got 0.5"),
    ({"fee": (0.001,)}, "fee must be a rate in [-0.01, 0.1) or a (maker, taker) pair, got (0.001,)"),
    ({"slippage": -1.0}, "slippage must be in [0, 10000) bps, got -1.0"),
    ({"slippage": "5bps"}, "slippage must be a number of bps or a Slippage model, got '5bps'"),
    ({"slippage": {"model": "Magic"}}, "unknown slippage model 'Magic'"),
    ({"leverage": 0.5}, "leverage must be ≥ 1 (one value, or one per symbol), got 0.5"),
    ({"leverage": ()}, "leverage must be ≥ 1 (one value, or one per symbol), got ()"),
    ({"maintenance_margin": 1.0}, "maintenance_margin must be in [0, 1), got 1.0"),
    ({"liquidation_fee": -0.1}, "liquidation_fee must be in [0, 1) (a fraction of the notional) or None"),
    ({"risk": {"max_drawdown": 2}}, "risk limit max_drawdown is a fraction of equity below 1, got 2"),
    ({"risk": {"max_dd": 0.2}}, "unknown risk limit(s) max_dd; the limits are max_position, max_gross"),
    ({"risk": 0.2}, "risk must be RiskLimits or a mapping of its limits, got 0.2"),
    ({"engine": "gpu"}, "unknown engine 'gpu'; use one of event, vectorised"),
    ({"periods_per_year": 0}, "periods per year must be a positive number, got 0"),
])
def test_each_setting_is_checked_with_one_message(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        BacktestSettings(**changes)
    assert message in str(info.value)
    assert isinstance(info.value, ZvtCryptoError)  # the CLI prints it as "error: …"


def test_per_market_leverage_checks() -> None:
    settings = BacktestSettings(leverage=(2, 3))
    assert settings.leverages(["A/USDT:USDT", "B/USDT:USDT"], [True, True]) == [2.0, 3.0]
    with pytest.raises(InvalidInputError, match=r"leverage: one value, or one per symbol \(3\), got \[2.0, 3.0\]"):
        settings.leverages(["A", "B", "C"], [True] * 3)
    with pytest.raises(InvalidInputError, match="B/USDT is a spot market: it trades at leverage 1"):
        settings.leverages(["A/USDT:USDT", "B/USDT"], [True, False])


@pytest.mark.parametrize("bad", [{"cash": 0}, {"fee": 0.2}, {"leverage": 3.0}, {"maintenance_margin": -0.1},
                                 {"liquidation_fee": 2.0}, {"risk": {"max_gross": -1}}])
def test_a_backtest_and_a_paper_account_refuse_the_same_input_alike(bad: dict[str, Any]) -> None:
    data = MarketData.from_frame(frame_of(np.zeros(50)), symbol="BTC/USDT", level="1h")
    with pytest.raises(InvalidInputError) as backtest:
        run_backtest("sma_cross", data, **bad)
    with pytest.raises(InvalidInputError) as paper:
        PaperTrader("x", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h", **bad)
    assert str(backtest.value) == str(paper.value)


def test_unknown_keys_and_settings_given_twice_are_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown backtest setting\(s\) funding_mode, speed; the settings "
                                                r"are cash, fee, slippage"):
        BacktestSettings.from_dict({"cash": 1.0, "speed": 2, "funding_mode": "x"})
    with pytest.raises(InvalidInputError, match="either as settings=BacktestSettings"):
        run_backtest("sma_cross", random_walk(50), settings=BacktestSettings(), cash=5.0)
    with pytest.raises(InvalidInputError, match="settings must be BacktestSettings, got dict"):
        run_backtest("sma_cross", random_walk(50), settings={"cash": 5.0})  # type: ignore[arg-type]


def test_settings_stored_before_the_object_existed_still_load() -> None:
    # a paper account's settings column as paper.py wrote it (cash … risk; no engine)
    paper = {"cash": 10000.0, "fee": [0.0002, 0.0005], "slippage": {"model": "FixedBps", "bps": 2.0},
             "leverage": [3.0, 2.0], "maintenance_margin": 0.005, "liquidation_fee": None,
             "risk": {"max_drawdown": 0.08}}
    loaded = BacktestSettings.from_dict(paper)
    assert loaded.to_dict(run_options=False) == paper  # so its definition hash is unchanged
    assert loaded.fee == (0.0002, 0.0005) and loaded.risk.max_drawdown == 0.08 and loaded.engine == "event"
    # a run row (columns merged with its settings column) from before periods_per_year and the recorded fees
    run = {"cash": 10000.0, "fee": None, "slippage": {"model": "Slippage"}, "engine": "event", "leverage": 1.0,
           "maintenance_margin": 0.005, "liquidation_fee": None, "risk": {}}
    assert BacktestSettings.from_dict(run) == BacktestSettings()
    recorded = {**run, "periods_per_year": 365.0, "fees": {"BTC/USDT": {"maker": 0.001, "taker": 0.001,
                                                                          "source": "market"}}}
    assert BacktestSettings.from_dict(recorded) == BacktestSettings(periods_per_year=365)


def test_a_paper_account_stores_the_settings_in_the_shape_it_always_had() -> None:
    trader = PaperTrader("p", "sma_cross", exchange="binanceusdm", symbols=["BTC/USDT:USDT", "ETH/USDT:USDT"],
                         level="1h", settings=EVERYTHING.replace(leverage=(2, 2)))
    assert trader.market()["settings"] == {
        "cash": 5000.0, "fee": [0.0002, 0.0006], "slippage": {"model": "SpreadImpact", "spread_bps": 3, "impact": 0.2},
        "leverage": 2.0, "maintenance_margin": 0.01, "liquidation_fee": 0.004,
        "risk": {"max_position": 0.5, "max_drawdown": 0.3}}
    assert trader.settings.engine == "event" and trader.settings.periods_per_year is None  # it replays events
    by_keywords = PaperTrader("p", "sma_cross", exchange="binanceusdm", symbols=["BTC/USDT:USDT"], level="1h",
                              cash=5_000, fee=[0.0002, 0.0006], slippage=7, leverage=[3], maintenance_margin=0.01,
                              liquidation_fee=0.004, risk={"max_gross": 2})
    assert by_keywords.settings == BacktestSettings(cash=5_000, fee=(0.0002, 0.0006), slippage=FixedBps(7),
                                                    leverage=3, maintenance_margin=0.01, liquidation_fee=0.004,
                                                    risk=RiskLimits(max_gross=2))


def test_keywords_and_the_settings_object_run_the_same_backtest() -> None:
    data = random_walk(400, seed=3)
    settings = BacktestSettings(cash=2_000, fee=0.0007, slippage=4, risk={"max_position": 0.8})
    by_object = run_backtest("sma_cross", data, params={"fast": 5, "slow": 20}, settings=settings)
    by_keywords = run_backtest("sma_cross", data, params={"fast": 5, "slow": 20}, cash=2_000, fee=0.0007,
                               slippage=4, risk=RiskLimits(max_position=0.8))
    assert len(by_object.trades) > 3
    assert by_object.trades.equals(by_keywords.trades) and by_object.settings == by_keywords.settings
    assert BacktestSettings.from_dict(by_object.settings) == settings  # the result records them (and its fees)


def test_stored_runs_keep_their_shape_and_rerun_with_the_settings(sqlite_store: Store) -> None:
    from tests.conftest import make_bars
    from zvt_crypto.domain import Bar
    from zvt_crypto.trader import load_market_data

    sqlite_store.write(Bar, make_bars("pair_binance_BTC-USDT", n=300, seed=4))
    data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h", store=sqlite_store)
    settings = BacktestSettings(cash=3_000, fee=(0.0001, 0.0004), slippage=SpreadImpact(spread_bps=1, impact=0.1),
                                maintenance_margin=0.02, risk={"daily_loss": 0.2}, periods_per_year=6000)
    result = run_backtest("sma_cross", data, params={"fast": 5, "slow": 20}, settings=settings)
    run_id = save_run(result, sqlite_store)
    row = BacktestRun.query_data(filters=[BacktestRun.run_id == run_id], index=None, store=sqlite_store,
                                 return_type="dicts")[0]
    assert (row["cash"], row["fee"], row["engine"]) == (3000.0, [0.0001, 0.0004], "event")
    assert row["slippage"] == {"model": "SpreadImpact", "spread_bps": 1, "impact": 0.1}
    assert row["settings"] == {"leverage": 1.0, "maintenance_margin": 0.02, "liquidation_fee": None,
                               "risk": {"daily_loss": 0.2}, "periods_per_year": 6000.0,
                               "fees": result.settings["fees"]}
    assert BacktestSettings.from_dict(load_run(run_id, sqlite_store).settings) == settings
    again, same_data = rerun(run_id, sqlite_store)
    assert same_data and again.trades.equals(result.trades)
    assert BacktestSettings.from_dict(again.settings) == settings


def test_optimise_and_walk_forward_pass_the_settings_to_every_trial(walk_data: MarketData) -> None:
    settings = BacktestSettings(cash=4_000, fee=0.0005, slippage=3, risk={"max_position": 0.9})
    grid = {"fast": [5, 10], "slow": [30, 60]}
    sweep = optimize("sma_cross", walk_data, grid, n_jobs=1, settings=settings, check_lookahead=False)
    assert sweep.settings is settings and sweep.to_dict()["settings"] == settings.to_dict()
    best = run_backtest("sma_cross", walk_data, params=sweep.best_params, settings=settings)
    assert np.isclose(best.metrics["sharpe"], sweep.best_value)
    assert sweep.best_result().trades.equals(best.trades)
    assert optimize("sma_cross", walk_data, grid, n_jobs=1, cash=4_000, fee=0.0005, slippage=3,
                    risk=RiskLimits(max_position=0.9), check_lookahead=False).trials.equals(sweep.trials)
    wf = walk_forward("sma_cross", walk_data, grid, train=300, test=100, n_jobs=1, settings=settings,
                      check_lookahead=False)
    assert wf.settings is settings and wf.to_dict()["settings"] == settings.to_dict()
    assert float(wf.equity["equity"].iloc[0]) == 4_000.0


@pytest.fixture(scope="module")
def walk_data() -> MarketData:
    return random_walk(600, seed=1, wave=0.004)


def test_the_settings_module_depends_on_no_engine() -> None:
    """A live broker reuses the settings: they import the cost models and the core, not the engine, broker, data
    or strategies."""
    import ast
    from pathlib import Path

    import zvt_crypto.trader.settings as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    ours = {name for name in imported if name.startswith("zvt_crypto")}
    assert ours == {"zvt_crypto.contract.errors", "zvt_crypto.trader.fees", "zvt_crypto.trader.risk",
                    "zvt_crypto.trader.slippage"}
