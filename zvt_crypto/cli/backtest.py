"""``zvt-crypto backtest`` and ``zvt-crypto runs list|show|compare|rerun``: backtests on stored bars."""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from zvt_crypto.cli.app import Context, cli, handle_errors
from zvt_crypto.cli.trading_options import annualisation_option, backtest_engine_option, cost_options, data_options


@cli.command("backtest")
@data_options
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Strategy parameter; repeatable.")
@cost_options
@backtest_engine_option
@annualisation_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the result here: JSON, or Parquet when the name ends in .parquet (the equity curve; the "
                   "run, metrics and trades in its metadata).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report here.")
@click.option("--no-store", is_flag=True, help="Do not keep the run in the store.")
@click.option("--list", "list_strategies", is_flag=True, help="List the strategies and their parameters.")
@click.pass_obj
@handle_errors
def backtest(obj: Context, strategy: str | None, exchange: str | None, symbols: tuple[str, ...], level: str | None,
             start: str | None, end: str | None, params: tuple[str, ...], cash: float, fee: float | None,
             slippage: float, leverage: float, engine: str, periods_per_year: float | None, out: Path | None,
             report: Path | None, no_store: bool, list_strategies: bool) -> None:
    """Backtest a strategy on stored bars; print the metrics, store the run (its id is printed)."""
    from zvt_crypto.contract.errors import InvalidInputError
    from zvt_crypto.trader.export import write_bytes
    from zvt_crypto.trader.params import parse_params
    from zvt_crypto.trader.storage import new_run_id, save_run
    from zvt_crypto.trader.stored import backtest_stored
    from zvt_crypto.trader.strategy import get_strategy

    if list_strategies:
        _print_strategies()
        return
    if not strategy:
        raise InvalidInputError("name a strategy: --strategy sma_cross (see zvt-crypto backtest --list) or "
                                "--strategy my_module:MyStrategy")
    cls = get_strategy(strategy)
    instance_params = parse_params(params)
    cls(**instance_params)  # a bad parameter fails before any data is read
    if not exchange or not symbols or not level:
        raise InvalidInputError("backtest needs --exchange, --symbol (one or more) and --level")
    # zc.backtest's code path: the same settings check, loading and engine choice (auto)
    result = backtest_stored(cls, exchange=exchange, symbols=list(symbols), level=level, start=start, end=end,
                             params=instance_params, engine=engine, store=obj.store, cash=cash, fee=fee,
                             slippage=slippage or None, leverage=leverage, periods_per_year=periods_per_year)
    # storing 1M equity rows (SQLite, in C without the GIL) overlaps formatting the output file; the file is
    # written once the run is stored, so it never names a run the store lacks
    _ = result.metrics, result.fingerprint  # computed once, here, not by the two threads at the same time
    saved: Future[str] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="save-run") as pool:
        if not no_store:
            result.run_id = new_run_id()
            saved = pool.submit(save_run, result, obj.store)
        data = result.file_bytes(out) if out is not None else None
    if saved is not None:
        saved.result()  # a failed store raises here, before any file names the run
    if out is not None and data is not None:
        write_bytes(out, data)
    if report is not None:
        result.report(report)
    _print_result(result, out, report)


def _print_strategies() -> None:
    from rich.console import Console
    from rich.table import Table

    from zvt_crypto.trader import get_strategy, strategy_names

    table = Table("name", "parameters", "vectorised", "description")
    for name in strategy_names():
        cls = get_strategy(name)
        params = ", ".join(f"{k}={v!r}" for k, v in cls.param_defaults().items())
        table.add_row(name, params, "yes" if cls.vectorisable else "", cls.describe())
    Console(width=200).print(table)


