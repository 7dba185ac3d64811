"""``[schedule]`` and ``[[jobs]]``: parsed into frozen dataclasses, every mistake refused up front with the job,
the key and what to write; triggers on the UTC bar grid."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from zvt_crypto.contract.config import load_config
from zvt_crypto.contract.errors import ConfigError
from zvt_crypto.schedule.config import (
    ENV_WEBHOOK_SECRET,
    AfterStep,
    JobSpec,
    ScheduleSettings,
    Universe,
    load_schedule,
    parse_schedule,
)
from zvt_crypto.schedule.steps import register_step, step_kinds
from zvt_crypto.schedule.triggers import DelayedCronTrigger, GridTrigger, crontab_weekdays, missed_since

EXAMPLE = """
[schedule]
alert_after_failures = 2
webhook_url = "https://hooks.example.com/zvt"
webhook_secret = "from-the-file"
log_format = "json"

[[jobs]]
name = "spot-1m"
exchange = "binance"
universe = { quote = "USDT", top = 50, by = "quote_volume" }
kinds = ["bars"]
levels = ["1m", "1h"]
every = "1m"
start = "2024-01-01"
after = [{ factor = "rsi", params = { window = 14 }, level = "1h" }]

[[jobs]]
name = "perps"
exchanges = ["binanceusdm"]
symbols = ["BTC/USDT:USDT"]
kinds = ["funding", "open-interest"]
levels = ["1h"]
cron = "*/5 * * * 1-5"
delay_seconds = 20

[[jobs]]
name = "markets"
exchange = "binance"
kinds = ["markets"]
every = "1d"
enabled = false
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse(text: str, env: dict[str, str] | None = None) -> object:
    return parse_schedule(tomllib.loads(text), where="zvt.toml", env=env or {})


def test_example_parses_into_frozen_specs() -> None:
    schedule = parse(EXAMPLE)
    settings = schedule.settings
    assert (settings.alert_after_failures, settings.log_format, settings.webhook_secret) == (2, "json",
                                                                                             "from-the-file")
    spot, perps, markets = schedule.jobs
    assert spot == JobSpec(name="spot-1m", exchanges=("binance",), kinds=("bars",), levels=("1m", "1h"),
                           universe=Universe("USDT", 50, "quote_volume"), every_seconds=60, delay_seconds=5,
                           start=1_704_067_200_000,
                           after=(AfterStep("factor", {"factor": "rsi", "params": {"window": 14}, "level": "1h"}),))
    assert spot.when() == "every 1m +5s UTC"
    assert spot.what() == "bars [1m, 1h] of top 50 USDT by quote_volume on binance"
    assert [step.describe() for step in spot.after] == ["rsi:1h:window=14"]
    assert (perps.cron, perps.delay_seconds, perps.every_seconds) == ("*/5 * * * 1-5", 20, None)
    assert markets.symbols is None and not markets.enabled
    with pytest.raises(AttributeError):
        spot.name = "other"  # type: ignore[misc]
    assert schedule.job("perps") is perps
    with pytest.raises(ConfigError, match="no job named 'nope' in the config; jobs: spot-1m, perps, markets"):
        schedule.job("nope")


def test_webhook_secret_from_env_and_never_shown() -> None:
    settings = parse(EXAMPLE, env={ENV_WEBHOOK_SECRET: "from-env"}).settings
    assert settings.webhook_secret == "from-env"
    assert "from-env" not in repr(settings) and "from-env" not in str(settings)
    assert "webhook_secret='***'" in repr(settings)


def test_webhook_url_path_is_never_shown() -> None:
    """A Slack or Discord webhook's path is its token: reprs show the host only."""
    settings = ScheduleSettings(webhook_url="https://user:pw@hooks.example.com/services/T0/B0/token-in-path",
                                webhook_secret="s")
    assert "token-in-path" not in repr(settings) and "pw" not in repr(settings)
    assert "webhook_url='https://hooks.example.com/…'" in repr(settings)


def test_load_config_accepts_the_sections(tmp_path: Path) -> None:
    path = tmp_path / "zvt.toml"
    path.write_text(EXAMPLE)
    config = load_config(path, home=tmp_path / "home", env={})
    assert [job.name for job in load_schedule(config).jobs] == ["spot-1m", "perps", "markets"]
    assert not (tmp_path / "home").exists()  # validation opens nothing


