"""``/backtests`` — the stored runs in a sortable, filterable table; ``?run=ID``: one run (metrics banner, equity
with buy-and-hold, drawdown, each symbol's price with entry/exit markers, trades, fills, funding) and a re-run in
the background that lands a new run; ``?compare=ID1,ID2``: runs side by side (equity normalised to the start).

Every series comes thinned on the server (:mod:`zvt_crypto.trader.run_views`): a chart never receives more than
:data:`CHART_BUDGET` points per line, and the drawdown's troughs survive the thinning."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec
from urllib.parse import quote, urlencode

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from dash.dash_table.DataTable import DataTable

from zvt_crypto.contract.text import human_duration
from zvt_crypto.ui.components import command, guarded, logger, make_figure, note, table, utc
from zvt_crypto.ui.context import UiContext

if TYPE_CHECKING:
    from zvt_crypto.domain.chart import ViewCache
    from zvt_crypto.trader.run_views import RunView

P = ParamSpec("P")
PATH = "/backtests"
CHART_BUDGET = 2_000  # points per line sent to the browser: more than a chart's width in pixels
MAX_MARKERS = 2_000  # trades drawn as markers (the latest); the table lists all of them
TABLE_PAGE = 15
MAX_RUNS = 500  # runs in the list (the newest); ``zvt-crypto runs list --limit N`` reaches further
TABLE_ROWS = 500  # trades sent to the browser's table (the latest); ``runs show ID --out FILE`` has them all
PERCENT = {"specifier": ",.2%"}  # a fraction shown as a percentage (the value stays a fraction)
JOBS_FOLDER = "ui-jobs"  # under the data home: the background re-runs' results (diskcache)
EQUITY_COLOUR, BENCH_COLOUR, LOSS_COLOUR = "#1f4e99", "#888", "#b00020"


def register(app: Dash, context: UiContext) -> None:
    from zvt_crypto.domain.chart import ViewCache

    views: ViewCache[RunView] = ViewCache()  # this app's recent run views (no module state)
    dash.register_page(__name__, path=PATH, name="Backtests", title="zvt_crypto — backtests", order=5,
                       layout=layout)

    @app.callback(Output("bt-content", "children"), Input("bt-query", "data"))
    @guarded("the backtests")
    def render(query: dict[str, str | None] | None) -> Any:
        return backtests_content(context, query or {}, views)

    @app.callback(Output("bt-compare-link", "href"), Output("bt-compare-link", "className"),
                  Output("bt-compare-hint", "children"), Input("bt-runs", "selected_row_ids"))
    def pick(selected: list[str] | None) -> tuple[str, str, str]:
        return compare_link(selected or [])

    @app.callback(Output("bt-equity", "figure"), Output("bt-drawdown", "figure"),
                  Input("bt-equity", "relayoutData"), Input("bt-drawdown", "relayoutData"), State("bt-query", "data"),
                  prevent_initial_call=True)
    @zoom_guard
    def zoom(equity: dict[str, Any] | None, drawdown: dict[str, Any] | None,
             query: dict[str, str | None] | None) -> tuple[go.Figure, go.Figure]:
        relayout = drawdown if dash.ctx.triggered_id == "bt-drawdown" else equity
        return zoomed_figures(context, (query or {}).get("run") or "", relayout, views)

    @app.callback(Output("bt-price", "figure"), Input("bt-price", "relayoutData"), State("bt-query", "data"),
                  prevent_initial_call=True)
    @zoom_guard
    def zoom_price(relayout: dict[str, Any] | None, query: dict[str, str | None] | None) -> go.Figure:
        query = query or {}
        return zoomed_price(context, query.get("run") or "", query.get("symbol"), relayout, views)

    import diskcache  # type: ignore[import-untyped]
    from dash import DiskcacheManager

    folder = context.config.home / JOBS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    manager = DiskcacheManager(diskcache.Cache(str(folder)))

    @app.callback(Output("bt-rerun-result", "children"), Input("bt-rerun", "n_clicks"), State("bt-query", "data"),
                  background=True, manager=manager, progress=Output("bt-rerun-progress", "children"),
                  running=[(Output("bt-rerun", "disabled"), True, False)], prevent_initial_call=True)
    @guarded("the re-run")
    def rerun(set_progress: Any, _clicks: int | None, query: dict[str, str | None] | None) -> Any:
        return rerun_content(context, (query or {}).get("run") or "", set_progress)


def zoom_guard(render: Callable[P, Any]) -> Callable[P, Any]:
    """A zoom that fails leaves the chart as it was (logged with its traceback): its output is a figure, where
    the page's error message cannot go."""

    @functools.wraps(render)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        from dash.exceptions import PreventUpdate

        try:
            return render(*args, **kwargs)
        except PreventUpdate:
            raise
        except Exception as exc:  # every failure: logged, the chart unchanged
            logger.exception("dashboard: zooming a backtest chart failed")
            raise PreventUpdate from exc

    return wrapper


