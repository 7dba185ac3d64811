"""Prices for a backtest, preloaded once into numpy arrays: no SQL while the engine runs.

:class:`MarketData` holds ``T × N`` arrays (``open high low close volume``) on the union of the symbols' bar
times (NaN where a symbol has no bar: nothing fills there), the funding payments of perps mapped onto bars, and
one :class:`SymbolSpec` per symbol (amount step, minimums, maker/taker fees, contract size, spot or perp).
Everything in it is plain numpy / dataclasses, so it pickles cheaply to worker processes (optimisation).

Three ways to build one::

    data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h",
                            start="2024-01-01", end="2024-06-30")          # from the store: 3 queries in all
    data = MarketData.from_frame(df, symbol="GOOG")                       # one OHLCV frame (backtesting.py style)
    data = MarketData.from_bars(bars, specs=...)                          # a (entity_id, timestamp) frame

Funding: a payment stamped ``f`` is applied at the first bar whose open time is at or after ``f``, before that
bar's orders fill — a position closed at the open of the 08:00 bar pays the 08:00 funding, one opened there
does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id as make_entity_id
from zvt_crypto.contract.ids import entity_type_of_symbol
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import TimeLike, check_range, iso, series_to_ms, to_ms
from zvt_crypto.trader.metrics import Annualisation, infer_annualisation

FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class SymbolSpec:
    """Trading rules of one market. ``step`` is the amount precision (ccxt's ``precision.amount`` in tick-size
    mode, e.g. 0.00001); ``None`` means any size. Fees are fractions (0.001 = 0.1 %); ``None`` means unknown
    (:func:`~zvt_crypto.trader.fees.resolve_fees`: the engine then needs ``fee=``); ``fee_source`` says where known
    ones came from ("market", "ccxt binance default"). ``contract_size`` is base units per contract (linear
    perps)."""

    symbol: str
    entity_id: str = ""
    perp: bool = False
    contract_size: float = 1.0
    step: float | None = None
    min_amount: float | None = None
    min_cost: float | None = None
    maker_fee: float | None = None
    taker_fee: float | None = None
    linear: bool = True
    fee_source: str | None = None


@dataclass(frozen=True)
class Funding:
    """Funding payments mapped onto bars, sorted by bar: ``bar`` (row), ``column`` (symbol), ``rate`` and
    ``mark`` (the funding row's mark price, NaN when unknown: the bar's open is used) and ``time`` (epoch ms)."""

    bar: np.ndarray
    column: np.ndarray
    rate: np.ndarray
    mark: np.ndarray
    time: np.ndarray

    @classmethod
    def empty(cls) -> Funding:
        ints, floats = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return cls(ints, ints.copy(), floats, floats.copy(), ints.copy())

    def __len__(self) -> int:
        return len(self.bar)


@dataclass(frozen=True)
class DataSource:
    """Where a :class:`MarketData` came from (for factor-driven strategies and for re-running a stored run)."""

    store_url: str | None = None
    exchange: str | None = None
    level: str | None = None
    start: int | None = None
    end: int | None = None


@dataclass(eq=False)
class MarketData:
    """Bars of ``N`` symbols on one time grid of ``T`` bars (see the module docstring).

    >>> data = MarketData.from_frame(pd.DataFrame({"Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [1.0, 1.5],
    ...     "Close": [2.0, 2.5], "Volume": [10.0, 11.0]}, index=pd.date_range("2024-01-01", periods=2, freq="D")))
    >>> data.n_bars, data.symbols
    (2, ['ASSET'])
    """

    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    specs: tuple[SymbolSpec, ...]
    level: str | None = None
    exchange: str | None = None
    funding: Funding = field(default_factory=Funding.empty)
    source: DataSource = field(default_factory=DataSource)

    def __post_init__(self) -> None:
        self.timestamps = np.ascontiguousarray(self.timestamps, dtype=np.int64)
        shape = (len(self.timestamps), len(self.specs))
        for name in FIELDS:
            array = np.asarray(getattr(self, name), dtype=np.float64)
            if array.ndim == 1 and shape[1] == 1:
                array = array.reshape(-1, 1)
            if array.shape != shape:
                raise InvalidInputError(f"{name} has shape {array.shape}, expected {shape} (bars × symbols)")
            setattr(self, name, np.ascontiguousarray(array))
        if len(self.timestamps) > 1 and not (np.diff(self.timestamps) > 0).all():
            raise InvalidInputError("bar times must be strictly increasing")
        if len({spec.symbol for spec in self.specs}) != len(self.specs):
            raise InvalidInputError("symbols must be distinct")
        if self.level is not None:
            self.level = str(Level.parse(self.level))

    # -- shape and lookup ---------------------------------------------------------------------------------------
    @property
    def n_bars(self) -> int:
        return len(self.timestamps)

    @property
    def n_symbols(self) -> int:
        return len(self.specs)

    @property
    def symbols(self) -> list[str]:
        return [spec.symbol for spec in self.specs]

    @property
    def entity_ids(self) -> list[str]:
        return [spec.entity_id or spec.symbol for spec in self.specs]

    def column(self, symbol: str) -> int:
        """The column of ``symbol`` (its symbol or entity id)."""
        for k, spec in enumerate(self.specs):
            if symbol in (spec.symbol, spec.entity_id):
                return k
        raise InvalidInputError(f"unknown symbol {symbol!r}; this data has {', '.join(self.symbols)}")

    @cached_property
    def index(self) -> pd.DatetimeIndex:
        """Bar open times as a UTC ``DatetimeIndex``."""
        return pd.DatetimeIndex(self.timestamps.astype("datetime64[ms]"), name="timestamp").tz_localize("UTC")

    @cached_property
    def bar_ms(self) -> int:
        """The bar length: the level's, else the most common spacing."""
        if self.level is not None:
            return Level.parse(self.level).ms
        if self.n_bars < 2:
            return 86_400_000
        gaps, counts = np.unique(np.diff(self.timestamps), return_counts=True)
        return int(gaps[np.argmax(counts)])

    @cached_property
    def annualisation(self) -> Annualisation:
        """Bars per year and why (:func:`~zvt_crypto.trader.metrics.infer_annualisation`): 365 days for a 24/7
        market, 252 trading days for daily bars without weekends, the observed count for such intraday bars."""
        return infer_annualisation(self.timestamps, self.bar_ms)

    @property
    def periods_per_year(self) -> float:
        """Bars per year (:attr:`annualisation`)."""
        return self.annualisation.periods_per_year

    @cached_property
    def close_filled(self) -> np.ndarray:
        """Close prices carried forward over missing bars (NaN before a symbol's first bar): the mark price."""
        return _ffill(self.close)

    def bars(self, symbol: str | int = 0) -> pd.DataFrame:
        """One symbol's OHLCV as a DataFrame indexed by UTC ``timestamp`` (the input of the indicator library)."""
        k = symbol if isinstance(symbol, int) else self.column(symbol)
        return pd.DataFrame({name: getattr(self, name)[:, k] for name in FIELDS}, index=self.index)

    # -- fingerprint ---------------------------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """A hash of everything a backtest reads: symbols, specs, level, bar times, OHLCV and funding."""
        digest = hashlib.blake2b(digest_size=16)
        # the fee rates are read, not the label of where they came from (so fingerprints predating it still hold)
        specs = [tuple((k, v) for k, v in vars(spec).items() if k != "fee_source") for spec in self.specs]
        header = repr((self.exchange, self.level, specs))
        digest.update(header.encode())
        for array in (
            self.timestamps,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            *vars(self.funding).values(),
        ):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    # -- derived data -----------------------------------------------------------------------------------------------
    def window(self, start: int, stop: int) -> MarketData:
        """Bars ``start:stop`` (row positions) as a new ``MarketData`` (views, no copy): train/test windows."""
        if not 0 <= start < stop <= self.n_bars:
            raise InvalidInputError(f"window {start}:{stop} is outside 0:{self.n_bars}")
        keep = (self.funding.bar >= start) & (self.funding.bar < stop)
        funding = Funding(
            self.funding.bar[keep] - start,
            self.funding.column[keep],
            self.funding.rate[keep],
            self.funding.mark[keep],
            self.funding.time[keep],
        )
        arrays = {name: getattr(self, name)[start:stop] for name in FIELDS}
        source = replace(self.source, start=int(self.timestamps[start]), end=int(self.timestamps[stop - 1]))
        return MarketData(
            self.timestamps[start:stop],
            specs=self.specs,
            level=self.level,
            exchange=self.exchange,
            funding=funding,
            source=source,
            **arrays,
        )

    def with_specs(self, **changes: Any) -> MarketData:
        """The same bars with every spec changed, e.g. ``data.with_specs(step=1e-8, taker_fee=0.001)``."""
        specs = tuple(replace(spec, **changes) for spec in self.specs)
        arrays = {name: getattr(self, name) for name in FIELDS}
        return MarketData(
            self.timestamps,
            specs=specs,
            level=self.level,
            exchange=self.exchange,
            funding=self.funding,
            source=self.source,
            **arrays,
        )

    # -- constructors ------------------------------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        symbol: str = "ASSET",
        *,
        spec: SymbolSpec | None = None,
        level: str | None = None,
        exchange: str | None = None,
    ) -> MarketData:
        """One symbol's OHLCV frame: a DatetimeIndex (naive = UTC) or a ``timestamp`` column, and columns
        ``open high low close`` (any case; ``volume`` optional)."""
        return cls.from_frames(
            {symbol: frame}, specs=None if spec is None else {symbol: spec}, level=level, exchange=exchange
        )

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, pd.DataFrame],
        *,
        specs: Mapping[str, SymbolSpec] | None = None,
        level: str | None = None,
        exchange: str | None = None,
        funding: pd.DataFrame | None = None,
    ) -> MarketData:
        """Several symbols' OHLCV frames on the union of their times. ``funding``: rows ``symbol, timestamp,
        funding_rate[, mark_price]`` (perps)."""
        if not frames:
            raise InvalidInputError("no frames given")
        spec_list = [(specs or {}).get(symbol) or SymbolSpec(symbol, symbol, perp=":" in symbol) for symbol in frames]
        tables = [_normalise_ohlcv(frame, symbol) for symbol, frame in frames.items()]
        columns = np.concatenate([np.full(len(table), k, np.int64) for k, table in enumerate(tables)])
        long = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
        return _assemble(columns, long, spec_list, level=level, exchange=exchange,
                         funding=_funding_frame(funding, spec_list))

    @classmethod
    def from_bars(
        cls,
        bars: pd.DataFrame,
        *,
        specs: Sequence[SymbolSpec] | None = None,
        level: str | None = None,
        exchange: str | None = None,
        funding: pd.DataFrame | None = None,
        source: DataSource | None = None,
    ) -> MarketData:
        """A frame indexed ``(entity_id, timestamp)`` as ``Bar.query_data`` returns it. ``specs`` in the order of
        the symbols to use (default: every entity in the frame, in order of appearance)."""
        table = bars.reset_index()
        if "entity_id" not in table or "timestamp" not in table:
            raise InvalidInputError("bars need entity_id and timestamp (as index levels or columns)")
        codes, names = pd.factorize(table["entity_id"].astype(str))
        table = table.assign(timestamp=series_to_ms(table["timestamp"]))
        if specs is None:
            specs = [SymbolSpec(e, e, perp=e.startswith("perp_")) for e in names]
        lookup = {}
        for k, spec in enumerate(specs):
            lookup[spec.symbol] = k
            if spec.entity_id:
                lookup[spec.entity_id] = k
        unknown = [name for name in names if name not in lookup]
        if unknown:
            raise InvalidInputError(f"bars of {', '.join(unknown)} have no spec")
        columns = np.asarray([lookup[name] for name in names], dtype=np.int64)[codes]
        data = _assemble(columns, table, list(specs), level=level, exchange=exchange,
                         funding=_funding_frame(funding, specs))
        if source is not None:
            data.source = source
        return data


