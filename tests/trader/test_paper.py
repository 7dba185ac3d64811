"""Paper trading: an account stepped bar by bar (or in chunks, by new objects as after a restart) records exactly
the trades, orders and equity of one backtest over the same bars — on SQLite and PostgreSQL, for a spot symbol
on real prices and for two perps with funding, leverage and the kill switch —; a step is idempotent and
all-or-nothing; a changed definition or history is refused loudly."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from tests.conftest import make_bars
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import series_to_ms
from zvt_crypto.domain import Bar, FundingRate, PaperAccount
from zvt_crypto.trader import BacktestResult, RiskLimits, Strategy, load_market_data, run_backtest
from zvt_crypto.trader.paper import (
    PaperHistoryError,
    PaperTrader,
    account_equity,
    account_orders,
    account_status,
    account_trades,
)
from zvt_crypto.trader.settings import BacktestSettings
from zvt_crypto.trader.slippage import SpreadImpact

backtesting = pytest.importorskip("backtesting")
from backtesting.test import GOOG  # noqa: E402

GOOG_ID = "pair_binance_GOOG-USD"
BTC_PERP, ETH_PERP = "perp_binanceusdm_BTC-USDT.USDT", "perp_binanceusdm_ETH-USDT.USDT"
HOUR = 3_600_000
#: GOOG's 2004-2013 days moved 16 years on: the store refuses bars from before crypto existed (2009)
SHIFT = pd.Timedelta(days=5844)


def goog_bars(rows: slice = slice(0, 400)) -> pd.DataFrame:
    """backtesting.py's real GOOG daily prices (dates shifted) as stored bars of a made-up GOOG/USD market."""
    frame = GOOG.iloc[rows]
    return pd.DataFrame({"entity_id": GOOG_ID, "level": "1d", "timestamp": frame.index.tz_localize("UTC") + SHIFT,
                         "open": frame["Open"].to_numpy(), "high": frame["High"].to_numpy(),
                         "low": frame["Low"].to_numpy(), "close": frame["Close"].to_numpy(),
                         "volume": frame["Volume"].astype(float).to_numpy()})


def backtest_of(trader: PaperTrader, store: Store, end: object = None, data_start: object = None,
                settings: BacktestSettings | None = None) -> tuple[BacktestResult, int]:
    """One backtest of the account's definition over its bars (data start … ``end``) and its start row, with the
    account's settings (or ``settings``)."""
    data = load_market_data(exchange=trader.exchange, symbols=trader.symbols, level=trader.level,
                            start=trader.data_start if data_start is None else data_start, end=end,
                            store=store)  # type: ignore[arg-type]
    start = int(np.searchsorted(data.timestamps, trader.start))
    result = run_backtest(trader.strategy, data, params=trader.params, settings=settings or trader.settings,
                          start=start)
    return result, start


def assert_same_as_backtest(trader: PaperTrader, store: Store, end: object = None,
                            data_start: object = None, settings: BacktestSettings | None = None) -> BacktestResult:
    """The account's trades, orders and equity are the backtest's, to the bit."""
    result, start = backtest_of(trader, store, end, data_start, settings)
    trades = account_trades(trader.name, store)
    expected = result.trades
    assert len(trades) == len(expected)
    if len(expected):
        assert trades["exit_timestamp"].tolist() == expected["exit_time"].tolist()
        assert trades["entry_timestamp"].tolist() == expected["entry_time"].tolist()
        assert trades["symbol"].tolist() == expected["symbol"].tolist()
        assert trades["side"].tolist() == expected["side"].tolist()
        for ours, theirs in (("size", "size"), ("entry_price", "entry_price"), ("exit_price", "exit_price"),
                             ("pnl", "pnl"), ("fees", "fees"), ("funding", "funding"), ("exit_reason", "exit_reason")):
            assert trades[ours].tolist() == expected[theirs].tolist(), ours
    equity = account_equity(trader.name, store)
    curve = result.equity.iloc[start:]
    assert equity.index.tolist() == curve.index.tolist()
    assert equity["equity"].tolist() == curve["equity"].tolist()
    assert equity["cash"].tolist() == curve["cash"].tolist()
    assert equity["drawdown"].tolist() == curve["drawdown"].tolist()
    orders = account_orders(trader.name, store)
    final = result.orders[result.orders["status"] != "pending"].sort_values("id")
    assert orders["order_id"].tolist() == final["id"].tolist()
    assert orders["status"].tolist() == final["status"].tolist()
    assert orders["filled_size"].tolist() == final["filled_size"].tolist()
    assert orders["reason"].tolist() == final["reason"].tolist()
    status = account_status(store, trader.name).iloc[0]
    assert status["equity"] == result.final_equity
    assert status["last_bar"] == result.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    return result