def test_no_jobs_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass --config FILE"):
        load_schedule(load_config(home=tmp_path, env={}))
    path = tmp_path / "zvt.toml"
    path.write_text("[schedule]\nlog_format = 'text'\n")
    with pytest.raises(ConfigError, match=r"no \[\[jobs\]\] defined"):
        load_schedule(load_config(path, home=tmp_path, env={}))


JOB = '[[jobs]]\nname = "j1"\nexchange = "binance"\nsymbols = ["BTC/USDT"]\nkinds = ["bars"]\nlevels = ["1m"]\n'


@pytest.mark.parametrize(("text", "message"), [
    (JOB + 'every = "1m"\nevry = "1m"', "job 'j1': unknown key(s) evry (did you mean every?)"),
    (JOB + 'every = "1m"\ncron = "* * * * *"', "job 'j1': set exactly one of every"),
    (JOB, "job 'j1': set exactly one of every"),
    (JOB + 'every = "5 minutes"', "job 'j1': every must be a duration such as"),
    (JOB + 'cron = "*/5 * * *"', "job 'j1': cron must have 5 fields"),
    (JOB + 'cron = "61 * * * *"', "job 'j1': cron: "),
    (JOB + 'every = "1m"\ndelay_seconds = 60', "job 'j1': delay_seconds must be an integer from 0 to 59"),
    (JOB.replace('"binance"', '"binanse"') + 'every = "1m"', "job 'j1': exchange: unknown exchange 'binanse'"),
    (JOB.replace('["bars"]', '["candles"]') + 'every = "1m"', "job 'j1': kinds: unknown kind 'candles'; known: "),
    (JOB.replace('["1m"]', '["2m"]') + 'every = "1m"', "job 'j1': levels: unknown level '2m'"),
    (JOB.replace('levels = ["1m"]\n', "") + 'every = "1m"', "job 'j1': kinds ['bars'] need levels"),
    (JOB.replace('["BTC/USDT"]', '["BTCUSDT"]') + 'every = "1m"', "job 'j1': symbols: invalid symbol 'BTCUSDT'"),
    (JOB + 'every = "1m"\nuniverse = { quote = "USDT", top = 5 }', "job 'j1': set symbols or universe, not both"),
    (JOB.replace('symbols = ["BTC/USDT"]', 'universe = { quote = "USDT", top = 5, by = "trades" }') + 'every = "1m"',
     "job 'j1': universe.by must be one of quote_volume, base_volume"),
    (JOB.replace('symbols = ["BTC/USDT"]\n', "") + 'every = "1m"', "job 'j1': name what to record"),
    (JOB + 'every = "1m"\nstart = "yesterday"', "job 'j1': start: cannot read 'yesterday' as a time"),
    (JOB + 'every = "1m"\nafter = [{ factor = "nope" }]', "job 'j1': after #1: unknown factor 'nope'; known: "),
    (JOB + 'every = "1m"\nafter = [{ factor = "rsi", params = { window = "abc" } }]',
     "job 'j1': after #1: factor 'rsi': parameter window='abc' must be int"),
    (JOB + 'every = "1m"\nafter = [{ factor = "rsi", level = "1h" }]',
     "job 'j1': after #1: factor 'rsi' runs on 1h bars but the job records 1m"),
    (JOB + 'every = "1m"\nafter = [{ trade = "momentum" }]',
     "job 'j1': after #1: say what to run with exactly one of the known step kinds (factor, paper)"),
    (JOB + 'every = "1m"\n' + JOB + 'every = "1h"', "[[jobs]] #2: name 'j1' is used twice"),
    ('[[jobs]]\nname = "bad name!"', "[[jobs]] #1: name must be 1-64 letters"),
    ("[schedule]\nalert_after = 3\n", "[schedule]: unknown key(s) alert_after (did you mean alert_after_failures?)"),
    ('[schedule]\nlog_format = "xml"\n', '[schedule]: log_format must be "text" or "json"'),
    ('[schedule]\nwebhook_url = "https://hooks.example.com/x"\n', "webhook_url needs a secret to sign the alerts"),
    ("[schedule]\nmisfire_grace_seconds = 0\n", "misfire_grace_seconds must be an integer from 1"),
])
def test_bad_config_is_refused_with_job_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith("zvt.toml: ")


