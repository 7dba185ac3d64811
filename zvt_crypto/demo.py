"""The offline main job: record a week of market data from the simulated Binance into the configured store.

A simulated Binance (spot and USDⓈ-M REST on 127.0.0.1, deterministic, clock at 2024-01-08 00:00 UTC) is
started for the run; the real ccxt client records from it through the same recorders a user runs against the
real venue. The venue has a 17-minute ETH/USDT outage and answers some requests with 429 or 503, so the run
shows retries and the gap audit at work. Then 1h/4h bars are built with the exact resampler and the job
prints coverage, a query and point-in-time universes. Last, so that every page of the dashboard has something to
show (:func:`fill_dashboard`): a few factors on the 1h bars, a stored backtest run, a stepped paper account, and
one run of a scheduled job (:func:`scheduled_run`, its history row). Running it again changes no stored bar,
factor, run or account (it adds one more job run to the history).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar, FundingRate
from zvt_crypto.domain.coverage import coverage, format_coverage
from zvt_crypto.domain.universe import get_entities

if TYPE_CHECKING:
    from zvt_crypto.sim import SimulatedExchange

SPOT, PERPS = "binance", "binanceusdm"
PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
PERP_SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
START = "2024-01-01"
OUTAGE = ("ETH/USDT", "2024-01-03T12:00:00Z", "2024-01-03T12:17:00Z")  # symbol, start, end (exclusive)
HIGHER_LEVELS = ("1h", "4h")
# factors on the pairs' 1h bars (name, parameters)
DEMO_FACTORS: tuple[tuple[str, dict[str, int]], ...] = (("rsi", {"window": 14}), ("macd", {}), ("roc", {}))
DEMO_STRATEGY = ("sma_cross", {"fast": 10, "slow": 30})
DEMO_NOTE = "demo"  # marks the demo's backtest run, so a second demo finds it instead of storing another
PAPER_ACCOUNT, PAPER_START = "demo-sma", "2024-01-03"
#: one scheduled job, run once by the scheduler's job runner (what the /jobs page shows after the demo)
#: (daily bars, recorded from the venue like the demo's own: the 1h bars stay the ones built from complete minutes)
DEMO_JOB = {"name": "demo-spot-1d", "exchange": SPOT, "symbols": list(PAIRS), "kinds": ["bars"], "levels": ["1d"],
            "every": "1d"}


def run_demo(store: Store, config: Config, echo: Callable[[str], None] = print, *, show_progress: bool = True) -> None:
    from zvt_crypto.sim import SimulatedExchange

    echo(f"store: {store!r}")
    with SimulatedExchange(seed=7, lifetime=600) as sim:
        echo(f"simulated Binance at {sim.url} (127.0.0.1 only, stops by itself within 10 minutes)")
        cfg = sim.config(config)
        record_week(store, cfg, sim, echo, show_progress)
        show_the_store(store, echo)
        fill_dashboard(store, echo)
        echo(scheduled_run(store, cfg))


def record_week(store: Store, config: Config, sim: SimulatedExchange, echo: Callable[[str], None],
                show_progress: bool) -> None:
    """Markets, daily and 1m bars and funding from ``sim`` (an outage and a few 429/503 answers injected), then
    1h/4h bars built from complete 1m intervals."""
    from zvt_crypto.recorders import BarsRecorder, FundingRateRecorder, MarketsRecorder, PerpMarketsRecorder

    sim.add_gap(OUTAGE[1], OUTAGE[2], symbol=OUTAGE[0])
    sim.inject("rate_limit", "/api/v3/klines", retry_after=1, count=1, skip=3)
    sim.inject("server_error", "/api/v3/klines", count=2, skip=8)
    echo(str(MarketsRecorder(store, config).record(exchange=SPOT, show_progress=False)))
    echo(str(PerpMarketsRecorder(store, config).record(exchange=PERPS, show_progress=False)))
    bars = BarsRecorder(store, config)
    # daily bars from each pair's first bar: Binance spot reports no listing time, the first bar gives it
    echo(str(bars.record(exchange=SPOT, symbols=(*PAIRS, "LUNA/USDT"), level="1d", show_progress=False)))
    echo(str(bars.record(exchange=SPOT, symbols=PAIRS, level="1m", start=START, show_progress=show_progress)))
    echo(str(FundingRateRecorder(store, config).record(exchange=PERPS, symbols=PERP_SYMBOLS, start=START,
                                                       show_progress=False)))
    ids = [entity_id(SPOT, symbol) for symbol in PAIRS]
    minutes = Bar.query_data(entity_ids=ids, level="1m", store=store)
    for level in HIGHER_LEVELS:
        written = store.write(Bar, resample_bars(minutes, "1m", level), level=level)
        echo(f"built {level} bars from complete 1m intervals: {written.rows} bars, {written.changed} new or changed")


def show_the_store(store: Store, echo: Callable[[str], None]) -> None:
    """Coverage, a query, the funding and point-in-time universes: what the store now answers."""
    echo("\n" + format_coverage(coverage(store, exchange=SPOT), "table"))
    hourly = Bar.query_data(exchange=SPOT, symbols=["BTC/USDT"], level="1h", store=store,
                            columns=["open", "high", "low", "close", "volume"], order="-timestamp", limit=5)
    echo("last five 1h bars of BTC/USDT:\n" + hourly.sort_index().to_string() + "\n")
    funding = FundingRate.query_data(exchange=PERPS, store=store, columns=["funding_rate"])
    mean = funding.groupby(level="entity_id")["funding_rate"].mean() * 3 * 365
    echo("mean funding, annualised:\n" + mean.map("{:.2%}".format).to_string() + "\n")
    for when in ("2023-11-01", "2024-01-05", "2024-01-08"):
        universe = get_entities("pair", exchange=SPOT, as_of=when, store=store)
        echo(f"pairs listed on {SPOT} as of {when}: {', '.join(universe['symbol'])}")


def fill_dashboard(store: Store, echo: Callable[[str], None] = print) -> None:
    """Factors, a backtest run and a paper account on the demo's 1h bars (what the dashboard's pages show).
    Idempotent: factors resume (nothing new), the run is stored once per data, the account is created once and a
    step with no new bar writes nothing."""
    from zvt_crypto.factors import compute_factor, make_factor

    echo("")
    for name, params in DEMO_FACTORS:
        echo(str(compute_factor(make_factor(name, params), exchange=SPOT, symbols=list(PAIRS), level="1h",
                                store=store).check()))
    echo(_backtest_run(store))
    echo(_paper_account(store))


def scheduled_run(store: Store, config: Config) -> str:
    """One run of :data:`DEMO_JOB` by the scheduler's own job runner, as ``schedule run`` would start it: its
    history row (requests, rows, gaps) is what the dashboard's /jobs page lists. The daily bars are stored
    already, so it writes nothing new; a failed run fails the demo."""
    from zvt_crypto.contract.errors import ZvtCryptoError
    from zvt_crypto.schedule.config import parse_schedule
    from zvt_crypto.schedule.runner import JobRunner

    schedule = parse_schedule({"jobs": [DEMO_JOB]}, where="the demo's job")
    outcome = JobRunner(store, config, schedule.settings).execute(schedule.jobs[0], reason="demo")
    if outcome is None or outcome.status != "ok":
        raise ZvtCryptoError(f"the demo's scheduled job failed: {outcome.error if outcome else 'it did not start'}")
    return f"scheduled job {outcome}"


def _backtest_run(store: Store) -> str:
    from zvt_crypto.domain.trading import BacktestRun
    from zvt_crypto.trader.data import load_market_data
    from zvt_crypto.trader.engine import run_backtest
    from zvt_crypto.trader.storage import save_run

    strategy, params = DEMO_STRATEGY
    data = load_market_data(exchange=SPOT, symbols=["BTC/USDT"], level="1h", store=store)
    result = run_backtest(strategy, data, params=params)
    stored = BacktestRun.query_data(filters=[BacktestRun.note == DEMO_NOTE,
                                             BacktestRun.data_fingerprint == result.fingerprint,
                                             BacktestRun.strategy == result.strategy],
                                    columns=["run_id"], index=None, store=store)
    run_id = str(stored["run_id"].iloc[0]) if len(stored) else save_run(result, store, note=DEMO_NOTE)
    metrics = result.metrics
    return (f"backtest {strategy} on BTC/USDT 1h: {metrics['n_trades']} trades, total return "
            f"{metrics['total_return']:+.2%}; {'already stored' if len(stored) else 'stored'} as run {run_id}")


def _paper_account(store: Store) -> str:
    from zvt_crypto.trader.paper import PaperTrader

    strategy, params = DEMO_STRATEGY
    trader = PaperTrader(PAPER_ACCOUNT, strategy, params, exchange=SPOT, symbols=["BTC/USDT"], level="1h",
                         start=PAPER_START).create(store)
    return f"paper account {trader.step(store)}"