def snapshot(store: Store, name: str) -> tuple[object, ...]:
    with store.begin() as connection:
        account = dict(connection.execute(select(PaperAccount.__table__).where(
            PaperAccount.__table__.c.name == name)).mappings().one())
    account.pop("updated_timestamp")
    return (account, account_trades(name, store).to_dict("list"), account_orders(name, store).to_dict("list"),
            account_equity(name, store).to_dict("list"))


def test_bar_by_bar_and_in_chunks_equals_one_backtest_on_real_prices(store: Store) -> None:
    bars = goog_bars()
    store.write(Bar, bars)
    stamps = bars["timestamp"].tolist()
    PaperTrader("goog", "sma_cross", {"fast": 5, "slow": 15, "direction": "both"}, exchange="binance",
                symbols=["GOOG/USD"], level="1d", fee=0.001, start=stamps[150], warmup=100).create(store)
    trader = PaperTrader.load("goog", store)
    assert trader.data_start == trader.start - 100 * 86_400_000
    for stamp in stamps[140:200]:  # bar by bar, one object (the first ten are before the start: nothing to do)
        report = trader.step(store, until=stamp)
        assert report.bars == (1 if stamp >= stamps[150] else 0)
    rng = np.random.default_rng(5)
    cut = 200
    while cut < len(stamps) - 1:  # then in chunks, each by a new object, as after a restart
        cut = min(cut + int(rng.integers(1, 40)), len(stamps) - 1)
        PaperTrader.load("goog", store).step(store, until=stamps[cut])
    result = assert_same_as_backtest(trader, store)
    assert len(result.trades) > 5 and {"long", "short"} <= set(result.trades["side"])
    assert account_status(store).iloc[0]["name"] == "goog"