def test_after_steps_are_a_registry() -> None:
    """A later package registers its kind (the paper trader: ``paper``); then the entry is accepted."""

    class Echo:
        def parse(self, entry: dict, where: str, levels: tuple[str, ...]) -> AfterStep:
            return AfterStep("echo", dict(entry))

        def describe(self, step: AfterStep) -> str:
            return f"echo {step.params['echo']}"

        def run(self, context: object, step: AfterStep) -> object:
            raise NotImplementedError

    assert set(step_kinds()) >= {"factor"}
    register_step("echo", Echo())
    try:
        job = parse(JOB + 'every = "1m"\nafter = [{ echo = "hi" }]').jobs[0]
        assert job.after[0].describe() == "echo hi"
        register_step("echo", Echo())  # the same module again (a reload): replaced
        other = type("Other", (Echo,), {"__module__": "acme.steps"})
        with pytest.raises(ValueError, match=r"'echo' is already registered \(by tests.schedule.test_config\)"):
            register_step("echo", other())  # another module claiming the name: an error
    finally:
        from zvt_crypto.schedule import steps

        steps._steps.unregister("echo")


def test_grid_trigger_fires_on_bar_closes_plus_delay() -> None:
    hourly = GridTrigger(3600, 5)
    assert hourly.get_next_fire_time(None, at("2024-01-08T10:03:17Z")) == at("2024-01-08T11:00:05Z")
    assert hourly.get_next_fire_time(None, at("2024-01-08T11:00:05Z")) == at("2024-01-08T11:00:05Z")
    # after a catch-up run at an odd time the grid is kept
    assert hourly.get_next_fire_time(at("2024-01-08T10:41:59Z"), at("2024-01-08T10:42:00Z")) == \
        at("2024-01-08T11:00:05Z")
    assert hourly.get_next_fire_time(at("2024-01-08T11:00:05Z"), at("2024-01-08T11:00:06Z")) == \
        at("2024-01-08T12:00:05Z")
    weekly = GridTrigger(604_800, 30)  # weeks start on Monday 00:00 UTC, as the 1w level
    assert weekly.get_next_fire_time(None, at("2024-01-10T12:00:00Z")) == at("2024-01-15T00:00:30Z")
    seconds = GridTrigger(2)
    assert seconds.get_next_fire_time(None, at("2024-01-08T00:00:01.5Z")) == at("2024-01-08T00:00:02Z")
    import pickle

    assert pickle.loads(pickle.dumps(hourly)).get_next_fire_time(None, at("2024-01-08T10:03:17Z")) == \
        at("2024-01-08T11:00:05Z")


def test_cron_is_crontab_in_utc_with_delay() -> None:
    every5 = DelayedCronTrigger("*/5 * * * *", 20)
    assert every5.get_next_fire_time(None, at("2024-01-08T10:03:17Z")) == at("2024-01-08T10:05:20Z")
    assert every5.get_next_fire_time(at("2024-01-08T10:05:20Z"), at("2024-01-08T10:05:21Z")) == \
        at("2024-01-08T10:10:20Z")
    sunday = DelayedCronTrigger("0 0 * * 0", 0)  # crontab: 0 is Sunday (APScheduler 3 alone says Monday)
    assert sunday.get_next_fire_time(None, at("2024-01-10T12:00:00Z")) == at("2024-01-14T00:00:00Z")
    assert crontab_weekdays("1-5") == "mon-fri"
    assert crontab_weekdays("*/2") == "*/2"
    assert crontab_weekdays("0,6,7") == "sun,sat,sun"


def test_missed_since() -> None:
    hourly = GridTrigger(3600, 5)
    now = at("2024-01-08T12:30:00Z")
    assert missed_since(hourly, None, now)  # never ran
    assert not missed_since(hourly, at("2024-01-08T12:00:05Z"), now)  # the last fire ran
    assert missed_since(hourly, at("2024-01-08T11:00:05Z"), now)  # 12:00:05 was missed
    assert missed_since(hourly, at("2024-01-08T11:00:05Z"), at("2024-01-08T12:00:05Z"))
    assert not missed_since(hourly, at("2024-01-08T11:00:05Z"), at("2024-01-08T12:00:04Z"))
    yearly = DelayedCronTrigger("0 0 1 1 *")
    assert not missed_since(yearly, datetime.now(UTC) - timedelta(days=1), datetime.now(UTC)) or \
        datetime.now(UTC).timetuple().tm_yday == 1
