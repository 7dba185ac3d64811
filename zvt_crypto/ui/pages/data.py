"""``/data?exchange=&symbol=&level=`` — one stored series: candlesticks with volume, overlays of the factors
stored for it, a perp's funding, mark − index basis and open interest, and its coverage with every gap shaded on
the time axis and listed.

A long series never reaches the browser whole: :func:`zvt_crypto.domain.chart.bars_at_budget` picks the finest
level at which the visible range holds at most :data:`BUDGET` candles (resampled exactly from the stored bars),
and a zoom (``relayoutData``) asks again for the new range, down to the stored level. The chart says which level
it shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import ClientsideFunction, Dash, Input, Output, State, ctx, dcc, html

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import parse_entity_id, symbol_of
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import iso, to_ms
from zvt_crypto.domain.chart import BarsView, StoredFactor, ViewCache
from zvt_crypto.domain.coverage import Coverage
from zvt_crypto.ui.components import TEMPLATE, command, failure_message, guarded, logger, note, table, utc
from zvt_crypto.ui.context import UiContext

PATH = "/data"
BUDGET = 2_000  # candles per chart: a few thousand draw fast and weigh well under 1 MB
SHADED_GAPS = 200  # gaps drawn on the time axis (the largest); the table lists them all up to LISTED_GAPS
LISTED_GAPS = 500
UP, DOWN, GAP, KNOWN_GAP = "#1b7f3b", "#b00020", "rgba(176, 0, 32, 0.15)", "rgba(100, 100, 100, 0.18)"
_RANGE_KEY = re.compile(r"^xaxis\d*\.range\[([01])\]$")


@dataclass(frozen=True)
class Selection:
    """What the pickers name: an entity (exchange and symbol) and a stored level."""

    exchange: str
    symbol: str
    entity_id: str
    level: Level


def register(app: Dash, context: UiContext) -> None:
    from zvt_crypto.domain.chart import ViewCache

    views: ViewCache[BarsView] = ViewCache()  # this app's recent whole-series views (no module state)
    dash.register_page(__name__, path=PATH, name="Data", title="zvt_crypto — data", order=1,
                       layout=lambda **query: layout(context, **query))

    @app.callback(Output("data-symbol", "options"), Output("data-symbol", "value"),
                  Input("data-exchange", "value"), State("data-symbol", "value"), prevent_initial_call=True)
    def symbols_of_exchange(exchange: str | None, symbol: str | None) -> tuple[list[dict[str, str]], str | None]:
        options = symbol_options(catalogue(context), exchange)
        values = [option["value"] for option in options]
        return options, symbol if symbol in values else (values[0] if values else None)

    @app.callback(Output("data-factors", "options"), Output("data-factors", "value"),
                  Output("data-factors", "placeholder"), Output("data-factor-hint", "children"),
                  Input("data-symbol", "value"), Input("data-level", "value"), State("data-exchange", "value"),
                  State("data-factors", "value"), prevent_initial_call=True)
    def factors_of_series(symbol: str | None, level: str | None, exchange: str | None,
                          chosen: list[str] | None) -> tuple[list[dict[str, str]], list[str], str, Any]:
        selection = select(catalogue(context), exchange, symbol, level)
        options, placeholder, hint = factor_options(context, selection)
        kept = [factor for factor in chosen or [] if factor in {option["value"] for option in options}]
        return options, kept, placeholder, hint

    @app.callback(Output("data-chart", "figure"), Output("data-level-note", "children"),
                  Output("data-message", "children"), Output("data-coverage", "children"),
                  Input("data-exchange", "value"), Input("data-symbol", "value"), Input("data-level", "value"),
                  Input("data-factors", "value"), Input("data-range", "data"))
    def draw(exchange: str | None, symbol: str | None, level: str | None, factors: list[str] | None,
             shown_range: dict[str, Any] | None) -> tuple[Any, Any, Any, Any]:
        fired = set(ctx.triggered_prop_ids)  # empty on the page's first call
        picked = not fired or bool(fired & {"data-exchange.value", "data-symbol.value", "data-level.value"})
        visible = None if picked else visible_range(shown_range)  # a new series starts whole
        return safe_chart_content(context, exchange, symbol, level, factors or [], visible, with_coverage=picked,
                                  views=views)

    # The zoom to draw, kept in the browser (assets/data.js says why).
    app.clientside_callback(ClientsideFunction("zvtData", "visibleRange"), Output("data-range", "data"),
                            Input("data-chart", "relayoutData"), Input("data-exchange", "value"),
                            Input("data-symbol", "value"), Input("data-level", "value"), prevent_initial_call=True)

    # The URL follows the pickers (a link to share) without reloading the page: assets/data.js.
    app.clientside_callback(ClientsideFunction("zvtData", "syncUrl"), Output("data-url", "data"),
                            Input("data-exchange", "value"), Input("data-symbol", "value"),
                            Input("data-level", "value"), Input("data-factors", "value"))


# ---------------------------------------------------------------------------------------------------------------
# layout and pickers
# ---------------------------------------------------------------------------------------------------------------
def layout(context: UiContext, exchange: str | None = None, symbol: str | None = None, level: str | None = None,
           factor: str | list[str] | None = None, **_query: str) -> html.Div:
    """The page for ``?exchange=&symbol=&level=&factor=ID&factor=ID`` (any of them missing: the first stored
    series; no overlay). A factor id holds commas (``macd:1h:fast=12,signal=9,slow=26``), hence one ``factor``
    parameter per overlay (Dash hands a repeated parameter over as a list)."""
    overlays = [factor] if isinstance(factor, str) else list(factor or [])
    return html.Div([html.H1("Data"), _body(context, exchange, symbol, level, overlays)])


@guarded("the data page")
def _body(context: UiContext, exchange: str | None, symbol: str | None, level: str | None,
          overlays: list[str]) -> Any:
    series = catalogue(context)
    if not series:
        return _no_bars_at_all(context)
    selection = select(series, exchange, symbol, level)
    exchanges = sorted({parse_entity_id(entity)[1] for entity, _ in series})
    factors, placeholder, factor_hint = factor_options(context, selection)
    stored = {option["value"] for option in factors}
    chosen = [factor_id for factor_id in dict.fromkeys(overlays) if factor_id in stored]  # a stale link's: dropped
    return html.Div([
        html.Div([
            html.Label(["Exchange", dcc.Dropdown(id="data-exchange", options=exchanges, value=selection.exchange,
                                                 searchable=False, clearable=False, className="picker")]),
            html.Label(["Symbol", dcc.Dropdown(id="data-symbol", value=selection.symbol, searchable=True,
                                               options=symbol_options(series, selection.exchange),
                                               clearable=False, className="picker")], className="wide"),
            html.Label(["Level", dcc.Dropdown(id="data-level", value=str(selection.level), searchable=False,
                                              options=[str(each) for each in Level], clearable=False,
                                              className="picker")]),
            html.Label(["Factor overlays", dcc.Dropdown(id="data-factors", options=factors, value=chosen, multi=True,
                                                        placeholder=placeholder, className="picker")],
                       className="wide"),
        ], className="pickers"),
        html.P(factor_hint, id="data-factor-hint", className="hint"),
        dcc.Store(id="data-url"),
        dcc.Store(id="data-range"),
        html.P(id="data-level-note", className="hint"),
        html.Div(id="data-message"),
        # The page comes first and the chart in a callback after it: the browser loads plotly.js while the server
        # builds the candles (the chart inside the page made the browser wait for both in turn, 0.7 s more).
        dcc.Loading(dcc.Graph(id="data-chart", figure=_blank("Loading the chart…"),
                              config={"displaylogo": False, "scrollZoom": True}), delay_show=400),
        html.Div(id="data-coverage"),
    ])


def catalogue(context: UiContext) -> list[tuple[str, str]]:
    from zvt_crypto.domain.chart import bar_series

    return bar_series(context.store)


def symbol_options(series: list[tuple[str, str]], exchange: str | None) -> list[dict[str, str]]:
    """The symbols with bars on ``exchange`` (a perp says so), sorted."""
    entities = sorted({entity for entity, _ in series if parse_entity_id(entity)[1] == exchange})
    return [{"label": f"{symbol_of(entity)} (perp)" if entity.startswith("perp_") else symbol_of(entity),
             "value": symbol_of(entity)} for entity in entities]


def select(series: list[tuple[str, str]], exchange: str | None, symbol: str | None,
           level: str | None) -> Selection:
    """The series the query names, completed from what is stored: an unknown or missing exchange or symbol
    becomes the first stored one, a missing level the entity's finest stored level (a level given is kept,
    stored or not: the chart then says which command records it)."""
    exchanges = sorted({parse_entity_id(entity)[1] for entity, _ in series})
    exchange = exchange if exchange in exchanges else exchanges[0]
    entities = sorted({entity for entity, _ in series if parse_entity_id(entity)[1] == exchange})
    entity = next((each for each in entities if symbol_of(each) == symbol), entities[0])
    stored = [Level.parse(lvl) for each, lvl in series if each == entity]
    try:
        chosen = Level.parse(level) if level else min(stored, key=lambda lvl: lvl.ms)
    except InvalidInputError:  # a level that is no level: the finest stored one
        chosen = min(stored, key=lambda lvl: lvl.ms)
    return Selection(exchange, symbol_of(entity), entity, chosen)


def factor_options(context: UiContext, selection: Selection) -> tuple[list[dict[str, str]], str, Any]:
    """The stored factors of the series (options), the dropdown's placeholder, and a hint: the command that
    computes one when none is stored."""
    from zvt_crypto.domain.chart import stored_factors

    factors = stored_factors(context.store, selection.entity_id, selection.level)
    if not factors:
        return [], f"No factor stored at {selection.level}", [
            f"No factor is computed for {selection.symbol} at {selection.level}; compute one (e.g. RSI) with ",
            html.Code(f"{context.cli_prefix()} factor compute rsi --exchange {selection.exchange} --symbol "
                      f"{selection.symbol} --level {selection.level}"), " and pick it here."]
    options = [{"label": factor.factor_id, "value": factor.factor_id} for factor in factors]
    return options, "Overlay stored factors", ""


def _no_bars_at_all(context: UiContext) -> Any:
    cli = context.cli_prefix()
    return html.Section([
        note("No bars are stored yet, so there is nothing to chart. Fill the store, then reload this page:",
             note_id="data-empty"),
        command(f"{cli} demo"),
        command(f"{cli} record bars --exchange binance --symbol BTC/USDT --level 1h --start 2024-01-01"),
    ], className="card")


# ---------------------------------------------------------------------------------------------------------------
# the chart
# ---------------------------------------------------------------------------------------------------------------
def visible_range(relayout: dict[str, Any] | None) -> tuple[int, int] | None:
    """The x range (epoch ms, UTC) a zoom or pan set in ``relayoutData``, or None when it set none."""
    if not relayout:
        return None
    ends: dict[int, Any] = {}
    for key, value in relayout.items():
        found = _RANGE_KEY.match(key)
        if found:
            ends[int(found.group(1))] = value
        elif re.fullmatch(r"xaxis\d*\.range", key) and isinstance(value, list) and len(value) == 2:
            ends = {0: value[0], 1: value[1]}
    if set(ends) != {0, 1}:
        return None
    start, end = (to_ms(pd.Timestamp(ends[side], tz="UTC") if isinstance(ends[side], str) else ends[side])
                  for side in (0, 1))
    return (start, end) if start <= end else (end, start)


def safe_chart_content(context: UiContext, exchange: str | None, symbol: str | None, level: str | None,
                       factor_ids: list[str], visible: tuple[int, int] | None, with_coverage: bool = True,
                       views: ViewCache[BarsView] | None = None) -> tuple[Any, Any, Any, Any]:
    """:func:`chart_content`, or when it fails: a blank chart and the reason in the page (the traceback logged),
    never a spinner left turning."""
    try:
        return chart_content(context, exchange, symbol, level, factor_ids, visible, with_coverage, views)
    except Exception as exc:  # noqa: BLE001 - every failure: shown in the page, its traceback logged
        logger.exception("dashboard: the chart failed")
        return _blank("No chart"), "", failure_message(exc, "the chart"), dash.no_update if not with_coverage else ""


def chart_content(context: UiContext, exchange: str | None, symbol: str | None, level: str | None,
                  factor_ids: list[str], visible: tuple[int, int] | None, with_coverage: bool = True,
                  views: ViewCache[BarsView] | None = None) -> tuple[Any, Any, Any, Any]:
    """The figure, the line saying which level it shows, a message when there is nothing to draw (why, and the
    command that records it) and the coverage section (``dash.no_update`` when ``with_coverage`` is False)."""
    from zvt_crypto.domain.chart import bars_at_budget, perp_lines
    from zvt_crypto.domain.coverage import coverage

    series = catalogue(context)
    if not series:
        return _blank("No bars stored"), "", _no_bars_at_all(context), ""
    selection = select(series, exchange, symbol, level)
    start, end = visible if visible else (None, None)
    covered = coverage(context.store, entity_ids=[selection.entity_id], level=selection.level) if with_coverage \
        else []

    def build() -> BarsView:
        return bars_at_budget(context.store, selection.entity_id, selection.level, start=start, end=end,
                              budget=BUDGET)

    if views is not None and visible is None and covered:  # the whole series, its signature known
        signature = (covered[0].first, covered[0].last, covered[0].rows)
        view = views.get((selection.entity_id, str(selection.level), BUDGET, *signature), build)
    else:
        view = build()
    coverage_section: Any = coverage_content(selection, covered[0] if covered else None,
                                                      context.cli_prefix()) if with_coverage \
        else dash.no_update
    if view.bars.empty:
        why = no_bars_message(context, selection, series, visible)
        return _blank(f"No {selection.level} bars to show"), "", why, coverage_section
    factors = _factor_lines(context, selection, view, factor_ids)
    lines = perp_lines(context.store, view)
    gaps = covered[0].gaps if covered else _gaps_within(context, selection, view)
    figure = chart_figure(selection, view, factors, lines, gaps)
    label = f"{selection.symbol} on {selection.exchange}: {view.label()} ({len(view.bars):,} candles, UTC)."
    return figure, label, "", coverage_section


def _gaps_within(context: UiContext, selection: Selection, view: BarsView) -> list[Any]:
    """The stored series' gaps inside the view's range (a zoom or an overlay keeps its bands): the range's own
    ends, past the first or last stored bar, are not gaps of the series."""
    from zvt_crypto.domain.coverage import coverage

    found = coverage(context.store, entity_ids=[selection.entity_id], level=selection.level, start=view.start,
                     end=view.end)
    if not found:
        return []
    return [gap for gap in found[0].gaps if found[0].first <= gap.start and gap.end <= found[0].last]


def no_bars_message(context: UiContext, selection: Selection, series: list[tuple[str, str]],
                    visible: tuple[int, int] | None) -> html.Div:
    """Why the chart is empty: the level holds no bars of this entity (which levels do, and the command that
    records this one), or the zoomed range lies outside the stored series."""
    stored = sorted((Level.parse(lvl) for entity, lvl in series if entity == selection.entity_id),
                    key=lambda lvl: lvl.ms)
    if visible is not None and selection.level in stored:
        return note(f"No {selection.level} bars between {utc(visible[0])} and {utc(visible[1])} UTC: the range lies "
                    "outside the stored series (see its coverage below). Double-click the chart to see it whole.",
                    kind="warning", note_id="data-no-bars")
    others = ", ".join(str(lvl) for lvl in stored)
    return note([
        html.Strong(f"No {selection.level} bars of {selection.symbol} on {selection.exchange} are stored"),
        f" (it has {others} bars: pick one of those levels). Record them with:",
        command(f"{context.cli_prefix()} record bars --exchange {selection.exchange} --symbol {selection.symbol} "
                f"--level {selection.level} --start 2024-01-01"),
    ], kind="warning", note_id="data-no-bars")


def chart_figure(selection: Selection, view: BarsView, factors: dict[str, pd.Series],
                 lines: dict[str, pd.Series], gaps: list[Any]) -> Any:
    """Candles and volume, price-scale factors over the candles, other factors and the perp's lines in rows of
    their own below; gaps shaded across every row. Times go as epoch ms (compact; plotly reads them as UTC)."""
    from plotly.subplots import make_subplots

    bars = view.bars
    low, high = float(bars["low"].min()), float(bars["high"].max())
    on_price = {name: line for name, line in factors.items() if _on_price_scale(line, low, high)}
    own_rows = {**{name: line for name, line in factors.items() if name not in on_price}, **lines}
    titles = ["price", "volume", *own_rows]
    heights = [0.55, 0.15, *([0.3 / len(own_rows)] * len(own_rows))] if own_rows else [0.75, 0.25]
    figure = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, vertical_spacing=0.03,
                           row_heights=heights, subplot_titles=titles)
    x = _epoch_ms(bars.index)
    figure.add_candlestick(x=x, open=bars["open"].to_numpy(), high=bars["high"].to_numpy(),
                           low=bars["low"].to_numpy(), close=bars["close"].to_numpy(), name=str(view.level),
                           increasing_line_color=UP, decreasing_line_color=DOWN, row=1, col=1)
    # volume as one filled step line: one SVG path where bars would be one per candle (half the drawing time)
    figure.add_scatter(x=x, y=bars["volume"].to_numpy(), name="volume", mode="lines", line_shape="hv",
                       line_width=0.8, line_color="#6b7280", fill="tozeroy", row=2, col=1)
    for name, line in on_price.items():
        figure.add_scatter(x=_epoch_ms(line.index), y=line.to_numpy(), name=name, mode="lines", row=1, col=1)
    for row, (name, line) in enumerate(own_rows.items(), start=3):
        figure.add_scatter(x=_epoch_ms(line.index), y=line.to_numpy(), name=name, mode="lines", row=row, col=1)
        if name == "funding rate":  # a fraction per funding interval: 0.040 %, not plotly's "400µ"
            figure.update_yaxes(tickformat=".3%", hoverformat=".4%", row=row, col=1)
    shaded = sorted(gaps, key=lambda gap: gap.missing, reverse=True)[:SHADED_GAPS]
    figure.update_layout(shapes=[  # one band per gap across every row (add_vrect would add one per row)
        {"type": "rect", "xref": "x", "yref": "paper", "x0": gap.start, "x1": gap.end + view.stored_level.ms,
         "y0": 0, "y1": 1, "fillcolor": KNOWN_GAP if gap.known else GAP, "line": {"width": 0}, "layer": "below"}
        for gap in shaded])
    figure.update_xaxes(type="date", rangeslider_visible=False)
    figure.update_yaxes(fixedrange=True)  # zoom on time only; each re-query fits the prices of the range
    figure.update_layout(
        template=TEMPLATE, title={"text": f"{selection.symbol} · {view.label()}", "font": {"size": 14}},
        uirevision=f"{selection.entity_id}|{selection.level}",  # a re-query keeps the user's zoom
        margin={"l": 60, "r": 20, "t": 60, "b": 40}, showlegend=bool(factors), dragmode="zoom",
        height=560 + 140 * len(own_rows),
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    figure.update_xaxes(title_text="time (UTC)", row=len(titles), col=1)
    return figure


def _on_price_scale(line: pd.Series, low: float, high: float) -> bool:
    """A moving average belongs over the candles; an oscillator (RSI 0–100 on a 40k price) does not."""
    values = line.dropna()
    return bool(len(values)) and low * 0.5 <= float(values.median()) <= high * 1.5


def _factor_lines(context: UiContext, selection: Selection, view: BarsView,
                  factor_ids: list[str]) -> dict[str, pd.Series]:
    """Each output of the chosen stored factors over the view's range, one value per shown bar."""
    from zvt_crypto.domain.chart import last_per_bar, stored_factors
    from zvt_crypto.factors.engine import load_factor

    stored: dict[str, StoredFactor] = {factor.factor_id: factor
                                       for factor in stored_factors(context.store, selection.entity_id,
                                                                    selection.level)}
    lines: dict[str, pd.Series] = {}
    for factor_id in factor_ids:
        factor = stored.get(factor_id)
        if factor is None:
            continue  # computed for another level or entity: the pickers offer only the stored ones
        values = load_factor(factor.name, params=factor.params, level=selection.level,
                             entity_ids=[selection.entity_id], start=view.start,
                             end=view.end + view.stored_level.ms - 1, store=context.store)
        values = values.droplevel("entity_id")[factor.outputs]
        if view.resampled:
            values = last_per_bar(values, view.level)
        for output in factor.outputs:
            name = factor_id if len(factor.outputs) == 1 else f"{factor_id} {output}"
            lines[name] = values[output]
    return lines


