"""Options shared by ``backtest``, ``optimize`` and ``paper create``: one wording, one default, one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _compose(*options: Decorator) -> Decorator:
    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):  # the first listed shows first in --help
            command = option(command)
        return command

    return apply


#: ``--strategy --exchange --symbol… --level --start --end``: which strategy, on which stored bars.
data_options = _compose(
    click.option("--strategy", metavar="NAME|module:Class",
                 help="A registered strategy (zvt-crypto backtest --list) or module:Class."),
    click.option("--exchange", help="ccxt exchange id, e.g. binance (with --symbol)."),
    click.option("--symbol", "symbols", multiple=True, help="ccxt unified symbol; repeat for several."),
    click.option("--level", help="Level: 1m 5m 15m 30m 1h 4h 1d 1w."),
    click.option("--start", help="Inclusive start (ISO-8601, UTC); default: the first stored bar."),
    click.option("--end", help="Inclusive end (ISO-8601, UTC); default: the last stored bar."),
)

#: ``--cash --fee --slippage --leverage``: the account and its costs.
cost_options = _compose(
    click.option("--cash", type=float, default=10_000.0, show_default=True, help="Initial equity (quote currency)."),
    click.option("--fee", type=float, help="Fee rate for maker and taker, e.g. 0.001; default: the markets' own, else "
                                                 "the venue's published default (ccxt's fee table)."),
    click.option("--slippage", type=float, default=0.0, show_default=True, help="Slippage in basis points."),
    click.option("--leverage", type=float, default=1.0, show_default=True, help="Leverage of perps."),
)

#: ``--engine``: the event engine, or the vectorised path for signal strategies.
engine_option = click.option("--engine", type=click.Choice(["event", "vectorised"]), default="event",
                             show_default=True,
                             help="vectorised: signal strategies on one symbol, same trades, much faster.")

#: ``backtest --engine``: ``auto`` runs the vectorised path whenever it can run the backtest (proven to make the event
#: engine's trades), else the event engine — what ``zc.backtest`` does.
backtest_engine_option = click.option(
    "--engine", type=click.Choice(["auto", "event", "vectorised"]), default="auto", show_default=True,
    help="auto: the vectorised path when the strategy has signals() and the run allows it (same trades, much "
         "faster), else the event engine; event forces the event engine.")

#: ``--periods-per-year``: how backtest metrics are annualised.
annualisation_option = click.option(
    "--periods-per-year", type=float,
    help="Bars per year for annualised volatility / Sharpe / Sortino; default: inferred from the bar times "
         "(365 days a year when bars fall on weekends, 252 for daily bars without weekend bars).")
