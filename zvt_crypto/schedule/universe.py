"""A job's universe rule (``top 50 USDT pairs by quote volume``) resolved at run time from the venue's tickers.

Why at every run: listings, delistings and volume rankings change; a list fixed when the daemon started would
drift. The call goes through the same resilient client as the recorders (retries, budget, breaker), and its
requests count in the run's totals.
"""

from __future__ import annotations

from typing import Any

from zvt_crypto.contract.config import Config
from zvt_crypto.recorders.exchange import create_exchange
from zvt_crypto.recorders.markets import entity_kind
from zvt_crypto.recorders.resilience import CallStats, venue_client
from zvt_crypto.schedule.config import UNIVERSE_RANKS, Universe


def rank(markets: dict[str, Any], tickers: dict[str, Any], universe: Universe) -> list[str]:
    """The ``universe.top`` active markets quoted in ``universe.quote`` with the largest 24 h volume (ties: by
    symbol, so the choice is stable)."""
    field = UNIVERSE_RANKS[universe.by]
    candidates = [
        symbol for symbol, market in markets.items()
        if market.get("quote") == universe.quote and market.get("active") is not False and entity_kind(market)
        and symbol in tickers
    ]
    candidates.sort(key=lambda symbol: (-float(tickers[symbol].get(field) or 0.0), symbol))
    return candidates[: universe.top]


async def resolve_universe(exchange_id: str, universe: Universe, config: Config) -> tuple[list[str], CallStats]:
    """The symbols ``universe`` names on ``exchange_id`` now, and the requests it took."""
    exchange = create_exchange(exchange_id, config, asynchronous=True)
    client = venue_client(exchange, config)
    try:
        markets = await client.call("load_markets")
        tickers = await client.call("fetch_tickers")
    finally:
        await exchange.close()
    return rank(markets, tickers, universe), client.stats
