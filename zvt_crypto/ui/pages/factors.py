"""``/factors?factor=&level=&entities=&output=&start=&end=`` — the stored factors and their ids, the values of one
factor for chosen symbols (a line per symbol) and its research tear sheet (IC and rank-IC series, ICIR, quantile
returns, turnover, decay from :mod:`zvt_crypto.factors.research`) on the chosen symbols and period.

``factor`` is a stored id (``rsi:1h:window=14``) or a factor name with ``level`` (its default parameters). A
factor never computed says so with the exact ``zvt-crypto factor compute`` command. The tear sheet is computed on
the server (seconds on long series): the page shows a loading state, and results are cached per (factor, output,
symbols, period, stored version) in the app (:class:`TearSheetCache`, made by :func:`register`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html

from zvt_crypto.contract.errors import InvalidInputError, NoUsableDataError
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.ui.components import TEMPLATE, command, guarded, note, table, utc
from zvt_crypto.ui.context import UiContext

PATH = "/factors"
MAX_POINTS = 2000  # per line: the browser never gets more (every k-th value when a series is longer)
DEFAULT_ENTITIES = 5
PERIODS = (1, 5, 10)
TEAR_SHEET_FIGURES = ("ic", "quantile_returns", "cumulative", "turnover", "decay")
UTC_AXIS = "time (UTC)"
# The page's state goes into the address bar without a navigation: a dcc.Location update would make Dash's page
# router render the whole page again (and drop the callbacks in flight). Returns the unchanged id (no update).
REPLACE_URL = """function(search) {
    if (typeof search === "string" && search !== window.location.search) {
        window.history.replaceState(window.history.state, "", window.location.pathname + search);
    }
    return window.dash_clientside.no_update;
}"""


class TearSheetCache:
    """The tear sheets computed by one app, newest used last; at most ``size`` kept. Keys hold the factor's stored
    version (its meta's update time), so a recomputed factor is never served stale."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def get_or_compute(self, key: Hashable, compute: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        value = compute()  # outside the lock: a slow sheet does not block the others
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def register(app: Dash, context: UiContext) -> None:
    cache = TearSheetCache()
    dash.register_page(__name__, path=PATH, name="Factors", title="zvt_crypto — factors", order=2,
                       layout=lambda **query: layout(context, **query))

    @app.callback(Output("factors-entities", "options"), Output("factors-entities", "value"),
                  Output("factors-output", "options"), Output("factors-output", "value"),
                  Input("factors-factor", "value"), State("factors-entities", "value"),
                  State("factors-output", "value"))
    def choices(factor_id: str | None, entities: list[str] | None, output: str | None) -> Any:
        return factor_choices(context, factor_id, entities, output)

    @app.callback(Output("factors-values-area", "children"), Input("factors-factor", "value"),
                  Input("factors-entities", "value"), Input("factors-output", "value"),
                  Input("factors-start", "value"), Input("factors-end", "value"))
    @guarded("the factor values")
    def values(factor_id: str | None, entities: list[str] | None, output: str | None, start: str | None,
               end: str | None) -> Any:
        return values_content(context, factor_id, entities or [], output, start, end)

    @app.callback(Output("factors-tearsheet", "children"), Input("factors-factor", "value"),
                  Input("factors-entities", "value"), Input("factors-output", "value"),
                  Input("factors-start", "value"), Input("factors-end", "value"))
    @guarded("the tear sheet")
    def sheet(factor_id: str | None, entities: list[str] | None, output: str | None, start: str | None,
              end: str | None) -> Any:
        return tear_sheet_content(context, factor_id, entities or [], output, start, end, cache)

    @app.callback(Output("factors-query", "data"), Input("factors-factor", "value"),
                  Input("factors-entities", "value"), Input("factors-output", "value"),
                  Input("factors-start", "value"), Input("factors-end", "value"), prevent_initial_call=True)
    def url(factor_id: str | None, entities: list[str] | None, output: str | None, start: str | None,
            end: str | None) -> str:
        return query_string(factor_id, entities or [], output, start, end)

    app.clientside_callback(REPLACE_URL, Output("factors-query", "id"), Input("factors-query", "data"),
                            prevent_initial_call=True)


def query_string(factor_id: str | None, entities: Sequence[str], output: str | None, start: str | None,
                 end: str | None) -> str:
    """The page's state as its shareable query string (empty parts left out)."""
    parts = {"factor": factor_id, "entities": ",".join(entities), "output": output, "start": start, "end": end}
    present = {key: value for key, value in parts.items() if value}
    return "?" + urlencode(present, safe=":,=/") if present else ""


# -- layout --------------------------------------------------------------------------------------------------------
def layout(context: UiContext, factor: str | None = None, level: str | None = None, entities: str | None = None,
           output: str | None = None, start: str | None = None, end: str | None = None, **_query: str) -> Any:
    return _layout(context, factor, level, entities, output, start, end)


@guarded("the factors page")
def _layout(context: UiContext, factor: str | None, level: str | None, entities: str | None, output: str | None,
            start: str | None, end: str | None) -> html.Div:
    from zvt_crypto.factors.catalog import stored_factors

    catalog = stored_factors(context.store)
    problem: Any = None
    try:
        factor_id = resolve_factor(catalog, factor, level)
    except InvalidInputError as exc:  # a hand-edited link: say what is wrong and show the rest of the page
        problem, factor_id = note(str(exc), kind="warning", note_id="factors-query-problem"), None
    ids = list(catalog["factor_id"])
    options = [{"label": f"{fid} ({rows:,} rows)", "value": fid} for fid, rows in zip(ids, catalog["rows"],
                                                                                       strict=True)]
    if factor_id and factor_id not in ids:
        options.insert(0, {"label": f"{factor_id} (never computed)", "value": factor_id})
    return html.Div([
        html.H1("Factors"),
        problem,
        dcc.Store(id="factors-query"),  # the state as a query string, copied into the address bar
        html.Section([html.H2("Stored factors"), catalog_content(context, catalog)], className="card"),
        html.Section([
            html.H2("Values"),
            html.Div([
                _field("factor", dcc.Dropdown(id="factors-factor", options=options, value=factor_id,
                                              clearable=False, placeholder="no factor stored")),
                _field("output", dcc.Dropdown(id="factors-output", value=output, clearable=False)),
                _field("symbols", dcc.Dropdown(id="factors-entities", multi=True, searchable=True,
                                               value=[e for e in (entities or "").split(",") if e] or None)),
                _field("from (UTC)", dcc.Input(id="factors-start", value=start or "", placeholder="YYYY-MM-DD",
                                               debounce=True, type="text")),
                _field("to (UTC)", dcc.Input(id="factors-end", value=end or "", placeholder="YYYY-MM-DD",
                                             debounce=True, type="text")),
            ], className="pickers"),
            html.Div(id="factors-values-area"),
        ], className="card"),
        html.Section([
            html.H2("Research tear sheet"),
            html.P("Ranks the chosen symbols against each other at every bar (rank IC), on the chosen period. "
                   "Computed on the server; kept for later visits.", className="hint"),
            dcc.Loading(html.Div(id="factors-tearsheet"), delay_show=200),
        ], className="card"),
    ])


def _field(label: str, control: Any) -> html.Label:
    return html.Label([html.Span(label, className="picker-label"), control], className="picker")


def resolve_factor(catalog: pd.DataFrame, factor: str | None, level: str | None) -> str | None:
    """The factor id a query names: an id as given; a name with ``level`` → its id with the default parameters
    (the stored one of that name and level when there is exactly one); nothing → the first stored (at ``level``)."""
    from zvt_crypto.contract.levels import Level

    if factor and ":" in factor:
        return factor
    at_level = catalog if not level else catalog[catalog["level"] == str(Level.parse(level))]
    if not factor:
        return str(at_level["factor_id"].iloc[0]) if len(at_level) else None
    if not level:
        raise InvalidInputError(f"factor={factor} needs a level (e.g. &level=1h) or a full id such as "
                                f"{factor}:1h:window=14")
    named = at_level[at_level["name"] == factor]
    if len(named) == 1:
        return str(named["factor_id"].iloc[0])
    from zvt_crypto.factors.base import make_factor

    return make_factor(factor).factor_id(level)


def catalog_content(context: UiContext, catalog: pd.DataFrame) -> html.Div:
    if len(catalog) == 0:
        prefix = context.cli_prefix()
        return note(["No factor is stored yet. Compute one on stored bars, e.g. ",
                     command(f"{prefix} factor compute rsi --exchange binance --level 1h"),
                     "(", html.Code(f"{prefix} factor list"), " lists every factor; ", html.Code(f"{prefix} demo"),
                     " computes a few on its data)."], note_id="factors-none")
    rows = [[dcc.Link(row.factor_id, href=PATH + query_string(row.factor_id, [], None, None, None)),
             row.name, row.level, ", ".join(f"{k}={v}" for k, v in (row.params or {}).items()) or "-",
             ", ".join(row.outputs), f"{row.entities:,}", f"{row.rows:,}", _utc(row.first), _utc(row.last),
             _utc(row.updated)] for row in catalog.itertuples()]
    return table(["factor id", "name", "level", "parameters", "outputs", "symbols", "rows", "first bar (UTC)",
                  "last bar (UTC)", "computed (UTC)"], rows, "factors-catalog", "No factor is stored yet.")


# -- callbacks' content --------------------------------------------------------------------------------------------
def factor_choices(context: UiContext, factor_id: str | None, entities: Sequence[str] | None,
                   output: str | None) -> tuple[list[dict[str, str]], list[str], list[str], str | None]:
    """Symbol and output options of ``factor_id``; the chosen ones kept when they belong to it, else the first few
    symbols and the first output."""
    from zvt_crypto.contract.ids import symbol_of
    from zvt_crypto.factors.catalog import factor_entities, factor_meta

    meta = factor_meta(factor_id, context.store) if factor_id else None
    if meta is None or not factor_id:
        return [], [], [], None
    ids = factor_entities(factor_id, context.store)
    options = [{"label": f"{symbol_of(entity)} ({entity.split('_')[1]})", "value": entity} for entity in ids]
    kept = [entity for entity in entities or [] if entity in ids] or ids[:DEFAULT_ENTITIES]
    outputs = list(meta["outputs"])
    return options, kept, outputs, output if output in outputs else outputs[0]


def _missing(context: UiContext, factor_id: str) -> html.Div:
    """A factor never computed: what to run (on an exchange that has bars at its level)."""
    from zvt_crypto.domain.inventory import newest_bars
    from zvt_crypto.factors.catalog import compute_command, parse_factor_id

    _name, level, _params = parse_factor_id(factor_id)
    exchanges = [bar.exchange for bar in newest_bars(context.store) if bar.level == level]
    prefix = context.cli_prefix()
    steps: list[Any] = [html.Strong(f"{factor_id} was never computed on this store. "), "Compute it with: ",
                        command(prefix + compute_command(factor_id, exchanges[0] if exchanges else "binance")
                                .removeprefix("zvt-crypto"))]
    if not exchanges:
        steps += [f"No bars at {level} are stored yet: record them first, e.g. ",
                  command(f"{prefix} record bars --exchange binance --symbol BTC/USDT --level {level}")]
    return note(steps, kind="warning", note_id="factors-missing")


def _period(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """Epoch ms of the period's bounds (``end`` inclusive of its whole day when it is a date)."""
    start_ms = to_ms(start) if start else None
    end_ms = None
    if end:
        end_ms = to_ms(end) + (86_400_000 - 1 if len(end.strip()) == 10 else 0)
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise InvalidInputError(f"the period's start {start} is after its end {end}")
    return start_ms, end_ms


def values_content(context: UiContext, factor_id: str | None, entities: Sequence[str], output: str | None,
                   start: str | None, end: str | None) -> list[Any]:
    from zvt_crypto.contract.ids import symbol_of
    from zvt_crypto.factors.catalog import factor_meta, factor_values

    if not factor_id:
        return [note("Pick a factor (none is stored yet: see above).", note_id="factors-values-note")]
    meta = factor_meta(factor_id, context.store)
    if meta is None:
        return [_missing(context, factor_id)]
    if not entities:
        return [note("Pick one or more symbols.", note_id="factors-values-note")]
    output = output or meta["outputs"][0]
    try:
        start_ms, end_ms = _period(start, end)
    except InvalidInputError as exc:  # the user's typing: said in the page, not a failure with a traceback
        return [note(str(exc), kind="warning", note_id="factors-values-note")]
    frame = factor_values(factor_id, entity_ids=entities, start=start_ms, end=end_ms, store=context.store)
    if frame.empty:
        return [note(f"No values of {factor_id} for these symbols in this period: widen it or compute them "
                     f"({context.cli_prefix()} factor compute {meta['name']} … --start …).",
                     note_id="factors-values-note"), _graph("factors-values", _empty_figure())]
    import plotly.graph_objects as go

    figure = go.Figure()
    thinned = []
    for entity in entities:
        if entity not in frame.index.get_level_values("entity_id"):
            continue
        series = frame.loc[entity, output].dropna()
        step = max(1, -(-len(series) // MAX_POINTS))
        if step > 1:
            thinned.append(f"{symbol_of(entity)}: every {_ordinal(step)} of {len(series):,} values")
        figure.add_scatter(x=series.index[::step], y=series.to_numpy()[::step], mode="lines",
                           name=symbol_of(entity))
    figure.update_layout(template=TEMPLATE, title=f"{output} of {factor_id}", xaxis_title=UTC_AXIS, yaxis_title=output,
                         margin={"t": 50, "r": 20}, height=380, legend_title_text="symbol")
    parts: list[Any] = [_graph("factors-values", figure)]
    if thinned:
        parts.append(html.P("Thinned to fit the browser: " + "; ".join(thinned) + ". Narrow the period to see "
                            "every value.", className="hint", id="factors-values-thinned"))
    return parts


def tear_sheet_content(context: UiContext, factor_id: str | None, entities: Sequence[str], output: str | None,
                       start: str | None, end: str | None, cache: TearSheetCache) -> list[Any]:
    from zvt_crypto.factors.catalog import factor_meta, factor_tear_sheet

    if not factor_id:
        return [note("Pick a factor.", note_id="factors-tearsheet-note")]
    meta = factor_meta(factor_id, context.store)
    if meta is None:
        return [note(f"{factor_id} was never computed: see the command above.", note_id="factors-tearsheet-note")]
    try:
        start_ms, end_ms = _period(start, end)
    except InvalidInputError as exc:
        return [note(str(exc), kind="warning", note_id="factors-tearsheet-note")]
    key = (factor_id, output, tuple(sorted(entities)), start_ms, end_ms, str(meta["updated_timestamp"]))
    try:
        sheet = cache.get_or_compute(key, lambda: factor_tear_sheet(
            factor_id, output=output, entity_ids=list(entities) or None, start=start_ms, end=end_ms,
            periods=PERIODS, store=context.store))
    except NoUsableDataError as exc:
        return [note(f"No tear sheet: {exc}. Pick more symbols.", note_id="factors-tearsheet-note")]
    summary = sheet.ic_summary
    rows = [[f"{period}", *(f"{summary.at[period, column]:.4f}" for column in
                            ("mean_ic", "std_ic", "icir", "t_stat", "positive_share")),
             f"{int(summary.at[period, 'count']):,}"] for period in summary.index]
    figures = sheet.figures()
    graphs = [_graph(f"factors-ts-{name}", _thin(figures[name])) for name in TEAR_SHEET_FIGURES]
    return [
        html.H3("IC summary (rank IC per bar, by forward-return horizon in bars)"),
        table(["horizon (bars)", "mean IC", "std IC", "ICIR", "t-stat", "share > 0", "bars"], rows,
              "factors-ic-summary", "No IC."),
        html.Div(graphs, className="tearsheet-grid"),
    ]


def _thin(figure: Any) -> Any:
    """Every line of a figure cut to :data:`MAX_POINTS` points (every k-th), x axis titled UTC when it is time."""
    for trace in figure.data:
        if trace.x is not None and len(trace.x) > MAX_POINTS:
            step = -(-len(trace.x) // MAX_POINTS)
            trace.update(x=trace.x[::step], y=trace.y[::step])
        if trace.x is not None and len(trace.x) and isinstance(trace.x[0], pd.Timestamp):
            figure.update_layout(xaxis_title=UTC_AXIS)
    figure.update_layout(template=TEMPLATE, height=380, margin={"t": 50, "r": 20}, title_font_size=14,
                         legend={"orientation": "h", "yanchor": "top", "y": -0.28, "x": 0})
    return figure


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _utc(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else utc(value)


def _graph(graph_id: str, figure: Any) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=figure, config={"displaylogo": False})


def _empty_figure() -> Any:
    import plotly.graph_objects as go

    return go.Figure().update_layout(template=TEMPLATE, height=200, xaxis_title=UTC_AXIS)
