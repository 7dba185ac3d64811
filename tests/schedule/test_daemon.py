"""``zvt-crypto schedule run`` in a real subprocess against the simulated Binance, second-level intervals.

The test moves the venue's clock; the daemon must notice the new closed bars by itself. Covered: data complete
after several ticks, a failing venue's job failing (history, alert) while the other job goes on, a second daemon
refused, ``list``/``status``, SIGTERM → clean stop; SIGKILL mid-run → restart with the killed run abandoned,
catch-up, no duplicates and no holes; a bad job config refused before anything is created.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.schedule.conftest import DaemonEnv, dead_venue_toml, wait_for
from tests.schedule.test_alerts import SECRET, Receiver
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.domain import Bar, FactorValue, JobRun
from zvt_crypto.domain.coverage import coverage
from zvt_crypto.schedule.lock import read_holder

pytestmark = pytest.mark.slow  # real daemons and their polling: seconds each

NOW = to_ms("2024-01-08T00:00:00Z")
MINUTE = 60_000

TICKS = """
[schedule]
alert_after_failures = 2
webhook_url = "{webhook}"
webhook_secret = "{secret}"
log_format = "json"
heartbeat_seconds = 1
lock_timeout_seconds = 10

[[jobs]]
name = "spot"
exchange = "binance"
symbols = ["BTC/USDT", "ETH/USDT"]
kinds = ["bars"]
levels = ["1m"]
every = "2s"
start = "2024-01-07T23:00:00Z"
after = [{{ factor = "rsi", params = {{ window = 14 }} }}]

[[jobs]]
name = "perps"
exchange = "binanceusdm"
symbols = ["BTC/USDT:USDT"]
kinds = ["funding"]
every = "2s"
"""


def stamps(env: DaemonEnv, symbol: str) -> list[int]:
    frame = Bar.query_data(exchange="binance", symbols=[symbol], level="1m", columns=[], store=env.store)
    return [to_ms(stamp) for stamp in frame.index.get_level_values("timestamp")]


def grid(first: int, last: int) -> list[int]:
    return list(range(first, last + MINUTE, MINUTE))


def complete_until(env: DaemonEnv, symbols: list[str], first: int, last: int) -> bool:
    return all(stamps(env, symbol) == grid(first, last) for symbol in symbols)


def test_ticks_failures_second_daemon_status_and_sigterm(daemon_env: DaemonEnv, tmp_path: Path) -> None:
    env, sim = daemon_env, daemon_env.sim
    receiver = Receiver(SECRET)
    try:
        env.write(TICKS.format(webhook=receiver.url, secret=SECRET), extra=dead_venue_toml("binanceusdm"))
        daemon = env.start()
        both = ["BTC/USDT", "ETH/USDT"]
        wait_for(lambda: complete_until(env, both, NOW - 60 * MINUTE, NOW - MINUTE), what="the first hour",
                 process=daemon)
        for minutes in (3, 2):  # the venue closes more bars; the daemon picks them up on its next ticks
            sim.advance(minutes * 60)
            wait_for(lambda: complete_until(env, both, NOW - 60 * MINUTE, sim.now - MINUTE),
                     what=f"bars up to {sim.now - MINUTE}", process=daemon)
        wait_for(lambda: len(FactorValue.query_data(filters=[FactorValue.factor_id == "rsi:1m:window=14"],
                                                    store=env.store)) == 2 * 65, what="rsi after the bars")

        # the dead venue's job fails run after run, the alert reaches the webhook, signed; spot goes on
        wait_for(lambda: len([r for r in env.runs("perps") if r["status"] == "failed"]) >= 2, process=daemon,
                 what="two failed perps runs")
        wait_for(lambda: receiver.received, what="the webhook alert")
        assert receiver.received[0]["event"] == "job_failing" and receiver.received[0]["job"] == "perps"
        assert receiver.bad_signatures == 0
        failed = next(r for r in env.runs("perps") if r["status"] == "failed")
        assert "funding on binanceusdm: (all): binanceusdm: could not load its markets (ExchangeNotAvailable" \
            in failed["error"]

        # a second daemon on the same store is refused, naming the first
        second = env.cli("schedule", "run")
        assert second.returncode == 1
        assert f"another scheduler is running on this store: pid {daemon.pid} on " in second.stderr
        assert "Traceback" not in second.stderr

        listing = json.loads(env.invoke("schedule", "list", "--format", "json").stdout)
        assert [(job["job"], job["when"], job["next_run"] is not None) for job in listing] == [
            ("spot", "every 2s UTC", True), ("perps", "every 2s UTC", True)]
        assert listing[0]["after"] == ["rsi:1m:window=14"]
        status = json.loads(env.invoke("schedule", "status", "--format", "json").stdout)
        assert status["daemon"]["running"] and status["daemon"]["pid"] == daemon.pid
        jobs = {job["job"]: job for job in status["jobs"]}
        assert jobs["spot"]["consecutive_failures"] == 0 and jobs["spot"]["last_success"]
        assert [(lag["exchange"], lag["level"]) for lag in jobs["spot"]["lags"]] == [("binance", "1m")]
        assert jobs["perps"]["consecutive_failures"] >= 2 and jobs["perps"]["last_success"] is None
        assert "binanceusdm" in jobs["perps"]["last_error"]
        table = env.invoke("schedule", "status").stdout
        assert f"scheduler pid {daemon.pid} on " in table and "spot" in table and "perps" in table

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=40) == 0, env.stderr(daemon)[-3000:]
        assert read_holder(env.store) is None  # the lock is released
        assert {r["status"] for r in env.runs()} <= {"ok", "failed"}  # the running one finished: none left over
        ok = [r for r in env.runs("spot") if r["status"] == "ok"]
        assert len(ok) >= 3 and sum(r["changed"] for r in ok) == 2 * 65  # each bar written once
        assert ok[0]["reason"] == "catch-up" and ok[-1]["reason"] == "schedule"  # never ran → runs at start
        lines = [json.loads(line) for line in (env.home / "logs" / "schedule.log").read_text().splitlines()]
        assert any(line["message"] == "scheduler stopped cleanly" for line in lines)
        spot_run = ok[-1]["run_id"]
        assert any(line["run_id"] == spot_run and line["logger"] == "zvt_crypto.recorders.base" for line in lines)
        assert SECRET not in (env.home / "logs" / "schedule.log").read_text()
    finally:
        receiver.close()


RESTART = """
[schedule]
heartbeat_seconds = 1
lock_timeout_seconds = 10

