"""Target-weight portfolios: rebalancing by hand, cross-sectional momentum, funding carry and a stored factor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.trader.conftest import T0, ohlc_frame
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.trader import MarketData, load_market_data, run_backtest
from zvt_crypto.trader.portfolio import TargetWeightsStrategy, carry_table, rebalance_rows, top_bottom

DAY = pd.Timedelta(days=1)


def two_symbols() -> MarketData:
    a = ohlc_frame([(100.0, 101.0, 99.0, 100.0), (100.0, 111.0, 99.0, 110.0), (110.0, 111.0, 109.0, 110.0),
                    (120.0, 121.0, 119.0, 120.0), (120.0, 121.0, 119.0, 120.0)])
    b = ohlc_frame([(50.0, 51.0, 49.0, 50.0), (50.0, 51.0, 44.0, 45.0), (40.0, 41.0, 39.0, 40.0),
                    (40.0, 41.0, 39.0, 40.0), (40.0, 41.0, 39.0, 40.0)])
    return MarketData.from_frames({"A/USDT:USDT": a, "B/USDT:USDT": b}, level="1d")


def test_rebalancing_to_a_weights_frame_by_hand() -> None:
    weights = pd.DataFrame({"A/USDT:USDT": [0.5, 0.0], "B/USDT:USDT": [-0.5, 0.5]}, index=[T0, T0 + 2 * DAY])
    result = run_backtest(TargetWeightsStrategy(weights=weights), two_symbols(), fee=0.0)
    # bar 1 open: A 0.5 × 10,000 / 100 = 50 long, B 0.5 × 10,000 / 50 = 100 short
    positions = result.positions
    assert positions.iloc[1].tolist() == [50.0, -100.0]
    # bar 2 close: equity 10,000 + 50 × (110 − 100) + 100 × (50 − 40) = 11,500
    assert result.equity["equity"].iloc[2] == pytest.approx(11_500)
    # bar 3 open (A 120, B 40; equity 12,000): A closed, B reversed to 0.5 × 12,000 / 40 = 150 long
    assert positions.iloc[3].tolist() == [0.0, 150.0]
    assert result.trades["pnl"].tolist() == pytest.approx([1_000.0, 1_000.0])  # A closed, B's short closed
    assert result.trades["symbol"].tolist() == ["A/USDT:USDT", "B/USDT:USDT"]
    assert result.open_trades["entry_bar"].tolist() == [3]  # B's long, opened after both reductions


def test_unchanged_targets_do_not_trade_and_unknown_symbols_are_an_error() -> None:
    rows = np.full((5, 2), np.nan)
    rows[0] = rows[1] = rows[3] = [0.5, 0.5]
    assert rebalance_rows(rows).tolist() == [True, False, False, False, False]
    weights = pd.DataFrame({"X/USDT": [1.0]}, index=[T0])
    with pytest.raises(InvalidInputError, match="weights name symbols the data does not have: X/USDT"):
        run_backtest(TargetWeightsStrategy(weights=weights), two_symbols())
    with pytest.raises(InvalidInputError, match="needs weights="):
        run_backtest("target_weights", two_symbols())


def test_top_bottom_matches_select_top_n() -> None:
    scores = np.array([[0.4, 0.1, 0.9, 0.6], [np.nan, 0.2, 0.1, np.nan], [np.nan, np.nan, 0.3, np.nan]])
    assert top_bottom(scores, 1).tolist() == [[0.0, -0.5, 0.5, 0.0], [0.0, 0.5, -0.5, 0.0], [0.0] * 4]
    assert top_bottom(scores, 2, long_short=False)[0].tolist() == [0.0, 0.0, 0.5, 0.5]


def trending(count: int, days: int, *, start: str = "2024-01-01") -> dict[str, pd.DataFrame]:
    """Symbol k drifts at (k − count/2) % a day: the last ones win, the first ones lose."""
    frames = {}
    index = pd.date_range(start, periods=days, freq="1D", tz="UTC")
    for k in range(count):
        close = 100 * (1 + (k - count / 2) / 100) ** np.arange(1, days + 1)
        open_ = np.r_[100.0, close[:-1]]
        frames[f"C{k}/USDT:USDT"] = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.001,
                                                 "low": np.minimum(open_, close) * 0.999, "close": close,
                                                 "volume": 1e6}, index=index)
    return frames


def test_cross_sectional_momentum_is_long_the_winners_and_short_the_losers() -> None:
    data = MarketData.from_frames(trending(6, 40), level="1d")
    result = run_backtest("xs_momentum", data, params={"lookback": 5, "n": 2}, fee=0.0005, leverage=2)
    last = result.positions.iloc[-1]
    assert (last.iloc[:2] < 0).all() and (last.iloc[4:] > 0).all() and (last.iloc[2:4] == 0).all()
    first = result.positions.iloc[6]  # decided at bar 5's close (the first with a 5-bar return), filled at 6's open
    notional = first * data.open[6]
    assert notional.abs().sum() / result.equity["equity"].iloc[5] == pytest.approx(1.0, abs=0.01)  # gross 1
    assert notional.sum() / result.equity["equity"].iloc[5] == pytest.approx(0.0, abs=0.01)  # net 0
    assert result.metrics["total_return"] > 0
    assert result.positions.iloc[:6].abs().sum().sum() == 0  # nothing before the lookback


def test_funding_carry_shorts_the_highest_carry() -> None:
    frames = trending(3, 10)
    funding = pd.DataFrame([
        {"symbol": symbol, "timestamp": T0 + day * DAY, "funding_rate": rate}
        for day in range(1, 10) for symbol, rate in zip(frames, (0.001, -0.0005, 0.0001), strict=True)])
    data = MarketData.from_frames(frames, level="1d", funding=funding)
    carry = carry_table(data, 2)
    assert np.isnan(carry[1]).all() and carry[2].tolist() == pytest.approx([0.001, -0.0005, 0.0001])
    result = run_backtest("funding_carry", data, params={"window": 2, "n": 1}, fee=0.0, leverage=2)
    last = result.positions.iloc[-1]
    assert last.iloc[0] < 0 and last.iloc[1] > 0 and last.iloc[2] == 0
    assert result.metrics["funding_received"] > 0
    no_funding = MarketData.from_frames(frames, level="1d")
    with pytest.raises(InvalidInputError, match="needs funding rates"):
        run_backtest("funding_carry", no_funding)


def test_factor_weights_reads_a_stored_factor(sqlite_store: Store) -> None:
    for symbol, frame in trending(4, 30).items():
        table = frame.rename_axis("timestamp").reset_index()
        table.insert(0, "entity_id", f"perp_binance_{symbol.replace('/', '-').replace(':', '.')}")
        sqlite_store.write(Bar, table, level="1d")
    symbols = list(trending(4, 30))
    data = load_market_data(exchange="binance", symbols=symbols, level="1d", store=sqlite_store)
    result = run_backtest("factor_weights", data, params={"factor": "roc", "factor_params": "window=5", "n": 1},
                          fee=0.0, leverage=2)
    last = result.positions.iloc[-1]
    assert last.iloc[0] < 0 and last.iloc[3] > 0 and (last.iloc[1:3] == 0).all()
    frame_data = MarketData.from_frames(trending(4, 30), level="1d")
    with pytest.raises(InvalidInputError, match="reads factors from the store"):
        run_backtest("factor_weights", frame_data)


def test_factor_weights_passes_a_list_valued_factor_parameter(sqlite_store: Store) -> None:
    """ml_forecast's features=rsi,roc through factor_params: a dict with a list in Python, text on the CLI."""
    from zvt_crypto.factors import load_factor, make_factor

    for symbol, frame in trending(4, 120).items():
        table = frame.rename_axis("timestamp").reset_index()
        table.insert(0, "entity_id", f"perp_binance_{symbol.replace('/', '-').replace(':', '.')}")
        sqlite_store.write(Bar, table, level="1d")
    data = load_market_data(exchange="binance", symbols=list(trending(4, 120)), level="1d", store=sqlite_store)
    given = {"features": ["rsi", "roc"], "horizon": 2, "min_train": 40, "retrain_every": 20}
    as_dict = run_backtest("factor_weights", data, fee=0.0, leverage=2,
                           params={"factor": "ml_forecast", "factor_params": given, "n": 1})
    as_text = run_backtest("factor_weights", data, fee=0.0, leverage=2, params={
        "factor": "ml_forecast", "factor_params": "features=rsi,roc,horizon=2,min_train=40,retrain_every=20", "n": 1})
    factor = make_factor("ml_forecast", given)
    assert factor.p["features"] == "rsi,roc" and [f.name for f in factor.feature_factors()] == ["rsi", "roc"]
    stored = load_factor(factor, exchange="binance", symbols=data.symbols, level="1d", store=sqlite_store)
    assert stored["prediction"].notna().sum() > 100  # the strategy computed and stored the forecast it traded
    assert (as_dict.positions.iloc[-1] != 0).sum() == 2  # one long, one short
    assert as_dict.positions.equals(as_text.positions) and as_dict.final_equity == as_text.final_equity
    with pytest.raises(InvalidInputError, match="bad parameter 'rsi,roc': write it as name=value"):
        run_backtest("factor_weights", data, params={"factor_params": "rsi,roc"})


