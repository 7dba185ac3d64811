"""Store commands: ``info``, ``query`` and the offline ``demo`` job."""

from __future__ import annotations

import json

import click

from zvt_crypto import __version__
from zvt_crypto.cli.app import Context, cli, handle_errors
from zvt_crypto.cli.dates import days_option


@cli.command()
@click.pass_obj
@handle_errors
def info(obj: Context) -> None:
    """Show the configuration in effect, the database (password hidden) and row counts per schema."""
    from zvt_crypto.contract.migrate import current_revision
    from zvt_crypto.domain.inventory import row_counts

    details = obj.config.describe()
    details["version"] = __version__
    details["schema_revision"] = current_revision(obj.store.engine)
    details["rows"] = row_counts(obj.store)
    click.echo(json.dumps(details, indent=2))


@cli.command()
@click.argument("schema_name", metavar="SCHEMA")
@click.option("--exchange", help="ccxt exchange id, e.g. binance.")
@click.option("--symbol", "symbols", multiple=True, help="ccxt unified symbol; repeat for several.")
@click.option("--entity-id", "entity_ids", multiple=True, help="Entity id; repeat for several.")
@click.option("--level", help="Bar level (1m … 1w) for leveled schemas.")
@click.option("--start", help="Inclusive start (ISO-8601 or 30d, UTC).")
@click.option("--end", help="Inclusive end (ISO-8601 or 30d, UTC).")
@click.option("--columns", help="Comma-separated columns.")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many rows (0: no limit).")
@click.option("--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True,
              help="By time: oldest first (asc) or newest first (desc).")
@click.option("--tail", type=click.IntRange(min=1), help="The newest N rows, oldest first (instead of --limit).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_obj
@handle_errors
@days_option
def query(obj: Context, schema_name: str, exchange: str | None, symbols: tuple[str, ...],
          entity_ids: tuple[str, ...], level: str | None, start: str | None, end: str | None,
          columns: str | None, limit: int, order: str, tail: int | None, fmt: str) -> None:
    """Print rows of SCHEMA (Bar, CryptoPair, FundingRate, … or a table name such as bar)."""
    from zvt_crypto.contract.schema import get_schema

    schema = get_schema(schema_name)
    newest_first = (order == "desc" or tail is not None) and "timestamp" in schema.__table__.columns
    frame = schema.query_data(
        exchange=exchange, symbols=list(symbols) or None, entity_ids=list(entity_ids) or None, level=level,
        start_timestamp=start, end_timestamp=end, store=obj.store, limit=tail or limit or None,
        columns=[c.strip() for c in columns.split(",")] if columns else None,
        order="-timestamp" if newest_first else None,
    )
    frame = frame.reset_index()
    if tail is not None and newest_first:
        frame = frame.iloc[::-1].reset_index(drop=True)  # the newest N, read oldest first like a log's tail
    if fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(frame.to_json(orient="records", date_format="iso", indent=2))
    else:
        click.echo(frame.to_string(index=False) if not frame.empty else "no rows for this selection")


@cli.command()
@click.pass_obj
@handle_errors
def demo(obj: Context) -> None:
    """Offline main job: record a week of data from the simulated Binance, show coverage and queries, and fill
    the dashboard's pages (factors, a backtest run, a paper account); ends with the command that opens it."""
    from zvt_crypto.demo import run_demo
    from zvt_crypto.ui.context import UiContext
    from zvt_crypto.ui.settings import ServeSettings

    run_demo(obj.store, obj.config, echo=click.echo)
    prefix = UiContext(config=obj.config, store=obj.store, settings=ServeSettings()).cli_prefix()
    click.echo(f"\nsee it in the dashboard: {prefix} serve   (then open http://127.0.0.1:8050/ ; Ctrl-C stops it)")


@cli.group()
def sim() -> None:
    """The simulated Binance (spot + USDⓈ-M REST on 127.0.0.1) for offline work and notebooks."""


@sim.command("serve")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same data.")
@click.option("--now", help="The simulated clock (ISO-8601 UTC); default 2024-01-08T00:00:00Z.")
@click.option("--lifetime", type=float, default=3600, show_default=True, help="Seconds before it stops by itself.")
@handle_errors
def sim_serve(port: int, seed: int, now: str | None, lifetime: float) -> None:
    """Serve the simulated exchange on 127.0.0.1 and print the config sections that point ccxt at it."""
    from zvt_crypto.sim import serve

    serve(port=port, seed=seed, now=now, lifetime=lifetime)