def layout(run: str | None = None, compare: str | None = None, symbol: str | None = None,
           **_query: str) -> html.Div:
    """``run``: one run's page; ``compare``: ids joined by commas; ``symbol``: the price chart's symbol."""
    return html.Div([
        html.H1("Backtests"),
        dcc.Store(id="bt-query", data={"run": run or None, "compare": compare or None, "symbol": symbol or None}),
        dcc.Loading(html.Div(id="bt-content"), delay_show=300),
        # A run's charts arrive in bt-content; an empty graph in the page makes the browser fetch and evaluate
        # plotly.js while the server builds them (it began only after they arrived: ≈ 0.5 s more on 1M bars).
        dcc.Graph(id="bt-plotly-early", style={"display": "none"}) if run or compare else "",
    ])


def backtests_content(context: UiContext, query: dict[str, str | None], views: ViewCache[RunView] | None = None) -> Any:
    """The view the query asks for; a link to a run that is not (or no longer) stored says so, not a traceback."""
    from zvt_crypto.contract.errors import InvalidInputError

    try:
        if query.get("compare"):
            ids = [part.strip() for part in (query["compare"] or "").split(",") if part.strip()]
            return compare_content(context, ids)
        if query.get("run"):
            return run_content(context, query["run"] or "", query.get("symbol"), views)
    except InvalidInputError as exc:
        return [note([f"{exc}. ", dcc.Link("All stored runs", href=PATH)], kind="warning", note_id="bt-not-found")]
    return runs_content(context)


# ---------------------------------------------------------------------------------------------------------------
# numbers as a person reads them
# ---------------------------------------------------------------------------------------------------------------
def percent(value: Any, digits: int = 2) -> str:
    number = _finite(value)
    return "—" if number is None else f"{number * 100:,.{digits}f} %"


def money(value: Any) -> str:
    number = _finite(value)
    return "—" if number is None else f"{number:,.2f}"


def ratio(value: Any) -> str:
    number = _finite(value)
    return "—" if number is None else f"{number:,.2f}"


def count(value: Any) -> str:
    number = _finite(value)
    return "—" if number is None else f"{int(number):,}"


def size(value: Any) -> str:
    """A position size: up to 6 significant digits, thousands separated, no exponent."""
    number = _finite(value)
    if number is None:
        return "—"
    digits = max(0, 6 - len(str(int(abs(number)))) if abs(number) >= 1 else 8)
    return f"{number:,.{digits}f}".rstrip("0").rstrip(".")


def duration(seconds: Any) -> str:
    """``45s``, ``12m 5s``, ``23h 53m``, ``52d 4h`` — the two largest units."""
    number = _finite(seconds)
    return "—" if number is None else human_duration(abs(number))


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------------------------------------------------------
# the list
# ---------------------------------------------------------------------------------------------------------------
RUN_COLUMNS: list[Any] = [  # Dash's TypedDicts of a column are too narrow for a format dict
    {"id": "link", "name": "run", "presentation": "markdown"},
    {"id": "strategy", "name": "strategy"},
    {"id": "params", "name": "params"},
    {"id": "symbols", "name": "symbols"},
    {"id": "level", "name": "level"},
    {"id": "range", "name": "range (UTC)"},
    {"id": "total_return", "name": "total return", "type": "numeric",
     "format": PERCENT},
    {"id": "sharpe", "name": "Sharpe", "type": "numeric", "format": {"specifier": ",.2f"}},
    {"id": "max_drawdown", "name": "max drawdown", "type": "numeric",
     "format": PERCENT},
    {"id": "n_trades", "name": "trades", "type": "numeric", "format": {"specifier": ","}},
    {"id": "created", "name": "stored (UTC)"},
    {"id": "note", "name": "note"},
]


def run_rows(runs: pd.DataFrame) -> list[Any]:
    """The table's rows: numbers stay numbers (the table sorts and filters them as numbers and formats them)."""
    rows = []
    for run in runs.to_dict("records"):
        rows.append({
            "id": run["run_id"], "link": f"[{_markdown_text(run['run_id'])}]({PATH}?run={quote(run['run_id'])})",
            "strategy": run["strategy"], "params": run["params"], "symbols": run["symbols"], "level": run["level"],
            "range": time_range(run["start"], run["end"]), "created": utc(run["created"])[:16],
            **{key: _finite(run[key]) for key in ("total_return", "sharpe", "max_drawdown", "n_trades")},
            "note": run["note"] if isinstance(run["note"], str) else ""})
    return rows


