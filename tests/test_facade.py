"""The notebook API of the package root (zvt_crypto/facade.py): instant import, real outcomes, examples that run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import pydoc
import subprocess
import sys
from pathlib import Path

import ccxt
import pytest

import zvt_crypto as zc
from zvt_crypto.contract.errors import InvalidInputError

SYMBOLS = ["BTC/USDT", "ETH/USDT"]


def fill_home() -> None:
    """Markets and a week of 1h bars of two pairs from the simulator into the configured (temporary) store."""
    with zc.sim() as cfg:
        zc.record("markets", exchange="binance", config=cfg)
        zc.record("bars", exchange="binance", symbols=SYMBOLS, level="1h", start="2024-01-01", config=cfg)


def test_import_loads_nothing_heavy_and_every_name_resolves() -> None:
    heavy = ("pandas", "sqlalchemy", "ccxt", "plotly", "numpy")
    code = f"import sys, zvt_crypto; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
    for name in zc.__all__:
        assert getattr(zc, name) is not None, name
    assert set(dir(zc)) >= set(zc.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        zc.nope  # noqa: B018


def test_help_of_every_public_name_has_an_example() -> None:
    missing = [name for name in zc.__all__ if name != "__version__"
               and ">>>" not in pydoc.render_doc(getattr(zc, name))]
    assert missing == []


def test_sim_stays_callable_after_its_package_is_imported() -> None:
    import zvt_crypto.sim as package

    assert zc.sim is package and callable(zc.sim)
    assert package.SimulatedExchange.__name__ == "SimulatedExchange"


def test_sim_and_record_store_the_bars_the_sim_served() -> None:
    with zc.sim() as cfg:
        summary = zc.record("bars", exchange="binance", symbols=["BTC/USDT"], level="1h", start="2024-01-05",
                            config=cfg)
        client = ccxt.binance(cfg.ccxt_options("binance"))
        served = client.fetch_ohlcv("BTC/USDT", "1h", since=1704412800000, limit=1000)  # 2024-01-05
    closed = served[:-1]  # the last one is still open at the simulator's clock: recorders store closed bars only
    bars = zc.query_bars("binance", "BTC/USDT", "1h")
    assert summary.total("changed") == len(bars) == len(closed) == 72
    assert bars["close"].tolist() == [bar[4] for bar in closed]
    assert str(bars.index.get_level_values("timestamp").tz) == "UTC"


def test_record_checks_like_the_cli() -> None:
    with pytest.raises(InvalidInputError, match="unknown kind 'candles'; record one of markets, bars"):
        zc.record("candles", exchange="binance", symbols=["BTC/USDT"])
    with pytest.raises(InvalidInputError, match="recording bars needs a level"):
        zc.record("bars", exchange="binance", symbols=["BTC/USDT"])
    with pytest.raises(InvalidInputError, match="did you mean"):
        zc.record("bars", exchange="binanse", symbols=["BTC/USDT"], level="1h")


def test_backtest_equals_run_backtest_on_the_same_data() -> None:
    from zvt_crypto.trader import load_market_data, run_backtest

    fill_home()
    params = {"fast": 5, "slow": 20}
    result = zc.backtest("sma_cross", exchange="binance", symbols=SYMBOLS, level="1h", params=params, fee=0.001,
                         slippage=2)
    data = load_market_data(exchange="binance", symbols=SYMBOLS, level="1h")
    expected = run_backtest("sma_cross", data, params=params, fee=0.001, slippage=2)
    assert len(expected.trades) > 0
    assert result.trades.equals(expected.trades)
    assert result.final_equity == expected.final_equity
    assert result.stats["n trades"] == len(result.trades)
    assert result.stats["final equity"] == expected.metrics["final_equity"]
    assert str(result.equity.index.tz) == "UTC" and len(result.orders) >= len(result.trades)
    assert "sharpe" in result._repr_html_()


def test_backtest_auto_engine_takes_the_vectorised_path_when_it_can() -> None:
    fill_home()
    one = dict(exchange="binance", symbols=["BTC/USDT"], level="1h", params={"fast": 5, "slow": 20}, fee=0.001)
    auto = zc.backtest("sma_cross", **one)  # type: ignore[arg-type]
    event = zc.backtest("sma_cross", engine="event", **one)  # type: ignore[arg-type]
    assert (auto.engine, event.engine) == ("vectorised", "event")
    assert auto.trades.equals(event.trades)
    assert zc.backtest("sma_cross", exchange="binance", symbols=SYMBOLS, level="1h", fee=0.001).engine == "event"


def test_plot_has_a_price_panel_per_symbol_with_trade_markers() -> None:
    fill_home()
    result = zc.backtest("sma_cross", exchange="binance", symbols=SYMBOLS, level="1h", params={"fast": 5, "slow": 20},
                         fee=0.001)
    figure = result.plot()
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == ["Equity", "Drawdown (%)", "BTC/USDT and trades", "ETH/USDT and trades"]
    for row, symbol in enumerate(SYMBOLS, start=3):
        axis = figure.get_subplot(row, 1).yaxis.anchor
        on_row = [trace for trace in figure.data if trace.xaxis == axis]
        assert f"{symbol} close" in [trace.name for trace in on_row]
        entries = [trace for trace in on_row if trace.mode == "markers" and "entry" in trace.name]
        mine = result.trades[result.trades["symbol"] == symbol]
        assert sum(len(trace.x) for trace in entries) == len(mine) + int(
            (result.open_trades["symbol"] == symbol).sum())
    drawdown = next(trace for trace in figure.data if trace.name == "drawdown %")
    assert min(drawdown.y) == pytest.approx(result.equity["drawdown"].min() * 100)


def test_save_stores_the_run_for_the_dashboard() -> None:
    from zvt_crypto.trader.storage import load_run

    fill_home()
    result = zc.backtest("sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h", fee=0.001)
    run_id = result.save()
    stored = load_run(run_id)
    assert stored.metrics["n_trades"] == result.metrics["n_trades"]
    assert len(stored.equity) == len(result.equity)


def test_report_is_the_plot_with_the_metrics_table(tmp_path: Path) -> None:
    fill_home()
    result = zc.backtest("sma_cross", exchange="binance", symbols=SYMBOLS, level="1h", fee=0.001)
    html = result.report(tmp_path / "run.html").read_text()
    assert html.count(" and trades\"") == len(SYMBOLS) and "total return" in html  # a price panel each, the table


def test_paper_creates_and_steps_an_account() -> None:
    from zvt_crypto.trader.paper import account_trades

    fill_home()
    report = zc.paper("nb", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h",
                      params={"fast": 5, "slow": 20}, start="2024-01-03", fee=0.001)
    assert report.bars > 0
    again = zc.paper("nb", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h",
                     params={"fast": 5, "slow": 20}, start="2024-01-03", fee=0.001)
    assert again.bars == 0  # nothing new recorded: nothing processed twice
    assert len(account_trades("nb")) == report.trades


def _package_doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder()
    tests: list[doctest.DocTest] = []
    for info in pkgutil.walk_packages(zc.__path__, "zvt_crypto."):
        if info.name.endswith("__main__"):  # runs the command line on import
            continue
        module = importlib.import_module(info.name)
        tests.extend(test for test in finder.find(module, info.name) if test.examples)
    return tests


def test_docstring_examples_of_the_package_run() -> None:
    """Every ``>>>`` example in zvt_crypto (those not marked +SKIP) against a store the simulator filled."""
    fill_home()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    tests = _package_doctests()
    for test in tests:
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(report)
    assert {"zvt_crypto.facade.backtest", "zvt_crypto.sim"} <= {test.name for test in tests}
    assert results.attempted > 100


def test_optimize_and_walk_forward_take_the_research_options() -> None:
    """n_splits reaches the PBO, constraint and the margin/risk settings reach every trial."""
    fill_home()
    where = dict(exchange="binance", symbols=["BTC/USDT"], level="1h", fee=0.001)
    grid = {"fast": [3, 5, 10], "slow": [10, 20]}
    sweep = zc.optimize("sma_cross", grid=grid, n_splits=6, constraint=lambda p: p["slow"] >= 2 * p["fast"],
                        risk={"max_drawdown": 0.01}, periods_per_year=365, **where)  # type: ignore[arg-type]
    assert sweep.overfitting is not None and sweep.overfitting.pbo is not None
    assert sweep.overfitting.pbo.n_combinations == 20  # C(6, 3)
    pairs = sorted(zip(sweep.trials["fast"], sweep.trials["slow"], strict=True))
    assert pairs == [(3, 10), (3, 20), (5, 10), (5, 20), (10, 20)]
    assert sweep.settings.risk.max_drawdown == 0.01 and sweep.settings.periods_per_year == 365
    wf = zc.walk_forward("sma_cross", grid=grid, train="2d", test="1d", n_splits=4, method="random", n_iter=3,
                         seed=1, warmup=24, **where)  # type: ignore[arg-type]
    assert wf.overfitting.pbo is not None and wf.overfitting.pbo.n_combinations == 6  # C(4, 2)
    assert len(wf.full.trials) == 3
    assert wf.spans["warmup"] == 24


def test_a_strategy_written_in_a_notebook_shows_its_class_name() -> None:
    fill_home()

    class Follow(zc.Strategy):
        def next(self) -> None:
            if not self.position:
                self.buy()

    Follow.__module__ = "__main__"  # what a class defined in a notebook cell has
    result = zc.backtest(Follow, exchange="binance", symbols="BTC/USDT", level="1h", fee=0.001)
    assert result.strategy.startswith("__main__:")  # its identity (a re-run finds the class by it) is kept
    shown = [repr(result), result._repr_html_(), result.plot().layout.title.text]
    assert all("Follow(" in text and "__main__" not in text for text in shown), shown
