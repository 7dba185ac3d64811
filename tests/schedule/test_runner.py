"""One job run in-process against the simulated Binance with the real recorders: history row, resume, ``start``
for new symbols only, universe, after-steps, failures and alerts, cancellation between pages, lag, JSON logs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.schedule.conftest import FAST_RETRIES, dead_venue_toml, wait_for
from tests.schedule.test_alerts import SECRET, Receiver
from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.domain import Bar, FactorValue
from zvt_crypto.domain.coverage import coverage
from zvt_crypto.schedule.config import Schedule, parse_schedule
from zvt_crypto.schedule.history import job_health, recent_runs
from zvt_crypto.schedule.logs import setup_logging
from zvt_crypto.schedule.runner import JobRunner, RunOutcome
from zvt_crypto.schedule.status import job_lags, schedule_status
from zvt_crypto.sim import SimulatedExchange

NOW = to_ms("2024-01-08T00:00:00Z")
JOBS = """
[schedule]
alert_after_failures = 2
webhook_url = "{webhook}"
webhook_secret = "{secret}"

[[jobs]]
name = "btc"
exchange = "binance"
symbols = ["BTC/USDT"]
levels = ["1m"]
every = "1m"
start = "2024-01-07T23:00:00Z"

[[jobs]]
name = "spot"
exchange = "binance"
symbols = ["BTC/USDT", "ETH/USDT"]
levels = ["1m"]
every = "1m"
start = "2024-01-07T23:00:00Z"
after = [{{ factor = "rsi", params = {{ window = 14 }} }}]

[[jobs]]
name = "top2"
exchange = "binance"
universe = {{ quote = "USDT", top = 2 }}
levels = ["1h"]
every = "1h"
start = "2024-01-07T00:00:00Z"

[[jobs]]
name = "perps"
exchange = "binanceusdm"
symbols = ["BTC/USDT:USDT"]
kinds = ["funding"]
every = "1h"