def time_range(start: Any, end: Any) -> str:
    """``2004-08-19 → 2013-03-01`` (dates when both fall on midnight, else to the minute), UTC."""
    first, last = utc(start), utc(end)
    if first.endswith(" 00:00:00") and last.endswith(" 00:00:00"):
        return f"{first[:10]} → {last[:10]}"
    return f"{first[:16]} → {last[:16]}"


def _markdown_text(text: str) -> str:
    """Text inside a markdown link, its markup characters escaped (a stored id cannot become markup)."""
    return "".join(f"\\{char}" if char in "\\`*_{}[]()<>#+-.!|" else char for char in text)


def runs_content(context: UiContext) -> list[Any]:
    from zvt_crypto.trader.run_views import runs_overview

    runs = runs_overview(context.store, limit=MAX_RUNS)
    if runs.empty:
        return [html.Section([
            html.H2("No backtest stored yet"),
            note("A backtest is stored when it runs (its id is printed). Run one on stored bars, then reload:",
                 note_id="bt-empty"),
            command(f"{context.cli_prefix()} backtest --strategy sma_cross --exchange binance --symbol BTC/USDT "
                    "--level 1h --param fast=10 --param slow=30"),
            html.P(["The store has no bars yet? The overview page says how to get them (", html.Code("demo"),
                    ", ", html.Code("record"), ")."], className="hint"),
        ], className="card")]
    return [html.Section([
        html.H2(f"The latest {MAX_RUNS:,} stored runs" if len(runs) >= MAX_RUNS else f"Stored runs ({len(runs):,})"),
        html.P("Click a column to sort, type in the row under the headers to filter (e.g. > 0.1 in total return, "
               "sma in strategy); tick two or more runs to compare them.", className="hint"),
        DataTable(
            id="bt-runs", columns=RUN_COLUMNS, data=run_rows(runs), sort_action="native", filter_action="native",
            row_selectable="multi", selected_row_ids=[], page_size=25, markdown_options={"html": False},
            style_table={"overflowX": "auto"}, style_cell={"fontFamily": "inherit", "fontSize": "0.9em",
                                                           "padding": "4px 8px", "textAlign": "left"},
            style_cell_conditional=[
                *[{"if": {"column_id": key}, "textAlign": "right"}
                  for key in ("total_return", "sharpe", "max_drawdown", "n_trades")],
                *[{"if": {"column_id": key}, "whiteSpace": "normal", "minWidth": "9em", "maxWidth": "16em"}
                  for key in ("params", "note")]],
            style_data_conditional=[{"if": {"filter_query": f"{{{key}}} < 0", "column_id": key},
                                     "color": LOSS_COLOUR} for key in ("total_return", "sharpe")],
            style_header={"fontWeight": 600}),
        html.Div([dcc.Link("Compare the selected runs", id="bt-compare-link", href=PATH, className="button disabled"),
                  html.Span(id="bt-compare-hint", className="hint")], className="actions"),
    ], className="card")]


def compare_link(selected: Sequence[str]) -> tuple[str, str, str]:
    """The compare link of the ticked runs (in the order ticked), disabled below two."""
    if len(selected) < 2:
        return PATH, "button disabled", "tick two or more runs" if not selected else "tick one more run"
    return f"{PATH}?{urlencode({'compare': ','.join(selected)})}", "button", f"{len(selected)} runs ticked"


# ---------------------------------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------------------------------
def cached_view(context: UiContext, run_id: str, window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
                views: ViewCache[RunView] | None = None) -> RunView:
    """The run's view for its charts (of ``window`` when zoomed). A stored run never changes, so its recent views
    are served again (another visit, a zoom reset: a run over a million bars reads and thins them once); the run
    is looked up every time, so a deleted run is gone at once, and the prices (from the bars) at most ``ttl``
    seconds late."""
    from zvt_crypto.trader.run_views import run_view
    from zvt_crypto.trader.storage import _run_row

    def build() -> RunView:
        return run_view(run_id, context.store, budget=CHART_BUDGET, **_bounds(window))

    if views is None:
        return build()
    _run_row(run_id, context.store)  # an unknown (or deleted) run: the error that names the latest runs
    return views.get((run_id, CHART_BUDGET, window), build)


