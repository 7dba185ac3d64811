"""Chained jobs (``after_job``): validated with the jobs they follow, run right after each finished upstream run
(in the daemon and with ``run-once``), on the symbols that run recorded, and caught up after a restart."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.schedule.conftest import dead_venue_toml
from zvt_crypto.cli.app import cli
from zvt_crypto.contract.config import load_config
from zvt_crypto.contract.errors import ConfigError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import FactorValue
from zvt_crypto.schedule.config import Schedule, parse_schedule
from zvt_crypto.schedule.daemon import Daemon
from zvt_crypto.schedule.history import recent_runs
from zvt_crypto.schedule.runner import JobRunner
from zvt_crypto.sim import SimulatedExchange

JOBS = """
[[jobs]]
name = "spot"
exchange = "binance"
symbols = ["BTC/USDT", "ETH/USDT"]
levels = ["1m", "1h"]
every = "1h"
start = "2024-01-07T00:00:00Z"

[[jobs]]
name = "spot-factors"
after_job = "spot"
after = [{ factor = "rsi", params = { window = 14 }, level = "1h" }]

[[jobs]]
name = "spot-more"
after_job = "spot-factors"
exchange = "binance"
symbols = ["SOL/USDT"]
levels = ["1h"]
start = "2024-01-07T00:00:00Z"

[[jobs]]
name = "perps"
exchange = "binanceusdm"
symbols = ["BTC/USDT:USDT"]
kinds = ["funding"]
every = "1h"

