"""What a backtest returns: metrics, the equity / drawdown / exposure series, trades, orders and positions.

The series are built after the run from the fills and funding payments (cash and positions change only there),
vectorised: ``positions = cumsum(fills)``, ``cash = initial + cumsum(cash changes)``, ``equity = cash + Σ
positions · contract_size · close`` at every bar's close (a symbol without a bar is marked at its last close).

>>> result = run_backtest("sma_cross", data, params={"fast": 10, "slow": 30})   # doctest: +SKIP
>>> result.metrics["sharpe"], result.trades.head(), result.equity["drawdown"].min()  # doctest: +SKIP
>>> result.stats["sharpe"], result.plot()                                        # doctest: +SKIP
>>> result.to_json("run.json"); result.report("run.html"); result.save()        # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import iso, iso_texts
from zvt_crypto.trader.metrics import Annualisation, compute_metrics, metrics_frame, to_jsonable
from zvt_crypto.trader.params import describe_params

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from zvt_crypto.contract.store import StoreLike
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.orders import ClosedTrade, Order

TRADE_FIELDS = ("symbol", "entity_id", "side", "size", "entry_time", "exit_time", "entry_price", "exit_price",
                "pnl", "fees", "funding", "return", "entry_bar", "exit_bar", "exit_reason")
#: what an engine records per closed trade (the fields of ``ClosedTrade``), as columns
TRADE_COLUMNS = ("column", "side", "size", "entry_bar", "exit_bar", "entry_price", "exit_price", "pnl", "fees",
                 "funding", "exit_reason")
JSON_TRADE_FIELDS = ("symbol", "side", "size", "entry_time", "exit_time", "entry_price", "exit_price", "pnl", "fees",
                     "funding", "return", "exit_reason")


@dataclass(eq=False)
class BacktestResult:
    """One run. ``metrics`` (see :mod:`.metrics` for the formulas), ``equity`` (indexed by bar time: ``equity``,
    ``cash``, ``drawdown``, ``exposure``), ``trades`` (closed trades; ``open_trades`` holds positions still open at
    the end, marked at the last close), ``orders`` (every order, rejected ones with their reason), ``positions``
    (size per symbol at every bar's close)."""

    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    exchange: str | None
    level: str | None
    settings: dict[str, Any]
    equity: pd.DataFrame
    trades: pd.DataFrame
    open_trades: pd.DataFrame
    positions: pd.DataFrame
    version: str
    engine: str
    seconds: float
    run_id: str | None = None
    data: MarketData | None = field(default=None, repr=False)
    order_list: Sequence[Order] = field(default_factory=list, repr=False)
    _fingerprint: str | None = field(default=None, repr=False)
    _orders: pd.DataFrame | None = field(default=None, repr=False)
    _metrics: dict[str, Any] | None = field(default=None, repr=False)
    _metric_inputs: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics of :func:`~zvt_crypto.trader.metrics.compute_metrics` (computed on first use)."""
        if self._metrics is None:
            inputs = self.metric_inputs
            self._metrics = compute_metrics(inputs.pop("equity"), self.trades, **inputs)
        return self._metrics

    @property
    def metric_inputs(self) -> dict[str, Any]:
        """A copy of what :attr:`metrics` is computed from besides the trades: ``equity`` and the run's totals
        (``traded_notional``, ``fees_paid``, ``funding_paid``, ``funding_received``, ``benchmark`` …), for the
        metrics of a part of the run; empty for a result read back from storage."""
        return dict(self._metric_inputs or {})

    @property
    def orders(self) -> pd.DataFrame:
        """Every order with its outcome (built on first use)."""
        if self._orders is None:
            self._orders = orders_frame(self.data, self.order_list) if self.data is not None else orders_frame(
                None, [])
        return self._orders

    @property
    def market_data(self) -> MarketData:
        """The bars the run traded; a result read back from storage keeps none (re-run it for them)."""
        if self.data is None:
            raise InvalidInputError(f"run {self.run_id} was read back from storage and holds no market data: "
                                    f"re-run it (zvt-crypto runs rerun {self.run_id})")
        return self.data

    @property
    def fingerprint(self) -> str:
        """The data fingerprint (:attr:`MarketData.fingerprint`, hashed on first use)."""
        if self._fingerprint is None:
            self._fingerprint = self.data.fingerprint if self.data is not None else ""
        return self._fingerprint

    @property
    def start(self) -> pd.Timestamp:
        return self.equity.index[0]

    @property
    def end(self) -> pd.Timestamp:
        return self.equity.index[-1]

    @property
    def final_equity(self) -> float:
        return float(self.equity["equity"].iloc[-1])

    def summary(self) -> pd.DataFrame:
        """The metrics as a display table."""
        return metrics_frame(self.metrics)

    def __repr__(self) -> str:
        m = self.metrics
        return (f"<BacktestResult {self.strategy} {self.params} on {', '.join(self.symbols)}: "
                f"return {m['total_return']:.2%}, sharpe {m['sharpe']:.3g}, max drawdown {m['max_drawdown']:.2%}, "
                f"{m['n_trades']} trades, final equity {m['final_equity']:.2f}>")

    @property
    def stats(self) -> pd.Series:
        """The metrics as a Series with readable names (``"total return"``, ``"sharpe"``, ``"max drawdown"`` …;
        fractions as fractions)."""
        return pd.Series({key.replace("_", " "): value for key, value in self.metrics.items()}, name=self.strategy,
                         dtype=object)

    def plot(self) -> go.Figure:
        """A plotly figure (shown inline in Jupyter): equity against buy-and-hold, drawdown in %, and the price of
        every symbol with the trades' entries and exits. ``result.plot().write_html("run.html")`` saves it."""
        from zvt_crypto.trader.report import backtest_figure

        return backtest_figure(self)

    def save(self, store: StoreLike = None, *, note: str | None = None) -> str:
        """Store the run (its trades and equity curve) so ``zvt-crypto runs`` and the dashboard show it; returns
        the run id (also set as :attr:`run_id`)."""
        from zvt_crypto.trader.storage import save_run

        return save_run(self, store, note=note)

    def _repr_html_(self) -> str:
        """Jupyter's view: the run and its key metrics as a table."""
        from html import escape

        keys = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "n_trades", "win_rate", "final_equity")
        table = metrics_frame({key: self.metrics[key] for key in keys if key in self.metrics})
        rows = "".join(f"<tr><th>{escape(str(key).replace('_', ' '))}</th><td>{escape(str(row['display']))}</td>"
                       f"</tr>" for key, row in table.iterrows())
        title = escape(f"{self.strategy} {describe_params(self.params)} on {', '.join(self.symbols)} "
                       f"{self.level or ''}, {iso(self.start)} → {iso(self.end)}")
        return f"<div><b>{title}</b><table>{rows}</table></div>"

    # -- export ----------------------------------------------------------------------------------------------------
    def to_dict(self, *, equity: bool = True) -> dict[str, Any]:
        """JSON-ready: run info, ``metrics``, ``trades`` (each with ``entry_time``, ``exit_time``, ``side``, ``size``,
        ``entry_price``, ``exit_price``, ``pnl``, ``fees`` …) and ``equity`` (``timestamp``, ``equity``)."""
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "strategy": self.strategy,
            "params": describe_params(self.params),
            "exchange": self.exchange,
            "symbols": self.symbols,
            "level": self.level,
            "start": iso(self.start),
            "end": iso(self.end),
            "settings": self.settings,
            "engine": self.engine,
            "data_fingerprint": self.fingerprint,
            "version": self.version,
            "seconds": round(self.seconds, 6),
            "metrics": to_jsonable(self.metrics),
            "trades": _records(self.trades, JSON_TRADE_FIELDS),
            "open_trades": _records(self.open_trades, JSON_TRADE_FIELDS),
        }
        if equity:
            stamps = iso_texts(self.equity.index)
            out["equity"] = [{"timestamp": t, "equity": _num(v)}
                             for t, v in zip(stamps, self.equity["equity"].to_numpy(), strict=True)]
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        """The JSON of :meth:`to_dict`, written to ``path`` when given (the equity curve formatted vectorised:
        :mod:`.export`)."""
        data = self._json_bytes()
        if path is not None:
            from zvt_crypto.trader.export import write_bytes

            write_bytes(path, data)
        return data.decode()

    def to_parquet(self, path: str | Path) -> Path:
        """The equity curve (``timestamp``, ``equity``, ``cash``, ``drawdown``, ``exposure``) as a Parquet file whose
        metadata key ``zvt_crypto`` holds the rest of :meth:`to_dict` as JSON (run info, metrics, trades):
        ``json.loads(pyarrow.parquet.read_schema(path).metadata[b"zvt_crypto"])``."""
        from zvt_crypto.trader.export import write_bytes

        return write_bytes(path, self._parquet_bytes())

    def file_bytes(self, path: str | Path) -> bytes:
        """What :meth:`to_parquet` (``path`` ending in ``.parquet``) or :meth:`to_json` (else) writes to ``path``."""
        return self._parquet_bytes() if Path(path).suffix.lower() == ".parquet" else self._json_bytes()

    def _json_bytes(self) -> bytes:
        from zvt_crypto.trader.export import document_json, equity_records_parts

        stamps = pd.DatetimeIndex(self.equity.index).as_unit("ms").asi8
        return document_json(self.to_dict(equity=False),
                             {"equity": equity_records_parts(stamps, self.equity["equity"].to_numpy(dtype=float))})

    def _parquet_bytes(self) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from zvt_crypto.trader.export import dumps

        table = pa.Table.from_pandas(self.equity.reset_index(), preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"zvt_crypto": dumps(self.to_dict(equity=False))})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return bytes(sink.getvalue())

    def report(self, path: str | Path) -> Path:
        """A self-contained plotly HTML report (equity, drawdown, price with trade markers); see :mod:`.report`."""
        from zvt_crypto.trader.report import write_report

        return write_report(self, path)