# ---------------------------------------------------------------------------------------------------------------
# loading from the store
# ---------------------------------------------------------------------------------------------------------------
def load_market_data(
    *,
    exchange: str,
    symbols: Sequence[str],
    level: Level | str,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    store: Any = None,
) -> MarketData:
    """Bars, funding and market specs of ``symbols`` on ``exchange`` at ``level`` between ``start`` and ``end``
    (inclusive, UTC), read in one query per table.

    An empty range, or a symbol without bars in it, is an :class:`InvalidInputError` that names the range and
    says what the store holds for those symbols.

    >>> data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h")  # doctest: +SKIP
    """
    from zvt_crypto.contract.store import get_store
    from zvt_crypto.domain import Bar, FundingRate

    store = get_store(store)
    level = Level.parse(level)
    symbols = list(dict.fromkeys(symbols))
    if not symbols:
        raise InvalidInputError("name at least one symbol")
    start_ms = None if start is None else to_ms(start)
    end_ms = None if end is None else to_ms(end)
    check_range(start_ms, end_ms)
    ids = [make_entity_id(exchange, symbol) for symbol in symbols]
    bars = Bar.query_data(
        entity_ids=ids, level=level, columns=list(FIELDS), start_timestamp=start_ms, end_timestamp=end_ms, store=store
    )
    present = set(bars.index.get_level_values("entity_id").unique().astype(str)) if len(bars) else set()
    missing = [symbol for symbol, entity in zip(symbols, ids, strict=True) if entity not in present]
    if missing:
        raise InvalidInputError(_empty_message(store, exchange, missing, ids, symbols, level, start_ms, end_ms))

    specs = market_specs(exchange, symbols, store=store)

    funding = None
    perp_ids = [entity for entity in ids if entity.startswith("perp_")]
    if perp_ids:
        last = None if end_ms is None else end_ms + level.ms
        funding = FundingRate.query_data(
            entity_ids=perp_ids,
            start_timestamp=start_ms,
            end_timestamp=last,
            columns=["funding_rate", "mark_price"],
            store=store,
        )
        funding = funding.reset_index()
    source = DataSource(
        store_url=store.url.render_as_string(hide_password=False),
        exchange=exchange,
        level=str(level),
        start=start_ms,
        end=end_ms,
    )
    return MarketData.from_bars(bars, specs=specs, level=str(level), exchange=exchange, funding=funding, source=source)


