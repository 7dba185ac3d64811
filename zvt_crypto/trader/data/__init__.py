"""Prices for a backtest, preloaded once into numpy arrays: no SQL while the engine runs.

:class:`MarketData` holds ``T × N`` arrays (``open high low close volume``) on the union of the symbols' bar
times (NaN where a symbol has no bar: nothing fills there), the funding payments of perps mapped onto bars, and
one :class:`SymbolSpec` per symbol (amount step, minimums, maker/taker fees, contract size, spot or perp).
Everything in it is plain numpy / dataclasses, so it pickles cheaply to worker processes (optimisation).

Modules: :mod:`.container` (MarketData and its value types), :mod:`.frames` (input frames → arrays on the time
grid), :mod:`.loader` (the store → MarketData).

Three ways to build one::

    data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h",
                            start="2024-01-01", end="2024-06-30")          # from the store: 3 queries in all
    data = MarketData.from_frame(df, symbol="GOOG")                       # one OHLCV frame (backtesting.py style)
    data = MarketData.from_bars(bars, specs=...)                          # a (entity_id, timestamp) frame

Funding: a payment stamped ``f`` is applied at the first bar whose open time is at or after ``f``, before that
bar's orders fill — a position closed at the open of the 08:00 bar pays the 08:00 funding, one opened there
does not.
"""

from zvt_crypto.trader.data.container import DataSource, Funding, MarketData, SymbolSpec
from zvt_crypto.trader.data.frames import FIELDS
from zvt_crypto.trader.data.loader import load_market_data, market_specs

__all__ = ["FIELDS", "DataSource", "Funding", "MarketData", "SymbolSpec", "load_market_data", "market_specs"]
