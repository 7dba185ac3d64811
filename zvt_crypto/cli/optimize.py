"""``zvt-crypto optimize``: grid / random search and walk-forward analysis on stored bars, with the deflated Sharpe
ratio and the probability of backtest overfitting reported for every sweep."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zvt_crypto.cli.app import Context, cli, handle_errors
from zvt_crypto.cli.trading_options import annualisation_option, cost_options, data_options, engine_option

if TYPE_CHECKING:
    from zvt_crypto.trader.optimize import OptimizeResult
    from zvt_crypto.trader.walkforward import WalkForwardResult


@cli.command("optimize")
@data_options
@click.option("--grid", "grid", multiple=True, metavar="NAME=SPEC",
              help="A parameter to vary, repeatable: fast=5,10,20 (values), slow=20:60:10 (20 to 60 by 10, the end "
                   "included), fast=5:20 (integers 5…20; with --method random: a range sampled uniformly).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A fixed strategy parameter (not varied); repeatable.")
@click.option("--method", type=click.Choice(["grid", "random"]), default="grid", show_default=True)
@click.option("--n-iter", type=int, help="Random search: parameter sets to draw (default 20).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random search seed.")
@click.option("--metric", default="sharpe", show_default=True,
              help="The backtest metric to rank by (sharpe, sortino, calmar, total_return, cagr, max_drawdown …).")
@click.option("--minimize", is_flag=True, help="Rank the lowest metric first.")
@click.option("--jobs", type=int, default=-1, show_default=True,
              help="Worker processes (-1: every CPU, when the sweep is long enough to repay starting them; 1: none).")
@click.option("--walk-forward", "walk", is_flag=True, help="Walk-forward analysis (needs --train and --test).")
@click.option("--train", help="Walk-forward train window: bars (500) or a duration (90d, 12h, 4w).")
@click.option("--test", help="Walk-forward test window: bars or a duration.")
@click.option("--step", help="Walk-forward step between folds (default: the test window).")
@click.option("--warmup", help="Bars (or a duration) read before each test window for indicator warm-up "
                               "(default: the train window).")
@click.option("--anchored", is_flag=True, help="Walk-forward: every train window starts at the data's start.")
@cost_options
@engine_option
@annualisation_option
@click.option("--splits", type=int, default=16, show_default=True, help="CSCV blocks of the PBO (even, 2…24).")
@click.option("--top", type=int, default=10, show_default=True, help="Trials to print.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the result as JSON here.")
@click.option("--store-best", is_flag=True,
              help="Store the best parameter set's backtest on the whole data as a run (noted as chosen by "
                   "optimisation).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.pass_obj
@handle_errors
def optimize_command(obj: Context, strategy: str | None, exchange: str | None, symbols: tuple[str, ...],
                     level: str | None, start: str | None, end: str | None, grid: tuple[str, ...],
                     params: tuple[str, ...], method: str, n_iter: int | None, seed: int, metric: str,
                     minimize: bool, jobs: int, walk: bool, train: str | None, test: str | None, step: str | None,
                     warmup: str | None, anchored: bool, cash: float, fee: float | None, slippage: float,
                     leverage: float, engine: str, periods_per_year: float | None, splits: int, top: int,
                     out: Path | None, store_best: bool, progress: bool | None) -> None:
    """Search a strategy's parameters on stored bars; print the best trials, the deflated Sharpe ratio and the
    probability of backtest overfitting (and with --walk-forward the folds and the out-of-sample result)."""
    from zvt_crypto.contract.errors import InvalidInputError
    from zvt_crypto.trader import get_strategy, load_market_data
    from zvt_crypto.trader.optimize import check_metric, optimize, parameter_sets, parse_grid
    from zvt_crypto.trader.params import parse_params
    from zvt_crypto.trader.walkforward import walk_forward

    if not strategy:
        raise InvalidInputError("name a strategy: --strategy sma_cross (see zvt-crypto backtest --list)")
    cls = get_strategy(strategy)
    if not grid:
        raise InvalidInputError("give at least one --grid NAME=SPEC, e.g. --grid fast=5,10,20 --grid slow=20:60:10")
    space = parse_grid(grid, cls, method=method)
    fixed = parse_params(params)
    both = sorted(set(fixed) & set(space))
    if both:
        raise InvalidInputError(f"{', '.join(both)} given both as --param and --grid")
    if fixed:
        space = {**{key: [value] for key, value in fixed.items()}, **space}
    check_metric(metric)
    parameter_sets(cls, space, method=method, n_iter=n_iter, seed=seed)  # bad input fails before data is read
    if walk and (not train or not test):
        raise InvalidInputError("--walk-forward needs --train and --test (bars or durations such as 90d)")
    if not walk and (any(v is not None for v in (train, test, step, warmup)) or anchored):
        raise InvalidInputError("--train/--test/--step/--warmup/--anchored need --walk-forward")
    if not exchange or not symbols or not level:
        raise InvalidInputError("optimize needs --exchange, --symbol (one or more) and --level")
    data = load_market_data(exchange=exchange, symbols=list(symbols), level=level, start=start, end=end,
                            store=obj.store)
    common: dict[str, Any] = {"method": method, "n_iter": n_iter, "seed": seed, "metric": metric,
                              "maximize": not minimize, "n_jobs": jobs, "cash": cash, "fee": fee,
                              "slippage": slippage or None, "leverage": leverage, "engine": engine,
                              "n_splits": splits, "progress": progress}
    if periods_per_year is not None:
        common["periods_per_year"] = periods_per_year
    result: OptimizeResult | WalkForwardResult
    if walk:
        result = walked = walk_forward(cls, data, space, train=train, test=test, step=step, anchored=anchored,
                                       warmup=warmup, **common)
        sweep = walked.full
    else:
        result = sweep = optimize(cls, data, space, **common)
    _print_sweep(sweep, top, title="whole data" if walk else None)
    fees, annual = sweep.fees, sweep.annualisation
    assert fees is not None and annual is not None  # only a sweep read back without its data lacks them
    click.echo(fees.describe())
    click.echo(f"annualised with {annual.periods_per_year:,.6g} bars a year ({annual.basis})")
    if walk:
        _print_walk_forward(walked)
    if store_best:
        from zvt_crypto.trader.storage import save_run

        best = sweep.best_result()
        run_id = save_run(best, obj.store, note=f"chosen by optimisation: best of {sweep.n_trials} trials by "
                                                f"{sweep.metric} ({sweep.method} search, zvt-crypto optimize)")
        click.echo(f"best run {run_id} stored (zvt-crypto runs show {run_id})")
    if out is not None:
        result.to_json(out)
        click.echo(f"wrote {out}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _print_sweep(sweep: Any, top: int, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = ["sharpe", "total_return", "max_drawdown", "n_trades"]
    columns = ["trial", *sweep.params, *dict.fromkeys([sweep.metric, *shown])]
    where = f" on the {title}" if title else ""
    table = Table(*columns, title=f"{sweep.strategy}: {sweep.method} search{where}, {sweep.n_trials} trials, "
                                  f"top {min(top, sweep.n_trials)} by {sweep.metric}")
    for _, row in sweep.trials.head(top).iterrows():
        table.add_row(*(_fmt(int(row["trial"]) if key == "trial" else row[key]) for key in columns))
    Console(width=200).print(table)
    skipped = sweep.n_skipped
    if skipped["constraint"] or skipped["invalid"]:
        click.echo(f"skipped {skipped['constraint']} parameter set(s) the constraint excludes and "
                   f"{skipped['invalid']} the strategy rejects"
                   + (f" (e.g. {skipped['reason']})" if skipped["reason"] else ""))
    best = " ".join(f"{k}={v}" for k, v in sweep.best_params.items())
    click.echo(f"best: {best} ({sweep.metric} {_fmt(sweep.best_value)})")
    _print_overfitting(sweep.overfitting, f"best of {sweep.n_trials} trials")


def _print_overfitting(report: Any, what: str, pbo: bool = True) -> None:
    click.echo(f"deflated Sharpe ratio: {_fmt(report.deflated_sharpe)} ({what}: per-bar Sharpe "
               f"{_fmt(report.best_sharpe)} vs {_fmt(report.expected_max_sharpe)} expected from the best of "
               f"{report.n_trials} unskilled trials, {report.n_obs} bars)")
    if not pbo:
        return
    if report.pbo is None:
        click.echo("probability of backtest overfitting: n/a (too few bars or trials for CSCV)")
    else:
        click.echo(f"probability of backtest overfitting (CSCV, {report.pbo.n_splits} blocks, "
                   f"{report.pbo.n_combinations} combinations): {_fmt(report.pbo.pbo)}")


def _print_walk_forward(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    metric = result.metric
    table = Table("fold", "train (UTC)", "test (UTC)", "params", f"IS {metric}", f"OOS {metric}", "OOS return",
                  "OOS trades",
                  title=f"walk-forward: {len(result.folds)} folds, train {result.spans['train']} / test "
                        f"{result.spans['test']} / step {result.spans['step']} bars"
                        f"{' (anchored)' if result.spans['anchored'] else ''}")
    day = "%Y-%m-%d %H:%M"
    for _, row in result.folds.iterrows():
        table.add_row(str(row["fold"]), f"{row['train_start']:{day}} … {row['train_end']:{day}}",
                      f"{row['test_start']:{day}} … {row['test_end']:{day}}",
                      " ".join(f"{k}={v}" for k, v in row["params"].items()), _fmt(row[f"is_{metric}"]),
                      _fmt(row[f"oos_{metric}"]), f"{row['oos_return']:.2%}", str(row["oos_trades"]))
    Console(width=200).print(table)
    m = result.metrics
    click.echo(f"out-of-sample (stitched): {metric} {_fmt(result.oos_metric)}, return {m['total_return']:.2%}, "
               f"max drawdown {m['max_drawdown']:.2%}, {m['n_trades']} trades")
    click.echo(f"walk-forward efficiency (OOS {metric} / mean IS {metric} {_fmt(result.is_mean)}): "
               f"{_fmt(result.efficiency)}")
    _print_overfitting(result.overfitting, "stitched out-of-sample", pbo=False)  # PBO: the grid's, printed above
