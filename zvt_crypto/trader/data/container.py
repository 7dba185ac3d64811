"""The container: :class:`MarketData` (``T × N`` OHLCV arrays on one time grid, funding mapped onto bars, one
:class:`SymbolSpec` per symbol) and its small value types :class:`Funding` and :class:`DataSource`; built from
frames here (:meth:`MarketData.from_frame`, ``from_frames``, ``from_bars``), from the store by :mod:`.loader`.
Everything in it is plain numpy / dataclasses, so it pickles cheaply to worker processes (optimisation).
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
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import series_to_ms
from zvt_crypto.trader.data.frames import FIELDS, funding_frame, map_funding, normalise_ohlcv, pivot
from zvt_crypto.trader.metrics import Annualisation, infer_annualisation


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
        tables = [normalise_ohlcv(frame, symbol) for symbol, frame in frames.items()]
        columns = np.concatenate([np.full(len(table), k, np.int64) for k, table in enumerate(tables)])
        long = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
        return cls._assemble(columns, long, spec_list, level=level, exchange=exchange,
                             funding=funding_frame(funding, spec_list))

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
        data = cls._assemble(columns, table, list(specs), level=level, exchange=exchange,
                             funding=funding_frame(funding, specs))
        if source is not None:
            data.source = source
        return data

    @classmethod
    def _assemble(cls, col: np.ndarray, long: pd.DataFrame, specs: list[SymbolSpec], *, level: str | None,
                  exchange: str | None, funding: pd.DataFrame | None) -> MarketData:
        grid, arrays = pivot(col, long, specs)
        mapped = map_funding(funding, grid)
        return cls(grid, arrays["open"], arrays["high"], arrays["low"], arrays["close"], arrays["volume"],
                   specs=tuple(specs), level=level, exchange=exchange,
                   funding=Funding.empty() if mapped is None else Funding(*mapped))


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
