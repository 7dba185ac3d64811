"""A self-contained HTML report of a run (plotly, with plotly.js embedded: it opens offline).

Panels (:func:`backtest_figure`, also what ``result.plot()`` shows inline), on one time axis: equity with the
buy-and-hold benchmark; drawdown in %; the price of every symbol with the trades' entries (▲ long, ▼ short) and
exits (×). The report (:func:`write_report`) puts the settings, the data range and fingerprint and every metric above
the charts, and the trades below. Long series are reduced to at most :data:`MAX_POINTS` points per
line, keeping each bucket's first, lowest, highest and last value, so spikes and drawdowns stay visible.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from zvt_crypto.contract.text import human_duration
from zvt_crypto.contract.timeutil import iso
from zvt_crypto.trader.metrics import human_number
from zvt_crypto.trader.params import params_text
from zvt_crypto.trader.results import shown_name

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from zvt_crypto.trader.results import BacktestResult

MAX_POINTS = 20_000
MAX_MARKERS = 5_000
#: the trades table of the HTML report keeps the last this many (a page of 10k rows still opens quickly)
MAX_TRADE_ROWS = 10_000
#: name/value pairs per row of the metrics table: ~40 metrics in 10 rows, all on screen
METRIC_COLUMNS = 4
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 20px 0 8px; }
dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.settings dt { color: #666; } dl.settings dd { margin: 0; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
table.metrics th { text-align: left; color: #555; font-weight: normal; border-left: 1px solid #eee; }
table.trades thead th { position: sticky; top: 0; background: #fafafa; text-align: right; }
table.trades td.symbol { text-align: left; }
"""


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
    """One self-contained HTML file (plotly.js inside) a person reads top to bottom: the run and its settings (fees
    with their source, slippage, cash, leverage), the data range and fingerprint, every metric in one table that
    needs no scrolling, the charts of :func:`backtest_figure` and the table of trades."""
    path = Path(path)
    figure = backtest_figure(result).update_layout(title=None, margin={"t": 40})  # the page's heading has it
    charts = figure.to_html(include_plotlyjs=True, full_html=False, config={"responsive": True})
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{escape(_title(result))}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{escape(_title(result))}</h1>{_settings_html(result)}"
            f"<h2>Metrics</h2>{_metrics_html(result)}<h2>Charts</h2>{charts}{_trades_html(result)}</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def backtest_figure(result: BacktestResult) -> go.Figure:
    """Equity against buy-and-hold, drawdown in %, then the price of every symbol with its trades' entries
    (▲ long, ▼ short) and exits (×), all on one time axis. A result read back from storage holds no prices: equity
    and drawdown only."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    symbols = list(result.symbols) if result.data is not None else []
    titles = ["Equity", "Drawdown (%)"] + [f"{symbol} and trades" for symbol in symbols]
    heights = [0.3, 0.15] + [0.3] * len(symbols)
    figure = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, vertical_spacing=0.25 / len(titles),
                           subplot_titles=titles, row_heights=heights)
    _add_equity(figure, result, 1)
    index, drawdown = reduce_points(result.equity.index, result.equity["drawdown"].to_numpy() * 100)
    figure.add_trace(go.Scatter(x=index, y=drawdown, name="drawdown %", fill="tozeroy", line={"width": 1},
                                hovertemplate="%{y:.2f} %"), row=2, col=1)
    figure.update_yaxes(ticksuffix=" %", row=2, col=1)
    trades = pd.concat([result.trades, result.open_trades], ignore_index=True)
    for column in range(len(symbols)):
        _add_price(figure, result, trades, column, 3 + column)
    figure.update_xaxes(showticklabels=True)  # every panel keeps its dates although the axis is shared
    figure.update_layout(title=_title(result), height=260 * len(titles) + 160, template="plotly_white",
                         hovermode="x unified", separators=".,")
    return figure


def _title(result: BacktestResult) -> str:
    return (f"{shown_name(result.strategy)}({params_text(result.params)}) on {', '.join(result.symbols)} "
            f"{result.level or ''} — run {result.run_id or 'not stored'}")


def _settings_html(result: BacktestResult) -> str:
    """The run's settings and data as a definition list: what a reader needs to trust or repeat the numbers."""
    from zvt_crypto.trader.fees import FeeSchedule
    from zvt_crypto.trader.slippage import slippage_from_dict

    settings = result.settings
    fees = settings.get("fees")
    fee_text = (FeeSchedule.from_dict(fees).describe().removeprefix("fees: ") if fees
                else f"{settings.get('fee')} (source not recorded)")
    bars = result.metrics.get("n_bars", len(result.equity))
    span = human_duration((result.end - result.start).total_seconds())
    rows = [
        ("data", f"{result.exchange or '—'} {', '.join(result.symbols)} {result.level or ''}: "
                 f"{iso(result.start)} → {iso(result.end)} ({span}, {bars:,} bars)"),
        ("data fingerprint", result.fingerprint or "—"),
        ("fees", fee_text),
        ("slippage", slippage_from_dict(settings.get("slippage")).describe()),
        ("cash", human_number(float(settings.get("cash", 0.0)))),
        ("leverage", str(settings.get("leverage", 1.0))),
        ("engine", f"{result.engine}, zvt_crypto {result.version}, {result.seconds:.2f} s"),
    ]
    items = "".join(f"<dt>{escape(key)}</dt><dd>{escape(value)}</dd>" for key, value in rows)
    return f"<dl class=\"settings\">{items}</dl>"


