"""Data commands: ``import``, ``export bars|trades|funding|open-interest|orderbook|factor``, ``resample`` and
``coverage``."""

from __future__ import annotations

from pathlib import Path

import click

from zvt_crypto.cli.app import Context, cli, handle_errors
from zvt_crypto.cli.dates import days_option


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--exchange", required=True, help="ccxt exchange id the bars belong to, e.g. binance.")
@click.option("--symbol", required=True, help="ccxt unified symbol, e.g. BTC/USDT or BTC/USDT:USDT.")
@click.option("--level", required=True, help="Bar level of the files (1m … 1w).")
@click.option("--kind", type=click.Choice(["pair", "perp"]), help="Entity kind (default: from the symbol).")
@click.option("--on-conflict", type=click.Choice(["update", "skip", "error"]), default="update", show_default=True,
              help="A bar stored with other values: replace it, keep it, or refuse the whole import.")
@click.pass_obj
@handle_errors
def import_command(obj: Context, files: tuple[Path, ...], exchange: str, symbol: str, level: str,
                   kind: str | None, on_conflict: str) -> None:
    """Import OHLCV files: CSV/Parquet, Binance public-data klines, freqtrade json/feather. Re-importing is a no-op."""
    from zvt_crypto.dataio.importers import import_bars

    result = import_bars(obj.store, list(files), exchange=exchange, symbol=symbol, level=level, kind=kind,
                         on_conflict=on_conflict)  # type: ignore[arg-type]  # click.Choice keeps it to the literals
    if on_conflict == "skip":
        conflicts = f"{result.kept} stored bar(s) with other values kept"
    else:
        conflicts = f"{result.updated} stored bar(s) changed"
        if result.updated:
            conflicts += " (--on-conflict skip keeps them, error refuses the file)"
    click.echo(
        f"imported {result.rows} {level} bars of {symbol} on {exchange} from {result.files} file(s): "
        f"{result.inserted} new, {conflicts}, {result.rows - result.changed - result.kept} already stored "
        f"({result.first} → {result.last})"
    )


@cli.group()
def export() -> None:
    """Export stored data to files."""


@export.command("bars")
@click.option("--exchange", required=True)
@click.option("--symbol", required=True)
@click.option("--level", required=True)
@click.option("--start", help="Inclusive start (ISO-8601 or 30d, UTC).")
@click.option("--end", help="Inclusive end (ISO-8601 or 30d, UTC).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.csv or FILE.parquet")
@click.pass_obj
@handle_errors
@days_option
def export_bars_command(obj: Context, exchange: str, symbol: str, level: str, start: str | None, end: str | None,
                        out: Path) -> None:
    """Write bars to CSV or Parquet: timestamp (ISO-8601 UTC), open, high, low, close, volume, then optional ones."""
    from zvt_crypto.dataio.exporters import export_bars

    rows = export_bars(obj.store, exchange=exchange, symbol=symbol, level=level, start=start, end=end, out=out)
    click.echo(f"wrote {rows} bars to {out}")


# (kind, what the command's help calls it, leveled); the columns are dataio.exporters.SERIES_EXPORTS'
_SERIES_COMMANDS = (
    ("trades", "public trades: timestamp, trade_id, price, amount, side", False),
    ("funding", "funding rates: timestamp, funding_rate, mark_price", False),
    ("open-interest", "open interest: timestamp, open_interest, open_interest_value", True),
    ("orderbook", "order-book snapshots: timestamp, depth, best_bid, best_ask, bids, asks (JSON in CSV)", False),
)


def _series_export_command(kind: str, what: str, leveled: bool) -> None:
    @export.command(kind, help=f"Write stored {what} to CSV or Parquet (timestamps ISO-8601 UTC in CSV).")
    @click.option("--exchange", required=True)
    @click.option("--symbol", required=True)
    @click.option("--level", required=leveled, hidden=not leveled, help="The period it was recorded at, e.g. 1h.")
    @click.option("--start", help="Inclusive start (ISO-8601 or 30d, UTC).")
    @click.option("--end", help="Inclusive end (ISO-8601 or 30d, UTC).")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="FILE.csv, FILE.csv.gz or FILE.parquet")
    @click.pass_obj
    @handle_errors
    @days_option
    def command(obj: Context, exchange: str, symbol: str, level: str | None, start: str | None, end: str | None,
                out: Path) -> None:
        from zvt_crypto.dataio.exporters import export_series

        rows = export_series(obj.store, kind, exchange=exchange, symbol=symbol, level=level, start=start, end=end,
                             out=out)
        click.echo(f"wrote {rows} rows of {kind} to {out}")