def market_specs(exchange: str, symbols: Sequence[str], *, store: Any = None) -> list[SymbolSpec]:
    """The trading rules of ``symbols`` on ``exchange`` from the stored markets (defaults for a market the store
    lacks). Fees the market has no data for (imported bars) are the venue's published defaults from ccxt's fee
    table (:func:`~zvt_crypto.trader.fees.venue_default_fees`), or unknown."""
    from zvt_crypto.contract.store import get_store
    from zvt_crypto.domain import CryptoPair, CryptoPerp
    from zvt_crypto.trader.fees import MARKET, venue_default_fees

    store = get_store(store)
    ids = [make_entity_id(exchange, symbol) for symbol in symbols]
    entities: dict[str, dict[str, Any]] = {}
    for schema in (CryptoPair, CryptoPerp):
        wanted = [e for e in ids if (e.startswith("perp_") if schema is CryptoPerp else e.startswith("pair_"))]
        if wanted:
            frame = schema.query_data(entity_ids=wanted, store=store)
            entities.update(frame.to_dict("index"))
    specs = []
    for symbol, entity in zip(symbols, ids, strict=True):
        row = entities.get(entity, {})
        perp = entity_type_of_symbol(symbol) == "perp"
        linear = bool(row.get("linear", True)) if perp else True
        if perp and not linear:
            raise InvalidInputError(f"{symbol} is an inverse perp; the engine supports spot pairs and linear perps")
        maker, taker, source = _num(row.get("maker_fee")), _num(row.get("taker_fee")), MARKET
        if taker is None:
            maker, taker, source = venue_default_fees(exchange, perp=perp) or (None, None, None)
        specs.append(
            SymbolSpec(
                symbol=symbol,
                entity_id=entity,
                perp=perp,
                contract_size=_num(row.get("contract_size"), 1.0),
                step=_num(row.get("precision_amount")),
                min_amount=_num(row.get("min_amount")),
                min_cost=_num(row.get("min_cost")),
                maker_fee=maker,
                taker_fee=taker,
                linear=linear,
                fee_source=source,
            )
        )
    return specs


