"""Named venue configurations: what each tested exchange needs beyond ccxt's defaults.

Every ccxt exchange works through the generic recorders when its ``has`` flags allow the data kind; these
profiles pin what we know about the venues our users ask for most — page sizes the venue really serves and
history limits — so pagination never asks for more than the venue returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VenueProfile:
    """``ohlcv_limit``: bars per kline request the venue serves (larger requests are clamped or refused).
    ``ohlcv_backfill``: False where the venue only serves its most recent bars (no deep history).
    ``ccxt``: constructor options merged under the user's own ``[exchanges.<id>.ccxt]`` table."""

    exchange_id: str
    ohlcv_limit: int = 500
    trades_limit: int = 500
    ohlcv_backfill: bool = True
    trades_window_ms: int | None = None  # fetch_trades(since) covers at most this span per call
    trades_from_id: bool = False  # trades page by id (params fromId), which never skips a trade
    ccxt: dict[str, Any] = field(default_factory=dict)


VENUES: dict[str, VenueProfile] = {
    profile.exchange_id: profile
    for profile in (
        # spot only: the default client would also load USDⓈ-M and COIN-M markets on every load_markets
        VenueProfile("binance", ohlcv_limit=1000, trades_limit=1000, trades_window_ms=3_600_000, trades_from_id=True,
                     ccxt={"options": {"fetchMarkets": {"types": ["spot"]}}}),
        # Binance serves 1500 futures klines per page, but ccxt's fetch_ohlcv caps limit at 1000
        VenueProfile("binanceusdm", ohlcv_limit=1000, trades_limit=1000, trades_window_ms=3_600_000,
                     trades_from_id=True),
        # OKX documents "The maximum is 300" for /market/candles and /market/history-candles alike (history-candles
        # used to serve 100; ccxt 4.5 follows the docs since ccxt#26705); ccxt asks a before/after window of `limit`
        VenueProfile("okx", ohlcv_limit=300, trades_limit=100),
        VenueProfile("bybit", ohlcv_limit=1000, trades_limit=1000),
        VenueProfile("coinbase", ohlcv_limit=300, trades_limit=1000),
        VenueProfile("kraken", ohlcv_limit=720, trades_limit=1000, ohlcv_backfill=False),  # last 720 bars only
        VenueProfile("upbit", ohlcv_limit=200, trades_limit=500),
        # ccxt's bithumb uses API 2.0 (options generation=2): /v1/candles/* serves at most 200 candles ("count",
        # max 200) and ccxt sends no `to`, so only the latest 200 are reachable, whatever `since` asks
        VenueProfile("bithumb", ohlcv_limit=200, trades_limit=100, ohlcv_backfill=False),
    )
}


def venue_profile(exchange_id: str) -> VenueProfile:
    """The named profile, or a conservative default for any other ccxt exchange."""
    return VENUES.get(exchange_id, VenueProfile(exchange_id))