def _metrics_html(result: BacktestResult) -> str:
    """Every metric in one table, :data:`METRIC_COLUMNS` name/value pairs per row (nothing hidden behind a scroll)."""
    from zvt_crypto.trader.metrics import metrics_frame

    table = metrics_frame(result.metrics)
    cells = [(str(key).replace("_", " "), str(row["display"])) for key, row in table.iterrows()]
    per_column = -(-len(cells) // METRIC_COLUMNS)
    columns = [cells[i * per_column:(i + 1) * per_column] for i in range(METRIC_COLUMNS)]
    body = ""
    for line in range(per_column):
        pairs = [column[line] if line < len(column) else ("", "") for column in columns]
        body += "<tr>" + "".join(f"<th>{escape(name)}</th><td>{escape(value)}</td>" for name, value in pairs) + "</tr>"
    return f"<table class=\"metrics\"><tbody>{body}</tbody></table>"


def _trades_html(result: BacktestResult) -> str:
    """Closed trades then open ones (marked at the last close), newest last; returns in %, holding time human."""
    trades = pd.concat([result.trades.assign(state="closed"), result.open_trades.assign(state="open")],
                       ignore_index=True)
    shown = trades.tail(MAX_TRADE_ROWS)
    head = ("symbol", "side", "size", "entry", "exit", "held", "entry price", "exit price", "pnl", "fees", "funding",
            "return", "exit reason")
    rows = []
    for trade in shown.to_dict("records"):
        closed = trade["state"] == "closed"
        held = human_duration((trade["exit_time"] - trade["entry_time"]).total_seconds()) if closed else "open"
        cells = (trade["side"], human_number(trade["size"]), iso(trade["entry_time"]),
                 iso(trade["exit_time"]) if closed else "open", held, human_number(trade["entry_price"]),
                 human_number(trade["exit_price"]), human_number(trade["pnl"]), human_number(trade["fees"]),
                 human_number(trade["funding"]), f"{trade['return'] * 100:,.2f} %",
                 str(trade["exit_reason"] or "") if closed else "open (marked at the last close)")
        rows.append(f"<tr><td class=\"symbol\">{escape(str(trade['symbol']))}</td>"
                    + "".join(f"<td>{escape(str(cell))}</td>" for cell in cells) + "</tr>")
    note = (f" (the last {len(shown):,} of {len(trades):,})" if len(shown) < len(trades) else "")
    header = "".join(f"<th>{name}</th>" for name in head)
    return (f"<h2>Trades: {len(trades):,}{note}</h2><table class=\"trades\"><thead><tr>{header}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


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