def test_fifty_symbols_for_a_year_of_daily_bars_runs_fast() -> None:
    import time

    rng = np.random.default_rng(0)
    index = pd.date_range("2023-01-01", periods=365, freq="1D", tz="UTC")
    frames = {}
    for k in range(50):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, 365)))
        open_ = np.r_[100.0, close[:-1]]
        frames[f"C{k:02d}/USDT:USDT"] = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.01,
                                                     "low": np.minimum(open_, close) * 0.99, "close": close,
                                                     "volume": 1e6}, index=index)
    data = MarketData.from_frames(frames, level="1d")
    started = time.perf_counter()
    result = run_backtest("xs_momentum", data, params={"lookback": 20, "n": 5}, fee=0.0005, leverage=2)
    result.metrics  # noqa: B018
    assert time.perf_counter() - started < 3.0  # the benchmark's target is 1 s; generous for a busy CI machine
    assert len(result.trades) > 1_000


def test_a_weights_run_shows_its_weights_as_a_shape_not_as_data() -> None:
    weights = pd.DataFrame({"A/USDT:USDT": [0.5, 0.0, 0.25], "B/USDT:USDT": [-0.5, 0.5, 0.75]},
                           index=[T0, T0 + 2 * DAY, T0 + 3 * DAY])
    result = run_backtest("target_weights", two_symbols(), params={"weights": weights}, fee=0.0)
    shown = repr(result)
    assert shown.startswith("<BacktestResult target_weights(") and "weights=<DataFrame 3×2>" in shown
    assert "0.75" not in shown and "\n" not in shown and len(shown) < 300
    assert "weights=&lt;DataFrame 3×2&gt;" in result._repr_html_() and "0.75" not in result._repr_html_()
    assert "weights=<DataFrame 3×2>" in result.plot().layout.title.text
