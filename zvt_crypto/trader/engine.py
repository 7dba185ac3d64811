"""``run_backtest``: one pure function — strategy, data and settings in, a :class:`BacktestResult` out.

It reads nothing from the store and writes nothing (the data is preloaded in a :class:`MarketData`; storing a
run is :mod:`.storage`'s job), and its inputs pickle, so optimisation can call it thousands of times, in
worker processes.

>>> data = MarketData.from_frame(frame, symbol="BTC/USDT")                         # doctest: +SKIP
>>> result = run_backtest("sma_cross", data, params={"fast": 10, "slow": 30}, cash=10_000, fee=0.001)
...                                                                                 # doctest: +SKIP
>>> run_backtest("sma_cross", data, engine="vectorised").trades.equals(result.trades)  # doctest: +SKIP
True

The event engine. Per bar it only (1) applies funding when a payment is due, (2) lets the broker fill what the
bar reaches — when anything is pending —, (3) checks the equity-based risk limits when they are set, (4) moves the
strategy's indicator views to the bar and calls ``next``. Equity and positions are built after the loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.timeutil import iso
from zvt_crypto.trader.broker import Broker
from zvt_crypto.trader.data import MarketData
from zvt_crypto.trader.errors import LookAheadError, StrategyError
from zvt_crypto.trader.metrics import Annualisation
from zvt_crypto.trader.results import BacktestResult, make_result
from zvt_crypto.trader.risk import RiskLimits
from zvt_crypto.trader.settings import ENGINES, BacktestSettings
from zvt_crypto.trader.slippage import Slippage
from zvt_crypto.trader.strategy import Strategy, get_strategy

if TYPE_CHECKING:
    from zvt_crypto.trader.vector import VectorRecord

__all__ = ["ENGINES", "run_backtest"]

_OUT_OF_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis \d+ with size (\d+)")


def run_backtest(strategy: str | type[Strategy] | Strategy, data: MarketData, *,
                 params: Mapping[str, Any] | None = None, cash: float = 10_000.0,
                 fee: float | tuple[float, float] | None = None, slippage: Slippage | float | None = None,
                 leverage: float | list[float] = 1.0, maintenance_margin: float = 0.005,
                 liquidation_fee: float | None = None, risk: RiskLimits | None = None, engine: str = "event",
                 check_lookahead: bool = True, start: int = 0,
                 periods_per_year: float | None = None, settings: BacktestSettings | None = None) -> BacktestResult:
    """Backtest ``strategy`` on ``data``.

    Args:
        strategy: a registered name (``"sma_cross"``), ``"module:Class"``, a Strategy subclass or an instance.
        data: the bars (:func:`~zvt_crypto.trader.data.load_market_data` or :meth:`MarketData.from_frame`).
        params: strategy parameters (strings are coerced to the defaults' types).
        cash: initial equity in the quote currency.
        fee: a rate for maker and taker alike, or ``(maker, taker)``; default: the markets' own fees, else the
            venue's published default (:mod:`.fees`); unknown for a venue's market is an error (pass ``fee``).
            ``result.settings["fees"]`` says which rates were charged and where they came from.
        slippage: basis points (:class:`FixedBps`) or a model (:class:`SpreadImpact`); default none.
        leverage: perps' leverage, one value or one per symbol (spot trades at 1).
        maintenance_margin, liquidation_fee: perp liquidation (isolated margin; the fee defaults to the
            maintenance rate, i.e. the position's margin is lost).
        risk: :class:`RiskLimits` (position limits, kill switch, daily loss limit).
        engine: ``"event"`` (every strategy) or ``"vectorised"`` (signal strategies on one symbol: same trades).
        check_lookahead: recompute each indicator on half the data to catch ones that look ahead.
        start: the first bar (row) the strategy may act on; the bars before it only warm up its indicators and
            nothing trades there (walk-forward's out-of-sample runs). ``next`` first runs at the later of ``start``
            and the strategy's own first bar.
        periods_per_year: bars per year for annualising volatility, Sharpe and Sortino; default: inferred from the
            bar times (:attr:`MarketData.annualisation`: 365 days for 24/7 markets, 252 for daily bars without
            weekends). The metrics state the number and its basis.
        settings: all of the above (``cash`` … ``periods_per_year``) as one :class:`BacktestSettings` — what paper
            accounts, optimisation and walk-forward pass; then leave those keyword arguments at their defaults.
    """
    settings = BacktestSettings.from_arguments(
        settings, cash=cash, fee=fee, slippage=slippage, leverage=leverage, maintenance_margin=maintenance_margin,
        liquidation_fee=liquidation_fee, risk=risk, engine=engine, periods_per_year=periods_per_year)
    instance = _instantiate(strategy, params)
    if data.n_bars < 2:
        raise InvalidInputError(f"a backtest needs at least 2 bars, the data has {data.n_bars}")
    if not 0 <= start < data.n_bars:
        raise InvalidInputError(f"start={start} is outside the data's {data.n_bars} bars")
    given_periods = settings.periods_per_year
    annualisation = data.annualisation if given_periods is None else Annualisation.given(given_periods)
    started = time.perf_counter()
    broker = Broker(data, settings=settings)
    recorded_settings = {**settings.to_dict(), "fees": broker.fees.to_dict()}
    engine = settings.engine
    instance.setup(broker, data, start=start, check_lookahead=check_lookahead)
    recorded: Broker | VectorRecord  # the two engines record in the shapes make_result takes
    if engine == "vectorised":
        from zvt_crypto.trader.vector import run_vectorised

        recorded = run_vectorised(instance, data, broker)
    else:
        _run_events(instance, broker, data)
        recorded = broker
    seconds = time.perf_counter() - started
    return make_result(data=data, strategy=instance.label(), params=instance.params, settings=recorded_settings,
                       initial_cash=broker.initial_cash,
                       events=(recorded.ev_bar, recorded.ev_col, recorded.ev_size, recorded.ev_cash),
                       closed=recorded.closed, open_positions=recorded.open_positions(), orders=recorded.all_orders,
                       totals=recorded.totals(), engine=engine, seconds=seconds, annualisation=annualisation)


def _instantiate(strategy: str | type[Strategy] | Strategy, params: Mapping[str, Any] | None) -> Strategy:
    if isinstance(strategy, Strategy):
        if params:
            raise InvalidInputError("pass params to the strategy class, or an instance without params")
        return strategy
    return get_strategy(strategy)(**dict(params or {}))


def _views(strategy: Strategy) -> tuple[list[tuple[str, np.ndarray]], list[tuple[Any, Any, np.ndarray]]]:
    """Attributes (and dict / list entries) of the strategy that hold indicators: moved to each bar in the loop."""
    known = {id(array) for array, _label in strategy.indicators}
    attributes: list[tuple[str, np.ndarray]] = []
    entries: list[tuple[Any, Any, np.ndarray]] = []
    for name, value in list(vars(strategy).items()):
        if isinstance(value, np.ndarray) and id(value) in known:
            attributes.append((name, value))
        elif isinstance(value, tuple) and any(isinstance(v, np.ndarray) and id(v) in known for v in value):
            value = list(value)
            setattr(strategy, name, value)
        if isinstance(value, list):
            entries.extend((value, k, v) for k, v in enumerate(value) if isinstance(v, np.ndarray) and id(v) in known)
        elif isinstance(value, dict):
            entries.extend((value, k, v) for k, v in value.items() if isinstance(v, np.ndarray) and id(v) in known)
    return attributes, entries


def _run_events(strategy: Strategy, broker: Broker, data: MarketData) -> None:
    n_bars = data.n_bars
    start = strategy.first_bar
    attributes, entries = _views(strategy)
    clock = strategy.clock
    state = strategy.__dict__
    step = strategy.next
    i = start
    try:
        for i in range(start, n_bars):
            n = i + 1
            clock.n = n
            if i >= broker.next_funding_bar:
                broker.apply_funding(i)
            if broker.busy:
                broker.on_open(i)
            if broker.watch_close:
                broker.bar = i
                broker.on_close(i)
            for name, array in attributes:
                state[name] = array[:n]
            for container, key, array in entries:
                container[key] = array[:n]
            step()
    except ZvtCryptoError:
        raise
    except IndexError as exc:
        match = _OUT_OF_BOUNDS.search(str(exc))
        if match and int(match.group(1)) >= int(match.group(2)) == clock.n:
            raise LookAheadError(
                f"strategy {strategy.label()!r} read bar {match.group(1)} at bar {i} ({iso(data.index[i])}): "
                "next() sees the bars up to the current one only — self.data.close[-1] is the current close"
            ) from exc
        raise StrategyError(_failure(strategy, data, i, exc)) from exc
    except Exception as exc:
        raise StrategyError(_failure(strategy, data, i, exc)) from exc
    finally:
        clock.n = n_bars  # after the run the strategy's views show the whole history again
        for name, array in attributes:
            state[name] = array
        for container, key, array in entries:
            container[key] = array


def _failure(strategy: Strategy, data: MarketData, i: int, exc: BaseException) -> str:
    return (f"strategy {strategy.label()!r} failed in next() at bar {i} ({iso(data.index[i])}): "
            f"{type(exc).__name__}: {exc}")