def run_content(context: UiContext, run_id: str, symbol: str | None,
                views: ViewCache[RunView] | None = None) -> list[Any]:
    from zvt_crypto.trader.run_views import describe

    view = cached_view(context, run_id, None, views)
    row = view.row
    symbols = list(row["symbols"])
    chosen = symbol if symbol in symbols else symbols[0] if symbols else None
    title = (f"{row['strategy']}({describe(row['params'])}) on {', '.join(symbols)} {row['level'] or ''} "
             f"{row['exchange'] or ''}")
    return [
        html.P(dcc.Link("← all runs", href=PATH), className="hint"),
        html.Section([
            html.H2(title, id="bt-run-title"),
            html.P([f"Run {run_id}, {utc(row['start_timestamp'])} → {utc(row['end_timestamp'])} UTC, "
                    f"{count(row['n_bars'])} bars, stored {utc(row['created_timestamp'])} UTC",
                    f" — {row['note']}" if row["note"] else ""], className="hint"),
            banner(view.metrics, float(row["cash"])),
            _rerun_controls(),
        ], className="card"),
        html.Section([html.H2("Equity and buy-and-hold"), _graph("bt-equity", equity_figure(view)),
                      html.P(ZOOM_HINT, className="hint")], className="card"),
        html.Section([html.H2("Drawdown"), _graph("bt-drawdown", drawdown_figure(view))], className="card"),
        html.Section([html.H2(f"Price and trades: {chosen}" if chosen else "Price and trades"),
                      _symbol_picker(run_id, symbols, chosen), _price_chart(view, chosen)], className="card"),
        html.Section([html.H2(_trades_heading(view.trades)), _capped(context, run_id, view.trades, "bt-trades-capped"),
                      _trades_table(view.trades.tail(TABLE_ROWS))], className="card"),
        html.Section([html.H2("Fills"), _capped(context, run_id, view.trades, "bt-fills-capped"),
                      _fills_table(view.trades.tail(TABLE_ROWS))], className="card"),
        html.Section([html.H2("Funding"), _funding(view)], className="card"),
    ]


#: (label, metric key, formatter, tooltip) of the banner, in reading order
BANNER = (
    ("equity", "final_equity", money, "equity at the last bar's close"),
    ("total return", "total_return", percent, "final equity / initial equity − 1"),
    ("net profit", None, money, "final equity − initial equity (after fees and funding)"),
    ("fees", "fees_paid", money, "every fill's fee"),
    ("Sharpe", "sharpe", ratio, "annualised; the annualisation is in the metrics"),
    ("max drawdown", "max_drawdown", percent, "the deepest fall from a running peak"),
    ("trades", "n_trades", count, "closed trades (an open position at the end is listed, not counted)"),
    ("win rate", "win_rate", percent, "share of closed trades with a profit"),
    ("buy and hold", "benchmark_return", percent, "equal-weight buy-and-hold of the run's symbols, no fees"),
    ("exposure", "exposure_time", percent, "share of bars with a position"),
    ("avg holding", "avg_holding_time", duration, "mean time from entry to exit"),
    ("longest drawdown", "max_drawdown_duration", duration, "the longest time below a previous peak"),
)


def banner(metrics: dict[str, Any], cash: float) -> html.Div:
    cards = []
    for label, key, formatter, tip in BANNER:
        value = (metrics.get("final_equity") or cash) - cash if key is None else metrics.get(key)
        negative = isinstance(value, (int, float)) and value < 0 and key not in ("max_drawdown",)
        cards.append(html.Div([html.Div(label, className="metric-label"),
                               html.Div(formatter(value), className="metric-value" + (" loss" if negative else ""),
                                        id=f"bt-metric-{(key or 'net_profit').replace('_', '-')}")],
                              className="metric", title=tip))
    return html.Div(cards, className="metrics", id="bt-banner")


def _rerun_controls() -> html.Div:
    return html.Div([
        html.Button("Re-run on the stored bars", id="bt-rerun", className="button"),
        html.Span(id="bt-rerun-progress", className="hint"),
        html.Div(id="bt-rerun-result"),
    ], className="actions")


def rerun_content(context: UiContext, run_id: str, progress: Any) -> Any:
    """Run ``run_id`` again in the background job's own store connection (the web process's pool is never
    shared with the job) and link to the new run."""
    from zvt_crypto.contract.store import Store
    from zvt_crypto.trader.run_views import rerun_and_store

    store = Store(context.config, create=False)
    try:
        new_id, same_data = rerun_and_store(run_id, store, progress=progress)
    finally:
        store.dispose()
    same = ("same data, so the same metrics" if same_data
            else "the stored bars changed since, so the metrics may differ")
    return note(["Stored as a new run: ", dcc.Link(new_id, href=f"{PATH}?run={quote(new_id)}", id="bt-rerun-link"),
                 f" ({same})."], note_id="bt-rerun-done")