# ---------------------------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------------------------
def build_series(data: MarketData, initial_cash: float, ev_bar: Sequence[int], ev_col: Sequence[int],
                 ev_size: Sequence[float], ev_cash: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cash (T), positions (T × N) and equity (T) at every bar's close from fill / funding events."""
    t, n = data.n_bars, data.n_symbols
    bars = np.asarray(ev_bar, dtype=np.int64)
    cash = initial_cash + np.cumsum(np.bincount(bars, weights=np.asarray(ev_cash, dtype=np.float64), minlength=t))
    moves: np.ndarray
    if n == 1:
        moves = np.bincount(bars, weights=np.asarray(ev_size, dtype=np.float64), minlength=t).reshape(-1, 1)
    else:
        moves = np.zeros((t, n))
        np.add.at(moves, (bars, np.asarray(ev_col, dtype=np.int64)), np.asarray(ev_size, dtype=np.float64))
    positions = np.cumsum(moves, axis=0)
    value = positions * np.asarray([spec.contract_size for spec in data.specs]) * data.close_filled
    value[positions == 0] = 0.0
    return cash, positions, cash + value.sum(axis=1)


def make_result(*, data: MarketData, strategy: str, params: dict[str, Any], settings: dict[str, Any],
                initial_cash: float, events: tuple[Sequence[int], Sequence[int], Sequence[float], Sequence[float]],
                closed: Sequence[ClosedTrade] | Mapping[str, Sequence[Any]],
                open_positions: Sequence[tuple[int, Any, float]], orders: Sequence[Order], totals: dict[str, float],
                engine: str, seconds: float, annualisation: Annualisation | None = None) -> BacktestResult:
    """Assemble a :class:`BacktestResult` from what an engine recorded (``annualisation``: default the data's)."""
    from zvt_crypto import __version__

    cash, positions, equity = build_series(data, initial_cash, *events)
    annual = annualisation or data.annualisation
    index = data.index
    cs = np.asarray([spec.contract_size for spec in data.specs])
    gross = np.abs(positions * cs * data.close_filled)
    gross[positions == 0] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(equity > 0, gross.sum(axis=1) / equity, np.nan)
    equity_series = pd.Series(equity, index=index, name="equity")
    equity_frame = pd.DataFrame(np.column_stack([equity, cash, _drawdown(equity), exposure]), index=index,
                                columns=["equity", "cash", "drawdown", "exposure"])
    trades = trades_frame(data, closed)
    open_trades = _open_trades_frame(data, open_positions)
    inputs = {"equity": equity_series, "exposure": np.nan_to_num(exposure, nan=0.0),
              "periods_per_year": annual.periods_per_year, "annualisation": annual.basis,
              "benchmark": buy_and_hold(data, initial_cash), **totals}
    return BacktestResult(
        strategy=strategy, params=dict(params), symbols=data.symbols, exchange=data.exchange, level=data.level,
        settings=settings, equity=equity_frame, trades=trades, open_trades=open_trades,
        positions=pd.DataFrame(positions, index=index, columns=data.symbols),
        version=__version__, engine=engine, seconds=seconds, data=data, order_list=orders, _metric_inputs=inputs)


def _drawdown(equity: np.ndarray) -> np.ndarray:
    """equity / running peak − 1 (≤ 0), 0 from the first bar ≤ 0 on treated as a total loss (−1)."""
    values = equity.copy()
    ruined = np.flatnonzero(values <= 0)
    if len(ruined):
        values[ruined[0]:] = 0.0
    peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(np.where(peak > 0, values / peak - 1.0, 0.0), 0.0)


def buy_and_hold(data: MarketData, cash: float) -> np.ndarray:
    """Equity of an equal-weight buy-and-hold of every symbol from its first bar (no fees): the benchmark."""
    close = data.close_filled
    first = np.argmax(~np.isnan(close), axis=0)
    start = close[first, np.arange(data.n_symbols)]
    relative = np.where(np.isnan(close), 1.0, close / start)
    return cash * relative.mean(axis=1)


def trade_columns(closed: Sequence[ClosedTrade] | Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    """Closed trades as arrays (from ``ClosedTrade`` objects or from columns already)."""
    if isinstance(closed, Mapping):
        return {name: np.asarray(closed[name], dtype=object if name == "exit_reason" else None)
                for name in TRADE_COLUMNS}
    count = len(closed)
    out = {name: np.fromiter((getattr(t, name) for t in closed), np.int64 if name in ("column", "side", "entry_bar",
                                                                                      "exit_bar") else np.float64,
                             count)
           for name in TRADE_COLUMNS if name != "exit_reason"}
    out["exit_reason"] = np.asarray([t.exit_reason for t in closed], dtype=object)
    return out


def trades_frame(data: MarketData, closed: Sequence[ClosedTrade] | Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    if len(closed) == 0 or (isinstance(closed, Mapping) and len(closed["side"]) == 0):
        return empty_trades()
    t = trade_columns(closed)
    column = t["column"].astype(np.int64)
    cs = np.asarray([spec.contract_size for spec in data.specs])[column]
    frame = pd.DataFrame({
        "symbol": np.asarray(data.symbols, dtype=object)[column],
        "entity_id": np.asarray(data.entity_ids, dtype=object)[column],
        "side": np.where(t["side"] > 0, "long", "short").astype(object),
        "size": t["size"].astype(np.float64),
        "entry_time": data.index[t["entry_bar"]],
        "exit_time": data.index[t["exit_bar"]],
        "entry_price": t["entry_price"].astype(np.float64),
        "exit_price": t["exit_price"].astype(np.float64),
        "pnl": t["pnl"].astype(np.float64),
        "fees": t["fees"].astype(np.float64),
        "funding": t["funding"].astype(np.float64),
        "return": t["pnl"] / (t["size"] * t["entry_price"] * cs),
        "entry_bar": t["entry_bar"].astype(np.int64),
        "exit_bar": t["exit_bar"].astype(np.int64),
        "exit_reason": t["exit_reason"],
    })
    if len(frame) > 1 and (np.diff(frame["exit_bar"].to_numpy()) < 0).any():
        frame = frame.sort_values(["exit_bar", "entry_bar"], kind="stable").reset_index(drop=True)
    return frame


def empty_trades() -> pd.DataFrame:
    """A trades frame with no rows and the columns (and dtypes) of :data:`TRADE_FIELDS`."""
    frame = pd.DataFrame({name: pd.Series(dtype="float64") for name in TRADE_FIELDS})
    for name in ("symbol", "entity_id", "side", "exit_reason"):
        frame[name] = frame[name].astype(object)
    for name in ("entry_time", "exit_time"):
        frame[name] = pd.Series(dtype="datetime64[ns, UTC]")
    for name in ("entry_bar", "exit_bar"):
        frame[name] = frame[name].astype(np.int64)
    return frame


def _open_trades_frame(data: MarketData, open_positions: Sequence[tuple[int, Any, float]]) -> pd.DataFrame:
    """Open positions at the end, marked at the last close: ``(column, OpenTrade, size)``."""
    if not open_positions:
        return empty_trades()
    last = data.n_bars - 1
    rows = []
    for column, trade, _size in open_positions:
        cs = data.specs[column].contract_size
        mark = float(data.close_filled[last, column])
        gross = (mark - trade.entry_price) * trade.size * cs * trade.side
        pnl = gross - trade.fees - trade.funding
        rows.append({
            "symbol": data.symbols[column], "entity_id": data.entity_ids[column],
            "side": "long" if trade.side > 0 else "short", "size": trade.size,
            "entry_time": data.index[trade.entry_bar], "exit_time": pd.NaT, "entry_price": trade.entry_price,
            "exit_price": mark, "pnl": pnl, "fees": trade.fees, "funding": trade.funding,
            "return": pnl / (trade.size * trade.entry_price * cs), "entry_bar": trade.entry_bar, "exit_bar": last,
            "exit_reason": "open"})
    return pd.DataFrame(rows, columns=list(TRADE_FIELDS))


ORDER_FIELDS = ("id", "symbol", "side", "type", "size", "value", "fraction", "weight", "limit", "stop", "sl", "tp",
                "trail", "created_time", "fill_time", "filled_size", "fill_price", "fees", "status", "reason", "note",
                "tag")


def orders_frame(data: MarketData | None, orders: Sequence[Order]) -> pd.DataFrame:
    """Every order with its outcome: filled size and average price, fees, status and the reason."""
    if data is None or not orders:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in ORDER_FIELDS})
    filled, price, fees, created, fill_bar, sides = [], [], [], [], [], []
    for order in orders:
        size = traded = notional = fee = 0.0
        for fill in order.fills:
            size += fill[1]
            traded += abs(fill[1])
            notional += abs(fill[1]) * fill[2]
            fee += fill[3]
        filled.append(size)
        price.append(notional / traded if traded else math.nan)
        fees.append(fee)
        created.append(order.created_bar)
        fill_bar.append(order.fills[-1][0] if order.fills else -1)
        side = order.side or (1 if size > 0 else -1 if size < 0 else 0)
        sides.append({1: "buy", -1: "sell"}.get(side, ""))
    index = data.index
    created_at = np.asarray(created)
    filled_at = np.asarray(fill_bar)
    frame = pd.DataFrame({
        "id": [order.id for order in orders],
        "symbol": np.asarray(data.symbols, dtype=object)[[order.column for order in orders]],
        "side": sides,
        "type": ["stop_limit" if order.triggered else order.type for order in orders],
        **{name: [getattr(order, name) for order in orders]
           for name in ("size", "value", "fraction", "weight", "limit", "stop", "sl", "tp", "trail")},
        "created_time": index[np.maximum(created_at, 0)].where(created_at >= 0),
        "fill_time": index[np.maximum(filled_at, 0)].where(filled_at >= 0),
        "filled_size": filled, "fill_price": price, "fees": fees,
        "status": [order.status for order in orders], "reason": [order.reason for order in orders],
        "note": [order.note for order in orders], "tag": [order.tag for order in orders],
    })
    return frame[list(ORDER_FIELDS)]


def _num(value: Any) -> Any:
    number = float(value)
    return number if math.isfinite(number) else None


def _records(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict[str, Any]]:
    """JSON-ready records of ``frame``'s ``fields``, built a column at a time: times as ISO text, non-finite floats
    and missing times as ``None``, numpy integers as ints."""
    columns = []
    for name in fields:
        column = frame[name]
        if name in ("entry_time", "exit_time"):
            stamps = pd.to_datetime(column, utc=True)
            columns.append(iso_texts(stamps).astype(object).where(stamps.notna(), None).tolist())
        elif pd.api.types.is_float_dtype(column.dtype):
            values = column.to_numpy(dtype=float)
            listed = values.tolist()
            for k in np.flatnonzero(~np.isfinite(values)).tolist():
                listed[k] = None
            columns.append(listed)
        else:
            columns.append([int(v) if isinstance(v, np.integer) else _num(v) if isinstance(v, np.floating) else v
                            for v in column.tolist()])
    return [dict(zip(fields, row, strict=True)) for row in zip(*columns, strict=True)]
