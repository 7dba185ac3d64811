"""One simulated exchange per test session (starting data generation once), reset around every test."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.sim import DEFAULT_NOW, SimulatedExchange

NOW = to_ms(DEFAULT_NOW)  # 2024-01-08T00:00:00Z, a Monday
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def client(sim: SimulatedExchange, exchange_id: str = "binance", **extra: Any) -> ccxt.Exchange:
    """A real ccxt client pointed at ``sim`` (no client-side throttling: the tests are about the protocol)."""
    return getattr(ccxt, exchange_id)(sim.ccxt_options(exchange_id) | {"enableRateLimit": False} | extra)


@pytest.fixture
def spot(sim: SimulatedExchange) -> ccxt.binance:
    exchange = client(sim, "binance")
    exchange.load_markets()
    return exchange


@pytest.fixture
def usdm(sim: SimulatedExchange) -> ccxt.binanceusdm:
    exchange = client(sim, "binanceusdm")
    exchange.load_markets()
    return exchange
