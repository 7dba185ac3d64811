"""``zvt-crypto record KIND``: fetch venue data into the store (one subcommand per data kind)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from zvt_crypto.cli.app import Context, cli, handle_errors
from zvt_crypto.contract.kinds import KINDS


@cli.group()
def record() -> None:
    """Record data from an exchange (through ccxt) into the store."""


def _command(name: str, schema_name: str, leveled: bool, help_text: str) -> Callable[..., Any]:
    @click.option("--exchange", "exchanges", required=True, multiple=True,
                  help="ccxt exchange id, e.g. binance or binanceusdm; repeat to record several venues at once.")
    @click.option("--symbol", "symbols", multiple=True, required=name != "markets",
                  help="ccxt unified symbol; repeat for several.")
    @click.option("--start", help="Inclusive start (ISO-8601, UTC); default: resume after the stored data.")
    @click.option("--end", help="Inclusive end (ISO-8601, UTC); default: the venue's now.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @click.pass_obj
    @handle_errors
    def command(obj: Context, exchanges: tuple[str, ...], symbols: tuple[str, ...], start: str | None,
                end: str | None, quiet: bool, **extra: Any) -> None:
        from zvt_crypto.contract.registry import recorder_for
        from zvt_crypto.contract.schema import get_schema
        from zvt_crypto.recorders.base import record_exchanges
        from zvt_crypto.recorders.exchange import check_exchange_id

        for exchange in exchanges:
            check_exchange_id(exchange)  # a typo gets "did you mean …", not "no recorder supports"
        schema = get_schema(schema_name)
        options = {key: value for key, value in extra.items() if value is not None}
        if name != "markets":
            options.update(start=start, end=end)
        if len(exchanges) == 1:
            recorder = recorder_for(schema, exchanges[0])(obj.store, obj.config)
            summaries = [recorder.record(exchange=exchanges[0], symbols=list(symbols) or None,
                                         show_progress=not quiet, **options)]
        else:  # concurrently, each venue with its own client, budget and breaker
            summaries = record_exchanges(schema, dict.fromkeys(exchanges, list(symbols) or None), store=obj.store,
                                         show_progress=not quiet, **options)
        for summary in summaries:
            click.echo(str(summary))
        if any(summary.failed for summary in summaries):
            sys.exit(1)

    command.__doc__ = help_text
    if leveled:
        command = click.option("--level", required=True, help="Level: 1m 5m 15m 30m 1h 4h 1d 1w.")(command)
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
