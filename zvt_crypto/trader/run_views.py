"""What a page (or the REST API) shows of stored runs: the runs with their headline metrics, one run with the
series its charts draw (equity, buy-and-hold, drawdown, each symbol's close) thinned to what a chart can show,
several runs' equity normalised to their start, and a re-run that lands a new stored run.

>>> view = run_view(run_id, store, budget=2_000)          # doctest: +SKIP
>>> view.equity["equity"], view.benchmark, view.prices["BTC/USDT"], view.price_problem  # doctest: +SKIP
>>> new_id, same_data = rerun_and_store(run_id, store)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store, StoreLike, get_store
from zvt_crypto.contract.timeutil import to_ms

#: the columns :func:`runs_overview` gives, in order
OVERVIEW_COLUMNS = ("run_id", "created", "strategy", "params", "exchange", "symbols", "level", "start", "end",
                    "total_return", "sharpe", "max_drawdown", "n_trades", "win_rate", "final_equity", "note")


def downsample_positions(values: np.ndarray, budget: int) -> np.ndarray:
    """The positions of at most ``budget`` points of ``values`` that a line chart of that width cannot tell from
    the whole series: per bucket its first, lowest, highest and last point (a drawdown's trough and a spike's top
    survive, unlike with every n-th point). Every position when the series fits. NaNs are never picked as the
    low or high of a bucket."""
    n = len(values)
    if budget < 4:
        raise InvalidInputError(f"a chart budget of {budget} points is too small (at least 4)")
    if n <= budget:
        return np.arange(n)
    buckets = budget // 4
    size = -(-n // buckets)  # ceil: at most ``buckets`` buckets of ``size`` points
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    blocks = padded.reshape(buckets, size)
    starts = np.arange(buckets) * size
    valid = ~np.isnan(blocks)
    has = valid.any(axis=1)
    low = np.where(valid, blocks, np.inf).argmin(axis=1)
    high = np.where(valid, blocks, -np.inf).argmax(axis=1)
    last_in_block = np.minimum(starts + size, n) - 1 - starts
    picked = np.concatenate([starts[has], (starts + low)[has], (starts + high)[has],
                             (starts + last_in_block)[has]])
    return np.unique(picked[picked < n])


def downsample(series: pd.Series, budget: int) -> pd.Series:
    """:func:`downsample_positions` of a series (its index kept)."""
    return series.iloc[downsample_positions(series.to_numpy(dtype=float), budget)]


def runs_overview(store: StoreLike = None, *, limit: int = 500) -> pd.DataFrame:
    """The stored runs, newest first, with their headline metrics (:data:`OVERVIEW_COLUMNS`); ``symbols`` as one
    text, ``params`` as ``name=value`` text, times UTC."""
    from zvt_crypto.domain.trading import BacktestRun
    from zvt_crypto.trader.storage import list_runs

    store = get_store(store)
    runs = list_runs(store, limit=limit)
    if runs.empty:
        return pd.DataFrame(columns=list(OVERVIEW_COLUMNS))
    notes = BacktestRun.query_data(columns=["run_id", "note"], filters=[BacktestRun.run_id.in_(list(runs["run_id"]))],
                                   index=None, store=store)
    runs["note"] = runs["run_id"].map(dict(zip(notes["run_id"], notes["note"], strict=True)))
    runs["params"] = [describe(params) for params in runs["params"]]
    return runs[list(OVERVIEW_COLUMNS)].reset_index(drop=True)


def describe(params: dict[str, Any] | None) -> str:
    """``fast=10, slow=30`` (sorted by name, so equal parameters read the same)."""
    return ", ".join(f"{name}={value}" for name, value in sorted((params or {}).items()))


@dataclass
class RunView:
    """A stored run as its page draws it. ``equity``: ``equity`` and ``drawdown`` (a fraction ≤ 0) thinned to the
    budget; ``benchmark``: equal-weight buy-and-hold of the run's symbols (no fees) on the same points, None when
    the bars are gone; ``prices``: each symbol's close, thinned; ``price_problem``: why there are no prices;
    ``trades``: every trade (open ones last, ``is_open``); ``n_equity``: the stored equity points."""

    run_id: str
    row: dict[str, Any]
    metrics: dict[str, Any]
    equity: pd.DataFrame
    n_equity: int
    trades: pd.DataFrame
    benchmark: pd.Series | None = None
    prices: dict[str, pd.Series] = field(default_factory=dict)
    price_problem: str | None = None


def run_view(run_id: str, store: StoreLike = None, *, budget: int = 2_000, start: Any = None,
             end: Any = None) -> RunView:
    """The series of run ``run_id`` for its charts, each at most ``budget`` points; with ``start`` / ``end``
    (UTC, inclusive) only that window of the run (a chart zoomed in: finer detail, up to every stored point).
    Only what the charts draw is read (equity and drawdown, each symbol's close), so a run over a million bars
    opens in about a second; the price and the benchmark come from the store's bars (when they are gone,
    ``price_problem`` says so)."""
    from zvt_crypto.domain.trading import BacktestEquity
    from zvt_crypto.trader.storage import _run_row, load_run

    store = get_store(store)
    row = _run_row(run_id, store)
    window = [BacktestEquity.run_id == run_id]
    if start is not None:
        window.append(BacktestEquity.timestamp >= pd.Timestamp(to_ms(start), unit="ms", tz="UTC"))
    if end is not None:
        window.append(BacktestEquity.timestamp <= pd.Timestamp(to_ms(end), unit="ms", tz="UTC"))
    curve = BacktestEquity.query_data(columns=["timestamp", "equity", "drawdown"], filters=window,
                                      order=["timestamp"], index=None, store=store).set_index("timestamp")
    keep = np.union1d(downsample_positions(curve["equity"].to_numpy(dtype=float), budget // 2),
                      downsample_positions(curve["drawdown"].to_numpy(dtype=float), budget // 2))
    result = load_run(run_id, store, equity=False)
    trades = pd.concat([result.trades.assign(is_open=False), result.open_trades.assign(is_open=True)],
                       ignore_index=True)
    view = RunView(run_id=run_id, row=row, metrics=dict(row["metrics"]), equity=curve.iloc[keep],
                   n_equity=len(curve), trades=trades)
    try:
        closes = run_closes(row, store, start=start, end=end)
        first = None if start is None else run_closes(row, store, first_only=True).iloc[0]  # the run's start
    except InvalidInputError as exc:
        view.price_problem = str(exc)
        return view
    view.benchmark = buy_and_hold_of(closes, float(row["cash"]), first).reindex(view.equity.index)
    for symbol in closes.columns:
        view.prices[symbol] = downsample(closes[symbol].dropna(), budget)
    return view


def run_closes(row: dict[str, Any], store: Store, *, start: Any = None, end: Any = None,
               first_only: bool = False) -> pd.DataFrame:
    """The close of each of a run's symbols (columns, in the run's order) at every bar time of its range (or of
    ``start``..``end`` within it), as stored (NaN where a symbol has no bar); ``first_only``: one row, each
    symbol's first close in the run. An :class:`InvalidInputError` names what is missing."""
    from zvt_crypto.contract.ids import entity_id
    from zvt_crypto.contract.timeutil import iso
    from zvt_crypto.domain import Bar

    if not row["exchange"] or not row["level"]:
        raise InvalidInputError("the run did not read its bars from the store (its data was given directly)")
    ids = {entity_id(row["exchange"], symbol): symbol for symbol in row["symbols"]}
    lower = max(to_ms(row["start_timestamp"]), to_ms(start)) if start is not None else row["start_timestamp"]
    upper = min(to_ms(row["end_timestamp"]), to_ms(end)) if end is not None else row["end_timestamp"]
    if first_only:
        firsts = [Bar.query_data(entity_ids=[entity], level=row["level"], columns=["close"], order="timestamp",
                                 limit=1, start_timestamp=lower, end_timestamp=upper, store=store)
                  for entity in ids]
        bars = pd.concat(firsts)
        closes = bars["close"].droplevel("timestamp").to_frame().T if len(bars) else pd.DataFrame()
    else:
        bars = Bar.query_data(entity_ids=list(ids), level=row["level"], columns=["close"], start_timestamp=lower,
                              end_timestamp=upper, store=store)
        closes = bars["close"].unstack("entity_id") if len(bars) else pd.DataFrame()
    missing = [symbol for entity, symbol in ids.items() if entity not in closes.columns]
    if missing:
        raise InvalidInputError(
            f"no {row['level']} bars of {', '.join(missing)} on {row['exchange']} from {iso(lower)} to {iso(upper)} "
            "in the store any more (import or record them again to draw the price)")
    return closes[list(ids)].rename(columns=ids).rename_axis(columns=None)


