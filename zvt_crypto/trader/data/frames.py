"""Input frames → arrays on one time grid: the pure pandas / numpy step behind :class:`~.container.MarketData`'s
constructors (no store, no MarketData)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import iso, series_to_ms

if TYPE_CHECKING:
    from zvt_crypto.trader.data.container import SymbolSpec

FIELDS = ("open", "high", "low", "close", "volume")


def normalise_ohlcv(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """One symbol's OHLCV frame (any column case; a DatetimeIndex or a ``timestamp`` column) as float columns
    and a ``timestamp`` in ms; ``volume`` NaN when absent."""
    lower = {str(column).lower(): column for column in frame.columns}
    missing = [name for name in ("open", "high", "low", "close") if name not in lower]
    if missing:
        raise InvalidInputError(
            f"{symbol}: the frame has no column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}"
        )
    if "timestamp" in lower:
        times = frame[lower["timestamp"]]
    elif isinstance(frame.index, pd.DatetimeIndex):
        times = frame.index
    else:
        raise InvalidInputError(f"{symbol}: bars need a DatetimeIndex or a timestamp column")
    table = pd.DataFrame(
        {name: np.asarray(frame[lower[name]], dtype=np.float64) for name in ("open", "high", "low", "close")}
    )
    table["volume"] = np.asarray(frame[lower["volume"]], dtype=np.float64) if "volume" in lower else np.nan
    table["timestamp"] = series_to_ms(times)
    return table


def funding_frame(funding: pd.DataFrame | None, specs: Sequence[SymbolSpec]) -> pd.DataFrame | None:
    """Funding rows keyed by ``entity_id`` or ``symbol`` with the ``column`` of their symbol in ``specs`` (rows of
    other symbols dropped), ``timestamp`` in ms and a ``mark_price`` (NaN when absent); None when empty."""
    if funding is None or len(funding) == 0:
        return None
    table = funding.reset_index() if "timestamp" not in funding.columns else funding.copy()
    key = "entity_id" if "entity_id" in table else "symbol"
    if key not in table:
        raise InvalidInputError("funding rows need an entity_id or symbol column")
    lookup = {}
    for k, spec in enumerate(specs):
        lookup[spec.symbol] = k
        if spec.entity_id:
            lookup[spec.entity_id] = k
    table["column"] = table[key].astype(str).map(lookup)
    table = table[table["column"].notna()]
    table["timestamp"] = series_to_ms(table["timestamp"])
    if "mark_price" not in table:
        table["mark_price"] = np.nan
    return table


def pivot(col: np.ndarray, long: pd.DataFrame, specs: Sequence[SymbolSpec]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Pivot long rows (column ``col`` of each row, ``timestamp`` in ms, OHLCV) onto the union time grid: the grid
    and one ``T × N`` array per field. Duplicate bars and inconsistent OHLC are refused."""
    times = long["timestamp"].to_numpy(dtype=np.int64)
    if len(times) == 0:
        raise InvalidInputError("no bars")
    if len(specs) == 1 and (np.diff(times) > 0).all():  # the common case: one symbol, in order
        grid, row = times, np.arange(len(times))
    else:
        ordered = np.sort(times)
        grid = ordered[np.r_[True, ordered[1:] != ordered[:-1]]]
        row = np.searchsorted(grid, times)
        keys = np.sort(row * len(specs) + col)
        if (keys[1:] == keys[:-1]).any():
            raise InvalidInputError("duplicate bars: one symbol has two bars with the same time")
    arrays: dict[str, np.ndarray] = {}
    for name in FIELDS:
        array = np.full((len(grid), len(specs)), np.nan)
        array[row, col] = long[name].to_numpy(dtype=np.float64)
        arrays[name] = array
    bad = ~np.isnan(arrays["open"]) & (
        (arrays["high"] < np.fmax(arrays["open"], arrays["close"]))
        | (arrays["low"] > np.fmin(arrays["open"], arrays["close"]))
    )
    if bad.any():
        r, k = np.argwhere(bad)[0]
        raise InvalidInputError(
            f"inconsistent OHLC for {specs[k].symbol} at {iso(int(grid[r]))}: high below or low "
            f"above open/close ({int(bad.sum())} bars)"
        )
    return grid, arrays


def map_funding(funding: pd.DataFrame | None, grid: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """Funding rows onto bars: ``(bar, column, rate, mark, time)`` sorted by bar (the fields of
    :class:`~.container.Funding`), None when there are none. A payment is applied at the first bar opening at or
    after it."""
    if funding is None or len(funding) == 0:
        return None
    times = funding["timestamp"].to_numpy(dtype=np.int64)
    bar = np.searchsorted(grid, times, side="left")
    keep = (bar > 0) & (bar < len(grid))  # before the first bar nothing is held; after the last, nothing is run
    order = np.lexsort((funding["column"].to_numpy()[keep], bar[keep]))
    return (
        bar[keep][order].astype(np.int64),
        funding["column"].to_numpy(dtype=np.int64)[keep][order],
        funding["funding_rate"].to_numpy(dtype=np.float64)[keep][order],
        funding["mark_price"].to_numpy(dtype=np.float64)[keep][order],
        times[keep][order],
    )
