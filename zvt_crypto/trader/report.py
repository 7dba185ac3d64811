"""A self-contained HTML report of a run (plotly, with plotly.js embedded: it opens offline).

Panels (:func:`backtest_figure`, also what ``result.plot()`` shows inline): the metrics table; equity with the
buy-and-hold benchmark; drawdown in %; the price of every symbol with the trades' entries (▲ long, ▼ short) and
exits (×). Long series are reduced to at most :data:`MAX_POINTS` points per
line, keeping each bucket's first, lowest, highest and last value, so spikes and drawdowns stay visible.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from zvt_crypto.trader.params import params_text
from zvt_crypto.trader.results import shown_name

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from zvt_crypto.trader.results import BacktestResult

MAX_POINTS = 20_000
MAX_MARKERS = 5_000


def reduce_points(index: pd.Index, values: np.ndarray, limit: int = MAX_POINTS) -> tuple[pd.Index, np.ndarray]:
    """At most ~``limit`` points: per bucket its first, min, max and last (in time order)."""
    n = len(values)
    if n <= limit:
        return index, values
    size = int(np.ceil(n / (limit / 4)))
    starts = np.arange(0, n, size)
    keep: set[int] = set()
    for start in starts:
        block = values[start: start + size]
        valid = ~np.isnan(block)
        if not valid.any():
            continue
        positions = np.flatnonzero(valid)
        first = int(start)
        keep.update((first + int(positions[0]), first + int(positions[-1]), first + int(np.nanargmin(block)),
                     first + int(np.nanargmax(block))))
    rows = np.fromiter(sorted(keep), dtype=np.int64)
    return index[rows], values[rows]


def write_report(result: BacktestResult, path: str | Path) -> Path:
    """The figure of :func:`backtest_figure`, with the metrics table on top, as one HTML file (plotly.js inside)."""
    path = Path(path)
    figure = backtest_figure(result, metrics_table=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(path, include_plotlyjs=True, full_html=True)
    return path


def backtest_figure(result: BacktestResult, *, metrics_table: bool = False) -> go.Figure:
    """Equity against buy-and-hold, drawdown in %, then the price of every symbol with its trades' entries
    (▲ long, ▼ short) and exits (×); ``metrics_table`` adds the metrics on top (the HTML report). A result read
    back from storage holds no prices: equity and drawdown only."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    symbols = list(result.symbols) if result.data is not None else []
    titles = (["Metrics"] if metrics_table else []) + ["Equity", "Drawdown (%)"] + [
        f"{symbol} and trades" for symbol in symbols]
    specs = ([[{"type": "table"}]] if metrics_table else []) + [[{"type": "xy"}]] * (len(titles) - metrics_table)
    heights = ([0.3] if metrics_table else []) + [0.3, 0.15] + [0.3] * len(symbols)
    figure = make_subplots(rows=len(titles), cols=1, vertical_spacing=0.2 / len(titles), subplot_titles=titles,
                           specs=specs, row_heights=heights)
    row = 1
    if metrics_table:
        _add_metrics_table(figure, result)
        row += 1
    _add_equity(figure, result, row)
    index, drawdown = reduce_points(result.equity.index, result.equity["drawdown"].to_numpy() * 100)
    figure.add_trace(go.Scatter(x=index, y=drawdown, name="drawdown %", fill="tozeroy", line={"width": 1}),
                     row=row + 1, col=1)
    trades = pd.concat([result.trades, result.open_trades], ignore_index=True)
    for column in range(len(symbols)):
        _add_price(figure, result, trades, column, row + 2 + column)
    title = (f"{shown_name(result.strategy)}({params_text(result.params)}) on {', '.join(result.symbols)} "
             f"{result.level or ''} — run {result.run_id or 'not stored'}")
    figure.update_layout(title=title,
                         height=250 * len(titles) + 200, template="plotly_white", hovermode="x unified")
    return figure


def _add_metrics_table(figure: go.Figure, result: BacktestResult) -> None:
    import plotly.graph_objects as go

    from zvt_crypto.trader.metrics import metrics_frame

    table = metrics_frame(result.metrics)
    half = (len(table) + 1) // 2
    left, right = table.iloc[:half], table.iloc[half:]
    figure.add_trace(go.Table(
        header={"values": ["metric", "value", "metric", "value"]},
        cells={"values": [list(left.index), list(left["display"]), list(right.index) + [""] * (half - len(right)),
                          list(right["display"]) + [""] * (half - len(right))]}), row=1, col=1)


def _add_equity(figure: go.Figure, result: BacktestResult, row: int) -> None:
    import plotly.graph_objects as go

    index, equity = reduce_points(result.equity.index, result.equity["equity"].to_numpy())
    figure.add_trace(go.Scatter(x=index, y=equity, name="equity", line={"width": 1.5}), row=row, col=1)
    if result.data is not None:
        from zvt_crypto.trader.results import buy_and_hold

        bench_index, bench = reduce_points(result.equity.index, buy_and_hold(result.data,
                                                                             float(result.settings["cash"])))
        figure.add_trace(go.Scatter(x=bench_index, y=bench, name="buy and hold", line={"width": 1, "dash": "dot"}),
                         row=row, col=1)


def _add_price(figure: go.Figure, result: BacktestResult, trades: pd.DataFrame, column: int, row: int) -> None:
    import plotly.graph_objects as go

    data = result.data
    assert data is not None
    symbol = result.symbols[column]
    index, close = reduce_points(data.index, data.close[:, column])
    figure.add_trace(go.Scatter(x=index, y=close, name=f"{symbol} close", line={"width": 1}), row=row, col=1)
    mine = trades[trades["symbol"] == symbol].tail(MAX_MARKERS)
    for side, marker, color in (("long", "triangle-up", "green"), ("short", "triangle-down", "red")):
        part = mine[mine["side"] == side]
        if len(part):
            figure.add_trace(go.Scatter(x=part["entry_time"], y=part["entry_price"], mode="markers",
                                        name=f"{symbol} {side} entry", legendgroup=symbol,
                                        marker={"symbol": marker, "color": color, "size": 8}), row=row, col=1)
    closed = mine[mine["exit_time"].notna()]
    if len(closed):
        figure.add_trace(go.Scatter(x=closed["exit_time"], y=closed["exit_price"], mode="markers",
                                    name=f"{symbol} exit", legendgroup=symbol,
                                    marker={"symbol": "x", "color": "black", "size": 7}), row=row, col=1)
