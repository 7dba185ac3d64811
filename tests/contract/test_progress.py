"""The progress model: pages expected from the range and the page size, redone after each page."""

from __future__ import annotations

from pathlib import Path

import pytest

from zvt_crypto.contract.progress import PageCount, expected_pages
from zvt_crypto.contract.store import Store

MINUTE = 60_000


@pytest.mark.parametrize(("since", "until", "step", "rows", "pages"), [
    (0, 7 * 1440 * MINUTE - MINUTE, MINUTE, 1000, 11),  # a week of 1m bars: 10,080 rows
    (0, 999 * MINUTE, MINUTE, 1000, 1),                  # exactly one page
    (0, 1000 * MINUTE, MINUTE, 1000, 2),                 # one row more
    (5, 5, MINUTE, 1000, 1),                             # a single row
    (10, 5, MINUTE, 1000, 0),                            # an empty range
    (0, 365 * 24 * 3_600_000, 8 * 3_600_000, 1000, 2),   # a year of 8h funding: 1,096 rows
])
def test_expected_pages_is_the_range_over_the_page_size(since: int, until: int, step: int, rows: int,
                                                        pages: int) -> None:
    assert expected_pages(since, until, step, rows) == pages


def test_the_estimate_is_redone_after_every_page_and_the_end_settles_it() -> None:
    heard: list[tuple[int, int | None]] = []
    count = PageCount.start(0, 9_999 * MINUTE, MINUTE, 1000, lambda done, expected: heard.append((done, expected)))
    count.fetched(1000 * MINUTE)   # a full page
    count.fetched(6000 * MINUTE)   # a gap skipped: 4 pages left, not 8
    count.fetched(7000 * MINUTE)
    count.finish()                 # the venue had no more
    assert heard == [(0, 10), (1, 10), (2, 6), (3, 6), (3, 3)]


def test_unknown_row_spacing_counts_pages_without_a_total() -> None:
    count = PageCount.start(0, 10**12, None, 1000)
    count.fetched(5)
    assert (count.done, count.expected) == (1, None)
    count.finish()
    assert (count.done, count.expected) == (1, 1)


def test_trials_count_the_best_so_far_in_the_metrics_direction() -> None:
    from zvt_crypto.contract.progress import TrialCount

    higher = TrialCount.of([0, 1, 2], "sharpe", maximize=True)
    lower = TrialCount.of([0, 1, 2], "max_drawdown", maximize=False)
    for count in (higher, lower):
        count.add(0, {"fast": 3}, 0.5)
        count.add(1, {"fast": 5}, float("nan"))  # no value (no trade): never the best
        count.add(2, {"fast": 8}, 0.9)
    assert (higher.done, higher.best, higher.best_params) == (3, 0.9, {"fast": 8})
    assert (lower.best, lower.best_params) == (0.5, {"fast": 3})
    assert higher.status() == "best sharpe 0.9 (fast=8)"


def test_a_walk_forward_counts_the_folds_whose_trials_are_all_done() -> None:
    from zvt_crypto.contract.progress import TrialCount

    keys = [("full", 0), ("full", 1), (0, 0), (0, 1), (1, 0), (1, 1)]
    count = TrialCount.of(keys, "sharpe", maximize=True)
    count.add((0, 0), {"fast": 3}, 9.0)  # a fold's trial: not compared with the trials on all the data
    assert count.status() == "folds 0/2"
    count.add((0, 1), {"fast": 5}, 1.0)
    count.add(("full", 1), {"fast": 5}, 1.5)
    assert count.status() == "folds 1/2 · best sharpe 1.5 (fast=5)" and count.done == 3


# -- stages: import and factor compute ----------------------------------------------------------------------------
def test_stage_bars_count_each_stage_and_never_go_back() -> None:
    from zvt_crypto.contract.progress import StageBars

    with StageBars(show=False) as bars:
        bars("reading 2 file(s)", 0, 300)
        bars("reading 2 file(s)", 100, 300)
        bars("writing 5 bars", 5, 5)
        bars("writing 5 bars", 2, 5)  # SQLite's upsert after its insert: the bar stays full
        bars("reading 2 file(s)", 300, 300)
    assert bars.state() == {"reading 2 file(s)": (300, 300), "writing 5 bars": (5, 5)}