def _print_result(result: Any, out: Path | None, report: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from zvt_crypto.trader.fees import FeeSchedule

    console = Console(width=160)
    frame = result.summary()
    table = Table("metric", "value", title=f"{result.strategy} {result.params} on {', '.join(result.symbols)} "
                                           f"{result.level} ({result.engine} engine, {result.seconds:.3f} s)")
    for key, row in frame.iterrows():
        table.add_row(str(key), str(row["display"]))
    console.print(table)
    click.echo(FeeSchedule.from_dict(result.settings["fees"]).describe())
    if result.run_id:
        click.echo(f"run {result.run_id} stored (zvt-crypto runs show {result.run_id})")
    if out is not None:
        click.echo(f"wrote {out}")
    if report is not None:
        click.echo(f"wrote {report}")


@cli.group()
def runs() -> None:
    """Stored backtest runs: list, show, compare, re-run."""


@runs.command("list")
@click.option("--strategy", help="Only runs of this strategy.")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many (newest first).")
@click.pass_obj
@handle_errors
def list_command(obj: Context, strategy: str | None, limit: int) -> None:
    """The latest runs with their summary metrics."""
    from zvt_crypto.trader.storage import list_runs

    table = list_runs(obj.store, strategy=strategy, limit=limit)
    if table.empty:
        click.echo("no runs stored yet: zvt-crypto backtest …")
        return
    shown = table[["run_id", "strategy", "symbols", "level", "total_return", "sharpe", "max_drawdown", "n_trades"]]
    click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


@runs.command("show")
@click.argument("run_id")
@click.option("--trades", "show_trades", is_flag=True, help="Also print the trades.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the run here: JSON, or Parquet when the name ends in .parquet.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report here.")
@click.pass_obj
@handle_errors
def show_command(obj: Context, run_id: str, show_trades: bool, out: Path | None, report: Path | None) -> None:
    """A stored run: its inputs, data fingerprint, version and metrics."""
    from zvt_crypto.trader.fees import FeeSchedule
    from zvt_crypto.trader.storage import load_run

    result = load_run(run_id, obj.store)
    info = result.to_dict(equity=False)
    for key in ("run_id", "strategy", "params", "exchange", "symbols", "level", "start", "end", "settings", "engine",
                "data_fingerprint", "version"):
        click.echo(f"{key:>17}: {json.dumps(info[key]) if isinstance(info[key], (dict, list)) else info[key]}")
    fees = result.settings.get("fees")
    if fees:  # runs stored before fees were recorded have none
        click.echo(f"{'fees':>17}: {FeeSchedule.from_dict(fees).describe().removeprefix('fees: ')}")
    click.echo("")
    for key, value in result.metrics.items():
        click.echo(f"{key:>24}: {value}")
    if show_trades:
        click.echo(result.trades.drop(columns=["entry_bar", "exit_bar"]).to_string(index=False))
    if out is not None:
        from zvt_crypto.trader.export import write_bytes

        write_bytes(out, result.file_bytes(out))
        click.echo(f"wrote {out}")
    if report is not None:
        result.report(report)
        click.echo(f"wrote {report}")


@runs.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.pass_obj
@handle_errors
def compare_command(obj: Context, run_ids: tuple[str, ...]) -> None:
    """Two or more runs side by side."""
    from zvt_crypto.contract.errors import InvalidInputError
    from zvt_crypto.trader.storage import compare_runs

    if len(run_ids) < 2:
        raise InvalidInputError("compare needs two or more run ids")
    table = compare_runs(list(run_ids), obj.store)
    click.echo(table.to_string())


@runs.command("rerun")
@click.argument("run_id")
@click.pass_obj
@handle_errors
def rerun_command(obj: Context, run_id: str) -> None:
    """Run a stored run again on the store's data; says whether the data is unchanged and the metrics agree."""
    import sys

    from zvt_crypto.trader.metrics import to_jsonable
    from zvt_crypto.trader.storage import load_run, rerun

    stored = load_run(run_id, obj.store, equity=False)
    again, same_data = rerun(run_id, obj.store)
    same_metrics = to_jsonable(again.metrics) == stored.metrics
    click.echo(f"data fingerprint: {'unchanged' if same_data else 'CHANGED'} ({again.fingerprint})")
    click.echo(f"metrics: {'identical' if same_metrics else 'DIFFERENT'}")
    if not (same_data and same_metrics):
        sys.exit(1)