def buy_and_hold_of(closes: pd.DataFrame, cash: float, first: pd.Series | None = None) -> pd.Series:
    """The equity of an equal-weight buy-and-hold of every column from its first close (``first``: the run's
    first closes when ``closes`` is a later window of it), no fees: what the engine's benchmark
    (:func:`zvt_crypto.trader.results.buy_and_hold`) computes, from closes alone."""
    filled = closes.ffill()
    if first is None:
        first = filled.apply(lambda column: column.loc[column.first_valid_index()])
    return (filled / first).fillna(1.0).mean(axis=1) * cash


def normalised_equity(run_ids: Sequence[str], store: StoreLike = None, *,
                      budget: int = 2_000) -> dict[str, pd.Series]:
    """Each run's equity divided by its first value (1.0 = the start), thinned to ``budget`` points, for an
    overlay of runs with different cash."""
    from zvt_crypto.trader.storage import load_run

    store = get_store(store)
    out = {}
    for run_id in run_ids:
        equity = load_run(run_id, store).equity["equity"]  # an unknown id: the error that lists the latest
        out[run_id] = downsample(equity / float(equity.iloc[0]), budget)
    return out


def rerun_and_store(run_id: str, store: StoreLike = None, *,
                    progress: Callable[[str], None] | None = None) -> tuple[str, bool]:
    """Run stored run ``run_id`` again on the store's data now and store the result as a new run (its note says
    which run it repeats); the new id and whether the data still had the stored fingerprint. ``progress`` hears
    each step."""
    from zvt_crypto.trader.storage import rerun, save_run

    store = get_store(store)
    say = progress or (lambda _text: None)
    say(f"re-running {run_id} on the stored bars")
    result, same_data = rerun(run_id, store)
    say("storing the new run")
    new_id = save_run(result, store, note=f"rerun of {run_id}" + ("" if same_data else " (the data changed)"))
    say(f"stored as {new_id}")
    return new_id, same_data
