"""Stored runs: every backtest can be kept under a run id with its inputs, the fingerprint of the data it read and the
package version, so it can be listed, compared and re-run.

>>> run_id = save_run(result)                       # doctest: +SKIP
>>> list_runs().head()                              # doctest: +SKIP
>>> compare_runs([run_id, other_id])                # doctest: +SKIP
>>> again, same_data = rerun(run_id)                # the same fingerprint and metrics when the data is unchanged
...                                                 # doctest: +SKIP
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store, StoreLike, get_store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.domain.trading import BacktestEquity, BacktestRun, BacktestTrade
from zvt_crypto.trader.metrics import to_jsonable
from zvt_crypto.trader.params import describe_params
from zvt_crypto.trader.results import BacktestResult, empty_trades
from zvt_crypto.trader.settings import RECORDED_KEYS, BacktestSettings

#: the metrics ``list_runs`` and ``compare_runs`` show first
SUMMARY_METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "n_trades", "win_rate",
                   "profit_factor", "exposure", "fees_paid", "final_equity")


def new_run_id() -> str:
    """A readable, time-ordered id: ``20240601T120000-3fa9c1``."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def save_run(result: BacktestResult, store: StoreLike = None, *, note: str | None = None,
             equity: bool = True) -> str:
    """Store ``result`` (run row, trades, equity curve) and return its run id (also set on ``result``)."""
    store = get_store(store)
    run_id = result.run_id or new_run_id()
    trades = pd.concat([result.trades.assign(is_open=False), result.open_trades.assign(is_open=True)],
                       ignore_index=True) if len(result.open_trades) else result.trades.assign(is_open=False)
    if len(trades):
        table = pd.DataFrame({
            "run_id": run_id, "trade_no": np.arange(1, len(trades) + 1), "symbol": trades["symbol"].astype(str),
            "entity_id": trades["entity_id"].astype(str), "side": trades["side"].astype(str),
            "size": trades["size"], "entry_timestamp": trades["entry_time"], "exit_timestamp": trades["exit_time"],
            "entry_price": trades["entry_price"], "exit_price": trades["exit_price"], "pnl": trades["pnl"],
            "fees": trades["fees"], "funding": trades["funding"],
            "trade_return": trades["return"].replace([np.inf, -np.inf], np.nan),
            "exit_reason": trades["exit_reason"].astype(str), "is_open": trades["is_open"].astype(bool)})
        store.write(BacktestTrade, table)
    if equity:
        curve = result.equity
        store.write(BacktestEquity, pd.DataFrame({
            "run_id": run_id, "timestamp": curve.index.as_unit("ms").asi8, "equity": curve["equity"].to_numpy(),
            "cash": curve["cash"].to_numpy(), "drawdown": curve["drawdown"].to_numpy(),
            "exposure": curve["exposure"].to_numpy()}))
    # the run's settings through the one settings object (checked, every key present), in the stored shape: cash,
    # fee, slippage and engine as columns, the rest and the fee rates it charged in ``settings``
    settings = BacktestSettings.from_dict(result.settings).to_dict()
    settings.update({key: result.settings[key] for key in RECORDED_KEYS if key in result.settings})
    row = {
        "run_id": run_id, "created_timestamp": int(time.time() * 1000), "strategy": result.strategy,
        "params": describe_params(result.params), "exchange": result.exchange, "symbols": list(result.symbols),
        "level": result.level, "start_timestamp": to_ms(result.start), "end_timestamp": to_ms(result.end),
        "n_bars": len(result.equity), "cash": float(settings.pop("cash")), "fee": settings.pop("fee"),
        "slippage": settings.pop("slippage"), "engine": settings.pop("engine", result.engine), "settings": settings,
        "data_fingerprint": result.fingerprint, "version": result.version, "metrics": to_jsonable(result.metrics),
        "seconds": float(result.seconds), "status": "done", "note": note}
    store.write(BacktestRun, pd.DataFrame([row]))
    result.run_id = run_id
    return run_id


def _run_row(run_id: str, store: Store) -> dict[str, Any]:
    rows = BacktestRun.query_data(filters=[BacktestRun.run_id == run_id], index=None, store=store,
                                  return_type="dicts")
    if not rows:
        recent = BacktestRun.query_data(columns=["run_id"], order="-created_timestamp", limit=5, index=None,
                                        store=store)
        hint = ", ".join(recent["run_id"]) or "none stored yet"
        raise InvalidInputError(f"no backtest run {run_id!r}; the latest are: {hint} (zvt-crypto runs list)")
    return rows[0]


def list_runs(store: StoreLike = None, *, strategy: str | None = None, limit: int = 50) -> pd.DataFrame:
    """The latest runs, newest first: id, when, strategy, parameters, data, and the summary metrics."""
    store = get_store(store)
    filters = [BacktestRun.strategy == strategy] if strategy else None
    runs = BacktestRun.query_data(filters=filters, order="-created_timestamp", limit=limit, index=None, store=store)
    columns = ["run_id", "created", "strategy", "params", "exchange", "symbols", "level", "start", "end", "engine"]
    if runs.empty:
        return pd.DataFrame(columns=[*columns, *SUMMARY_METRICS])
    table = pd.DataFrame({
        "run_id": runs["run_id"], "created": runs["created_timestamp"], "strategy": runs["strategy"],
        "params": runs["params"], "exchange": runs["exchange"],
        "symbols": [", ".join(symbols) for symbols in runs["symbols"]], "level": runs["level"],
        "start": runs["start_timestamp"], "end": runs["end_timestamp"], "engine": runs["engine"]})
    for key in SUMMARY_METRICS:
        table[key] = [metrics.get(key) for metrics in runs["metrics"]]
    return table


