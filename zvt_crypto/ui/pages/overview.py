"""``/`` — what the store holds: its URL (password hidden), rows per schema, the newest bar per exchange, the
scheduler's state and its last runs; on an empty store, the exact commands that fill it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import dash
from dash import Dash, Input, Output, dcc, html

from zvt_crypto import __version__
from zvt_crypto.contract.config import redact_url
from zvt_crypto.contract.timeutil import now_ms, to_ms
from zvt_crypto.ui.components import GREY, RED, age, coloured, command, guarded, note, refresh_timer, table, utc
from zvt_crypto.ui.context import UiContext

PATH = "/"
REFRESH_SECONDS = 15
LAST_RUNS = 5


def register(app: Dash, context: UiContext) -> None:
    dash.register_page(__name__, path=PATH, name="Overview", title="zvt_crypto — overview", order=0,
                       layout=lambda **_query: layout())

    @app.callback(Output("overview-content", "children"), Input("overview-timer", "n_intervals"))
    @guarded("the overview")
    def refresh(_n: int | None) -> Any:
        return overview_content(context)


def layout() -> html.Div:
    return html.Div([
        html.H1("Overview"),
        refresh_timer("overview-timer", REFRESH_SECONDS),
        dcc.Loading(html.Div(id="overview-content"), delay_show=300),
    ])


def overview_content(context: UiContext) -> list[Any]:
    """The page's sections, from the library's own functions (the ones ``zvt-crypto info`` and ``schedule status``
    print)."""
    from zvt_crypto.domain.inventory import row_counts

    counts = row_counts(context.store)
    if not any(counts.values()):
        return [_store_section(context, counts), _empty_store(context)]
    return [_store_section(context, counts), _bars_section(context), _scheduler_section(context)]


def _store_section(context: UiContext, counts: dict[str, int]) -> html.Section:
    filled = [(name, rows) for name, rows in counts.items() if rows]
    empty = [name for name, rows in counts.items() if not rows]
    rows = [[name, html.Span(f"{count:,}", className="num")] for name, count in filled]
    return html.Section([
        html.H2("Store"),
        html.Dl([html.Dt("database"), html.Dd(redact_url(context.config.db_url), id="overview-store-url"),
                 html.Dt("chosen by"), html.Dd(_origin(context.config.db_url_origin)),
                 html.Dt("zvt_crypto"), html.Dd(__version__)], className="kv"),
        html.H2("Rows per schema"),
        table(["schema", "rows"], rows, "overview-rows", "No rows in any table yet."),
        html.P(f"Empty: {', '.join(empty)}." if filled and empty else "", className="hint"),
    ], className="card")


def _origin(origin: str) -> str:
    return "default: the store under the data home" if origin == "default" else origin


def _empty_store(context: UiContext) -> html.Section:
    cli = context.cli_prefix()
    return html.Section([
        html.H2("This store is empty"),
        note("Nothing is recorded here yet. Fill it with one of these commands, then reload this page.",
             note_id="overview-empty"),
        html.P("Offline: a week of data from the simulated Binance (no internet needed):"),
        command(f"{cli} demo"),
        html.P("From a real exchange (the markets first, then bars from a start date; later runs resume):"),
        command(f"{cli} record markets --exchange binance\n"
                f"{cli} record bars --exchange binance --symbol BTC/USDT --level 1h --start 2024-01-01"),
        html.P("Or keep it recording on a schedule: add [[jobs]] to the config file and run"),
        command(f"{cli} schedule run"),
    ], className="card", id="overview-empty-store")


def _bars_section(context: UiContext) -> html.Section:
    from zvt_crypto.contract.levels import Level
    from zvt_crypto.domain.inventory import newest_bars

    now = now_ms()
    # the age counts from the bar's close, as the lag on /jobs does: a fresh 1d bar is not a day behind
    rows = [[bar.exchange, bar.level, utc(bar.newest),
             age((now - to_ms(bar.newest) - Level.parse(bar.level).ms) / 1000), f"{bar.symbols:,}", f"{bar.rows:,}"]
            for bar in newest_bars(context.store)]
    return html.Section([
        html.H2("Newest bar per exchange"),
        table(["exchange", "level", "newest bar open (UTC)", "closed ago", "symbols", "bars"], rows,
              "overview-newest", "No bars stored yet (other kinds of data are)."),
    ], className="card")


def _scheduler_section(context: UiContext) -> html.Section:
    from zvt_crypto.schedule.status import jobs_report

    report = jobs_report(context.store, context.config, history_limit=LAST_RUNS)
    daemon = report.daemon
    state = (coloured("No scheduler running on this store", GREY) if "host" not in daemon
             else coloured(daemon["text"], RED if daemon.get("stale") else "#1b7f3b"))
    rows = [[utc(run["started_timestamp"]), dcc.Link(run["job"], href=f"/jobs?job={quote(run['job'])}"),
             _status(run["status"]), f"{run['changed']:,}",
             html.Span((run["error"] or "").splitlines()[0][:120] if run["error"] else "", className="wrap")]
            for run in report.runs]
    return html.Section([
        html.H2("Scheduler"),
        html.P(state, id="overview-scheduler"),
        html.H2("Last runs"),
        table(["started (UTC)", "job", "status", "rows written", "error"], rows, "overview-runs",
              "No job has run on this store yet."),
        dcc.Link("All jobs and the run history →", href="/jobs"),
    ], className="card")


def _status(status: str) -> html.Span:
    return coloured(status, {"ok": "#1b7f3b", "running": GREY}.get(status, RED))
