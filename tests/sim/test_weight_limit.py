"""The simulator's Binance-like REQUEST_WEIGHT limit: weights per endpoint, the used-weight header, 429 with
Retry-After and code -1003, the rolling window, and the request log a benchmark measures peak rates from.

Assertions are on counts, headers and the log, never on wall-clock speed: a window of 60 s cannot roll over
during a test, and the window arithmetic is checked with synthetic arrival times.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import ccxt
import pytest

from tests.sim.conftest import client
from zvt_crypto.sim import RequestRecord, SimulatedExchange, WeightLimit, peak_count
from zvt_crypto.sim.binance import request_weight


@pytest.fixture
def limited(sim: SimulatedExchange) -> Iterator[SimulatedExchange]:
    """The shared simulator with a limit the test sets; the limit is removed afterwards."""
    yield sim
    sim.limit_weight(None)
    sim.reset_requests()


def get(sim: SimulatedExchange, path: str) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(sim.url + path, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


KLINES = "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000"


@pytest.mark.parametrize(
    ("path", "params", "weight"),
    [
        ("/api/v3/klines", {"limit": "1000"}, 2),
        ("/api/v3/exchangeInfo", {}, 20),
        ("/api/v3/time", {}, 1),
        ("/api/v3/depth", {}, 5),
        ("/api/v3/depth", {"limit": "5000"}, 250),
        ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/ticker/24hr", {}, 80),
        ("/fapi/v1/klines", {"limit": "99"}, 1),
        ("/fapi/v1/klines", {}, 5),  # default limit 500
        ("/fapi/v1/klines", {"limit": "1000"}, 5),
        ("/fapi/v1/klines", {"limit": "1500"}, 10),
        ("/fapi/v1/markPriceKlines", {"limit": "200"}, 2),
        ("/fapi/v1/fundingRate", {}, 1),
        ("/nowhere", {}, 1),
    ],
)
def test_request_weights_follow_binance(path: str, params: dict[str, str], weight: int) -> None:
    assert request_weight(path, params) == weight


def test_used_weight_header_without_a_limit(sim: SimulatedExchange) -> None:
    for expected in (2, 4, 6):
        status, headers, _ = get(sim, KLINES)
        assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == str(expected)
    assert [record.weight for record in sim.requests] == [2, 2, 2]


def test_limit_refuses_with_429_retry_after_and_binance_body(limited: SimulatedExchange) -> None:
    limited.limit_weight(10)  # five 1000-bar spot klines a minute
    statuses = [get(limited, KLINES)[0] for _ in range(5)]
    assert statuses == [200] * 5
    status, headers, body = get(limited, KLINES)
    assert status == 429
    assert headers["X-MBX-USED-WEIGHT-1M"] == "10"
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert body["code"] == -1003
    assert body["msg"].startswith("Too much request weight used; current limit is 10 request weight per 1 MINUTE")
    assert get(limited, "/api/v3/time")[0] == 429  # every endpoint shares the weight
    refused = limited.requests[-2:]
    assert [(r.status, r.weight, r.faults) for r in refused] == [(429, 0, ()), (429, 0, ())]
    assert sum(record.weight for record in limited.requests) == 10  # refused requests cost nothing


def test_a_request_that_fits_still_passes(limited: SimulatedExchange) -> None:
    limited.limit_weight(11)
    for _ in range(5):
        get(limited, KLINES)  # weight 10 used
    assert get(limited, KLINES)[0] == 429  # 2 more do not fit...
    assert get(limited, "/api/v3/time")[0] == 200  # ...1 does


def test_ccxt_sees_ddos_protection_with_retry_after(limited: SimulatedExchange) -> None:
    limited.limit_weight(21)  # load_markets (exchangeInfo, 20) and one more request of weight 1
    exchange = client(limited)
    exchange.load_markets()
    assert exchange.fetch_time() > 0
    with pytest.raises(ccxt.DDoSProtection, match="-1003"):
        exchange.fetch_ohlcv("BTC/USDT", "1m", limit=10)
    assert "Retry-After" in exchange.last_response_headers


def test_window_other_than_a_minute_names_its_header_and_exchange_info(limited: SimulatedExchange) -> None:
    limit = limited.limit_weight(100, seconds=10)
    assert limit == WeightLimit(100, 10) and limit.header == "X-MBX-USED-WEIGHT-10S"
    status, headers, info = get(limited, "/api/v3/exchangeInfo")
    assert status == 200 and headers["X-MBX-USED-WEIGHT-10S"] == "20"
    assert info["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 10,
                                     "limit": 100}
    assert WeightLimit(6000).header == "X-MBX-USED-WEIGHT-1M" and WeightLimit(3600, 3600).interval == (1, "H", "HOUR")


def test_refused_requests_do_not_consume_faults(limited: SimulatedExchange) -> None:
    limited.limit_weight(2)
    get(limited, KLINES)
    fault = limited.inject("server_error", "/api/v3/klines")
    assert get(limited, KLINES)[0] == 429
    assert fault.hits == 0  # the fault still waits for a request that gets past the limit


def test_window_rolls_and_retry_after_says_when(limited: SimulatedExchange) -> None:
    """Synthetic arrival times (``received``) drive the window: weight leaves it ``seconds`` after arrival."""
    limited.limit_weight(6)

    def arrive(at: float) -> tuple[dict[str, str], str | None]:
        return limited._admit(RequestRecord("/api/v3/klines", {"limit": "1000"}, (), 0, received=1000.0 + at))

    assert [arrive(t)[1] for t in (0.0, 20.0, 30.0)] == [None, None, None]  # 6 of 6 used
    headers, body = arrive(45.0)
    assert body is not None and json.loads(body)["code"] == -1003
    assert headers["Retry-After"] == "15"  # the first request leaves the window at 60 s
    assert arrive(60.0) == ({"X-MBX-USED-WEIGHT-1M": "6"}, None)  # (0, 60] no longer holds t = 0
    assert arrive(61.0)[0]["Retry-After"] == "19"  # next out: t = 20 at 80 s


def test_limit_given_to_the_constructor() -> None:
    with SimulatedExchange(lifetime=30, weight_limit=4) as sim:
        statuses = [get(sim, KLINES)[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    with pytest.raises(ValueError, match="positive integer"):
        WeightLimit(0)
    with pytest.raises(ValueError, match="whole number of seconds"):
        WeightLimit(10, 0)


def test_peak_count_over_a_request_log(sim: SimulatedExchange) -> None:
    stamps = [0.0, 0.5, 0.9, 1.0, 5.0, 5.1, 10.0]
    assert peak_count(stamps, 1.0) == 3  # (0, 1] holds 0.5, 0.9, 1.0
    assert peak_count(stamps, 10.0) == 6
    assert peak_count(list(reversed(stamps)), 10.0) == 6  # order does not matter
    assert peak_count(stamps, 1.0, weights=[1, 1, 1, 5, 1, 1, 1]) == 7
    assert peak_count([], 1.0) == 0
    for _ in range(3):
        get(sim, KLINES)
    assert sim.peak_requests(60) == 3 and sim.peak_requests(60, weight=True) == 6
