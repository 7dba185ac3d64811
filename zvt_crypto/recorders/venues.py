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
        VenueProfile("okx", ohlcv_limit=100, trades_limit=100),  # history-candles serves 100 per page
        VenueProfile("bybit", ohlcv_limit=1000, trades_limit=1000),
        VenueProfile("coinbase", ohlcv_limit=300, trades_limit=1000),
        VenueProfile("kraken", ohlcv_limit=720, trades_limit=1000, ohlcv_backfill=False),  # last 720 bars only
        VenueProfile("upbit", ohlcv_limit=200, trades_limit=500),
        VenueProfile("bithumb", ohlcv_limit=1000, trades_limit=100, ohlcv_backfill=False),
    )
}


def venue_profile(exchange_id: str) -> VenueProfile:
    """The named profile, or a conservative default for any other ccxt exchange."""
    return VENUES.get(exchange_id, VenueProfile(exchange_id))