[[jobs]]
name = "tick"
exchange = "binance"
symbols = ["BTC/USDT"]
levels = ["1m"]
every = "2s"
start = "2024-01-07T23:00:00Z"

[[jobs]]
name = "backfill"
exchange = "binance"
symbols = ["ETH/USDT", "SOL/USDT"]
levels = ["1m"]
cron = "0 0 1 1 *"
start = "2024-01-05T00:00:00Z"
"""


def test_sigkill_then_restart_catches_up_without_duplicates_or_holes(daemon_env: DaemonEnv) -> None:
    env, sim = daemon_env, daemon_env.sim
    env.write(RESTART)
    daemon = env.start()

    def killable() -> bool:  # the yearly backfill is mid-run (it runs at start: it never ran)
        running = [r for r in env.runs("backfill") if r["status"] == "running"]
        return bool(running) and len(stamps(env, "ETH/USDT")) >= 1000

    wait_for(killable, what="the backfill mid-run", process=daemon)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(timeout=10)
    killed = [r for r in env.runs("backfill") if r["status"] == "running"]
    assert len(killed) == 1 and killed[0]["pid"] == daemon.pid  # what a crash leaves behind
    holder = read_holder(env.store)
    assert holder is not None and holder.pid == daemon.pid  # and a stale lock

    sim.advance(5 * 60)  # the venue went on while we were down
    restarted = env.start()
    wait_for(lambda: [r for r in env.runs("backfill") if r["status"] == "ok"], timeout=60,
             what="the backfill catch-up", process=restarted)
    wait_for(lambda: complete_until(env, ["BTC/USDT"], NOW - 60 * MINUTE, sim.now - MINUTE), process=restarted,
             what="the tick job catching up")
    runs = {r["run_id"]: r for r in env.runs("backfill")}
    assert runs[killed[0]["run_id"]]["status"] == "abandoned"
    assert f"process {daemon.pid}" in runs[killed[0]["run_id"]]["error"]
    assert [r["reason"] for r in runs.values() if r["status"] == "ok"] == ["catch-up"]
    last = sim.now - MINUTE
    assert complete_until(env, ["ETH/USDT", "SOL/USDT"], to_ms("2024-01-05"), last)  # no hole, no duplicate
    rows = coverage(env.store, Bar, exchange="binance", level="1m")
    assert {row.entity_id: (row.rows, row.expected, row.gaps) for row in rows} == {
        "pair_binance_BTC-USDT": (65, 65, []),
        "pair_binance_ETH-USDT": (len(grid(to_ms("2024-01-05"), last)), len(grid(to_ms("2024-01-05"), last)), []),
        "pair_binance_SOL-USDT": (len(grid(to_ms("2024-01-05"), last)), len(grid(to_ms("2024-01-05"), last)), []),
    }
    assert read_holder(env.store).pid == restarted.pid  # type: ignore[union-attr]

    restarted.send_signal(signal.SIGTERM)
    restarted.send_signal(signal.SIGTERM)  # the second one abandons a running job between pages
    assert restarted.wait(timeout=40) == 0, env.stderr(restarted)[-3000:]
    assert "taking over the scheduler lock" in env.stderr(restarted)
    assert {r["status"] for r in env.runs()} <= {"ok", "abandoned"}
    assert complete_until(env, ["BTC/USDT"], NOW - 60 * MINUTE, sim.now - MINUTE)


def test_bad_job_config_is_refused_before_anything_starts(daemon_env: DaemonEnv) -> None:
    env = daemon_env
    env.write('[[jobs]]\nname = "spot"\nexchange = "binance"\nsymbols = ["BTC/USDT"]\nkinds = ["bars"]\n'
              'levels = ["1m"]\nevery = "1m"\ncron = "* * * * *"\n')
    result = env.cli("schedule", "run")
    assert result.returncode == 1
    assert "error: " in result.stderr and "job 'spot': set exactly one of every" in result.stderr
    assert "Traceback" not in result.stderr
    assert not env.home.exists()  # no store, no log file: nothing was opened or written


def test_run_once(daemon_env: DaemonEnv) -> None:
    env = daemon_env
    env.write(RESTART.replace('"2024-01-05T00:00:00Z"', '"2024-01-07T22:00:00Z"'),
              extra=dead_venue_toml("binanceusdm"))
    result = env.cli("schedule", "run-once", "backfill")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("backfill: ok — 240 rows written (240 received)")
    assert [(r["job"], r["reason"], r["status"], r["changed"]) for r in env.runs()] == [
        ("backfill", "manual", "ok", 240)]
    assert JobRun.query_data(store=env.store, index=None)["changed"].tolist() == [240]
    unknown = env.invoke("schedule", "run-once", "nope")
    assert unknown.exit_code == 1 and "no job named 'nope' in the config; jobs: tick, backfill" in unknown.output
    history = env.invoke("schedule", "history")
    row = history.output.splitlines()[1].split()  # started job reason status seconds written …
    assert history.exit_code == 0 and row[1:4] == ["backfill", "manual", "ok"] and row[5] == "240"


INTERRUPTED = """
[schedule]
heartbeat_seconds = 1
lock_timeout_seconds = 10

