"""``zvt-crypto paper create|step|status|trades|reset|delete``: paper accounts that trade new bars as they are
recorded (:mod:`zvt_crypto.trader.paper`)."""

from __future__ import annotations

import sys
from typing import Any

import click

from zvt_crypto.cli.app import Context, cli, handle_errors
from zvt_crypto.cli.dates import days_option
from zvt_crypto.cli.trading_options import cost_options


@cli.group()
def paper() -> None:
    """Paper trading: a strategy on new bars, on a simulated account kept in the store."""


@paper.command("create")
@click.argument("name")
@click.option("--strategy", required=True, metavar="NAME|module:Class", help="A registered strategy or module:Class.")
@click.option("--exchange", required=True, help="ccxt exchange id, e.g. binance.")
@click.option("--symbol", "symbols", multiple=True, required=True, help="ccxt unified symbol; repeat for several.")
@click.option("--level", required=True, help="Level: 1m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Strategy parameter; repeatable.")
@cost_options
@click.option("--max-position", type=float, help="Risk: |notional| of one symbol ≤ this fraction of equity.")
@click.option("--max-gross", type=float, help="Risk: Σ |notional| ≤ this fraction of equity.")
@click.option("--max-leverage", type=float, help="Risk: cap on the leverage a symbol may use.")
@click.option("--max-drawdown", type=float, help="Risk: kill switch at this drawdown from the peak (e.g. 0.25).")
@click.option("--daily-loss", type=float, help="Risk: no new risk for the UTC day after losing this fraction.")
@click.option("--start", help="First bar it trades (ISO-8601 or 30d, UTC); default: the next bar to be recorded.")
@click.option("--warmup", type=int, default=500, show_default=True, help="Bars before the start that warm up "
              "the indicators.")
@click.option("--reset", "replace", is_flag=True, help="Replace an existing account of that name (its history "
              "is dropped).")
@click.pass_obj
@handle_errors
@days_option
def create_command(obj: Context, name: str, strategy: str, symbols: tuple[str, ...], exchange: str, level: str,
                   params: tuple[str, ...], cash: float, fee: float | None, slippage: float, leverage: float,
                   max_position: float | None, max_gross: float | None, max_leverage: float | None,
                   max_drawdown: float | None, daily_loss: float | None, start: str | None, warmup: int,
                   replace: bool) -> None:
    """Create paper account NAME (nothing happens if it exists with the same definition)."""
    from zvt_crypto.contract.timeutil import iso
    from zvt_crypto.trader.paper import PaperTrader
    from zvt_crypto.trader.params import parse_params
    from zvt_crypto.trader.risk import RiskLimits

    risk = RiskLimits(max_position=max_position, max_gross=max_gross, max_leverage=max_leverage,
                      max_drawdown=max_drawdown, daily_loss=daily_loss)
    trader = PaperTrader(name, strategy, parse_params(params), exchange=exchange, symbols=list(symbols), level=level,
                         cash=cash, fee=fee, slippage=slippage or None, leverage=leverage, risk=risk, start=start,
                         warmup=warmup)
    account = trader.create(obj.store, replace=replace)
    click.echo(f"paper account {account.name}: {account.describe()}, cash {account.settings.cash:g}, "
               f"trades from {iso(account.start)} (zvt-crypto paper step {account.name})")
    click.echo(account.fees(obj.store).describe())


@paper.command("step")
@click.argument("name", required=False)
@click.option("--all", "every", is_flag=True, help="Step every account.")
@click.option("--until", help="Process bars up to this time only (ISO-8601 or 30d, UTC).")
@click.pass_obj
@handle_errors
def step_command(obj: Context, name: str | None, every: bool, until: str | None) -> None:
    """Process the bars recorded since the last step of account NAME (or of every account with --all)."""
    from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
    from zvt_crypto.trader.paper import PaperTrader, list_accounts

    if every == (name is not None):
        raise InvalidInputError("name one account (zvt-crypto paper step NAME) or pass --all")
    names = [name] if name is not None else list_accounts(obj.store)
    if not names:
        click.echo("no paper accounts yet: zvt-crypto paper create NAME …")
        return
    failed = False
    for account in names:
        try:
            click.echo(str(PaperTrader.load(account, obj.store).step(obj.store, until=until)))
        except ZvtCryptoError as exc:
            if not every:
                raise
            click.echo(f"error: {account}: {exc}", err=True)
            failed = True
    if failed:
        sys.exit(1)


