"""OKX public REST API v5 (https://www.okx.com/docs-v5/en/), as ccxt's ``okx`` client calls it.

* ``GET /api/v5/public/time`` — ``{"code": "0", "msg": "", "data": [{"ts": "…"}]}``.
* ``GET /api/v5/public/instruments?instType=SPOT|SWAP|FUTURES|OPTION`` (OPTION with ``uly``): ccxt's
  ``load_markets`` asks for every type (``fetchCurrencies`` needs keys, so without them it sends nothing).
* ``GET /api/v5/market/candles`` (the latest 1,440 candles) and ``/market/history-candles`` (all): ``instId``,
  ``bar`` (``1m`` … ``4H``, ``6Hutc`` … ``1Wutc``), ``after`` (older than, exclusive), ``before`` (newer than,
  exclusive), ``limit`` (default 100, max 300). Rows ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``,
  **newest first**; the open candle has ``confirm = "0"``.
* ``GET /api/v5/market/trades`` — the latest trades (``limit`` default 100, max 500), newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .base import DAY_MS, HOUR_MS, MINUTE_MS, ApiError, Candles, Handler, Listing, VenueServer, query_int

BARS = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS,
    "1H": HOUR_MS, "2H": 2 * HOUR_MS, "4H": 4 * HOUR_MS, "6Hutc": 6 * HOUR_MS, "12Hutc": 12 * HOUR_MS,
    "1Dutc": DAY_MS, "1Wutc": 7 * DAY_MS,
}
RECENT_CANDLES = 1440  # /market/candles serves the latest 1,440 only
MAX_CANDLES = 300  # both candle endpoints: "The maximum is 300. The default is 100."


def _ms(text: str) -> int:
    import pandas as pd

    return int(pd.Timestamp(text).value // 1_000_000)


class OkxServer(VenueServer):
    exchange_id = "okx"

    def make_listings(self, now: int) -> Sequence[Listing]:
        return [
            Listing("BTC/USDT", "BTC-USDT", "BTC", "USDT", tick="0.1", lot="0.00000001", min_amount="0.00001",
                    listed=_ms("2023-11-01"), start_price=34_500.0),
            Listing("ETH/USDT", "ETH-USDT", "ETH", "USDT", tick="0.01", lot="0.000001", min_amount="0.001",
                    listed=_ms("2023-12-04T08:00"), start_price=2_200.0),
            Listing("BTC/USDT:USDT", "BTC-USDT-SWAP", "BTC", "USDT", tick="0.1", lot="0.01", min_amount="0.01",
                    listed=_ms("2023-11-01"), start_price=34_510.0, kind="swap", extra={"ctVal": "0.01"}),
        ]

    def ccxt_urls(self) -> dict[str, str]:
        return {"rest": self.url}

    def routes(self) -> dict[str, Handler]:
        return {
            "/api/v5/public/time": lambda _, q: self._ok([{"ts": str(self.now)}]),
            "/api/v5/public/instruments": self._instruments,
            "/api/v5/market/candles": lambda _, q: self._candles(q, history=False),
            "/api/v5/market/history-candles": lambda _, q: self._candles(q, history=True),
            "/api/v5/market/trades": self._trades,
        }

    def not_found(self, path: str) -> Any:
        return {"msg": "", "code": "50000"}

    @staticmethod
    def _ok(data: list[Any]) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": data}

    def _listing_of(self, query: dict[str, str]) -> Listing:
        try:
            return self.listing(query.get("instId", ""))
        except KeyError:
            raise ApiError(200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}) from None

    def _instruments(self, _: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        inst_type = query.get("instType")
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise ApiError(400, {"code": "51000", "msg": "Parameter instType error", "data": []})
        if inst_type == "OPTION" and not query.get("uly") and not query.get("instFamily"):
            raise ApiError(400, {"code": "50014", "msg": "Parameter uly can not be empty", "data": []})
        kind = {"SPOT": "spot", "SWAP": "swap"}.get(inst_type)
        return self._ok([self._instrument(listing) for listing in self.listings if listing.kind == kind])

    def _instrument(self, listing: Listing) -> dict[str, Any]:
        swap = listing.kind == "swap"
        family = f"{listing.base}-{listing.quote}"
        return {
            "alias": "", "auctionEndTime": "", "baseCcy": "" if swap else listing.base, "category": "1",
            "ctMult": "1" if swap else "", "ctType": "linear" if swap else "", "ctVal": listing.extra.get("ctVal", ""),
            "ctValCcy": listing.base if swap else "", "expTime": "", "instFamily": family if swap else "",
            "instId": listing.market_id, "instType": "SWAP" if swap else "SPOT", "lever": "100" if swap else "10",
            "listTime": str(listing.listed), "lotSz": listing.lot, "maxIcebergSz": "9999999999",
            "maxLmtAmt": "20000000", "maxLmtSz": "9999999999" if swap else "10000", "maxMktAmt": "1000000",
            "maxMktSz": "10000" if swap else "1000000", "maxStopSz": "10000", "maxTriggerSz": "9999999999",
            "maxTwapSz": "9999999999", "minSz": listing.min_amount, "optType": "",
            "quoteCcy": "" if swap else listing.quote, "ruleType": "normal",
            "settleCcy": listing.quote if swap else "", "state": "live", "stk": "", "tickSz": listing.tick,
            "uly": family if swap else "",
        }

    def _candles(self, query: dict[str, str], *, history: bool) -> dict[str, Any]:
        listing = self._listing_of(query)
        interval = BARS.get(query.get("bar", "1m"))
        if interval is None:
            raise ApiError(400, {"code": "51000", "msg": "Parameter bar error", "data": []})
        limit = query_int(query, "limit", 100) or 100
        if limit < 1:
            raise ApiError(400, {"code": "51000", "msg": "Parameter limit error", "data": []})
        candles = self.candles(listing.market_id, interval)
        if not history:
            candles = candles.slice(max(0, len(candles) - RECENT_CANDLES), len(candles))
        after, before = query_int(query, "after"), query_int(query, "before")
        mask = candles.open_time == candles.open_time
        if after is not None:
            mask &= candles.open_time < after
        if before is not None:
            mask &= candles.open_time > before
        chosen = candles.where(mask)
        chosen = chosen.slice(max(0, len(chosen) - min(limit, MAX_CANDLES)), len(chosen))  # the newest ones
        open_now = candles.open_time[-1] if len(candles) else None
        return self._ok([self._row(chosen, i, open_now) for i in range(len(chosen) - 1, -1, -1)])

    def _row(self, candles: Candles, i: int, open_now: int | None) -> list[str]:
        ts, o, h, low, c, volume = candles.row(i)
        quote = candles.quote_volume(i)
        confirm = "0" if ts == open_now else "1"
        if candles.listing.kind == "swap":  # vol in contracts, volCcy in base currency
            contracts = str(Decimal(volume) / Decimal(candles.listing.extra["ctVal"]))
            return [str(ts), o, h, low, c, contracts, volume, quote, confirm]
        return [str(ts), o, h, low, c, volume, quote, quote, confirm]

    def _trades(self, _: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        listing = self._listing_of(query)
        limit = min(query_int(query, "limit", 100) or 100, 500)
        return self._ok([
            {"instId": listing.market_id, "side": tick.side, "sz": tick.amount, "px": tick.price,
             "tradeId": str(tick.trade_id), "ts": str(tick.timestamp)}
            for tick in self.trades(listing.market_id, limit)
        ])