[[jobs]]
name = "backfill"
exchange = "binance"
symbols = ["SOL/USDT"]
levels = ["1m"]
cron = "0 0 1 1 *"
start = "2024-01-02T00:00:00Z"
"""


class Env:
    def __init__(self, config: Config, schedule: Schedule) -> None:
        self.config, self.schedule = config, schedule
        self.store = Store(config)
        self.runner = JobRunner(self.store, config, schedule.settings)

    def run(self, job: str) -> RunOutcome:
        outcome = self.runner.execute(self.schedule.job(job), "manual")
        assert outcome is not None
        return outcome


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    yield server
    server.close()


@pytest.fixture
def env(sim: SimulatedExchange, tmp_path: Path, receiver: Receiver) -> Iterator[Env]:
    path = tmp_path / "zvt.toml"  # FAST_RETRIES: a failing venue is given up in a fraction of a second
    path.write_text(sim.config_toml(("binance",)) + FAST_RETRIES + dead_venue_toml("binanceusdm")
                    + JOBS.format(webhook=receiver.url, secret=SECRET))
    config = load_config(path, home=tmp_path / "home", env={})
    import tomllib

    environment = Env(config, parse_schedule(tomllib.loads(path.read_text()), where=str(path)))
    yield environment
    environment.store.dispose()


def bars(store: Store, symbol: str, level: str = "1m") -> list[int]:
    frame = Bar.query_data(exchange="binance", symbols=[symbol], level=level, columns=[], store=store)
    return [to_ms(stamp) for stamp in frame.index.get_level_values("timestamp")]


def test_run_records_writes_history_and_resumes(env: Env, sim: SimulatedExchange) -> None:
    first = env.run("btc")
    assert first.status == "ok" and first.error is None
    assert (first.totals.rows, first.totals.changed) == (60, 60)  # 23:00 … 23:59, the 00:00 bar is still open
    row = recent_runs(env.store, "btc")[0]
    assert (row["run_id"], row["status"], row["reason"], row["changed"]) == (first.run_id, "ok", "manual", 60)
    assert row["requests"] >= 3 and row["ended_timestamp"] >= row["started_timestamp"]
    assert row["detail"]["symbols"] == {"binance": ["BTC/USDT"]}

    sim.advance(180)
    spot = env.run("spot")  # BTC resumes after 23:59; ETH, new, starts at the job's start
    assert spot.status == "ok"
    assert spot.totals.changed == 3 + 63
    assert bars(env.store, "BTC/USDT") == bars(env.store, "ETH/USDT") == \
        list(range(NOW - 3_600_000, NOW + 180_000, 60_000))
    factor = FactorValue.query_data(filters=[FactorValue.factor_id == "rsi:1m:window=14"], index=None,
                                    store=env.store)
    assert len(factor) == 2 * 63 and spot.totals.detail["steps"][0]["rows"] == 126
    lags = job_lags(env.store, env.schedule.job("spot"), {"binance": ["BTC/USDT", "ETH/USDT"]}, now=sim.now)
    assert [(lag.level, lag.seconds, lag.last_bar) for lag in lags] == [("1m", 0.0, "2024-01-08T00:02:00Z")]
    sim.advance(600)
    lags = job_lags(env.store, env.schedule.job("spot"), {"binance": ["BTC/USDT", "ETH/USDT"]}, now=sim.now)
    assert lags[0].seconds == 600.0


def test_universe_is_resolved_at_run_time(env: Env) -> None:
    outcome = env.run("top2")
    assert outcome.status == "ok"
    assert outcome.totals.detail["symbols"] == {"binance": ["BTC/USDT", "ETH/USDT"]}  # the largest quote volumes
    assert len(bars(env.store, "ETH/USDT", "1h")) == 24
    status = {s.job: s for s in schedule_status(env.store, env.schedule)}["top2"]
    assert status.last_success is not None and [lag.worst_symbol for lag in status.lags] in (["BTC/USDT"],
                                                                                             ["ETH/USDT"])


def test_failing_venue_is_recorded_and_alerted(env: Env, receiver: Receiver) -> None:
    outcomes = [env.run("perps") for _ in range(3)]
    assert [outcome.status for outcome in outcomes] == ["failed"] * 3
    assert "funding on binanceusdm" in (outcomes[0].error or "")
    assert job_health(env.store, "perps").consecutive_failures == 3
    assert [(alert["event"], alert["job"], alert["consecutive_failures"]) for alert in receiver.received] == [
        ("job_failing", "perps", 2)]
    assert receiver.bad_signatures == 0
    assert env.run("btc").status == "ok"  # other jobs are not affected


def test_cancel_abandons_between_pages(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from zvt_crypto.recorders.paged import PagedRecorder

    # Batches of one page: the 8,640 bars of this backfill would otherwise be one 10,000-row batch, written at once.
    monkeypatch.setattr(PagedRecorder, "write_batch_rows", 1000)
    job = env.schedule.job("backfill")
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(env.runner.execute(job, "manual")))
    thread.start()
    wait_for(lambda: len(bars(env.store, "SOL/USDT")) >= 1000, timeout=30, what="the first pages")
    env.runner.cancel_all("test stop")
    thread.join(timeout=30)
    outcome = result[0]
    assert outcome.status == "abandoned" and "test stop" in outcome.error  # type: ignore[attr-defined]
    assert recent_runs(env.store, "backfill")[0]["status"] == "abandoned"
    stored = bars(env.store, "SOL/USDT")
    assert stored == list(range(to_ms("2024-01-02"), stored[-1] + 60_000, 60_000))  # whole pages, no hole
    assert len(stored) < 6 * 1440  # it did stop early

    assert env.run("backfill").status == "ok"  # the next run finishes the job
    assert bars(env.store, "SOL/USDT") == list(range(to_ms("2024-01-02"), NOW, 60_000))
    assert all(not row.gaps for row in coverage(env.store, Bar, exchange="binance", symbols=["SOL/USDT"]))


def test_json_logs_carry_the_run_id(env: Env) -> None:
    path = setup_logging(env.config.home, "json", "INFO", console=False)
    try:
        outcome = env.run("btc")
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_zvt_schedule", False)]:
            root.removeHandler(handler)
            handler.close()
    assert path == env.config.home / "logs" / "schedule.log"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    mine = [line for line in lines if line["run_id"] == outcome.run_id]
    assert {line["job"] for line in mine} == {"btc"}
    loggers = {line["logger"] for line in mine}
    assert {"zvt_crypto.schedule.runner", "zvt_crypto.recorders.base"} <= loggers  # recorder lines carry it too
    assert all({"time", "level", "message"} <= set(line) for line in lines)


def test_a_run_started_where_an_event_loop_is_running(env: Env) -> None:
    """As in a notebook (or a process whose main thread runs Playwright's loop): asyncio.run would refuse."""
    import asyncio

    async def inside_a_loop() -> RunOutcome:
        return env.run("btc")

    outcome = asyncio.run(inside_a_loop())
    assert outcome.status == "ok" and outcome.totals.rows == 60, outcome.error


def test_the_runner_records_with_its_own_config_not_the_stores(sim: SimulatedExchange, tmp_path: Path) -> None:
    """A store opened with one config (the user's: the real venue) and a runner given another (the venue at the
    simulator, as the demo and ``--config`` do) record from the runner's venue; the store's config was used."""
    user = load_config(None, home=tmp_path / "home", env={})  # no [exchanges]: the real api.binance.com
    schedule = parse_schedule({"jobs": [{"name": "btc", "exchange": "binance", "symbols": ["BTC/USDT"],
                                         "levels": ["1h"], "every": "1h", "start": "2024-01-07T00:00:00Z"}]})
    store = Store(user)
    try:
        outcome = JobRunner(store, sim.config(user), schedule.settings).execute(schedule.job("btc"), "manual")
        assert outcome is not None and outcome.status == "ok", outcome and outcome.error
        assert len(bars(store, "BTC/USDT", "1h")) == 24
        assert any(request.path == "/api/v3/klines" for request in sim.requests)
    finally:
        store.dispose()
