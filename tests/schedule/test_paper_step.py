"""The ``paper`` after-step: validated with the config, run after each recording of the job that feeds the
account (against the simulated Binance), with the account then equal to a backtest of the recorded bars."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from zvt_crypto.contract.config import load_config
from zvt_crypto.contract.errors import ConfigError
from zvt_crypto.contract.store import Store
from zvt_crypto.schedule.config import AfterStep, parse_schedule
from zvt_crypto.schedule.daemon import Daemon
from zvt_crypto.schedule.history import recent_runs
from zvt_crypto.sim import SimulatedExchange
from zvt_crypto.trader import load_market_data, run_backtest
from zvt_crypto.trader.paper import PaperTrader, account_equity, account_status, account_trades

JOB = """
[[jobs]]
name = "spot"
exchange = "binance"
symbols = ["BTC/USDT", "ETH/USDT"]
levels = ["1h"]
every = "1h"
start = "2024-01-05T00:00:00Z"
after = [{ paper = "btc" }, { paper = "*" }]

[[jobs]]
name = "spot-missing"
after_job = "spot"
after = [{ paper = ["btc", "ghost"] }]
"""


def parse(after: str) -> tuple[AfterStep, ...]:
    text = ('[[jobs]]\nname = "a"\nexchange = "binance"\nsymbols = ["BTC/USDT"]\nlevels = ["1h"]\nevery = "1h"\n'
            f"after = {after}\n")
    return parse_schedule(tomllib.loads(text), where="zvt.toml").jobs[0].after


def test_paper_steps_parse() -> None:
    assert parse('[{ paper = "btc" }]') == (AfterStep("paper", {"accounts": ["btc"]}),)
    steps = parse('[{ paper = ["a", "b"] }, { paper = "*" }, { factor = "rsi" }]')
    assert [step.describe() for step in steps] == ["paper a, b", "paper (every account fed)", "rsi:1h:window=14"]


@pytest.mark.parametrize(("after", "message"), [
    ('[{ paper = "btc", level = "1h" }]', "after #1: unknown key(s) level; a paper step takes only paper"),
    ("[{ paper = 3 }]", 'write paper = "account", paper = ["a", "b"] or paper = "*", not 3'),
    ("[{ paper = [] }]", 'write paper = "account"'),
    ('[{ paper = ["a", "a"] }]', "paper lists the same account twice"),
    ('[{ paper = ["*", "a"] }]', 'paper = "*" already means every account'),
    ('[{ paper = "no spaces" }]', "paper account name must be"),
    ('[{ papers = "btc" }]', "say what to run with exactly one of the known step kinds (factor, paper)"),
])
def test_bad_paper_steps_are_config_errors(after: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(after)
    assert message in str(info.value) and "job 'a'" in str(info.value)


@pytest.fixture
def env(sim: SimulatedExchange, tmp_path: Path) -> Iterator[tuple[Daemon, Store]]:
    path = tmp_path / "zvt.toml"
    path.write_text(sim.config_toml(("binance",)) + JOB)
    config = load_config(path, home=tmp_path / "home", env={})
    store = Store(config)
    yield Daemon(store, config, parse_schedule(tomllib.loads(path.read_text()), where=str(path))), store
    store.dispose()


def test_the_job_steps_the_accounts_it_feeds(env: tuple[Daemon, Store], sim: SimulatedExchange) -> None:
    daemon, store = env
    common = {"exchange": "binance", "level": "1h", "fee": 0.001, "start": "2024-01-06T00:00:00Z", "warmup": 24}
    PaperTrader("btc", "sma_cross", {"fast": 5, "slow": 20}, symbols=["BTC/USDT"], **common).create(store)
    PaperTrader("pair", "sma_cross", {"fast": 3, "slow": 10, "direction": "both"},
                symbols=["BTC/USDT", "ETH/USDT"], **common).create(store)
    PaperTrader("elsewhere", "sma_cross", exchange="binance", symbols=["SOL/USDT"], level="1h").create(store)

    daemon.run_job("spot")
    run = recent_runs(store, "spot")[0]
    assert run["status"] == "ok", run
    steps = run["detail"]["steps"]
    assert steps[0]["step"] == "paper btc" and steps[0]["text"].startswith("btc: 48 new bars to 2024-01-07T23:00:00Z")
    assert steps[1]["text"].startswith("btc: no new bars") and "pair: 48 new bars" in steps[1]["text"]
    assert "elsewhere" not in steps[1]["text"]  # SOL/USDT is not recorded by this job
    chained = recent_runs(store, "spot-missing")[0]
    assert chained["status"] == "failed"  # an unknown account fails the step (and so the run), after btc ran
    error = chained["detail"]["steps"][0]["error"]
    assert "no paper account 'ghost'; create it with zvt-crypto paper create ghost" in error
    assert "(done: btc: no new bars" in error

    sim.advance(3 * 3600)  # three more bars close at the venue: the next run records and trades them
    daemon.run_job("spot")
    for name, symbols, params in (("btc", ["BTC/USDT"], {"fast": 5, "slow": 20}),
                                  ("pair", ["BTC/USDT", "ETH/USDT"], {"fast": 3, "slow": 10, "direction": "both"})):
        status = account_status(store, name).iloc[0]
        assert status["last_bar"] == "2024-01-08T02:00:00Z"
        trader = PaperTrader.load(name, store)
        data = load_market_data(exchange="binance", symbols=symbols, level="1h", start=trader.data_start,
                                store=store)
        result = run_backtest("sma_cross", data, params=params, fee=0.001,
                              start=int(np.searchsorted(data.timestamps, trader.start)))
        assert account_equity(name, store)["equity"].tolist() == result.equity["equity"].iloc[
            int(np.searchsorted(data.timestamps, trader.start)):].tolist()
        assert account_trades(name, store)["pnl"].tolist() == result.trades["pnl"].tolist()
    assert account_status(store, "elsewhere").iloc[0]["last_bar"] is None