@paper.command("status")
@click.argument("name", required=False)
@click.pass_obj
@handle_errors
def status_command(obj: Context, name: str | None) -> None:
    """Equity, positions, last bar and lag of every account (or of NAME, in detail)."""
    from zvt_crypto.trader import paper_store as db
    from zvt_crypto.trader.paper import account_status

    table = account_status(obj.store, name)
    if table.empty:
        click.echo("no paper accounts yet: zvt-crypto paper create NAME …")
        return
    if name is None:
        shown = table[["name", "strategy", "symbols", "level", "last_bar", "lag", "equity", "return", "trades",
                       "positions", "halted"]]
        click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        for account, waiting in zip(table["name"], table["waiting"], strict=True):
            if waiting:  # a message with the command to run: too long for a column
                click.echo(f"{account}: {waiting}")
        return
    row = table.iloc[0]
    for key in table.columns:
        click.echo(f"{key:>12}: {_show(row[key])}")
    state = db.require_row(obj.store, name)["state"] or {}
    for order in state.get("open_orders", []):
        sizing = ", ".join(f"{key}={order[key]:g}" for key in ("size", "value", "fraction", "weight", "limit", "stop")
                           if order.get(key) is not None)
        click.echo(f"  open order {order['id']}: {order['side']} {order['symbol']} {order['type']} {sizing} "
                   f"(decided {order['created_time']})")


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value if value not in (None, "") else "-")


@paper.command("trades")
@click.argument("name")
@click.option("--orders", "show_orders", is_flag=True, help="Show the final orders (fills) instead of trades.")
@click.option("--limit", type=int, default=50, show_default=True, help="The latest this many.")
@click.pass_obj
@handle_errors
def trades_command(obj: Context, name: str, show_orders: bool, limit: int) -> None:
    """The closed trades (or, with --orders, the orders) of account NAME, oldest first."""
    from zvt_crypto.trader.paper import account_orders, account_trades

    table = account_orders(name, obj.store) if show_orders else account_trades(name, obj.store)
    if table.empty:
        click.echo(f"{name}: no {'orders' if show_orders else 'trades'} yet")
        return
    click.echo(table.tail(limit).to_string(index=False, float_format=lambda v: f"{v:.8g}"))


@paper.command("reset")
@click.argument("name")
@click.option("--start", help="Start over from this time (ISO-8601 or 30d, UTC); default: the account's start.")
@click.pass_obj
@handle_errors
@days_option
def reset_command(obj: Context, name: str, start: str | None) -> None:
    """Drop the history of account NAME and start it over (same strategy and settings)."""
    from zvt_crypto.contract.timeutil import iso
    from zvt_crypto.trader.paper import PaperTrader

    trader = PaperTrader.load(name, obj.store).reset(obj.store, start=start)
    click.echo(f"paper account {name} reset: trades from {iso(trader.start)} on the next step")


@paper.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts).")
@click.pass_obj
@handle_errors
def delete_command(obj: Context, name: str, yes: bool) -> None:
    """Delete account NAME and its history (asks first; --yes does not)."""
    from zvt_crypto.contract.errors import InvalidInputError
    from zvt_crypto.trader.paper import delete_account
    from zvt_crypto.trader.paper_queries import list_accounts

    if name not in list_accounts(obj.store):
        raise InvalidInputError(f"no paper account {name!r}")
    if not yes and not _confirmed(f"delete paper account {name!r} and all its history?"):
        raise InvalidInputError(f"paper account {name!r} kept (nothing deleted); pass --yes to delete without asking")
    if not delete_account(name, obj.store):
        raise InvalidInputError(f"no paper account {name!r}")
    click.echo(f"paper account {name} deleted")


def _confirmed(question: str) -> bool:
    """The user's yes; no answer at all (stdin closed: a script) is a no."""
    try:
        return click.confirm(question, default=False)
    except click.Abort:
        click.echo("", err=True)
        return False