[[jobs]]
name = "backfill"
exchange = "binance"
symbols = ["ETH/USDT", "SOL/USDT"]
levels = ["1m"]
cron = "0 0 1 1 *"
start = "2024-01-01T00:00:00Z"
"""


def test_a_run_stopped_by_two_sigints_records_what_it_stored(daemon_env: DaemonEnv) -> None:
    """The history of an abandoned run counts the rows that reached the store and the requests sent."""
    env, sim = daemon_env, daemon_env.sim
    env.write(INTERRUPTED)
    sim.inject("slow", "/api/v3/klines", delay=1.0, count=None)  # 11 pages of 1m bars a symbol, 1 a second
    daemon = env.start()

    def stored() -> int:
        return len(stamps(env, "ETH/USDT")) + len(stamps(env, "SOL/USDT"))

    wait_for(lambda: stored() >= 2000 and [r for r in env.runs("backfill") if r["status"] == "running"],
             what="the backfill mid-run", process=daemon)
    daemon.send_signal(signal.SIGINT)
    time.sleep(0.3)
    daemon.send_signal(signal.SIGINT)  # the second one abandons the run between pages
    assert daemon.wait(timeout=40) == 0, env.stderr(daemon)[-3000:]
    [run] = env.runs("backfill")
    total = stored()
    assert run["status"] == "abandoned" and "SIGINT received twice" in run["error"]
    assert 2000 <= total < 2 * len(grid(to_ms("2024-01-01"), NOW - MINUTE))  # stopped part-way
    assert run["changed"] == total and run["rows"] >= total  # what reached the store, not 0
    sent = len(sim.requests)  # exchangeInfo, the venue's time and the klines pages
    assert sent - 1 <= run["requests"] <= sent + 2  # +2: a page each symbol was about to send when cancelled
    assert {entry["exchange"] for entry in run["detail"]["record"]} == {"binance"}
