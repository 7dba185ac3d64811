"""Pages are written in batches (one transaction per ``write_batch_rows``), in order, whole: an error leaves every
page before it stored and nothing after it, so the next run resumes without duplicates or holes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.domain.coverage import coverage
from zvt_crypto.recorders import BarsRecorder
from zvt_crypto.recorders.bars import ohlcv_values
from zvt_crypto.sim import SimulatedExchange

BTC = "pair_binance_BTC-USDT"
WEEK = 7 * 1440  # 1m bars from 2024-01-01 to the simulator's now (2024-01-08): 11 pages of at most 1,000


def record(store: Store, config: Config, **options: object):
    return BarsRecorder(store, config).record(exchange="binance", show_progress=False, symbols=["BTC/USDT"],
                                              level="1m", **options)


def stored(store: Store) -> pd.DataFrame:
    return Bar.query_data(entity_ids=[BTC], level="1m", store=store)


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row count of every bar write."""
    sizes: list[int] = []
    original = Store.write

    def write(self: Store, schema: type, frame: pd.DataFrame, **kwargs: object) -> object:
        if schema is Bar:
            sizes.append(len(frame))
        return original(self, schema, frame, **kwargs)

    monkeypatch.setattr(Store, "write", write)
    return sizes


def test_pages_are_written_in_batches(sim: SimulatedExchange, sim_store: Store, sim_config: Config,
                                      writes: list[int]) -> None:
    summary = record(sim_store, sim_config, start="2024-01-01")
    assert not summary.failed, str(summary)
    assert writes == [10_000, WEEK - 10_000]  # ten pages, then the rest at the end of the range
    assert len(stored(sim_store)) == WEEK and stored(sim_store).index.is_unique
    assert not coverage(sim_store, entity_ids=[BTC], level="1m")[0].gaps


def test_pending_pages_are_written_before_an_error_propagates(sim: SimulatedExchange, tmp_path: Path,
                                                              writes: list[int]) -> None:
    toml = sim.config_toml().replace("[exchanges.binance.ccxt]\n", "[exchanges.binance]\nmax_retries = 1\n"
                                     "retry_initial_seconds = 0.05\n\n[exchanges.binance.ccxt]\n", 1)
    (tmp_path / "zvt_crypto.toml").write_text(toml)
    sim_config = load_config(tmp_path / "zvt_crypto.toml", home=tmp_path / "home")
    sim_store = Store(sim_config)
    try:
        _interrupted_and_resumed(sim, sim_store, sim_config, writes)
    finally:
        sim_store.dispose()


def _interrupted_and_resumed(sim: SimulatedExchange, sim_store: Store, sim_config: Config, writes: list[int]) -> None:
    record(sim_store, sim_config, start="2024-01-01", end="2024-01-04")  # 3 days and a bar: 5 pages, fine
    sim.inject("drop", "/api/v3/klines", count=None, skip=3)  # three pages, then the venue goes away
    broken = record(sim_store, sim_config)
    assert broken.failed
    assert len(stored(sim_store)) == 3 * 1440 + 1 + 3 * 1000  # whole pages only, none lost: a batch of three
    assert writes[-1] == 3000
    sim.faults.clear()
    summary = record(sim_store, sim_config)
    assert not summary.failed, str(summary)
    assert len(stored(sim_store)) == WEEK and stored(sim_store).index.is_unique
    assert not coverage(sim_store, entity_ids=[BTC], level="1m")[0].gaps


