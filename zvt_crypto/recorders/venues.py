"""Named venue configurations: what each tested exchange needs beyond ccxt's defaults.

Every ccxt exchange works through the generic recorders when its ``has`` flags allow the data kind; these
profiles pin what we know about the venues our users ask for most — page sizes the venue really serves and
history limits — so pagination never asks for more than the venue returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: How ``fetch_ohlcv(symbol, timeframe, since, limit)`` pages on a venue (see :class:`VenueProfile`).
OhlcvPaging = Literal["forward", "window", "latest"]
#: How ``fetch_trades(symbol, since, limit)`` pages on a venue (see :class:`VenueProfile`).
TradesPaging = Literal["forward", "until", "latest"]


@dataclass(frozen=True)
class VenueProfile:
    """``ohlcv_limit``: bars per kline request the venue serves (larger requests are clamped or refused).
    ``ohlcv_backfill``: False where the venue only serves its most recent bars (no deep history).
    ``ohlcv_paging``: what a request from ``since`` answers, which decides how the first bar is found and what
    an empty page means —

    * ``"forward"``: the first ``limit`` bars at or after ``since`` (Binance, Bybit, Kraken): ``since=0`` answers
      the first bar served, and an empty page means there is nothing more.
    * ``"window"``: the bars of the window ``[since, since + limit bars)`` (ccxt's OKX before/after, Coinbase
      start/end, Upbit to/count): an empty page is only an empty window (before the listing, an outage), and the
      first bar must be searched for.
    * ``"latest"``: the latest ``limit`` bars whatever ``since`` says (ccxt's Bithumb): no history beyond them.

    ``trades_paging``: ``"forward"`` — the first trades at or after ``since`` (Binance, Kraken); ``"until"`` — the
    newest ``limit`` trades of ``[since, until]`` (``params={'until': …}``, Coinbase), paged backwards;
    ``"latest"`` — only the venue's most recent trades (OKX, Bybit, Upbit, Bithumb: ccxt sends no time).
    ``trades_limit``: trades per request the venue serves; ``trades_limit_spot`` where spot markets serve fewer.
    ``ccxt``: constructor options merged under the user's own ``[exchanges.<id>.ccxt]`` table."""

    exchange_id: str
    ohlcv_limit: int = 500
    trades_limit: int = 500
    ohlcv_backfill: bool = True
    ohlcv_paging: OhlcvPaging = "forward"
    trades_paging: TradesPaging = "forward"
    trades_limit_spot: int | None = None
    trades_window_ms: int | None = None  # fetch_trades(since) covers at most this span per call
    # trades page by id (params fromId, limit), which never skips a trade; the ids are consecutive (Binance's
    # aggregate trades), so a page that does not start at the id asked for, or has a hole, is asked again
    trades_from_id: bool = False
    ccxt: dict[str, Any] = field(default_factory=dict)

    def trades_page(self, market: dict[str, Any] | None) -> int:
        """Trades one request may ask for in ``market`` (a ccxt market; spot venues may serve fewer)."""
        if market is not None and market.get("spot") and self.trades_limit_spot is not None:
            return self.trades_limit_spot
        return self.trades_limit


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
        # /market/trades: the latest trades only (ccxt sends no time)
        VenueProfile("okx", ohlcv_limit=300, trades_limit=100, ohlcv_paging="window", trades_paging="latest"),
        # /v5/market/recent-trade: the latest trades only; `limit` spot [1, 60], linear/inverse [1, 1000]
        VenueProfile("bybit", ohlcv_limit=1000, trades_limit=1000, trades_limit_spot=60, trades_paging="latest"),
        # ccxt's fetch_trades needs `until` with `since` (start/end): the newest `limit` trades of the window
        VenueProfile("coinbase", ohlcv_limit=300, trades_limit=1000, ohlcv_paging="window", trades_paging="until"),
        VenueProfile("kraken", ohlcv_limit=720, trades_limit=1000, ohlcv_backfill=False),  # last 720 bars only
        VenueProfile("upbit", ohlcv_limit=200, trades_limit=500, ohlcv_paging="window", trades_paging="latest"),
        # ccxt's bithumb uses API 2.0 (options generation=2): /v1/candles/* serves at most 200 candles ("count",
        # max 200) and ccxt sends no `to`, so only the latest 200 are reachable, whatever `since` asks
        VenueProfile("bithumb", ohlcv_limit=200, trades_limit=100, ohlcv_backfill=False, ohlcv_paging="latest",
                     trades_paging="latest"),
    )
}


#: ccxt exchanges of spot markets only → the ccxt exchange of the same venue's perpetuals
DERIVATIVES_VENUE: dict[str, str] = {"binance": "binanceusdm"}


def venue_profile(exchange_id: str) -> VenueProfile:
    """The named profile, or a conservative default for any other ccxt exchange."""
    return VENUES.get(exchange_id, VenueProfile(exchange_id))
