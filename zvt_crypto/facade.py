"""The notebook-facing API: ``import zvt_crypto as zc`` and every name here is ``zc.<name>``.

Thin functions over the library (each names the function it runs), with explicit keywords, so ``help(zc.backtest)``
is enough to use one. Every example below runs in the tests against a store the simulated exchange filled.

>>> import zvt_crypto as zc
>>> with zc.sim() as cfg:                                  # the simulated Binance, offline
...     summary = zc.record("bars", exchange="binance", symbols=["BTC/USDT"], level="1h", start="2024-01-06",
...                         config=cfg)
>>> bars = zc.query_bars("binance", ["BTC/USDT"], "1h", start="2024-01-06")
>>> result = zc.backtest("sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h", start="2024-01-06",
...                      params={"fast": 5, "slow": 20}, fee=0.001)
>>> len(result.equity) == len(bars)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.store import Store, StoreLike, get_store

if TYPE_CHECKING:
    import pandas as pd

    from zvt_crypto.contract.timeutil import TimeLike
    from zvt_crypto.recorders.base import RecordSummary
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.optimize import OptimizeResult
    from zvt_crypto.trader.paper import StepReport
    from zvt_crypto.trader.results import BacktestResult
    from zvt_crypto.trader.risk import RiskLimits
    from zvt_crypto.trader.slippage import Slippage
    from zvt_crypto.trader.strategy import Strategy
    from zvt_crypto.trader.walkforward import WalkForwardResult

__all__ = ["backtest", "coverage", "optimize", "paper", "query_bars", "record", "walk_forward"]



class RecordingError(ZvtCryptoError):
    """A recording ended with symbols that failed: less data was stored than asked for."""


def record(kind: str, *, exchange: str, symbols: Sequence[str] = (), level: str | None = None,
           start: TimeLike | None = None, end: TimeLike | None = None, config: Config | None = None,
           store: StoreLike = None, recheck_gaps: bool | None = None, progress: bool = False) -> RecordSummary:
    """Record one data kind from ``exchange`` into the store, as ``zvt-crypto record KIND`` does (same checks).

    Args:
        kind: ``"markets"``, ``"bars"``, ``"mark_bars"``, ``"index_bars"``, ``"trades"``, ``"orderbook"``,
            ``"funding"`` or ``"open_interest"`` (``-`` or ``_`` alike).
        exchange: a ccxt id (``"binance"``, ``"binanceusdm"``).
        symbols: ccxt unified symbols (``"BTC/USDT"``, ``"BTC/USDT:USDT"``); none for ``markets``.
        level: ``1m 5m 15m 30m 1h 4h 1d 1w`` for bars and open interest.
        start, end: inclusive UTC bounds; default: resume after the stored data, up to the venue's now.
        config: the venues' ccxt options (``zc.sim()`` yields one) and the store; default: the loaded config.
        store: where to write; default: the config's store.
        recheck_gaps: ask the venue again for the known gaps of bars.
        progress: a progress bar.

    Returns the :class:`~zvt_crypto.recorders.base.RecordSummary`; raises :class:`RecordingError` naming the
    symbols that failed (what the others stored stays; run it again to resume).

    >>> import zvt_crypto as zc
    >>> with zc.sim() as cfg:
    ...     summary = zc.record("funding", exchange="binanceusdm", symbols=["BTC/USDT:USDT"], start="2024-01-07",
    ...                         config=cfg)
    >>> summary.total("rows")                       # every 8 hours: 00:00, 08:00, 16:00 and the clock's 00:00
    4
    """
    from zvt_crypto.contract.timeutil import iso
    from zvt_crypto.recorders.base import record_kind

    config = config or (store.config if isinstance(store, Store) and store.config else None) or (
        store if isinstance(store, Config) else load_config())
    target = get_store(store if store is not None else config)
    summaries = record_kind(kind, exchanges=[exchange], symbols=list(symbols), store=target, config=config,
                            level=level, start=None if start is None else iso(start),
                            end=None if end is None else iso(end), recheck_gaps=recheck_gaps,
                            show_progress=progress)
    summary: RecordSummary = summaries[0]
    if summary.failed:
        raise RecordingError(str(summary))
    return summary


def query_bars(exchange: str, symbols: str | Sequence[str], level: str, start: TimeLike | None = None,
               end: TimeLike | None = None, *, columns: Sequence[str] | None = None,
               store: StoreLike = None) -> pd.DataFrame:
    """Stored OHLCV bars indexed by ``(entity_id, timestamp)`` (UTC), ``start`` / ``end`` inclusive:
    :meth:`Bar.query_data <zvt_crypto.contract.schema.Schema.query_data>`.

    >>> import zvt_crypto as zc
    >>> bars = zc.query_bars("binance", ["BTC/USDT"], "1h", start="2024-01-07", end="2024-01-07 23:00")
    >>> len(bars), list(bars.index.names), str(bars.index.get_level_values("timestamp").tz)
    (24, ['entity_id', 'timestamp'], 'UTC')
    """
    from zvt_crypto.domain import Bar

    return Bar.query_data(exchange=exchange, symbols=symbols, level=level, start_timestamp=start,
                          end_timestamp=end, columns=columns, store=get_store(store))


def coverage(exchange: str | None = None, symbols: Sequence[str] | None = None, level: str | None = None,
             start: TimeLike | None = None, end: TimeLike | None = None, *, store: StoreLike = None
             ) -> pd.DataFrame:
    """Coverage of stored bars, one row per symbol and level: first and last bar, bars stored, expected, missing,
    and the gaps (known gaps confirmed by the venue, or unexplained): :func:`zvt_crypto.domain.coverage.coverage`.

    >>> import zvt_crypto as zc
    >>> table = zc.coverage("binance", ["BTC/USDT"], "1h")
    >>> int(table["missing"].iloc[0])
    0
    """
    import pandas as pd

    from zvt_crypto.domain.coverage import coverage as bar_coverage

    rows = bar_coverage(get_store(store), exchange=exchange, symbols=symbols, level=level, start=start, end=end)
    return pd.DataFrame([row.as_dict() for row in rows])


def _strategy_class(strategy: str | type[Strategy]) -> type[Strategy]:
    from zvt_crypto.trader.strategy import Strategy, get_strategy

    if isinstance(strategy, Strategy):
        raise InvalidInputError("pass the strategy's name or class and its params=, not an instance")
    return get_strategy(strategy)


def backtest(strategy: str | type[Strategy], *, exchange: str, symbols: str | Sequence[str], level: str,
             start: TimeLike | None = None, end: TimeLike | None = None, params: Mapping[str, Any] | None = None,
             cash: float = 10_000.0, fee: float | tuple[float, float] | None = None,
             slippage: Slippage | float | None = None, leverage: float | Sequence[float] = 1.0,
             maintenance_margin: float = 0.005, liquidation_fee: float | None = None,
             risk: RiskLimits | Mapping[str, float] | None = None, engine: str = "auto",
             periods_per_year: float | None = None, store: StoreLike = None) -> BacktestResult:
    """Backtest ``strategy`` on the stored bars of ``symbols`` (and, for perps, their recorded funding payments):
    :func:`~zvt_crypto.trader.data.load_market_data` then :func:`~zvt_crypto.trader.engine.run_backtest`.

    Args:
        strategy: a registered name (``"sma_cross"``; ``zvt-crypto backtest --list``), ``"module:Class"`` or a
            :class:`zc.Strategy <zvt_crypto.trader.strategy.Strategy>` / ``zc.SignalStrategy`` subclass.
        exchange, symbols, level, start, end: which stored bars (inclusive UTC bounds; default: all stored).
        params: the strategy's parameters (default: its defaults).
        cash: initial equity in the quote currency.
        fee: a rate for maker and taker, or ``(maker, taker)``; default: the markets' own fees.
        slippage: basis points, or a model (``FixedBps``, ``SpreadImpact``).
        leverage: perps' leverage (one value or one per symbol; spot trades at 1).
        maintenance_margin, liquidation_fee: isolated-margin liquidation of perps.
        risk: ``RiskLimits`` or a mapping (``{"max_drawdown": 0.25}``).
        engine: ``"auto"`` (vectorised when it can, same trades), ``"event"`` or ``"vectorised"``.
        periods_per_year: annualisation of the metrics; default: inferred from the bars.
        store: the store to read; default: the configured one.

    Returns a :class:`~zvt_crypto.trader.results.BacktestResult`: ``.stats`` (Series), ``.trades``, ``.orders``,
    ``.equity`` (DataFrames, UTC times), ``.plot()`` (a plotly figure), ``.save()`` (store the run for
    ``zvt-crypto runs`` and the dashboard). Funding is not a setting: perps pay and receive the recorded rates.

    >>> import zvt_crypto as zc
    >>> result = zc.backtest("sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h",
    ...                      params={"fast": 5, "slow": 20}, fee=0.001, slippage=2)
    >>> result.stats["n trades"] == len(result.trades), str(result.equity.index.tz)
    (True, 'UTC')
    """
    from zvt_crypto.trader.stored import backtest_stored

    # BacktestSettings normalises a number of bps, None or a mapping into its models (and checks every value)
    return backtest_stored(_strategy_class(strategy), exchange=exchange, symbols=_symbols(symbols), level=level,
                           start=start, end=end, params=params, engine=engine, store=get_store(store), cash=cash,
                           fee=fee, slippage=slippage, leverage=_levels(leverage),
                           maintenance_margin=maintenance_margin, liquidation_fee=liquidation_fee, risk=risk,
                           periods_per_year=periods_per_year)


def _symbols(symbols: str | Sequence[str]) -> list[str]:
    return [symbols] if isinstance(symbols, str) else list(symbols)


def _levels(leverage: float | Sequence[float]) -> float | tuple[float, ...]:
    return leverage if isinstance(leverage, (int, float)) else tuple(leverage)


def optimize(strategy: str | type[Strategy], *, exchange: str, symbols: str | Sequence[str], level: str,
             grid: Mapping[str, Any], start: TimeLike | None = None, end: TimeLike | None = None,
             method: str = "grid", n_iter: int | None = None, seed: int = 0,
             metric: str | Callable[[Mapping[str, Any]], float] = "sharpe", maximize: bool = True,
             constraint: Callable[[dict[str, Any]], bool] | None = None, n_jobs: int | None = 1,
             cash: float = 10_000.0, fee: float | tuple[float, float] | None = None,
             slippage: Slippage | float | None = None, leverage: float | Sequence[float] = 1.0,
             engine: str = "event", store: StoreLike = None) -> OptimizeResult:
    """Backtest every parameter set of ``grid`` (or ``n_iter`` random ones: ``method="random"``) on the stored
    bars and rank them by ``metric``, with the deflated Sharpe ratio of the winner and the sweep's PBO:
    :func:`zvt_crypto.trader.optimize.optimize` (see it for every argument). ``n_jobs``: worker processes
    (-1: every CPU).

    >>> import zvt_crypto as zc
    >>> sweep = zc.optimize("sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h",
    ...                     grid={"fast": [5, 10], "slow": [20, 40]}, fee=0.001)
    >>> len(sweep.trials), sorted(sweep.best_params)
    (4, ['fast', 'slow'])
    """
    from zvt_crypto.trader.optimize import optimize as run_optimize

    data = _market_data(exchange, symbols, level, start, end, store)
    return run_optimize(_strategy_class(strategy), data, grid, method=method, n_iter=n_iter, seed=seed,
                        metric=metric, maximize=maximize, constraint=constraint, n_jobs=n_jobs, cash=cash, fee=fee,
                        slippage=slippage, leverage=_leverage_arg(leverage), engine=engine, progress=False)


def walk_forward(strategy: str | type[Strategy], *, exchange: str, symbols: str | Sequence[str], level: str,
                 grid: Mapping[str, Any], train: int | str, test: int | str, step: int | str | None = None,
                 anchored: bool = False, start: TimeLike | None = None, end: TimeLike | None = None,
                 metric: str | Callable[[Mapping[str, Any]], float] = "sharpe", maximize: bool = True,
                 n_jobs: int | None = 1, cash: float = 10_000.0, fee: float | tuple[float, float] | None = None,
                 slippage: Slippage | float | None = None, leverage: float | Sequence[float] = 1.0,
                 engine: str = "event", store: StoreLike = None) -> WalkForwardResult:
    """Walk-forward analysis: optimise ``grid`` on each ``train`` window, trade the winner on the next ``test``
    window (bars, or durations such as ``"3d"``), stitch the out-of-sample runs:
    :func:`zvt_crypto.trader.walkforward.walk_forward` (see it for every argument).

    >>> import zvt_crypto as zc
    >>> wf = zc.walk_forward("sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h",
    ...                      grid={"fast": [5, 10], "slow": [20]}, train="2d", test="1d", fee=0.001)
    >>> len(wf.folds) > 0
    True
    """
    from zvt_crypto.trader.walkforward import walk_forward as run_walk_forward

    data = _market_data(exchange, symbols, level, start, end, store)
    return run_walk_forward(_strategy_class(strategy), data, grid, train=train, test=test, step=step,
                            anchored=anchored, metric=metric, maximize=maximize, n_jobs=n_jobs, cash=cash, fee=fee,
                            slippage=slippage, leverage=_leverage_arg(leverage), engine=engine, progress=False)


def _leverage_arg(leverage: float | Sequence[float]) -> float | list[float]:
    return float(leverage) if isinstance(leverage, (int, float)) else [float(x) for x in leverage]


def _market_data(exchange: str, symbols: str | Sequence[str], level: str, start: TimeLike | None,
                 end: TimeLike | None, store: StoreLike) -> MarketData:
    from zvt_crypto.trader.data import load_market_data

    return load_market_data(exchange=exchange, symbols=_symbols(symbols), level=level, start=start, end=end,
                            store=get_store(store))


def paper(name: str, strategy: str | type[Strategy], *, exchange: str, symbols: str | Sequence[str], level: str,
          params: Mapping[str, Any] | None = None, start: TimeLike | None = None, warmup: int = 500,
          cash: float = 10_000.0, fee: float | tuple[float, float] | None = None,
          slippage: Slippage | float | None = None, leverage: float | Sequence[float] = 1.0,
          risk: RiskLimits | Mapping[str, float] | None = None, until: TimeLike | None = None,
          store: StoreLike = None) -> StepReport:
    """Create paper account ``name`` (nothing changes if it exists with this definition) and step it: trade the
    bars stored since its last step, exactly as a backtest over them would — ``zvt-crypto paper create`` then
    ``paper step``, through :class:`zvt_crypto.trader.paper.PaperTrader`. Call it again after each recording.
    ``start``: the first bar it trades (default: the next bar recorded); ``until``: process bars up to then.
    Its trades and equity: ``zvt_crypto.trader.paper.account_trades(name)`` / ``account_equity(name)``.

    >>> import zvt_crypto as zc
    >>> report = zc.paper("doc-sma", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h",
    ...                   params={"fast": 5, "slow": 20}, start="2024-01-05", fee=0.001)
    >>> report.bars > 0
    True
    """
    from zvt_crypto.trader.paper import PaperTrader

    target = get_store(store)
    trader = PaperTrader(name, strategy, params, exchange=exchange, symbols=symbols, level=level, cash=cash,
                         fee=fee, slippage=slippage, leverage=leverage, risk=risk, start=start, warmup=warmup)
    account = trader.create(target)
    return account.step(target, until=until)
