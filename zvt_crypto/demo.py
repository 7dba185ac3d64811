"""The offline main job: fill the configured store with sample data and show what the store can tell.

It writes deterministic sample 1m bars for three pairs as CSV files, imports them through the same path as
``zvt-crypto import`` (one pair has a 17-minute outage, another lists two days later), builds 1h/4h/1d bars
with the exact resampler, and prints coverage, a query and point-in-time universes. Running it again changes
nothing (every write is idempotent). Recording from the simulated exchange replaces the sample files once
the recorders exist.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from zvt_crypto.contract.coverage import coverage, format_coverage
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.query import get_entities
from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.importers import import_bars
from zvt_crypto.dataio.sample import sample_bars
from zvt_crypto.domain import Bar

EXCHANGE = "binance"
START = pd.Timestamp("2024-01-01", tz="UTC")
DAYS = 7
# symbol, first bar (listing), start price
PAIRS = (("BTC/USDT", START, 42_000.0), ("ETH/USDT", START, 2_300.0), ("SOL/USDT", START + pd.Timedelta(days=2), 100.0))
OUTAGE = ("ETH/USDT", pd.Timestamp("2024-01-03 12:00", tz="UTC"), 17)  # symbol, start, minutes missing
HIGHER_LEVELS = ("1h", "4h", "1d")


def write_sample_files(folder: Path) -> dict[str, Path]:
    """One CSV of 1m bars per pair (timestamp as ISO-8601 UTC), as a user's own export would look."""
    folder.mkdir(parents=True, exist_ok=True)
    end = START + pd.Timedelta(days=DAYS)
    files = {}
    for symbol, first, price in PAIRS:
        periods = int((end - first) / pd.Timedelta(minutes=1))
        bars = sample_bars(symbol, first, periods, start_price=price)
        if symbol == OUTAGE[0]:
            gap = (bars["timestamp"] >= OUTAGE[1]) & (bars["timestamp"] < OUTAGE[1] + pd.Timedelta(minutes=OUTAGE[2]))
            bars = bars[~gap]
        path = folder / f"{symbol.replace('/', '_')}-1m.csv"
        bars.assign(timestamp=bars["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
        files[symbol] = path
    return files


def run_demo(store: Store, data_home: Path, echo: Callable[[str], None] = print) -> None:
    echo(f"store: {store!r}")
    files = write_sample_files(data_home / "samples")
    for symbol, path in files.items():
        result = import_bars(store, [path], exchange=EXCHANGE, symbol=symbol, level="1m")
        echo(f"imported {path.name}: {result.rows} bars, {result.changed} new or changed")
    ids = [entity_id(EXCHANGE, symbol) for symbol, _, _ in PAIRS]
    minutes = Bar.query_data(entity_ids=ids, level="1m", store=store)
    for level in HIGHER_LEVELS:
        written = store.write(Bar, resample_bars(minutes, "1m", level), level=level)
        echo(f"built {level} bars from complete 1m intervals: {written.rows} bars, {written.changed} new or changed")

    echo("\n" + format_coverage(coverage(store, exchange=EXCHANGE), "table"))
    hourly = Bar.query_data(exchange=EXCHANGE, symbols=["BTC/USDT"], level="1h", store=store,
                            columns=["open", "high", "low", "close", "volume"], order="-timestamp", limit=5)
    echo("last five 1h bars of BTC/USDT:\n" + hourly.sort_index().to_string() + "\n")
    for when in ("2024-01-02", "2024-01-05"):
        universe = get_entities("pair", exchange=EXCHANGE, as_of=when, store=store)
        echo(f"pairs listed on {EXCHANGE} as of {when}: {', '.join(universe['symbol'])}")
