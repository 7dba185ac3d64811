"""``zvt-crypto record KIND``: fetch venue data into the store (one subcommand per data kind)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from zvt_crypto.cli.app import Context, cli, fail, handle_errors
from zvt_crypto.cli.dates import days_option
from zvt_crypto.domain.kinds import KINDS

if TYPE_CHECKING:
    from zvt_crypto.contract.store import Store


@cli.group()
def record() -> None:
    """Record data from an exchange (through ccxt) into the store."""


Stored = dict[tuple[str, str], tuple[int, str | None]]


def stored_so_far(store: Store, schema: Any, exchanges: tuple[str, ...], symbols: tuple[str, ...],
                  level: str | None) -> Stored:
    """(exchange, symbol) → (rows stored, the last one's time) of ``schema`` (at ``level``) for the symbols asked."""
    from sqlalchemy import BigInteger, func, select, type_coerce

    from zvt_crypto.contract.ids import entity_id
    from zvt_crypto.contract.levels import Level
    from zvt_crypto.contract.timeutil import iso

    table = schema.__table__
    if "entity_id" not in table.c or "timestamp" not in table.c or not symbols:
        return {}
    out: Stored = {}
    with store.engine.connect() as connection:
        for exchange in exchanges:
            for symbol in symbols:
                query = select(func.count(), func.max(type_coerce(table.c.timestamp, BigInteger))).where(
                    table.c.entity_id == entity_id(exchange, symbol))
                if level is not None and "level" in table.c:
                    query = query.where(table.c.level == str(Level.parse(level)))
                rows, last = connection.execute(query).one()
                out[exchange, symbol] = (int(rows), iso(int(last)) if last is not None else None)
    return out


def interrupted_summary(schema_name: str, before: Stored, after: Stored) -> str:
    """What an interrupted ``record`` left in the store, per symbol."""
    lines = [f"{schema_name}: interrupted (Ctrl-C)"]
    for (exchange, symbol), (rows, last) in after.items():
        added = rows - before.get((exchange, symbol), (0, None))[0]
        lines.append(f"  {symbol} on {exchange}: {added} rows written by this run, {rows} stored"
                     + (f", the last at {last}" if last else ""))
    return "\n".join(lines)


def _command(name: str, schema_name: str, leveled: bool, help_text: str) -> Callable[..., Any]:
    @click.option("--exchange", "exchanges", required=True, multiple=True,
                  help="ccxt exchange id, e.g. binance or binanceusdm; repeat to record several venues at once.")
    @click.option("--symbol", "symbols", multiple=True, required=name != "markets",
                  help="ccxt unified symbol; repeat for several.")
    @click.option("--start", help="Inclusive start (ISO-8601 or 30d, UTC); default: resume after the stored data.")
    @click.option("--end", help="Inclusive end (ISO-8601 or 30d, UTC); default: the venue's now.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @click.pass_obj
    @handle_errors
    @days_option
    def command(obj: Context, exchanges: tuple[str, ...], symbols: tuple[str, ...], start: str | None,
                end: str | None, quiet: bool, **extra: Any) -> None:
        from zvt_crypto.contract.schema import get_schema
        from zvt_crypto.recorders.base import record_kind

        schema = get_schema(schema_name)
        before = stored_so_far(obj.store, schema, exchanges, symbols, extra.get("level"))
        try:
            summaries = record_kind(name, exchanges=exchanges, symbols=symbols, store=obj.store, config=obj.config,
                                    start=start, end=end, show_progress=not quiet, **extra)
        except KeyboardInterrupt:  # Ctrl-C: every page is written whole; say what is stored and how to go on
            after = stored_so_far(obj.store, schema, exchanges, symbols, extra.get("level"))
            click.echo(interrupted_summary(schema.__name__, before, after))
            fail("interrupted; every page written is complete — run the same command again to resume after the "
                 "stored data", 130)
        for summary in summaries:
            click.echo(str(summary))
        if any(summary.failed for summary in summaries):
            sys.exit(1)

    command.__doc__ = help_text
    if leveled:
        command = click.option("--level", required=True, help="Level: 1m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w.")(command)
    if schema_name in ("Bar", "MarkPriceBar", "IndexPriceBar"):  # the gap-audited kinds
        command = click.option(
            "--recheck-gaps", "recheck_gaps", is_flag=True, default=None,
            help="Ask the venue again for the known gaps (from --start): fill those it now serves.",
        )(command)
    if name == "orderbook":
        command = click.option("--depth", type=int, default=20, show_default=True, help="Levels per side.")(command)
    return record.command(name)(command)


for _name, (_schema, _leveled, _help) in KINDS.items():
    _command(_name, _schema, _leveled, _help)