def _empty_message(
    store: Any,
    exchange: str,
    missing: list[str],
    ids: list[str],
    symbols: list[str],
    level: Level,
    start_ms: int | None,
    end_ms: int | None,
) -> str:
    from sqlalchemy import func, select

    from zvt_crypto.contract.reader import in_values
    from zvt_crypto.domain import Bar

    table = Bar.__table__
    wanted = [entity for symbol, entity in zip(symbols, ids, strict=True) if symbol in missing]
    statement = (
        select(table.c.entity_id, table.c.level, func.min(table.c.timestamp), func.max(table.c.timestamp), func.count())
        .where(in_values(table.c.entity_id, wanted, store.dialect))
        .group_by(table.c.entity_id, table.c.level)
        .order_by(table.c.entity_id, table.c.level)
    )
    with store.begin() as connection:
        rows = connection.execute(statement).all()
    span = f"between {iso(start_ms) or 'the beginning'} and {iso(end_ms) or 'the end'}"
    stored = (
        "; ".join(
            f"{entity} {lvl}: {iso(to_ms(first))} … {iso(to_ms(last))} ({count} bars)"
            for entity, lvl, first, last, count in rows
        )
        or "no bars at any level"
    )
    return (
        f"no {level} bars of {', '.join(missing)} on {exchange} {span}; the store holds: {stored}. "
        f"Record or import them (zvt-crypto record bars --exchange {exchange} --symbol … --level {level}) "
        "or change --start/--end/--level"
    )


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------
def _num(value: Any, default: float | None = None) -> float | None:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if not np.isfinite(number) else number