def _figure(height: int, yaxis: dict[str, Any] | None = None, traces: Sequence[dict[str, Any]] = (),
            **layout: Any) -> go.Figure:
    return make_figure(traces, {"height": height, "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
                           "hovermode": "x unified", "legend": {"orientation": "h", "y": 1.08},
                           "xaxis": {"title": {"text": "time (UTC)"}, "type": "date"}, "yaxis": yaxis or {}, **layout})


def epoch_ms(times: Any) -> Any:
    """UTC times as epoch milliseconds (numbers: a figure sends them in binary form, a third of the size of date
    texts; a date axis reads them as UTC)."""
    return pd.DatetimeIndex(times).as_unit("ms").asi8.astype(float)  # float64: plotly sends no int64 in binary


def _graph(graph_id: str, figure: go.Figure) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=figure, config={"displaylogo": False})


def equity_figure(view: Any) -> go.Figure:
    traces = [{"type": "scatter", "x": epoch_ms(view.equity.index), "y": view.equity["equity"].to_numpy(),
               "name": "equity", "mode": "lines", "line": {"color": EQUITY_COLOUR, "width": 1.6},
               "hovertemplate": "%{y:,.2f}"}]
    if view.benchmark is not None:
        traces.append({"type": "scatter", "x": epoch_ms(view.benchmark.index), "y": view.benchmark.to_numpy(),
                       "name": "buy and hold", "mode": "lines",
                       "line": {"color": BENCH_COLOUR, "width": 1, "dash": "dot"}, "hovertemplate": "%{y:,.2f}"})
    return _figure(360, {"title": {"text": "equity"}, "tickformat": ",.0f"}, traces)


def drawdown_figure(view: Any) -> go.Figure:
    return _figure(220, {"title": {"text": "drawdown"}, "ticksuffix": " %", "tickformat": ",.1f"}, [
        {"type": "scatter", "x": epoch_ms(view.equity.index), "y": view.equity["drawdown"].to_numpy() * 100,
         "name": "drawdown", "mode": "lines", "fill": "tozeroy", "line": {"color": LOSS_COLOUR, "width": 1},
         "hovertemplate": "%{y:.2f} %"}])


def _symbol_picker(run_id: str, symbols: Sequence[str], chosen: str | None) -> Any:
    if len(symbols) < 2:
        return html.Div(id="bt-symbols")
    return html.Nav([dcc.Link(symbol, href=f"{PATH}?{urlencode({'run': run_id, 'symbol': symbol})}",
                              className="tab" + (" active" if symbol == chosen else ""))
                     for symbol in symbols], id="bt-symbols", className="tabs")


def _price_chart(view: Any, symbol: str | None) -> Any:
    if view.price_problem or symbol is None or symbol not in view.prices:
        return note(["No price chart: ", view.price_problem or f"no bars of {symbol} in the store",
                     ". The trades are listed below."], kind="warning", note_id="bt-price-missing")
    mine = view.trades[view.trades["symbol"] == symbol]
    children: list[Any] = [_graph("bt-price", price_figure(view, symbol))]
    if len(mine) > MAX_MARKERS:
        children.insert(0, note(f"The chart marks the latest {MAX_MARKERS:,} of {len(mine):,} trades (zoom in to see "
                                "the others); the table below lists them.", note_id="bt-markers-capped"))
    return html.Div(children)


