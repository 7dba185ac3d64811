"""A backtest on stored bars, as ``zvt-crypto backtest`` and ``zc.backtest`` run it — one code path for both: the
settings checked first, the bars loaded, the engine chosen (``"auto"``: the vectorised path whenever it can run
the backtest, else the event engine), then :func:`~zvt_crypto.trader.engine.run_backtest`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zvt_crypto.contract.errors import InvalidInputError

if TYPE_CHECKING:
    from zvt_crypto.contract.store import Store
    from zvt_crypto.contract.timeutil import TimeLike
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.results import BacktestResult
    from zvt_crypto.trader.settings import BacktestSettings
    from zvt_crypto.trader.strategy import Strategy

def choose_engine(engine: str, cls: type[Strategy], params: Mapping[str, Any] | None, data: MarketData,
                  settings: BacktestSettings) -> str:
    """``"auto"``: the vectorised path when it can run this backtest (same trades, faster), else the event engine;
    any other value as given."""
    if engine != "auto":
        return engine
    if not cls.vectorisable:
        return "event"
    from zvt_crypto.trader.broker import Broker
    from zvt_crypto.trader.vector import check_vectorisable

    try:
        check_vectorisable(cls(**dict(params or {})), data, Broker(data, settings=settings))
    except InvalidInputError:
        return "event"
    return "vectorised"


def backtest_stored(cls: type[Strategy], *, exchange: str, symbols: Sequence[str], level: str, store: Store,
                    start: TimeLike | None = None, end: TimeLike | None = None,
                    params: Mapping[str, Any] | None = None, engine: str = "auto", **settings: Any
                    ) -> BacktestResult:
    """Backtest ``cls`` on the stored bars of ``symbols``; ``settings``: :class:`BacktestSettings`' fields (cash,
    fee, slippage, leverage, maintenance_margin, liquidation_fee, risk, periods_per_year), checked before any
    data is read, as is every parameter."""
    from zvt_crypto.trader.data import load_market_data
    from zvt_crypto.trader.engine import run_backtest
    from zvt_crypto.trader.settings import BacktestSettings

    cls(**dict(params or {}))  # a bad parameter fails before any data is read
    checked = BacktestSettings(**settings, engine="event")
    data = load_market_data(exchange=exchange, symbols=list(symbols), level=level, start=start, end=end,
                            store=store)
    checked = checked.replace(engine=choose_engine(engine, cls, params, data, checked))
    return run_backtest(cls, data, params=params, settings=checked)
