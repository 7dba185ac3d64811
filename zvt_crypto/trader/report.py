"""A self-contained HTML report of a run (plotly, with plotly.js embedded: it opens offline).

Panels: the metrics table; the price of the first symbol with the trades' entries (▲ long, ▼ short) and exits (×);
equity with the buy-and-hold benchmark; drawdown. Long series are reduced to at most :data:`MAX_POINTS` points per
line, keeping each bucket's first, lowest, highest and last value, so spikes and drawdowns stay visible.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
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
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from zvt_crypto.trader.metrics import metrics_frame

    path = Path(path)
    has_price = result.data is not None
    titles = ["Metrics"] + ([f"{result.symbols[0]} and trades"] if has_price else []) + ["Equity", "Drawdown"]
    specs = [[{"type": "table"}]] + [[{"type": "xy"}]] * (len(titles) - 1)
    heights = [0.3] + ([0.3] if has_price else []) + [0.25, 0.15]
    figure = make_subplots(rows=len(titles), cols=1, shared_xaxes=False, vertical_spacing=0.04,
                           subplot_titles=titles, specs=specs, row_heights=heights)
    table = metrics_frame(result.metrics)
    half = (len(table) + 1) // 2
    left, right = table.iloc[:half], table.iloc[half:]
    figure.add_trace(go.Table(
        header={"values": ["metric", "value", "metric", "value"]},
        cells={"values": [list(left.index), list(left["display"]), list(right.index) + [""] * (half - len(right)),
                          list(right["display"]) + [""] * (half - len(right))]}), row=1, col=1)
    row = 2
    trades = pd.concat([result.trades, result.open_trades], ignore_index=True)
    if has_price:
        data = result.data
        assert data is not None
        index, close = reduce_points(data.index, data.close[:, 0])
        figure.add_trace(go.Scatter(x=index, y=close, name=f"{result.symbols[0]} close", line={"width": 1}),
                         row=row, col=1)
        mine = trades[trades["symbol"] == result.symbols[0]].tail(MAX_MARKERS)
        for side, symbol, color in (("long", "triangle-up", "green"), ("short", "triangle-down", "red")):
            part = mine[mine["side"] == side]
            if len(part):
                figure.add_trace(go.Scatter(x=part["entry_time"], y=part["entry_price"], mode="markers",
                                            name=f"{side} entry", marker={"symbol": symbol, "color": color,
                                                                          "size": 8}), row=row, col=1)
        closed = mine[mine["exit_time"].notna()]
        if len(closed):
            figure.add_trace(go.Scatter(x=closed["exit_time"], y=closed["exit_price"], mode="markers", name="exit",
                                        marker={"symbol": "x", "color": "black", "size": 7}), row=row, col=1)
        row += 1
    index, equity = reduce_points(result.equity.index, result.equity["equity"].to_numpy())
    figure.add_trace(go.Scatter(x=index, y=equity, name="equity", line={"width": 1.5}), row=row, col=1)
    if has_price:
        from zvt_crypto.trader.results import buy_and_hold

        assert result.data is not None
        bench_index, bench = reduce_points(result.equity.index, buy_and_hold(result.data,
                                                                             float(result.settings["cash"])))
        figure.add_trace(go.Scatter(x=bench_index, y=bench, name="buy and hold", line={"width": 1, "dash": "dot"}),
                         row=row, col=1)
    index, drawdown = reduce_points(result.equity.index, result.equity["drawdown"].to_numpy())
    figure.add_trace(go.Scatter(x=index, y=drawdown, name="drawdown", fill="tozeroy", line={"width": 1}),
                     row=row + 1, col=1)
    params = ", ".join(f"{k}={v}" for k, v in result.params.items() if not isinstance(v, pd.DataFrame))
    figure.update_layout(title=f"{result.strategy}({params}) on {', '.join(result.symbols)} "
                               f"{result.level or ''} — run {result.run_id or 'not stored'}",
                         height=1400 if has_price else 1100, template="plotly_white")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(path, include_plotlyjs=True, full_html=True)
    return path