for _kind, _what, _leveled in _SERIES_COMMANDS:
    _series_export_command(_kind, _what, _leveled)


@export.command("factor")
@click.argument("name")
@click.option("--exchange", required=True)
@click.option("--symbol", "symbols", multiple=True, required=True, help="Repeat for several (adds entity_id).")
@click.option("--level", required=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Factor parameter; repeat for several.")
@click.option("--start", help="Inclusive start (ISO-8601 or 30d, UTC).")
@click.option("--end", help="Inclusive end (ISO-8601 or 30d, UTC).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.csv, FILE.csv.gz or FILE.parquet")
@click.pass_obj
@handle_errors
@days_option
def export_factor_command(obj: Context, name: str, exchange: str, symbols: tuple[str, ...], level: str,
                          params: tuple[str, ...], start: str | None, end: str | None, out: Path) -> None:
    """Write the stored values of factor NAME: timestamp, one column per output (as `factor show --out`)."""
    from zvt_crypto.contract.params import parse_params
    from zvt_crypto.factors.engine import export_factor

    rows = export_factor(name, exchange=exchange, symbols=symbols, level=level,
                         params=parse_params(params), start=start, end=end, out=out, store=obj.store)
    click.echo(f"wrote {rows} rows of factor {name} to {out}")


@cli.command("resample")
@click.option("--exchange", required=True)
@click.option("--symbol", "symbols", multiple=True, required=True, help="ccxt unified symbol; repeat for several.")
@click.option("--from", "source", required=True, help="The stored level to build from, e.g. 2h.")
@click.option("--to", "target", required=True, help="The level to build, e.g. 4h (the source must divide it).")
@click.option("--start", help="First interval to build (ISO-8601 or 30d, UTC); default: from the first stored bar.")
@click.option("--end", help="Last interval to build (ISO-8601 or 30d, UTC); default: to the last stored bar.")
@click.pass_obj
@handle_errors
@days_option
def resample_command(obj: Context, exchange: str, symbols: tuple[str, ...], source: str, target: str,
                     start: str | None, end: str | None) -> None:
    """Build and store bars of a level the venue lacks from stored bars of one it serves: exact, complete
    intervals only (zvt-crypto record names the level to record). Building again changes nothing."""
    from zvt_crypto.dataio.resampling import resample_stored

    for symbol in symbols:
        click.echo(str(resample_stored(obj.store, exchange=exchange, symbol=symbol, source=source, target=target,
                                       start=start, end=end)))


@cli.command("coverage")
@click.option("--exchange", help="Only this ccxt exchange.")
@click.option("--symbol", "symbols", multiple=True, help="Only this symbol (needs --exchange); repeat for several.")
@click.option("--level", help="Only this level.")
@click.option("--schema", "schema_name", default="Bar", show_default=True, help="Leveled schema to audit.")
@click.option("--start", help="Audit from here (ISO-8601 or 30d, UTC): bars missing before the first stored one count.")
@click.option("--end", help="Audit to here (ISO-8601 or 30d, UTC): bars missing after the last stored one count.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_obj
@handle_errors
@days_option
def coverage_command(obj: Context, exchange: str | None, symbols: tuple[str, ...], level: str | None,
                     schema_name: str, start: str | None, end: str | None, fmt: str) -> None:
    """Per entity and level: first and last bar, row count, and every gap on the level's grid."""
    from zvt_crypto.contract.schema import get_schema
    from zvt_crypto.contract.timeutil import check_range, to_ms
    from zvt_crypto.domain.coverage import coverage, format_coverage

    start_ms, end_ms = (None if value is None else to_ms(value) for value in (start, end))
    check_range(start_ms, end_ms)
    rows = coverage(obj.store, get_schema(schema_name), exchange=exchange, symbols=list(symbols) or None, level=level,
                    start=start_ms, end=end_ms)
    click.echo(format_coverage(rows, fmt), nl=False)