def test_import_counts_bytes_read_then_rows_written_chunk_by_chunk(sqlite_store: Store, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import zvt_crypto.contract.writer as writer
    from zvt_crypto.dataio.importers import import_bars
    from zvt_crypto.dataio.sample import sample_bars
    from zvt_crypto.domain import Bar

    monkeypatch.setattr(writer, "PROGRESS_CHUNK_ROWS", 1000)
    files = []
    for number, start in enumerate(("2024-01-01", "2024-01-02T00:00Z")):
        files.append(tmp_path / f"part{number}.csv")
        sample_bars("BTC/USDT", start, 1440).to_csv(files[-1], index=False)
    sizes = [path.stat().st_size for path in files]
    heard: list[tuple[str, int, int]] = []
    result = import_bars(sqlite_store, files, exchange="binance", symbol="BTC/USDT", level="1m",
                         on_progress=lambda stage, done, total: heard.append((stage, done, total)))
    assert result.inserted == 2880
    reading = [entry for entry in heard if entry[0] == "reading 2 file(s)"]
    assert reading == [("reading 2 file(s)", 0, sum(sizes)), ("reading 2 file(s)", sizes[0], sum(sizes)),
                       ("reading 2 file(s)", sum(sizes), sum(sizes))]
    writing = [(done, total) for stage, done, total in heard if stage == "writing 2,880 bars"]
    assert writing == [(1000, 2880), (2000, 2880), (2880, 2880), (2880, 2880)]  # each chunk, then the commit
    assert heard.index(reading[-1]) < heard.index(("writing 2,880 bars", 1000, 2880))
    stored = Bar.query_data(exchange="binance", symbols=["BTC/USDT"], level="1m", store=sqlite_store)
    assert len(stored) == 2880  # the chunks were one write: all rows, no duplicates

    heard.clear()  # again: every chunk's rows are already stored, and the counts say so
    again = import_bars(sqlite_store, files, exchange="binance", symbol="BTC/USDT", level="1m",
                        on_progress=lambda stage, done, total: heard.append((stage, done, total)))
    assert (again.inserted, again.updated, again.changed) == (0, 0, 0)
    assert heard[-1] == ("writing 2,880 bars", 2880, 2880)


def test_chunked_write_is_one_transaction(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad row in the last chunk: nothing of the earlier chunks is stored."""
    import zvt_crypto.contract.writer as writer
    from zvt_crypto.contract.errors import StoreError
    from zvt_crypto.dataio.sample import sample_bars
    from zvt_crypto.domain import Bar

    monkeypatch.setattr(writer, "PROGRESS_CHUNK_ROWS", 100)
    bars = sample_bars("BTC/USDT", "2024-01-01", 250).assign(entity_id="pair_binance_BTC-USDT")
    heard: list[int] = []

    def fail_in_the_third_chunk(done: int, total: int) -> None:
        heard.append(done)
        if done == 200:
            raise StoreError("the disk is full")

    with pytest.raises(StoreError):
        sqlite_store.write(Bar, bars, level="1m", on_rows=fail_in_the_third_chunk)
    assert heard == [100, 200]
    assert len(Bar.query_data(entity_ids=["pair_binance_BTC-USDT"], level="1m", store=sqlite_store)) == 0


@pytest.mark.parametrize(("name", "one_at_a_time"), [("rsi", True), ("realized_vol", False)])
def test_factor_compute_counts_symbols_done_of_the_total(sqlite_store: Store, name: str, one_at_a_time: bool) -> None:
    from zvt_crypto.dataio.sample import sample_bars
    from zvt_crypto.domain import Bar
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import compute_factor

    symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
    for number, symbol in enumerate(symbols):
        bars = sample_bars(symbol, "2024-01-01", 100, "1h", seed=number, volatility=0.01)
        sqlite_store.write(Bar, bars.assign(entity_id=f"pair_binance_{symbol.replace('/', '-')}"), level="1h")
    heard: list[tuple[str, int, int]] = []
    factor = make_factor(name, {})
    run = compute_factor(factor, exchange="binance", level="1h", store=sqlite_store,
                         on_progress=lambda stage, done, total: heard.append((stage, done, total)))
    computing = f"{factor.factor_id('1h')} over 4 symbol(s)"
    counts = [done for stage, done, total in heard if stage == computing and total == 4]
    assert counts == ([0, 1, 2, 3, 4, 4] if one_at_a_time else [0, 4])
    writing = [entry for entry in heard if entry[0].startswith("writing ")]
    assert writing[-1] == (f"writing {run.rows:,} values", run.rows, run.rows)
    assert heard.index((computing, 4, 4)) < heard.index(writing[0])