def price_figure(view: Any, symbol: str, window: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> go.Figure:
    """``symbol``'s close with the markers of its trades (those entered or exited inside ``window``, if given)."""
    close = view.prices[symbol]
    mine = view.trades[view.trades["symbol"] == symbol]
    if window is not None:
        inside = mine["entry_time"].between(*window) | mine["exit_time"].between(*window)
        mine = mine[inside]
    line = {"type": "scatter", "x": epoch_ms(close.index), "y": close.to_numpy(), "name": "close", "mode": "lines",
            "line": {"color": "#444", "width": 1},
            "hovertemplate": "%{x|%Y-%m-%d %H:%M} UTC<br>close %{y:,.6~g}<extra></extra>"}
    return _figure(420, {"title": {"text": f"{symbol} close"}, "tickformat": ",.6~g"},
                   [line, *marker_traces(mine.tail(MAX_MARKERS))], hovermode="closest")


ZOOM_HINT = ("Drag across a chart to zoom in: the server sends every stored point of the range once it fits "
             f"({CHART_BUDGET:,} per line); double-click to see the whole run again.")


def zoom_window(relayout: dict[str, Any] | None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The time range a chart's ``relayoutData`` asks for; None when it asks for the whole run (autorange). A
    relayout that changes no time range (a y-axis zoom, a resize) is :class:`dash.exceptions.PreventUpdate`."""
    from dash.exceptions import PreventUpdate

    relayout = relayout or {}
    if relayout.get("xaxis.autorange"):
        return None
    bounds = relayout.get("xaxis.range") or [relayout.get("xaxis.range[0]"), relayout.get("xaxis.range[1]")]
    if bounds[0] is None or bounds[1] is None:
        raise PreventUpdate
    start, end = (_axis_time(value) for value in bounds)
    return (start, end) if start <= end else (end, start)


def _axis_time(value: Any) -> pd.Timestamp:
    """A date axis' bound (a text in UTC, or epoch milliseconds) as a UTC timestamp."""
    if isinstance(value, (int, float)):
        return pd.Timestamp(value, unit="ms", tz="UTC")
    return pd.Timestamp(value).tz_localize("UTC")


def zoomed_figures(context: UiContext, run_id: str, relayout: dict[str, Any] | None,
                   views: ViewCache[RunView] | None = None) -> tuple[go.Figure, go.Figure]:
    """Equity and drawdown over the range the user zoomed to (every stored point once they fit the budget)."""
    window = zoom_window(relayout)
    view = cached_view(context, run_id, window, views)
    equity, drawdown = equity_figure(view), drawdown_figure(view)
    if window is not None:  # keep the user's range (the data may start a little after it)
        for figure in (equity, drawdown):
            figure.update_xaxes(range=[window[0].isoformat(), window[1].isoformat()])
    return equity, drawdown


def zoomed_price(context: UiContext, run_id: str, symbol: str | None, relayout: dict[str, Any] | None,
                 views: ViewCache[RunView] | None = None) -> go.Figure:
    window = zoom_window(relayout)
    view = cached_view(context, run_id, window, views)
    chosen = symbol if symbol in view.prices else next(iter(view.prices))
    figure = price_figure(view, chosen, window)
    if window is not None:
        figure.update_xaxes(range=[window[0].isoformat(), window[1].isoformat()])
    return figure


def _bounds(window: tuple[pd.Timestamp, pd.Timestamp] | None) -> dict[str, Any]:
    return {} if window is None else {"start": window[0], "end": window[1]}


#: a marker's tooltip; ``customdata`` holds size, P&L, return, fees, funding (numbers: they travel in binary form,
#: and plotly formats them in the browser)
_TIP = ("<b>{what}</b><br>%{{x|%Y-%m-%d %H:%M}} UTC<br>size %{{customdata[0]:,.6~g}}<br>price %{{y:,.6~g}}<br>"
        "P&L %{{customdata[1]:,.2f}} (%{{customdata[2]:.2%}}){pnl_note}<br>fees %{{customdata[3]:,.2f}}<br>"
        "funding %{{customdata[4]:,.2f}}<extra></extra>")
_MARKERS = {  # (end, side, open) -> marker symbol, colour, filled
    ("entry", "long"): ("triangle-up", "#1b7f3b"), ("entry", "short"): ("triangle-down", LOSS_COLOUR),
    ("exit", "long"): ("x", "#111"), ("exit", "short"): ("x", "#7a0016"),
}


def marker_traces(trades: pd.DataFrame) -> list[dict[str, Any]]:
    """Entry markers (▲ long, ▼ short; hollow when the position is still open at the end) and exit markers (×), a
    trace per kind, each with the trade's side, size, price, P&L and fees in its tooltip."""
    traces = []
    data = trades.assign(funding=trades["funding"].fillna(0.0))
    for end in ("entry", "exit"):
        for side in ("long", "short"):
            for still_open in (False, True):
                part = data[(data["side"] == side) & (data["is_open"] == still_open)]
                if part.empty or (end == "exit" and still_open):
                    continue
                marker, colour = _MARKERS[(end, side)]
                what = f"{'open ' if still_open else ''}{side} {end}"
                custom = part[["size", "pnl", "return", "fees", "funding"]].to_numpy(dtype=float)
                traces.append({
                    "type": "scatter", "x": epoch_ms(part[f"{end}_time"]),
                    "y": part[f"{end}_price"].to_numpy(dtype=float), "mode": "markers", "name": what,
                    "marker": {"symbol": marker + ("-open" if still_open else ""), "color": colour, "size": 10,
                               "line": {"width": 1.5, "color": colour}},
                    "customdata": custom,
                    "hovertemplate": _TIP.format(what=what, pnl_note=" at the last close" if still_open else "")})
    return traces


def _trades_table(trades: pd.DataFrame) -> Any:
    if trades.empty:
        return html.P("The run made no trade.", className="empty", id="bt-trades")
    first = int(trades.index[0]) + 1 if len(trades) else 1  # numbered within the whole run, not the tail
    rows = [{"no": number, "symbol": trade["symbol"], "side": trade["side"], "size": size(trade["size"]),
             "entry": utc(trade["entry_time"]), "entry_price": trade["entry_price"],
             "exit": "open" if trade["is_open"] else utc(trade["exit_time"]), "exit_price": trade["exit_price"],
             "pnl": _finite(trade["pnl"]), "return": _finite(trade["return"]), "fees": _finite(trade["fees"]),
             "funding": _finite(trade["funding"]), "held": _held(trade), "reason": trade["exit_reason"]}
            for number, trade in enumerate(trades.to_dict("records"), start=first)]
    money_format = {"specifier": ",.2f"}
    columns: list[dict[str, Any]] = [
        {"id": "no", "name": "#", "type": "numeric"}, {"id": "symbol", "name": "symbol"},
        {"id": "side", "name": "side"}, {"id": "size", "name": "size"}, {"id": "entry", "name": "entry (UTC)"},
        {"id": "entry_price", "name": "entry price", "type": "numeric", "format": {"specifier": ",.6~g"}},
        {"id": "exit", "name": "exit (UTC)"},
        {"id": "exit_price", "name": "exit price", "type": "numeric", "format": {"specifier": ",.6~g"}},
        {"id": "pnl", "name": "P&L", "type": "numeric", "format": money_format},
        {"id": "return", "name": "return", "type": "numeric", "format": PERCENT},
        {"id": "fees", "name": "fees", "type": "numeric", "format": money_format},
        {"id": "funding", "name": "funding", "type": "numeric", "format": money_format},
        {"id": "held", "name": "held"}, {"id": "reason", "name": "exit reason"}]
    return _data_table("bt-trades", columns, rows, negative=("pnl", "return"))


def _capped(context: UiContext, run_id: str, trades: pd.DataFrame, note_id: str) -> Any:
    """Says the table holds only the latest trades (a long run has tens of thousands) and how to get all."""
    if len(trades) <= TABLE_ROWS:
        return html.Div(id=note_id)
    return note([f"The table holds the latest {TABLE_ROWS:,} of {len(trades):,} trades. All of them, as JSON: ",
                 html.Code(f"{context.cli_prefix()} runs show {run_id} --out run.json")], note_id=note_id)


def _trades_heading(trades: pd.DataFrame) -> str:
    still_open = int(trades["is_open"].sum())
    closed = len(trades) - still_open
    return f"Trades ({closed:,} closed" + (f", {still_open:,} open at the end)" if still_open else ")")


def _held(trade: dict[str, Any]) -> str:
    if trade["is_open"] or pd.isna(trade["exit_time"]):
        return "open"
    return duration((trade["exit_time"] - trade["entry_time"]).total_seconds())


def _fills_table(trades: pd.DataFrame) -> Any:
    """Every fill of the run: each trade's entry and exit (a stored run keeps its trades, not its order book)."""
    if trades.empty:
        return html.P("No fill.", className="empty", id="bt-fills")
    rows = []
    for trade in trades.to_dict("records"):
        opening = "buy" if trade["side"] == "long" else "sell"
        rows.append({"time": utc(trade["entry_time"]), "symbol": trade["symbol"], "side": opening,
                     "size": size(trade["size"]), "price": trade["entry_price"], "what": f"open {trade['side']}"})
        if not trade["is_open"]:
            rows.append({"time": utc(trade["exit_time"]), "symbol": trade["symbol"],
                         "side": "sell" if opening == "buy" else "buy", "size": size(trade["size"]),
                         "price": trade["exit_price"], "what": f"close ({trade['exit_reason']})"})
    rows.sort(key=lambda fill: fill["time"])
    columns: list[dict[str, Any]] = [{"id": "time", "name": "time (UTC)"}, {"id": "symbol", "name": "symbol"},
               {"id": "side", "name": "side"}, {"id": "size", "name": "size"},
               {"id": "price", "name": "price", "type": "numeric", "format": {"specifier": ",.6~g"}},
               {"id": "what", "name": "what"}]
    return html.Div([html.P("The fills of the stored trades (a stored run keeps its trades; the rejected or "
                            "cancelled orders of a run are in its result, not in the store).", className="hint"),
                     _data_table("bt-fills", columns, rows, negative=())])


def _funding(view: Any) -> Any:
    paid, received = view.metrics.get("funding_paid") or 0.0, view.metrics.get("funding_received") or 0.0
    if not paid and not received:
        return html.P("No funding paid or received (spot markets, or no position over a funding time).",
                      className="empty", id="bt-funding")
    by_symbol = view.trades.groupby("symbol")["funding"].sum()
    rows = [[symbol, money(value)] for symbol, value in by_symbol.items()]
    return html.Div([
        html.P(f"Paid {money(paid)}, received {money(received)}, net {money(received - paid)} "
               "(per trade in the trades table).", id="bt-funding"),
        table(["symbol", "funding paid (− received)"], rows, "bt-funding-table", ""),
    ])


def _data_table(table_id: str, columns: list[Any], rows: list[Any],
                negative: Sequence[str]) -> DataTable:
    return DataTable(
        id=table_id, columns=columns, data=rows, sort_action="native", filter_action="native",
        page_size=TABLE_PAGE, style_table={"overflowX": "auto"},
        style_cell={"fontFamily": "inherit", "fontSize": "0.88em", "padding": "3px 8px", "textAlign": "left"},
        style_cell_conditional=[{"if": {"column_type": "numeric"}, "textAlign": "right"}],
        style_data_conditional=[{"if": {"filter_query": f"{{{key}}} < 0", "column_id": key}, "color": LOSS_COLOUR}
                                for key in negative],
        style_header={"fontWeight": 600})


# ---------------------------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------------------------
#: (label, metric key or input, formatter) of the side-by-side table
COMPARED = (
    ("strategy", "strategy", str), ("params", "params", str), ("symbols", "symbols", str), ("level", "level", str),
    ("from (UTC)", "start", utc), ("to (UTC)", "end", utc), ("total return", "total_return", percent),
    ("CAGR", "cagr", percent), ("Sharpe", "sharpe", ratio), ("Sortino", "sortino", ratio),
    ("max drawdown", "max_drawdown", percent), ("trades", "n_trades", count), ("win rate", "win_rate", percent),
    ("profit factor", "profit_factor", ratio), ("fees", "fees_paid", money), ("final equity", "final_equity", money),
    ("buy and hold", "benchmark_return", percent), ("exposure", "exposure_time", percent),
)


def compare_content(context: UiContext, run_ids: Sequence[str]) -> list[Any]:
    from zvt_crypto.trader.run_views import describe, normalised_equity
    from zvt_crypto.trader.storage import compare_runs

    run_ids = list(dict.fromkeys(run_ids))
    if len(run_ids) < 2:
        return [note(["Compare needs two or more runs: tick them in ", dcc.Link("the list", href=PATH), "."],
                     kind="warning", note_id="bt-compare-missing")]
    side_by_side = compare_runs(run_ids, context.store)
    curves = normalised_equity(run_ids, context.store, budget=CHART_BUDGET)
    elapsed = not _ranges_overlap(list(curves.values()))
    traces = []
    for run_id, curve in curves.items():
        info = side_by_side[run_id]
        x = ((curve.index - curve.index[0]).total_seconds() / 86_400).to_numpy() if elapsed else epoch_ms(curve.index)
        traces.append({"type": "scatter", "x": x, "y": curve.to_numpy(), "mode": "lines",
                       "name": f"{run_id} {info['strategy']} {info['symbols']}", "hovertemplate": "%{y:.3f}"})
    # runs over different periods: side by side from their own start, not far apart on a calendar
    axis = {"xaxis": {"title": {"text": "days since the run's start"}, "type": "linear"}} if elapsed else {}
    figure = _figure(420, {"title": {"text": "equity / equity at the start"}, "tickformat": ",.2f"}, traces, **axis)
    figure.add_hline(y=1.0, line={"color": "#bbb", "width": 1})
    rows = []
    for label, key, formatter in COMPARED:
        values = [side_by_side[run_id].get(key) for run_id in run_ids]
        if key == "params":
            values = [describe(value) if isinstance(value, dict) else value for value in values]
        rows.append([label, *[formatter(value) if value is not None else "—" for value in values]])
    header: list[Any] = ["", *[dcc.Link(run_id, href=f"{PATH}?run={quote(run_id)}") for run_id in run_ids]]
    return [
        html.P(dcc.Link("← all runs", href=PATH), className="hint"),
        html.Section([html.H2(f"{len(run_ids)} runs: equity normalised to their start"),
                      html.P("The runs cover periods that do not overlap: each is drawn from its own start."
                             if elapsed else "", className="hint", id="bt-compare-axis"),
                      _graph("bt-compare-equity", figure)], className="card"),
        html.Section([html.H2("Side by side"),
                      html.Div(html.Table([html.Thead(html.Tr([html.Th(cell) for cell in header])),
                                           html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows])],
                                          className="grid"), id="bt-compare-table")], className="card"),
    ]


def _ranges_overlap(curves: Sequence[pd.Series]) -> bool:
    """Whether some stretch of time is in every curve (a calendar axis then compares like with like)."""
    return max(curve.index[0] for curve in curves) < min(curve.index[-1] for curve in curves)
