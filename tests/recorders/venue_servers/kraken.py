"""Kraken spot public REST API (https://docs.kraken.com/api/docs/rest-api/get-server-time), as ccxt's ``kraken``
client calls it. Every answer is ``{"error": [], "result": {…}}``; errors are HTTP 200 with ``error`` filled.

* ``GET /0/public/Time`` — ``result.unixtime`` (seconds) and ``rfc1123``.
* ``GET /0/public/Assets`` (``fetchCurrencies``: ``XXBT`` → altname ``XBT`` …) and ``/0/public/AssetPairs``
  (``XXBTZUSD`` with ``altname`` ``XBTUSD``, ``pair_decimals``, ``lot_decimals``, ``ordermin``, ``costmin``).
* ``GET /0/public/OHLC`` — ``pair``, ``interval`` (minutes), ``since`` (seconds, exclusive). Only the **last 720**
  candles exist, whatever ``since`` asks (oldest first, the open one last); ``result.last`` is the open time of the
  last committed candle.
* ``GET /0/public/Trades`` — ``pair``, ``since`` (seconds), ``count`` (≤ 1000): rows ``[price, volume, time, b/s,
  m/l, misc, trade_id]`` oldest first; ``result.last`` is the cursor (nanoseconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .base import MINUTE_MS, ApiError, Handler, Listing, VenueServer, query_int

INTERVALS = {1, 5, 15, 30, 60, 240, 1440, 10080, 21600}
OHLC_WINDOW = 720  # "Returns up to 720 of the most recent entries (older data cannot be retrieved)"

ASSETS = {
    "XXBT": {"aclass": "currency", "altname": "XBT", "decimals": 10, "display_decimals": 5,
             "collateral_value": 1.0, "status": "enabled"},
    "XETH": {"aclass": "currency", "altname": "ETH", "decimals": 10, "display_decimals": 5,
             "collateral_value": 1.0, "status": "enabled"},
    "ZUSD": {"aclass": "currency", "altname": "USD", "decimals": 4, "display_decimals": 2,
             "collateral_value": 1.0, "status": "enabled"},
    "USDT": {"aclass": "currency", "altname": "USDT", "decimals": 8, "display_decimals": 4,
             "collateral_value": 1.0, "status": "enabled"},
}


def _ms(text: str) -> int:
    return int(pd.Timestamp(text).value // 1_000_000)


class KrakenServer(VenueServer):
    exchange_id = "kraken"

    def make_listings(self, now: int) -> Sequence[Listing]:
        return [
            Listing("BTC/USD", "XXBTZUSD", "XXBT", "ZUSD", tick="0.1", lot="0.00000001", min_amount="0.0001",
                    listed=_ms("2023-11-01"), start_price=34_470.0,
                    extra={"altname": "XBTUSD", "wsname": "XBT/USD", "costmin": "0.5"}),
            Listing("ETH/USD", "XETHZUSD", "XETH", "ZUSD", tick="0.01", lot="0.00000001", min_amount="0.002",
                    listed=_ms("2023-11-01"), start_price=1_800.0,
                    extra={"altname": "ETHUSD", "wsname": "ETH/USD", "costmin": "0.5"}),
            Listing("BTC/USDT", "XBTUSDT", "XXBT", "USDT", tick="0.1", lot="0.00000001", min_amount="0.0001",
                    listed=_ms("2023-11-01"), start_price=34_480.0,
                    extra={"altname": "XBTUSDT", "wsname": "XBT/USDT", "costmin": "0.5"}),
        ]

    def ccxt_urls(self) -> dict[str, str]:
        return {"public": self.url, "private": self.url}

    def routes(self) -> dict[str, Handler]:
        return {
            "/0/public/Time": lambda _, q: self._ok({
                "unixtime": self.now // 1000,
                "rfc1123": pd.Timestamp(self.now, unit="ms").strftime("%a, %d %b %y %H:%M:%S +0000")}),
            "/0/public/Assets": lambda _, q: self._ok(ASSETS),
            "/0/public/AssetPairs": lambda _, q: self._ok({pair.market_id: self._pair(pair) for pair in self.listings}),
            "/0/public/OHLC": self._ohlc,
            "/0/public/Trades": self._trades,
        }

    def not_found(self, path: str) -> Any:
        return {"error": ["EGeneral:Unknown method"]}

    @staticmethod
    def _ok(result: dict[str, Any]) -> dict[str, Any]:
        return {"error": [], "result": result}

    def _listing_of(self, query: dict[str, str]) -> Listing:
        pair = query.get("pair", "")
        for listing in self.listings:
            if pair in (listing.market_id, listing.extra["altname"]):
                return listing
        raise ApiError(200, {"error": ["EQuery:Unknown asset pair"]})

    @staticmethod
    def _pair(listing: Listing) -> dict[str, Any]:
        return {
            "altname": listing.extra["altname"], "wsname": listing.extra["wsname"], "aclass_base": "currency",
            "base": listing.base, "aclass_quote": "currency", "quote": listing.quote, "lot": "unit",
            "cost_decimals": 5, "pair_decimals": listing.tick_decimals, "lot_decimals": listing.lot_decimals,
            "lot_multiplier": 1, "leverage_buy": [2, 3, 4, 5], "leverage_sell": [2, 3, 4, 5],
            "fees": [[0, 0.4], [10000, 0.35], [50000, 0.24]], "fees_maker": [[0, 0.25], [10000, 0.2], [50000, 0.14]],
            "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40, "ordermin": listing.min_amount,
            "costmin": listing.extra["costmin"], "tick_size": listing.tick, "status": "online",
            "long_position_limit": 270, "short_position_limit": 180,
        }

    def _ohlc(self, _: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        listing = self._listing_of(query)
        minutes = query_int(query, "interval", 1) or 1
        if minutes not in INTERVALS:
            raise ApiError(200, {"error": ["EGeneral:Invalid arguments"]})
        candles = self.candles(listing.symbol, minutes * MINUTE_MS)
        candles = candles.slice(max(0, len(candles) - OHLC_WINDOW), len(candles))
        since = query_int(query, "since")
        if since is not None:
            candles = candles.where(candles.open_time > since * 1000)
        rows = []
        for i, (ts, o, h, low, c, v) in enumerate(candles.rows()):
            vwap = f"{(float(h) + float(low) + float(c)) / 3:.{listing.tick_decimals + 1}f}"
            rows.append([ts // 1000, o, h, low, c, vwap, v, 5 + int(candles.volume[i]) % 400])
        whole = self.candles(listing.symbol, minutes * MINUTE_MS)
        last = int(whole.open_time[-2]) // 1000 if len(whole) > 1 else 0
        return self._ok({listing.market_id: rows, "last": last})

    def _trades(self, _: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        listing = self._listing_of(query)
        count = min(query_int(query, "count", 1000) or 1000, 1000)
        since = query_int(query, "since")
        if since is None:
            ticks = self.trades(listing.symbol, count)[::-1]
        else:
            since_ms = since // 1_000_000 if since > 10**12 else since * 1000  # a cursor (ns) or seconds
            ticks = self.trades(listing.symbol, count, since=since_ms)
        rows = [[tick.price, tick.amount, f"{tick.timestamp / 1000:.4f}", tick.side[0], "l", "", tick.trade_id]
                for tick in ticks]
        last = str(ticks[-1].timestamp * 1_000_000) if ticks else str(self.now * 1_000_000)
        return self._ok({listing.market_id: rows, "last": last})
