"""``zvt-crypto factor list|compute|show``: the factor library from the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from zvt_crypto.cli.app import Context, cli, handle_errors
from zvt_crypto.cli.dates import days_option

_Command = TypeVar("_Command", bound=Callable[..., Any])  # a command function, before @command wraps it
_ENTITY_OPTIONS = (
    click.option("--exchange", required=True, help="ccxt exchange id, e.g. binance."),
    click.option("--symbol", "symbols", multiple=True, help="ccxt unified symbol; repeat for several "
                 "(default for compute: every entity with bars at the level)."),
    click.option("--level", required=True, help="Level: 1m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w."),
    click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Factor parameter; repeatable."),
)


def _entity_options(command: _Command) -> _Command:
    for option in reversed(_ENTITY_OPTIONS):
        command = option(command)
    return command


@cli.group()
def factor() -> None:
    """Compute, store and export factors on stored bars."""


@factor.command("list")
@click.option("--category", help="Only this category (trend, momentum, volatility, volume, crypto, ml, other).")
@handle_errors
def list_factors(category: str | None) -> None:
    """Every factor with its category, parameters (defaults) and outputs."""
    from rich.console import Console
    from rich.table import Table

    from zvt_crypto.factors.base import factor_names, get_factor

    table = Table("name", "category", "parameters", "outputs", "description")
    for name in factor_names():
        cls = get_factor(name)
        if category and cls.category != category:
            continue
        params = ", ".join(f"{key}={value!r}" for key, value in cls.params.items())
        table.add_row(name, cls.category, params, ", ".join(cls.outputs), cls.describe())
    Console(width=200).print(table)


@factor.command("compute")
@click.argument("name")
@_entity_options
@click.option("--start", help="Inclusive start (ISO-8601 or 30d, UTC); default: after the stored results.")
@click.option("--end", help="Inclusive end (ISO-8601 or 30d, UTC).")
@click.option("--full", is_flag=True, help="Recompute the whole range instead of resuming.")
@click.pass_obj
@handle_errors
@days_option
def compute(obj: Context, name: str, exchange: str, symbols: tuple[str, ...], level: str, params: tuple[str, ...],
            start: str | None, end: str | None, full: bool) -> None:
    """Compute factor NAME and store its results."""
    from zvt_crypto.contract.params import parse_params
    from zvt_crypto.contract.progress import StageBars
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import compute_factor

    instance = make_factor(name, parse_params(params))
    with StageBars() as bars:  # symbols done of the total, then the values written (on a terminal)
        run = compute_factor(instance, exchange=exchange, symbols=list(symbols) or None, level=level, start=start,
                             end=end, incremental=not full, store=obj.store, on_progress=bars)
    click.echo(str(run))
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    run.check()  # nothing usable: an error (exit 1) after the warnings that say what to record


@factor.command("show")
@click.argument("name")
@_entity_options
@click.option("--start", help="Inclusive start (ISO-8601 or 30d, UTC).")
@click.option("--end", help="Inclusive end (ISO-8601 or 30d, UTC).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write CSV or Parquet here (timestamp in ISO-8601 UTC, one column per output); default: print the "
              "last rows.")
@click.pass_obj
@handle_errors
@days_option
def show(obj: Context, name: str, exchange: str, symbols: tuple[str, ...], level: str, params: tuple[str, ...],
         start: str | None, end: str | None, out: Path | None) -> None:
    """Print the last stored results of factor NAME, or write them all to --out (as `export factor`)."""
    from zvt_crypto.contract.errors import InvalidInputError
    from zvt_crypto.contract.params import parse_params
    from zvt_crypto.contract.timeutil import iso_texts
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import export_factor, load_factor

    if not symbols:
        raise InvalidInputError("show needs --symbol (one or more)")
    if out is not None:
        rows = export_factor(name, exchange=exchange, symbols=symbols, level=level,
                             params=parse_params(params), start=start, end=end, out=out, store=obj.store)
        instance = make_factor(name, parse_params(params))
        click.echo(f"wrote {rows} rows of {instance.factor_id(level)} to {out}")
        return
    instance = make_factor(name, parse_params(params))
    frame = load_factor(instance, exchange=exchange, symbols=list(symbols), level=level, start=start, end=end,
                        store=obj.store)
    table = frame.reset_index()
    table["timestamp"] = iso_texts(table["timestamp"])
    if len(symbols) == 1:
        table = table.drop(columns="entity_id")
    click.echo(table.tail(20).to_string(index=False))