def test_an_invalid_page_keeps_the_pages_before_it(sim: SimulatedExchange, sim_store: Store, sim_config: Config,
                                                   monkeypatch: pytest.MonkeyPatch, writes: list[int]) -> None:
    fetched: list[int] = []
    original = BarsRecorder.fetch_page

    async def fetch_page(self: BarsRecorder, context: object, symbol: str, since: int, limit: int) -> pd.DataFrame:
        page = await original(self, context, symbol, since, limit)
        fetched.append(since)
        if len(fetched) == 5:  # the fifth page has a bar whose high is below its close
            page.loc[page.index[10], "high"] = page.loc[page.index[10], "close"] - 1
        return page

    monkeypatch.setattr(BarsRecorder, "fetch_page", fetch_page)
    broken = record(sim_store, sim_config, start="2024-01-01")
    assert broken.failed and "high below max(open, close)" in str(broken)
    assert len(stored(sim_store)) == 4 * 1000  # the batch was refused whole, then its good pages written one by one
    monkeypatch.setattr(BarsRecorder, "fetch_page", original)
    summary = record(sim_store, sim_config)
    assert not summary.failed, str(summary)
    assert len(stored(sim_store)) == WEEK and stored(sim_store).index.is_unique


def test_ohlcv_values_reject_what_is_not_klines() -> None:
    import ccxt

    rows = [[1_704_067_200_000 + i * 60_000, 1.0, 2.0, 0.5, 1.5, 10.0] for i in range(3)]
    assert ohlcv_values(rows, 6).tolist() == rows
    assert ohlcv_values(rows, 5).shape == (3, 5)
    assert ohlcv_values([], 6).shape == (0, 6)
    assert ohlcv_values([[*row, "extra"] for row in rows], 6) is None  # well-formed, not one numeric array
    for junk in ([[1_704_067_200_000, None, None, None, None, None]], [[1, 2, 3]], "<html>", [(1, 2, 3, 4, 5, 6)]):
        with pytest.raises(ccxt.BadResponse):
            ohlcv_values(junk, 6)


def test_a_symbol_failing_mid_range_reports_the_rows_it_stored(sim: SimulatedExchange, tmp_path: Path) -> None:
    toml = sim.config_toml() + "\n[exchanges.binance]\nmax_retries = 1\nretry_initial_seconds = 0.01\n"
    (tmp_path / "zvt_crypto.toml").write_text(toml)
    config = load_config(tmp_path / "zvt_crypto.toml", home=tmp_path / "home")
    store = Store(config)
    try:
        sim.inject("drop", "/api/v3/klines", symbol="BTC/USDT", count=None, skip=3)  # three pages, then gone
        summary = BarsRecorder(store, config).record(exchange="binance", show_progress=False, level="1m",
                                                     symbols=["BTC/USDT", "ETH/USDT"], start="2024-01-05")
        btc, eth = summary.results
        assert btc.error is not None and eth.error is None
        assert btc.changed == btc.rows == len(stored(store)) == 3000  # what reached the store, though it failed
        assert eth.changed == 3 * 1440
        assert summary.total("changed") == 3000 + 3 * 1440
        assert str(summary).startswith(f"Bar from binance: 2 symbol(s), {3000 + 3 * 1440} rows written")
    finally:
        store.dispose()


def test_a_symbol_bar_counts_its_pages_of_those_the_range_takes(sim: SimulatedExchange, sim_store: Store,
                                                                sim_config: Config) -> None:
    from rich.progress import Progress

    class Watched(Progress):
        """A silent display that keeps every (completed, total) a task was set to."""

        seen: dict[str, list[tuple[float, float | None]]] = {}

        def update(self, task_id: object, **fields: object) -> None:  # type: ignore[override]
            super().update(task_id, **fields)  # type: ignore[arg-type]
            task = self._tasks[task_id]  # type: ignore[index]
            self.seen.setdefault(task.description.strip(), []).append((task.completed, task.total))

    progress = Watched(disable=True)
    summary = record(sim_store, sim_config, start="2024-01-01", _progress=progress)
    assert not summary.failed, str(summary)
    pages = progress.seen["BTC/USDT pages"]
    served = [r for r in sim.requests if r.path == "/api/v3/klines"]
    assert pages[0] == (0, 11)  # a week of 1m bars from its start, 1,000 a page: 11 pages expected before the first
    assert pages[-1] == (len(served), len(served)) == (11, 11)
    assert [done for done, _total in pages] == [*range(12), 11]  # one step per page, then settled