def _normalise_ohlcv(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
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


def _funding_frame(funding: pd.DataFrame | None, specs: Sequence[SymbolSpec]) -> pd.DataFrame | None:
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


def _assemble(col: np.ndarray, long: pd.DataFrame, specs: list[SymbolSpec], *, level: str | None,
              exchange: str | None, funding: pd.DataFrame | None) -> MarketData:
    """Pivot long rows (column ``col`` of each row, ``timestamp`` in ms, OHLCV) onto the union time grid."""
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
    arrays = {}
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
    return MarketData(
        grid, specs=tuple(specs), level=level, exchange=exchange, funding=_map_funding(funding, grid), **arrays
    )


def _map_funding(funding: pd.DataFrame | None, grid: np.ndarray) -> Funding:
    if funding is None or len(funding) == 0:
        return Funding.empty()
    times = funding["timestamp"].to_numpy(dtype=np.int64)
    bar = np.searchsorted(grid, times, side="left")
    keep = (bar > 0) & (bar < len(grid))  # before the first bar nothing is held; after the last, nothing is run
    order = np.lexsort((funding["column"].to_numpy()[keep], bar[keep]))
    return Funding(
        bar[keep][order].astype(np.int64),
        funding["column"].to_numpy(dtype=np.int64)[keep][order],
        funding["funding_rate"].to_numpy(dtype=np.float64)[keep][order],
        funding["mark_price"].to_numpy(dtype=np.float64)[keep][order],
        times[keep][order],
    )


def _ffill(array: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column (vectorised)."""
    valid = ~np.isnan(array)
    if valid.all():
        return array
    rows = np.where(valid, np.arange(array.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    filled = np.take_along_axis(array, rows, axis=0)
    seen = np.maximum.accumulate(valid, axis=0)
    return np.where(seen, filled, np.nan)
