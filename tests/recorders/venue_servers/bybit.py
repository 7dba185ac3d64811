"""Bybit public REST API v5 (https://bybit-exchange.github.io/docs/v5/intro), as ccxt's ``bybit`` client calls it.

Every answer is ``{"retCode": 0, "retMsg": "OK", "result": {…}, "retExtInfo": {}, "time": ms}``.

* ``GET /v5/market/time`` — ``result.timeSecond`` / ``timeNano``; ccxt reads the envelope's ``time``.
* ``GET /v5/market/instruments-info?category=spot|linear|inverse|option`` (``status=PreLaunch``, ``baseCoin``,
  ``limit``, ``cursor``): ccxt's ``load_markets`` asks for spot, linear and inverse (each also for PreLaunch) and
  options of six base coins; ``nextPageCursor`` is ``""`` on the last page.
* ``GET /v5/market/kline`` — ``category``, ``symbol``, ``interval`` (``1`` … ``720``, ``D``, ``W``), ``start``,
  ``end``, ``limit`` ([1, 1000], default 200). ``result.list`` rows ``[startTime, open, high, low, close, volume,
  turnover]``, **newest first**. With ``start`` the first ``limit`` candles from the one containing ``start``;
  otherwise the latest ``limit`` up to ``end`` (default now), the open candle included.
* ``GET /v5/market/recent-trade`` — ``limit`` spot [1, 60] default 60, others [1, 1000] default 500; newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import DAY_MS, HOUR_MS, MINUTE_MS, ApiError, Handler, Listing, VenueServer, floor_to, query_int

INTERVALS = {
    "1": MINUTE_MS, "3": 3 * MINUTE_MS, "5": 5 * MINUTE_MS, "15": 15 * MINUTE_MS, "30": 30 * MINUTE_MS,
    "60": HOUR_MS, "120": 2 * HOUR_MS, "240": 4 * HOUR_MS, "360": 6 * HOUR_MS, "720": 12 * HOUR_MS, "D": DAY_MS,
    "W": 7 * DAY_MS,
}
MAX_KLINES = 1000


def _ms(text: str) -> int:
    import pandas as pd

    return int(pd.Timestamp(text).value // 1_000_000)


class BybitServer(VenueServer):
    exchange_id = "bybit"

    def make_listings(self, now: int) -> Sequence[Listing]:
        return [
            Listing("BTC/USDT", "BTCUSDT", "BTC", "USDT", tick="0.01", lot="0.000001", min_amount="0.000048",
                    listed=_ms("2023-11-01"), start_price=34_480.0, extra={"maxOrderQty": "71.73956243"}),
            Listing("ETH/USDT", "ETHUSDT", "ETH", "USDT", tick="0.01", lot="0.00001", min_amount="0.00062",
                    listed=_ms("2023-12-04T08:00"), start_price=2_210.0, extra={"maxOrderQty": "1229.2336343"}),
            Listing("BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", tick="0.10", lot="0.001", min_amount="0.001",
                    listed=_ms("2023-11-01"), start_price=34_500.0, kind="swap", extra={"maxOrderQty": "1190.000"}),
        ]

    def listing_in(self, category: str, symbol: str) -> Listing:
        kind = "spot" if category == "spot" else "swap"
        for listing in self.listings:
            if listing.market_id == symbol and listing.kind == kind and category in ("spot", "linear"):
                return listing
        raise ApiError(200, self._envelope({}, code=10001, message="Not supported symbols"))

    def ccxt_urls(self) -> dict[str, str]:
        return {key: self.url for key in ("spot", "futures", "v2", "public", "private")}

    def routes(self) -> dict[str, Handler]:
        return {
            "/v5/market/time": lambda _, q: self._envelope(
                {"timeSecond": str(self.now // 1000), "timeNano": str(self.now * 1_000_000)}),
            "/v5/market/instruments-info": self._instruments,
            "/v5/market/kline": self._kline,
            "/v5/market/recent-trade": self._trades,
        }

    def _envelope(self, result: dict[str, Any], code: int = 0, message: str = "OK") -> dict[str, Any]:
        return {"retCode": code, "retMsg": message, "result": result, "retExtInfo": {}, "time": self.now}

    def _instruments(self, _: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        category = query.get("category")
        if category not in ("spot", "linear", "inverse", "option"):
            raise ApiError(200, self._envelope({}, code=10001, message="params error: category is invalid"))
        rows: list[dict[str, Any]] = []
        if query.get("status") != "PreLaunch":
            if category == "spot":
                rows = [self._spot(listing) for listing in self.listings if listing.kind == "spot"]
            elif category == "linear":
                rows = [self._linear(listing) for listing in self.listings if listing.kind == "swap"]
        result: dict[str, Any] = {"category": category, "list": rows}
        if category != "spot":
            result["nextPageCursor"] = ""
        return self._envelope(result)

    @staticmethod
    def _spot(listing: Listing) -> dict[str, Any]:
        return {
            "symbol": listing.market_id, "baseCoin": listing.base, "quoteCoin": listing.quote, "innovation": "0",
            "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
            "lotSizeFilter": {"basePrecision": listing.lot, "quotePrecision": "0.00000001",
                              "minOrderQty": listing.min_amount, "maxOrderQty": listing.extra["maxOrderQty"],
                              "minOrderAmt": "1", "maxOrderAmt": "4000000"},
            "priceFilter": {"tickSize": listing.tick},
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        }

    @staticmethod
    def _linear(listing: Listing) -> dict[str, Any]:
        return {
            "symbol": listing.market_id, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": listing.base, "quoteCoin": listing.quote, "launchTime": str(listing.listed),
            "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": listing.tick},
            "lotSizeFilter": {"maxOrderQty": listing.extra["maxOrderQty"], "minOrderQty": listing.min_amount,
                              "qtyStep": listing.lot, "postOnlyMaxOrderQty": "1190.000",
                              "maxMktOrderQty": "119.000", "minNotionalValue": "5"},
            "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": listing.quote, "copyTrading": "both",
            "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False, "preListingInfo": None,
        }

    def _kline(self, _: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        category = query.get("category", "linear")
        listing = self.listing_in(category, query.get("symbol", ""))
        interval = INTERVALS.get(query.get("interval", ""))
        if interval is None:
            raise ApiError(200, self._envelope({}, code=10001, message="Invalid period!"))
        limit = min(max(query_int(query, "limit", 200) or 200, 1), MAX_KLINES)
        candles = self.candles(listing.symbol, interval)
        start, end = query_int(query, "start"), query_int(query, "end")
        mask = candles.open_time == candles.open_time
        if start is not None:
            mask &= candles.open_time >= floor_to(start, interval)
        if end is not None:
            mask &= candles.open_time <= end
        chosen = candles.where(mask)
        if start is not None:
            chosen = chosen.slice(0, limit)  # forward from start
        else:
            chosen = chosen.slice(max(0, len(chosen) - limit), len(chosen))  # the latest
        rows = [[str(ts), o, h, low, c, v, chosen.quote_volume(i)]
                for i, (ts, o, h, low, c, v) in enumerate(chosen.rows())]
        return self._envelope({"symbol": listing.market_id, "category": category, "list": rows[::-1]})

    def _trades(self, _: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        category = query.get("category", "linear")
        listing = self.listing_in(category, query.get("symbol", ""))
        cap, default = (60, 60) if category == "spot" else (1000, 500)
        limit = min(query_int(query, "limit", default) or default, cap)
        ticks = self.trades(listing.symbol, limit)
        return self._envelope({"category": category, "list": [
            {"execId": str(tick.trade_id), "symbol": listing.market_id, "price": tick.price, "size": tick.amount,
             "side": tick.side.capitalize(), "time": str(tick.timestamp), "isBlockTrade": False, "isRPITrade": False}
            for tick in ticks
        ]})