def load_run(run_id: str, store: StoreLike = None, *, equity: bool = True) -> BacktestResult:
    """A stored run as a :class:`BacktestResult` (metrics as stored: times as ISO text, durations in seconds;
    no orders or positions)."""
    store = get_store(store)
    row = _run_row(run_id, store)
    trades = BacktestTrade.query_data(filters=[BacktestTrade.run_id == run_id], order=["trade_no"], index=None,
                                      store=store)
    frame = _trades_from_table(trades)
    is_open = trades["is_open"].to_numpy(dtype=bool) if len(trades) else np.zeros(0, dtype=bool)
    if equity:
        curve = BacktestEquity.query_data(filters=[BacktestEquity.run_id == run_id], order=["timestamp"],
                                          index=None, store=store)
        curve = curve.set_index("timestamp")[["equity", "cash", "drawdown", "exposure"]]
    else:
        index = pd.DatetimeIndex([row["start_timestamp"], row["end_timestamp"]], name="timestamp")
        curve = pd.DataFrame({"equity": [row["cash"], row["metrics"].get("final_equity")]}, index=index)
    settings = _row_settings(row)
    return BacktestResult(
        strategy=row["strategy"], params=row["params"], symbols=list(row["symbols"]), exchange=row["exchange"],
        level=row["level"], settings=settings, equity=curve, trades=frame[~is_open].reset_index(drop=True),
        open_trades=frame[is_open].reset_index(drop=True), positions=pd.DataFrame(), version=row["version"],
        engine=row["engine"], seconds=row["seconds"], run_id=run_id, _fingerprint=row["data_fingerprint"],
        _metrics=row["metrics"])


def _row_settings(row: dict[str, Any]) -> dict[str, Any]:
    """A run row's settings as one dict (its columns and its ``settings``), the form :meth:`BacktestSettings.from_dict`
    reads — rows stored before that object existed included."""
    return {"cash": row["cash"], "fee": row["fee"], "slippage": row["slippage"], "engine": row["engine"],
            **(row["settings"] or {})}


def _trades_from_table(trades: pd.DataFrame) -> pd.DataFrame:
    if trades.empty:
        return empty_trades()
    return pd.DataFrame({
        "symbol": trades["symbol"], "entity_id": trades["entity_id"], "side": trades["side"], "size": trades["size"],
        "entry_time": trades["entry_timestamp"], "exit_time": trades["exit_timestamp"],
        "entry_price": trades["entry_price"], "exit_price": trades["exit_price"], "pnl": trades["pnl"],
        "fees": trades["fees"], "funding": trades["funding"], "return": trades["trade_return"],
        "entry_bar": -1, "exit_bar": -1, "exit_reason": trades["exit_reason"]})


def compare_runs(run_ids: Sequence[str], store: StoreLike = None) -> pd.DataFrame:
    """Runs side by side: one column per run, rows for its inputs and every metric."""
    store = get_store(store)
    columns = {}
    for run_id in run_ids:
        row = _run_row(run_id, store)
        info = {"strategy": row["strategy"], "params": row["params"], "symbols": ", ".join(row["symbols"]),
                "level": row["level"], "start": row["start_timestamp"], "end": row["end_timestamp"],
                "data_fingerprint": row["data_fingerprint"], "version": row["version"], "engine": row["engine"]}
        columns[run_id] = {**info, **row["metrics"]}
    return pd.DataFrame(columns)


def rerun(run_id: str, store: StoreLike = None) -> tuple[BacktestResult, bool]:
    """Run a stored run again with its stored inputs on the store's data now; also says whether that data still
    has the stored fingerprint (if it does, the metrics are the same)."""
    from zvt_crypto.trader.data import load_market_data
    from zvt_crypto.trader.engine import run_backtest

    store = get_store(store)
    row = _run_row(run_id, store)
    if not row["exchange"] or not row["level"]:
        raise InvalidInputError(f"run {run_id} did not read its data from the store; it cannot be re-run from it")
    params = row["params"] or {}
    described = [key for key, value in params.items() if isinstance(value, str) and value.startswith("<")]
    if described:
        raise InvalidInputError(f"run {run_id} was given {', '.join(described)} as data (not a parameter); "
                                "it cannot be re-run from the store alone")
    settings = BacktestSettings.from_dict(_row_settings(row))
    data = load_market_data(exchange=row["exchange"], symbols=list(row["symbols"]), level=row["level"],
                            start=row["start_timestamp"], end=row["end_timestamp"], store=store)
    result = run_backtest(row["strategy"], data, params=params, settings=settings)
    return result, result.fingerprint == row["data_fingerprint"]
