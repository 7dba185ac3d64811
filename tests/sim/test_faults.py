"""Every injected fault against the real ccxt clients: the exception class the notes promise, counts, scoping,
row faults, and the async client's own retry of a dropped connection."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import ccxt
import ccxt.async_support as accxt
import pytest

from tests.sim.conftest import NOW, client
from zvt_crypto.sim import Fault, SimulatedExchange

KLINES = "/api/v3/klines"

CASES = [
    (Fault("rate_limit", KLINES, retry_after=7), ccxt.DDoSProtection),
    (Fault("rate_limit", KLINES, status=418), ccxt.DDoSProtection),
    (Fault("server_error", KLINES), ccxt.ExchangeNotAvailable),  # 503, HTML body
    (Fault("server_error", KLINES, status=502, body="empty"), ccxt.ExchangeNotAvailable),
    (Fault("server_error", KLINES, status=504), ccxt.RequestTimeout),
    (Fault("server_error", KLINES, status=500, body="json"), ccxt.OperationFailed),  # {"code": -1001}
    (Fault("slow", KLINES, delay=1.0), ccxt.RequestTimeout),
    (Fault("drop", KLINES), ccxt.NetworkError),
]


def _fresh(fault: Fault) -> Fault:
    return Fault(fault.kind, fault.path, status=fault.status, body=fault.body, delay=fault.delay,
                 retry_after=fault.retry_after)


@pytest.mark.parametrize(("fault", "error"), CASES, ids=[f"{f.kind}-{f.status}-{f.body}" for f, _ in CASES])
def test_fault_maps_to_the_ccxt_exception(sim: SimulatedExchange, fault: Fault, error: type[Exception]) -> None:
    exchange = client(sim, timeout=300)
    exchange.load_markets()
    sim.faults.add(_fresh(fault))
    with pytest.raises(error) as caught:
        exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2)
    if error is ccxt.OperationFailed:
        assert not isinstance(caught.value, ccxt.NetworkError)  # a JSON 5xx is not a network error
    if fault.kind == "rate_limit":
        assert not isinstance(caught.value, ccxt.RateLimitExceeded)  # sibling, not parent
        assert exchange.last_response_headers["Retry-After"] == str(fault.retry_after)
    assert len(exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2)) == 2  # count=1: the next request is fine


def test_invalid_symbol_and_unknown_path(spot: ccxt.binance, sim: SimulatedExchange) -> None:
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        spot.publicGetKlines({"symbol": "NOPEUSDT", "interval": "1m"})
    spot.urls["api"]["public"] = sim.url + "/api/v9"
    with pytest.raises(ccxt.ExchangeNotAvailable, match="404"):  # a 404 is retryable for ccxt
        spot.publicGetKlines({"symbol": "BTCUSDT", "interval": "1m"})


def test_junk_body_is_not_an_exception(spot: ccxt.binance, sim: SimulatedExchange) -> None:
    sim.faults.add(Fault("junk", KLINES, count=1))
    rows = spot.fetch_ohlcv("BTC/USDT", "1m", limit=3)
    assert rows and all(value is None for row in rows for value in row[1:])
    sim.faults.add(Fault("junk", "/api/v3/exchangeInfo"))
    assert client(sim).load_markets() == {}


def test_burst_count_skip_and_clear(spot: ccxt.binance, sim: SimulatedExchange) -> None:
    sim.faults.add(Fault("server_error", KLINES, count=3))
    failures = 0
    while True:  # the retry loop a recorder would run
        try:
            spot.fetch_ohlcv("BTC/USDT", "1m", limit=1)
            break
        except ccxt.ExchangeNotAvailable:
            failures += 1
    assert failures == 3 and sim.count(KLINES) == 4
    assert [r.status for r in sim.requests[-4:]] == [503, 503, 503, 200]
    sim.faults.add(Fault("drop", KLINES, skip=1, count=None))  # the first request passes, then every one fails
    spot.fetch_ohlcv("BTC/USDT", "1m", limit=1)
    for _ in range(2):
        with pytest.raises(ccxt.NetworkError):
            spot.fetch_ohlcv("BTC/USDT", "1m", limit=1)
    sim.faults.clear()
    assert spot.fetch_ohlcv("BTC/USDT", "1m", limit=1)


def test_scoping_by_symbol_and_path_pattern(spot: ccxt.binance, usdm: ccxt.binanceusdm, sim: SimulatedExchange
                                            ) -> None:
    sim.inject("rate_limit", KLINES, symbol="ETH/USDT", count=None)
    assert spot.fetch_ohlcv("BTC/USDT", "1m", limit=1)
    assert usdm.fetch_ohlcv("ETH/USDT:USDT", "1m", limit=1)  # the perpetual is another market
    with pytest.raises(ccxt.DDoSProtection):
        spot.fetch_ohlcv("ETH/USDT", "1m", limit=1)
    sim.faults.clear()
    sim.inject("server_error", "/fapi/*", body="json", count=None)
    assert spot.fetch_ohlcv("ETH/USDT", "1m", limit=1)
    with pytest.raises(ccxt.OperationFailed):
        usdm.fetch_funding_rate_history("BTC/USDT:USDT", limit=1)
    with pytest.raises(ccxt.OperationFailed):
        usdm.fetch_order_book("BTC/USDT:USDT", 5)


def test_duplicate_and_out_of_order_rows(spot: ccxt.binance, sim: SimulatedExchange) -> None:
    params = {"symbol": "BTCUSDT", "interval": "1m", "endTime": NOW, "limit": 10}
    clean = spot.publicGetKlines(params)
    sim.faults.add(Fault("duplicate", KLINES, rows=3))
    raw = spot.publicGetKlines(params)
    assert len(raw) == 13 and raw[:6] == [clean[0], clean[0], clean[1], clean[1], clean[2], clean[2]]
    sim.faults.add(Fault("duplicate", KLINES, rows=3))
    rows = spot.fetch_ohlcv("BTC/USDT", "1m", since=clean[0][0], limit=10)
    assert len(rows) == 10 and rows[-1][0] == clean[6][0]  # ccxt trims to limit: the last 3 real bars are lost
    sim.faults.add(Fault("shuffle", KLINES))
    raw = spot.publicGetKlines(params)
    assert sorted(raw) == clean and raw != clean
    sim.faults.add(Fault("shuffle", "/api/v3/aggTrades"))
    trades = spot.fetch_trades("BTC/USDT", limit=20)
    assert [t["timestamp"] for t in trades] == sorted(t["timestamp"] for t in trades)  # ccxt re-sorts


def test_empty_answers_every_nth_request_scoped_by_symbol(spot: ccxt.binance, usdm: ccxt.binanceusdm,
                                                          sim: SimulatedExchange) -> None:
    sim.faults.add(Fault("empty", KLINES, symbol="BTC/USDT", count=None, skip=3, every=4))
    answers = [len(spot.fetch_ohlcv("BTC/USDT", "1m", limit=5)) for _ in range(12)]
    assert answers == [5, 5, 5, 0] * 3  # the 4th, 8th and 12th answers: HTTP 200 with []
    assert [r.status for r in sim.requests[-12:]] == [200] * 12
    assert len(spot.fetch_ohlcv("ETH/USDT", "1m", limit=5)) == 5  # another symbol is not hit
    sim.faults.clear()
    sim.faults.add(Fault("empty", "/fapi/v1/fundingRate"))
    sim.faults.add(Fault("empty", "/futures/data/openInterestHist"))
    assert usdm.fetch_funding_rate_history("BTC/USDT:USDT", limit=3) == []
    assert usdm.fetch_open_interest_history("BTC/USDT:USDT", "1h", limit=3) == []
    assert len(usdm.fetch_funding_rate_history("BTC/USDT:USDT", limit=3)) == 3
    sim.faults.add(Fault("empty", "/api/v3/exchangeInfo"))  # not a list answer: left as it is
    assert client(sim).load_markets()
    with pytest.raises(ValueError, match="every"):
        Fault("empty", KLINES, every=0)


def test_faults_are_thread_safe(sim: SimulatedExchange) -> None:
    sim.faults.add(Fault("rate_limit", KLINES, count=5))

    def one(_: int) -> bool:
        try:
            client(sim).publicGetKlines({"symbol": "BTCUSDT", "interval": "1h", "limit": 1})
            return True
        except ccxt.DDoSProtection:
            return False

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(24)))
    assert results.count(False) == 5 and sim.count(KLINES) == 24


def test_faults_with_the_async_client(sim: SimulatedExchange) -> None:
    async def run() -> dict[str, str]:
        exchange = accxt.binance(sim.ccxt_options("binance") | {"timeout": 300, "enableRateLimit": False})
        outcome: dict[str, str] = {}
        try:
            await exchange.load_markets()
            for name, fault in [("429", Fault("rate_limit", KLINES, retry_after=2)),
                                ("503", Fault("server_error", KLINES)),
                                ("json", Fault("server_error", KLINES, status=500, body="json")),
                                ("slow", Fault("slow", KLINES, delay=1.0)),
                                ("drop once", Fault("drop", KLINES, count=1)),
                                ("drop twice", Fault("drop", KLINES, count=2))]:
                sim.faults.add(fault)
                try:
                    await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=1)
                    outcome[name] = "ok"
                except ccxt.BaseError as exc:
                    outcome[name] = type(exc).__name__
                    assert isinstance(exc, ccxt.NetworkError) or name == "json"
            outcome["retry-after"] = exchange.last_response_headers.get("Retry-After", "")
        finally:
            await exchange.close()
        return outcome

    sim.reset_requests()
    outcome = asyncio.run(run())
    assert outcome == {"429": "DDoSProtection", "503": "ExchangeNotAvailable", "json": "OperationFailed",
                       "slow": "RequestTimeout", "drop once": "ok", "drop twice": "ExchangeNotAvailable",
                       "retry-after": ""}
    # aiohttp re-sends an idempotent GET once when the connection drops: a single drop is invisible on async, and
    # async ccxt reports a dropped connection as ExchangeNotAvailable (sync ccxt: plain NetworkError)
    drops = [r for r in sim.requests if "drop" in r.faults]
    assert len(drops) == 3


def test_truncated_answer(sim: SimulatedExchange) -> None:
    """The answer's headers promise the whole body, half of it arrives, the connection closes: async ccxt raises a
    plain ExchangeError caused by aiohttp's ClientPayloadError (sync ccxt: a NetworkError)."""
    import aiohttp

    async def run() -> BaseException | None:
        exchange = accxt.binance(sim.ccxt_options("binance") | {"enableRateLimit": False})
        try:
            await exchange.load_markets()
            sim.faults.add(Fault("truncate", KLINES))
            try:
                await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=100)
            except ccxt.BaseError as exc:
                return exc
            return None
        finally:
            await exchange.close()

    caught = asyncio.run(run())
    assert type(caught) is ccxt.ExchangeError and isinstance(caught.__cause__, aiohttp.ClientPayloadError)
    assert [r.faults for r in sim.requests if r.path == KLINES] == [("truncate",)]
    sim.faults.add(Fault("truncate", KLINES))
    with pytest.raises(ccxt.NetworkError):
        client(sim).fetch_ohlcv("BTC/USDT", "1m", limit=100)
    assert len(client(sim).fetch_ohlcv("BTC/USDT", "1m", limit=100)) == 100  # count=1