def _epoch_ms(index: pd.Index) -> Any:
    from zvt_crypto.contract.timeutil import series_to_ms

    return series_to_ms(index)


def _blank(title: str) -> dict[str, Any]:
    return {"data": [], "layout": {"title": {"text": title}, "xaxis": {"visible": False},
                                   "yaxis": {"visible": False}, "height": 240}}


# ---------------------------------------------------------------------------------------------------------------
# coverage
# ---------------------------------------------------------------------------------------------------------------
def coverage_content(selection: Selection, covered: Coverage | None, cli: str = "zvt-crypto") -> html.Section:
    """First and last bar, rows, and every gap (known ones labelled with the venue's reason)."""
    heading = html.H2(f"Coverage of {selection.symbol} {selection.level} bars")
    if covered is None:
        return html.Section([heading, html.P("No bars stored at this level.", className="empty",
                                             id="data-coverage-summary")], className="card")
    step = Level.parse(covered.level).ms
    summary = html.Dl([
        html.Dt("first bar (UTC)"), html.Dd(utc(covered.first)),
        html.Dt("last bar (UTC)"), html.Dd(utc(covered.last)),
        html.Dt("rows"), html.Dd(f"{covered.rows:,} of {covered.expected:,} on the grid"),
        html.Dt("gaps"), html.Dd(f"{len(covered.gaps):,} ({covered.missing:,} bars missing, "
                                 f"{sum(gap.known for gap in covered.gaps):,} gaps known: confirmed empty by the "
                                 "venue)"),
    ], className="kv", id="data-coverage-summary")
    rows = [[utc(gap.start), utc(gap.end + step - 1), f"{gap.missing:,}",
             "known" if gap.known else "missing", gap.reason or ""] for gap in covered.gaps[:LISTED_GAPS]]
    more = len(covered.gaps) - LISTED_GAPS
    query = urlencode({"exchange": selection.exchange, "symbol": selection.symbol})
    return html.Section([
        heading, summary,
        _gaps_hint(selection, covered, cli),
        table(["from (UTC)", "to (UTC)", "bars missing", "kind", "reason"], rows, "data-gaps",
              "No gap: every bar on the grid between the first and the last is stored."),
        html.P(f"… and {more:,} more gaps ({cli} coverage --exchange {selection.exchange} --symbol "
               f"{selection.symbol} --level {selection.level} --format csv lists them all).", className="hint")
        if more > 0 else "",
        html.P(dcc.Link("Link to this series", href=f"{PATH}?{query}&level={selection.level}"), className="hint"),
    ], className="card")


def _gaps_hint(selection: Selection, covered: Coverage, cli: str) -> Any:
    if not covered.gaps:
        return ""
    legend: list[Any] = ["Gaps are shaded on the chart: ", html.Span("red", style={"color": DOWN}), " missing, ",
                         html.Span("grey", style={"color": "#555"}), " known (confirmed empty by the venue)."]
    missing = [gap for gap in covered.gaps if not gap.known]
    if not missing:
        return html.P(legend, className="hint")
    step = Level.parse(covered.level).ms
    return html.Div([
        html.P([*legend, " Record the missing bars again with:"], className="hint"),
        command(f"{cli} record bars --exchange {selection.exchange} --symbol {selection.symbol} --level "
                f"{selection.level} --start {iso(missing[0].start)} --end {iso(missing[-1].end + step - 1)}"),
    ])
