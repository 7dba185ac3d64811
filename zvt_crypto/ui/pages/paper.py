"""``/paper?account=NAME`` — the paper accounts (strategy, market, last bar and lag, equity, return, kill switch) and
one account's equity and drawdown, positions, open orders and trades; refreshed every few seconds, so a step taken
by the scheduler or ``zvt-crypto paper step`` shows up by itself. Everything comes from the paper facade
(:mod:`zvt_crypto.trader.paper`) and :mod:`zvt_crypto.trader.paper_book`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import dash
import pandas as pd
from dash import Dash, Input, Output, dcc, html

from zvt_crypto.contract.timeutil import now_ms
from zvt_crypto.ui.components import (
    AMBER,
    GREEN,
    RED,
    TEMPLATE,
    coloured,
    command,
    guarded,
    note,
    refresh_timer,
    table,
    utc,
)
from zvt_crypto.ui.context import UiContext

PATH = "/paper"
REFRESH_SECONDS = 5
MAX_POINTS = 3000  # equity points sent to the browser (every k-th bar above it; the last one always)
TRADE_ROWS = 50


def register(app: Dash, context: UiContext) -> None:
    dash.register_page(__name__, path=PATH, name="Paper", title="zvt_crypto — paper trading", order=4,
                       layout=layout)

    @app.callback(Output("paper-content", "children"), Input("paper-timer", "n_intervals"),
                  Input("paper-account", "data"))
    @guarded("the paper accounts")
    def refresh(_n: int | None, account: str | None) -> Any:
        return paper_content(context, account or None)


def layout(account: str | None = None, **_query: str) -> html.Div:
    """``account``: the query parameter that opens one account (a shareable link)."""
    return html.Div([
        html.H1("Paper trading"),
        dcc.Store(id="paper-account", data=account or None),
        refresh_timer("paper-timer", REFRESH_SECONDS),
        html.Div(id="paper-content"),  # no spinner: a refresh every few seconds must not flash the page
    ])


def paper_content(context: UiContext, account: str | None) -> list[Any]:
    from zvt_crypto.trader.paper import account_status

    status = account_status(context.store)
    updated = html.P(f"Updated {utc(now_ms())} UTC; refreshed every {REFRESH_SECONDS} s.", className="updated",
                     id="paper-updated")
    if status.empty:
        return [_no_accounts(context), updated]
    names = list(status["name"])
    if account is not None and account not in names:
        return [note([f"No paper account named {account!r} in this store. ", dcc.Link("Show all accounts",
                                                                                       href=PATH)],
                     kind="warning", note_id="paper-unknown"), _accounts_section(status, None), updated]
    chosen = account or names[0]
    row = status[status["name"] == chosen].iloc[0]
    return [_accounts_section(status, chosen), *_account_sections(context, row), updated]


def _no_accounts(context: UiContext) -> html.Section:
    prefix = context.cli_prefix()
    return html.Section([html.H2("Accounts"), note([
        "No paper account in this store yet. Create one on stored bars and step it after each recording:",
        command(f"{prefix} paper create btc-sma --strategy sma_cross --exchange binance --symbol BTC/USDT "
                f"--level 1h --start 2024-01-02\n{prefix} paper step btc-sma"),
        "(", html.Code(f"{prefix} demo"), " creates and steps one on its data.)"], note_id="paper-none")],
        className="card")


def _accounts_section(status: pd.DataFrame, chosen: str | None) -> html.Section:
    rows = []
    for row in status.rename(columns={"return": "ret"}).itertuples():
        name: Any = dcc.Link(row.name, href=f"{PATH}?account={quote(row.name)}")
        if row.name == chosen:
            name = html.Strong(name)
        rows.append([name, row.strategy, f"{row.symbols} {row.exchange} {row.level}", _time(row.last_bar),
                     _lag(row), f"{row.equity:,.2f}", _percent(row.ret), f"{row.trades:,}", row.positions,
                     f"{row.open_orders:,}", _kill_switch(row.halted), row.waiting or "-"])
    return html.Section([html.H2("Accounts"), table(
        ["account", "strategy", "market", "last bar (UTC)", "lag", "equity", "return", "trades", "positions",
         "open orders", "kill switch", "waiting for"], rows, "paper-accounts", "No paper account.")],
        className="card")


def _account_sections(context: UiContext, row: Any) -> list[Any]:
    from zvt_crypto.trader.paper import account_equity, account_trades
    from zvt_crypto.trader.paper_book import account_backlog, account_open_orders, account_positions

    name = str(row["name"])
    equity = account_equity(name, context.store)
    positions = account_positions(name, context.store)
    orders = account_open_orders(name, context.store)
    trades = account_trades(name, context.store)
    newest, backlog = account_backlog(name, context.store)
    params = ", ".join(f"{key}={value}" for key, value in (row["params"] or {}).items())
    banner = html.Dl([
        html.Dt("strategy"), html.Dd(f"{row['strategy']}({params})"),
        html.Dt("market"), html.Dd(f"{row['symbols']} on {row['exchange']}, {row['level']} bars"),
        html.Dt("trades from (UTC)"), html.Dd(_time(row["start"])),
        html.Dt("last bar (UTC)"), html.Dd(_time(row["last_bar"]), id="paper-last-bar"),
        html.Dt("behind the newest stored bar"), html.Dd(_backlog(name, newest, backlog), id="paper-backlog"),
        html.Dt("lag behind the clock"), html.Dd(_lag_of(row["lag"], row["last_bar"], row["level"]), id="paper-lag"),
        html.Dt("equity"), html.Dd(f"{row['equity']:,.2f} (cash {_money(row['cash'])})", id="paper-equity-now"),
        html.Dt("return"), html.Dd(_percent(row["return"])),
        html.Dt("kill switch"), html.Dd(_kill_switch(row["halted"]), id="paper-kill-switch"),
    ], className="kv")
    return [
        html.Section([html.H2(f"Account {name}"), banner, _equity_graph(name, equity)], className="card",
                     id="paper-account-card"),
        html.Section([html.H2("Positions"), table(
            ["symbol", "side", "size", "entry price", "entry (UTC)", "mark", "unrealised P&L", "fees", "funding"],
            [[p.symbol, p.side, f"{p.size:g}", f"{p.entry_price:,.4f}", _time(p.entry_time), f"{p.mark:,.4f}",
              f"{p.pnl:,.2f}", f"{p.fees:,.2f}", f"{p.funding:,.2f}"] for p in positions.itertuples()],
            "paper-positions", "No open position.")], className="card"),
        html.Section([html.H2("Open orders"), table(
            ["id", "created (UTC)", "symbol", "side", "type", "size", "limit", "stop"],
            [[o.id, _time(o.created_time), o.symbol, o.side, o.type, _number(o.size), _number(o.limit),
              _number(o.stop)] for o in orders.itertuples()], "paper-open-orders", "No open order.")],
            className="card"),
        html.Section([html.H2(f"Trades ({len(trades):,}, newest first" + (
            f"; the latest {TRADE_ROWS} shown)" if len(trades) > TRADE_ROWS else ")")),
                      _trades_table(trades)], className="card"),
    ]


def _equity_graph(name: str, equity: pd.DataFrame) -> Any:
    if equity.empty:
        return note("No equity yet: the account has not processed a bar (step it after new bars are recorded: "
                    f"zvt-crypto paper step {name}).", note_id="paper-equity-note")
    from plotly.subplots import make_subplots

    step = max(1, -(-len(equity) // MAX_POINTS))
    shown = equity.iloc[::step]
    if shown.index[-1] != equity.index[-1]:
        shown = pd.concat([shown, equity.iloc[[-1]]])  # the newest mark is always drawn
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    figure.add_scatter(x=shown.index, y=shown["equity"], mode="lines", name="equity", row=1, col=1)
    figure.add_scatter(x=shown.index, y=-shown["drawdown"].abs(), mode="lines", name="drawdown", fill="tozeroy",
                       line={"color": RED}, row=2, col=1)
    title = f"Equity of {name}" + (f" (every {step}th of {len(equity):,} bars)" if step > 1 else "")
    figure.update_layout(template=TEMPLATE, title=title, height=420, margin={"t": 50, "r": 20}, showlegend=False)
    figure.update_yaxes(title_text="equity", row=1, col=1)
    figure.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    figure.update_xaxes(title_text="time (UTC)", row=2, col=1)
    return dcc.Graph(id="paper-equity", figure=figure, config={"displaylogo": False})


def _trades_table(trades: pd.DataFrame) -> html.Div:
    latest = trades.iloc[::-1].head(TRADE_ROWS) if len(trades) else trades
    rows = [[trade.symbol, trade.side, f"{trade.size:g}", _time(trade.entry_timestamp), f"{trade.entry_price:,.4f}",
             _time(trade.exit_timestamp), f"{trade.exit_price:,.4f}",
             coloured(f"{trade.pnl:,.2f}", GREEN if trade.pnl >= 0 else RED), f"{trade.fees:,.2f}"]
            for trade in latest.itertuples()]
    return table(["symbol", "side", "size", "entry (UTC)", "entry price", "exit (UTC)", "exit price", "P&L", "fees"],
                 rows, "paper-trades", "No closed trade yet.")


def _lag(row: Any) -> Any:
    return _lag_of(row.lag, row.last_bar, row.level)


def _lag_of(lag: str | None, last_bar: str | None, level: str) -> Any:
    """The lag behind the clock; amber once it is more than one bar behind (recording or stepping stopped)."""
    from zvt_crypto.contract.levels import Level
    from zvt_crypto.contract.timeutil import to_ms

    if last_bar is None or lag is None:
        return coloured("no bar yet", AMBER, "the account has not processed a bar: step it")
    behind = now_ms() - to_ms(last_bar) - Level.parse(level).ms > Level.parse(level).ms
    return coloured(lag, AMBER if behind else GREEN,
                    "more than one bar behind: record new bars and step the account" if behind else None)


def _backlog(name: str, newest: int | None, bars: int) -> Any:
    """How many stored bars the account has not processed (amber: a step is due)."""
    if newest is None:
        return coloured("no bars stored for every symbol yet", AMBER)
    if not bars:
        return coloured(f"up to date (newest stored bar {utc(newest)})", GREEN)
    return coloured(f"{bars:,} bar{'s' * (bars != 1)} not processed yet (up to {utc(newest)})", AMBER,
                    f"zvt-crypto paper step {name} processes them (the scheduler does after each recording)")


def _kill_switch(halted: str | None) -> Any:
    return coloured(f"stopped: {halted}", RED) if halted else coloured("not triggered", GREEN)


def _time(value: Any) -> str:
    return "-" if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "" else utc(value)


def _money(value: float) -> str:
    return f"{0.0 if abs(value) < 0.005 else value:,.2f}"  # no "-0.00" from a float's round-off


def _percent(value: float) -> str:
    return f"{value:+.2%}"


def _number(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:g}"