def test_perps_with_funding_leverage_and_the_kill_switch(sqlite_store: Store) -> None:
    """Two perps, one lagging: only bars both have are processed; funding, liquidation prices and the drawdown
    kill switch act at the same bars as in the backtest."""
    store = sqlite_store
    btc, eth = make_bars(BTC_PERP, n=240, seed=11), make_bars(ETH_PERP, n=240, seed=12)
    stamps = series_to_ms(btc["timestamp"]).tolist()
    funding_times = pd.date_range(btc["timestamp"].iloc[0], periods=25, freq="8h")
    funding = pd.concat([pd.DataFrame({"entity_id": entity, "timestamp": funding_times,
                                       "funding_rate": np.random.default_rng(seed).normal(0.0001, 0.0003, 25)})
                         for entity, seed in ((BTC_PERP, 1), (ETH_PERP, 2))], ignore_index=True)
    store.write(FundingRate, funding)
    store.write(Bar, btc.iloc[:120])
    store.write(Bar, eth.iloc[:100])
    # one settings object for the account and the backtest, every setting away from its default
    settings = BacktestSettings(cash=7_500, fee=(0.0002, 0.0005), slippage=SpreadImpact(spread_bps=2, impact=0.05),
                                leverage=(3.0, 2.0), maintenance_margin=0.01, liquidation_fee=0.008,
                                risk=RiskLimits(max_drawdown=0.08, max_position=2.5))
    trader = PaperTrader("perps", "sma_cross", {"fast": 3, "slow": 8, "direction": "both"}, exchange="binanceusdm",
                         symbols=["BTC/USDT:USDT", "ETH/USDT:USDT"], level="1h", settings=settings,
                         start=stamps[20], warmup=20).create(store)
    assert PaperTrader.load("perps", store).settings == settings  # stored with the account, read back equal
    report = trader.step(store)
    assert report.last_bar == stamps[99] and "ETH/USDT:USDT stored up to" in (report.waiting or "")
    store.write(Bar, eth.iloc[100:])
    for stamp in stamps[100:200:7]:
        PaperTrader.load("perps", store).step(store, until=stamp)
    store.write(Bar, btc.iloc[120:])
    report = trader.step(store)
    # funding is stored up to hour 192 only: the bars from hour 200 on (the next payment's) wait for it
    due = int(funding_times[-1].value // 1_000_000) + 8 * HOUR
    assert report.last_bar == stamps[199] == due - HOUR and "funding of" in (report.waiting or "")
    result = assert_same_as_backtest(trader, store, end=report.last_bar, settings=settings)
    assert result.trades["funding"].abs().sum() > 0
    kill = result.orders[result.orders["reason"] == "kill_switch"]
    assert len(kill) and account_status(store, "perps").iloc[0]["halted"].startswith("kill switch at")
    paper_kill = account_orders("perps", store).query("reason == 'kill_switch'")
    assert paper_kill["created_timestamp"].tolist() == kill["created_time"].tolist()  # the same bar


def test_steps_are_idempotent_and_all_or_nothing(sqlite_store: Store) -> None:
    store = sqlite_store
    bars = goog_bars(slice(0, 160))
    store.write(Bar, bars)
    stamps = bars["timestamp"].tolist()
    trader = PaperTrader("g", "sma_cross", {"fast": 5, "slow": 20}, exchange="binance", symbols=["GOOG/USD"],
                         level="1d", fee=0.001, start=stamps[30], warmup=30).create(store)
    trader.step(store, until=stamps[100])
    before = snapshot(store, "g")
    again = trader.step(store, until=stamps[100])
    assert again.bars == 0 and str(again).startswith("g: no new bars (last bar ")
    assert snapshot(store, "g") == before  # nothing written, not even the revision

    def crash() -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        trader.step(store, before_commit=crash)
    assert snapshot(store, "g") == before  # the rows were inserted, then rolled back with the account update
    report = PaperTrader.load("g", store).step(store)
    assert report.bars == 59 and report.last_bar is not None
    assert_same_as_backtest(trader, store)
    assert trader.step(store).bars == 0


class Tunable(Strategy):
    """Buys at the first bar it sees, sells ``hold`` bars later (a test strategy, imported by module:Class)."""

    warmup = 0
    hold = 3

    def next(self) -> None:
        if self.i % (2 * self.hold) == 0:
            self.buy()
        elif self.i % (2 * self.hold) == self.hold:
            self.position.close()


TUNABLE = f"{__name__}:Tunable"


def test_changed_definitions_and_histories_are_refused(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    store = sqlite_store
    bars = goog_bars(slice(0, 60))
    store.write(Bar, bars)
    stamps = bars["timestamp"].tolist()

    def make(**changes: object) -> PaperTrader:
        spec: dict[str, object] = {"exchange": "binance", "symbols": ["GOOG/USD"], "level": "1d", "fee": 0.001,
                                   "start": stamps[5], "warmup": 0, **changes}
        params = spec.pop("params", {"hold": 3})
        return PaperTrader("t", TUNABLE, params, **spec)  # type: ignore[arg-type]

    trader = make().create(store)
    assert make().create(store).definition_hash() == trader.definition_hash()  # the same again: a no-op
    assert make(start=None).create(store).start == trader.start
    with pytest.raises(InvalidInputError, match=r"exists with a different definition.*--reset"):
        make(params={"hold": 4}).create(store)
    with pytest.raises(PaperHistoryError, match=r"Load it with PaperTrader\.load"):
        make(params={"hold": 4}).step(store)
    trader.step(store, until=stamps[40])
    assert len(account_trades("t", store)) > 3

    # the strategy grew a parameter: the stored one no longer resolves to the same parameters
    monkeypatch.setattr(Tunable, "size", 1.0, raising=False)
    with pytest.raises(PaperHistoryError, match=r"now resolves its parameters to .*'size': 1.0"):
        PaperTrader.load("t", store)
    monkeypatch.delattr(Tunable, "size")

    # the strategy's decisions changed (same parameters): the replay disagrees with the record
    monkeypatch.setattr(Tunable, "next", lambda self: self.buy() if self.i % 5 == 0 else self.position.close())
    before = snapshot(store, "t")
    with pytest.raises(PaperHistoryError, match="replaying its history no longer gives what it recorded"):
        PaperTrader.load("t", store).step(store)
    assert snapshot(store, "t") == before
    monkeypatch.undo()

    # a stored bar was rewritten after it was processed
    changed = bars.iloc[[20]].assign(close=bars["close"].iloc[20] * 1.5, high=bars["high"].iloc[20] * 1.5)
    store.write(Bar, changed)
    with pytest.raises(PaperHistoryError, match=r"(equity at|trade #\d+).*paper reset t"):
        PaperTrader.load("t", store).step(store)

    # reset starts over on the bars as they are now; replacing drops the history too
    PaperTrader.load("t", store).reset(store)
    assert account_trades("t", store).empty and account_equity("t", store).empty
    PaperTrader.load("t", store).step(store)
    assert_same_as_backtest(PaperTrader.load("t", store), store)
    replaced = make(params={"hold": 4}).create(store, replace=True)
    assert replaced.params == {"hold": 4} and account_trades("t", store).empty


@pytest.mark.parametrize(("build", "message"), [
    (lambda: PaperTrader("bad name!", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h"),
     "paper account name must be"),
    (lambda: PaperTrader("x", "nope", exchange="binance", symbols=["BTC/USDT"], level="1h"), "nope"),
    (lambda: PaperTrader("x", "sma_cross", {"fast": 40}, exchange="binance", symbols=["BTC/USDT"], level="1h"),
     "fast (40) must be below slow"),
    (lambda: PaperTrader("x", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h", leverage=2),
     "BTC/USDT is a spot market"),
    (lambda: PaperTrader("x", "sma_cross", exchange="binance", symbols=[], level="1h"), "at least one symbol"),
    (lambda: PaperTrader("x", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="7m"), "7m"),
    (lambda: PaperTrader("x", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h", cash=-1),
     "cash must be a positive number"),
    (lambda: PaperTrader("x", "sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h",
                         risk={"max_drawdown": 2}), "max_drawdown is a fraction"),
    (lambda: PaperTrader("x", "target_weights", {"weights": pd.DataFrame({"BTC/USDT": [1.0]})}, exchange="binance",
                         symbols=["BTC/USDT"], level="1h"), "parameter weights is DataFrame; a paper account stores"),
])
def test_bad_definitions_fail_clearly(build: Callable[[], PaperTrader], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_unknown_accounts_and_waiting_for_data(sqlite_store: Store) -> None:
    with pytest.raises(InvalidInputError, match=r"no paper account 'ghost' \(accounts: none yet\); create it"):
        PaperTrader.load("ghost", sqlite_store)
    trader = PaperTrader("w", "sma_cross", exchange="binance", symbols=["GOOG/USD"], level="1d").create(
        sqlite_store, now="2024-09-01T13:00:00Z")
    assert trader.start == pd.Timestamp("2024-09-01", tz="UTC").value // 1_000_000  # nothing stored: from now on
    report = trader.step(sqlite_store)
    assert report.bars == 0 and "waiting for 1d bars of GOOG/USD" in (report.waiting or "")
    sqlite_store.write(Bar, goog_bars(slice(0, 30)))
    fresh = PaperTrader("w2", "sma_cross", exchange="binance", symbols=["GOOG/USD"], level="1d").create(sqlite_store)
    assert fresh.start == int(goog_bars(slice(29, 30))["timestamp"].iloc[0].value // 1_000_000) + 86_400_000
    assert fresh.step(sqlite_store).bars == 0  # no bar after its start yet


def test_a_step_committed_meanwhile_is_a_conflict_that_is_retried(sqlite_store: Store,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process commits a step between this step's read of the account and its check of the history: the
    check sees more trades and orders than the account it read counts — a conflict, retried, not a broken
    history."""
    store = sqlite_store
    bars = goog_bars(slice(0, 60))
    store.write(Bar, bars)
    stamps = bars["timestamp"].tolist()
    trader = PaperTrader("c", TUNABLE, {"hold": 3}, exchange="binance", symbols=["GOOG/USD"], level="1d",
                         fee=0.001, start=stamps[5], warmup=0).create(store)
    trader.step(store, until=stamps[30])
    verify = PaperTrader._verify
    raced: list[int] = []

    def racing(self: PaperTrader, *args: object) -> set[int]:
        if not raced:  # the other process: reads, replays and commits first
            raced.append(1)
            other = PaperTrader.load("c", store).step(store, until=stamps[40])
            assert other.bars == 10 and other.trades > 0 and other.orders > 0
        return verify(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(PaperTrader, "_verify", racing)
    report = trader.step(store, until=stamps[45])
    assert raced and report.bars == 5 and report.last_bar == int(stamps[45].value // 1_000_000)
    assert_same_as_backtest(trader, store, end=stamps[45])


def test_replacing_an_account_while_its_first_step_runs(sqlite_store: Store,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``create --reset`` during a step of the old definition (which read revision 0): the old step must not
    write into the new account."""
    store = sqlite_store
    bars = goog_bars(slice(0, 60))
    store.write(Bar, bars)
    stamps = bars["timestamp"].tolist()
    spec = {"exchange": "binance", "symbols": ["GOOG/USD"], "level": "1d", "fee": 0.001, "start": stamps[5],
            "warmup": 0}
    old = PaperTrader("r", TUNABLE, {"hold": 3}, **spec).create(store)  # type: ignore[arg-type]
    verify = PaperTrader._verify
    replaced: list[int] = []

    def racing(self: PaperTrader, *args: object) -> set[int]:
        if not replaced:
            replaced.append(1)
            PaperTrader("r", TUNABLE, {"hold": 4}, **spec).create(store, replace=True)  # type: ignore[arg-type]
        return verify(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(PaperTrader, "_verify", racing)
    with pytest.raises(PaperHistoryError, match=r"Load it with PaperTrader\.load"):
        old.step(store, until=stamps[40])
    assert replaced
    new = PaperTrader.load("r", store)
    assert new.params == {"hold": 4}
    assert account_trades("r", store).empty and account_equity("r", store).empty
    assert account_status(store, "r").iloc[0]["last_bar"] is None
    monkeypatch.undo()
    new.step(store)
    assert_same_as_backtest(new, store)


def test_a_perp_without_funding_waits_for_it(sqlite_store: Store) -> None:
    """No funding stored at all for a perp: it is not processed with zero funding (which a later recording of
    the funding would contradict), it waits for the funding to be recorded."""
    store = sqlite_store
    btc = make_bars(BTC_PERP, n=60, seed=11)
    stamps = series_to_ms(btc["timestamp"]).tolist()
    store.write(Bar, btc)
    trader = PaperTrader("pf", TUNABLE, {"hold": 5}, exchange="binanceusdm", symbols=["BTC/USDT:USDT"],
                         level="1h", fee=0.0005, leverage=2.0, start=stamps[10], warmup=10).create(store)
    report = trader.step(store)
    assert report.bars == 0 and report.last_bar is None
    assert "zvt-crypto record funding --exchange binanceusdm --symbol BTC/USDT:USDT" in (report.waiting or "")
    assert "record funding" in account_status(store, "pf").iloc[0]["waiting"]
    assert account_equity("pf", store).empty
    times = pd.date_range(btc["timestamp"].iloc[0], periods=8, freq="8h")
    store.write(FundingRate, pd.DataFrame({"entity_id": BTC_PERP, "timestamp": times, "funding_rate": 0.01}))
    report = trader.step(store)
    assert report.last_bar == stamps[-1] and report.waiting is None
    assert account_status(store, "pf").iloc[0]["waiting"] == ""
    result = assert_same_as_backtest(trader, store)
    assert result.trades["funding"].abs().sum() > 0


def test_bars_backfilled_before_the_first_one_used_are_ignored(sqlite_store: Store) -> None:
    """The first step records which bar its data started at; bars recorded before it later (a backfill of the
    warm-up) do not change the replay of what was processed."""
    store = sqlite_store
    bars = goog_bars(slice(0, 120))
    stamps = bars["timestamp"].tolist()
    store.write(Bar, bars.iloc[40:90])
    trader = PaperTrader("bf", "sma_cross", {"fast": 5, "slow": 20, "direction": "both"}, exchange="binance",
                         symbols=["GOOG/USD"], level="1d", fee=0.001, start=stamps[45], warmup=45).create(store)
    first = trader.step(store)
    assert first.bars == 45
    before = assert_same_as_backtest(trader, store, data_start=stamps[40])
    assert len(before.trades) > 0
    store.write(Bar, bars.iloc[:40])  # the warm-up backfilled (it changes the indicators at the start)
    store.write(Bar, bars.iloc[90:])
    assert backtest_of(trader, store, end=stamps[89])[0].trades["entry_time"].tolist() != \
        before.trades["entry_time"].tolist()
    report = PaperTrader.load("bf", store).step(store)
    assert report.bars == 30 and report.last_bar == int(stamps[-1].value // 1_000_000)
    after = assert_same_as_backtest(trader, store, data_start=stamps[40])
    assert after.equity["equity"].iloc[:50].tolist() == before.equity["equity"].tolist()
    PaperTrader.load("bf", store).reset(store)  # a reset starts over on the bars as they are now
    PaperTrader.load("bf", store).step(store)
    assert_same_as_backtest(trader, store)