[[jobs]]
name = "perps-after"
after_job = "perps"
after = [{ factor = "rsi", params = { window = 14 }, level = "1h" }]
"""


def parse(text: str) -> Schedule:
    return parse_schedule(tomllib.loads(text), where="zvt.toml")


class Env:
    def __init__(self, path: Path, home: Path) -> None:
        self.path, self.home = path, home
        self.config = load_config(path, home=home, env={})
        self.schedule = parse_schedule(tomllib.loads(path.read_text()), where=str(path))
        self.store = Store(self.config)

    def runs(self) -> list[tuple[str, str, str]]:
        """(job, reason, status) of every run, oldest first."""
        return [(row["job"], row["reason"], row["status"]) for row in reversed(recent_runs(self.store, limit=100))]

    def rsi_rows(self, symbol: str) -> int:
        frame = FactorValue.query_data(filters=[FactorValue.factor_id == "rsi:1h:window=14"], exchange="binance",
                                       symbols=[symbol], index=None, store=self.store)
        return len(frame)


@pytest.fixture
def env(sim: SimulatedExchange, tmp_path: Path) -> Iterator[Env]:
    path = tmp_path / "zvt.toml"
    path.write_text(sim.config_toml(("binance",)) + dead_venue_toml("binanceusdm") + JOBS)
    environment = Env(path, tmp_path / "home")
    yield environment
    environment.store.dispose()


def test_chained_jobs_parse_and_inherit_from_their_upstream() -> None:
    schedule = parse(JOBS)
    factors, more = schedule.job("spot-factors"), schedule.job("spot-more")
    assert (factors.after_job, factors.steps_only, factors.exchanges, factors.levels) == (
        "spot", True, ("binance",), ("1m", "1h"))
    assert factors.trigger() is None and factors.when() == "after job 'spot'"
    assert factors.what() == "rsi:1h:window=14 on what spot recorded"
    assert (more.after_job, more.steps_only, more.symbols, more.every_seconds) == (
        "spot-factors", False, ("SOL/USDT",), None)
    assert [job.name for job in schedule.chained("spot")] == ["spot-factors"]
    # the order in the file does not matter: a chained job may come before the job it follows
    first, *rest = JOBS.split("[[jobs]]")[1:]
    reordered = parse("".join("[[jobs]]" + part for part in (rest[0], first, *rest[1:])))
    assert [job.name for job in reordered.jobs] == ["spot-factors", "spot", "spot-more", "perps", "perps-after"]
    assert reordered.job("spot-factors") == factors


STEPS = '[[jobs]]\nname = "a"\nexchange = "binance"\nsymbols = ["BTC/USDT"]\nlevels = ["1m"]\nevery = "1m"\n'


@pytest.mark.parametrize(("text", "message"), [
    (STEPS + '[[jobs]]\nname = "b"\nafter_job = "aa"\nafter = [{ factor = "rsi" }]',
     "job 'b': after_job: no job named 'aa' (did you mean 'a'?); jobs: a"),
    (STEPS + '[[jobs]]\nname = "b"\nafter_job = "b"\nafter = [{ factor = "rsi" }]',
     "job 'b': after_job names the job itself"),
    (STEPS + '[[jobs]]\nname = "b"\nafter_job = "a"\nevery = "1m"\nafter = [{ factor = "rsi" }]',
     "job 'b': a chained job (after_job) runs when 'a' has run; drop every"),
    (STEPS + '[[jobs]]\nname = "b"\nafter_job = "a"\nsymbols = ["ETH/USDT"]\nafter = [{ factor = "rsi" }]',
     "job 'b': symbols comes from job 'a' (after_job) when the job records nothing itself"),
    (STEPS + '[[jobs]]\nname = "b"\nafter_job = "a"', "job 'b': a chained job without kinds needs after = [...]"),
    (STEPS + '[[jobs]]\nname = "b"\nafter_job = "a"\nafter = [{ factor = "rsi", level = "1h" }]',
     "job 'b': after #1: factor 'rsi' runs on 1h bars but the job records 1m"),
    ('[[jobs]]\nname = "b"\nafter_job = "c"\nafter = [{ factor = "rsi" }]\n'
     '[[jobs]]\nname = "c"\nafter_job = "b"\nafter = [{ factor = "rsi" }]',
     "jobs 'b', 'c' chain to each other in a cycle (after_job)"),
    (STEPS + '[[jobs]]\nname = "b"\nafter_job = 3\nafter = [{ factor = "rsi" }]',
     "job 'b': after_job must name another job"),
])
def test_bad_chains_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert message in str(info.value)


def test_daemon_runs_the_chain_after_each_upstream_run(env: Env) -> None:
    daemon = Daemon(env.store, env.config, env.schedule)
    daemon.run_job("spot")
    assert env.runs() == [("spot", "schedule", "ok"), ("spot-factors", "after spot", "ok"),
                          ("spot-more", "after spot-factors", "ok")]
    # the factor ran on the upstream's symbols (24 closed 1h bars each), not on SOL recorded later in the chain
    assert env.rsi_rows("BTC/USDT") == env.rsi_rows("ETH/USDT") == 24 and env.rsi_rows("SOL/USDT") == 0
    factors_run = recent_runs(env.store, "spot-factors")[0]
    assert factors_run["detail"]["after_run"] == recent_runs(env.store, "spot")[0]["run_id"]
    assert factors_run["detail"]["steps"][0]["rows"] == 48
    assert recent_runs(env.store, "spot-more")[0]["changed"] == 24

    # a failed upstream run (the venue is down) still starts its chain; the steps are told what failed
    daemon.run_job("perps")
    assert env.runs()[-2:] == [("perps", "schedule", "failed"), ("perps-after", "after perps", "ok")]
    assert recent_runs(env.store, "perps-after")[0]["detail"]["failed"] == {"binanceusdm": ["(all)"]}


def test_a_chained_job_already_running_is_not_started_twice(env: Env) -> None:
    runner = JobRunner(env.store, env.config, env.schedule.settings)
    upstream = runner.execute(env.schedule.job("spot"), "manual")
    assert upstream is not None
    runner._active["held"] = type("Held", (), {"job": "spot-factors"})()  # a run of it in progress
    assert runner.execute(env.schedule.job("spot-factors"), "after spot", upstream.as_upstream()) is None
    del runner._active["held"]
    alone = runner.execute(env.schedule.job("spot-factors"), "manual")  # steps-only, but no upstream run given
    assert alone is not None and alone.status == "failed"
    assert "run spot (zvt-crypto schedule run-once spot) to start it" in (alone.error or "")


def test_catch_up_after_a_restart_runs_the_chain_the_daemon_missed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    monkeypatch.setattr(BackgroundScheduler, "resume", lambda self: None)  # stay paused: inspect, then run by hand
    runner = JobRunner(env.store, env.config, env.schedule.settings)
    assert runner.execute(env.schedule.job("spot"), "manual") is not None  # then the daemon "died"
    daemon = Daemon(env.store, env.config, env.schedule)
    daemon._start_scheduler()
    try:
        assert "spot-factors" in daemon._catch_up
        assert "spot-more" not in daemon._catch_up  # its upstream catches up, and starts it
        queued = daemon._scheduler.get_job("spot-factors#catch-up")
        assert queued is not None and queued.args == ("spot-factors", recent_runs(env.store, "spot")[0]["run_id"])
    finally:
        daemon._scheduler.shutdown(wait=True)
    daemon.run_chained_catch_up(*queued.args)
    assert env.runs()[-2:] == [("spot-factors", "catch-up", "ok"), ("spot-more", "after spot-factors", "ok")]
    assert env.rsi_rows("BTC/USDT") == 24
    # nothing missed any more: a second start queues no chained catch-up
    again = Daemon(env.store, env.config, env.schedule)
    again._start_scheduler()
    try:
        assert not {"spot-factors", "spot-more", "perps-after"} & again._catch_up
    finally:
        again._scheduler.shutdown(wait=True)


def test_run_once_runs_the_chain_unless_told_not_to(env: Env) -> None:
    base = ["--config", str(env.path), "--home", str(env.home), "schedule", "run-once"]
    result = CliRunner().invoke(cli, [*base, "spot", "--no-chain"])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.output.splitlines() if " — " in line] == ["spot"]
    result = CliRunner().invoke(cli, [*base, "spot"])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.output.splitlines() if " — " in line] == [
        "spot", "spot-factors", "spot-more"]
    steps_only = CliRunner().invoke(cli, [*base, "spot-factors"])
    assert steps_only.exit_code == 1 and "only runs steps on what spot recorded; run spot instead" in \
        steps_only.output
    failing = CliRunner().invoke(cli, [*base, "perps"])
    assert failing.exit_code == 1 and "perps-after: ok" in failing.output  # the chain ran; the exit code says failed
