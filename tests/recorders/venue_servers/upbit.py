"""Upbit public REST API (https://global-docs.upbit.com/reference), as ccxt's ``upbit`` client calls it; Bithumb's
API 2.0 (``bithumb.py``) answers in the same shapes.

* ``GET /v1/market/all`` (``isDetails``) — ``[{"market": "KRW-BTC", "korean_name", "english_name"}]``: ids are
  ``QUOTE-BASE``.
* ``GET /v1/candles/minutes/{unit}`` (1, 3, 5, 10, 15, 30, 60, 240), ``/v1/candles/days``, ``/weeks`` — ``market``,
  ``to`` (ISO 8601, exclusive: candles that opened before it; default: the latest, the open one included),
  ``count`` (at most 200). Candles are objects with ``candle_date_time_utc`` (no zone), JSON numbers, **newest
  first**.
* ``GET /v1/trades/ticks`` — ``market``, ``count`` (≤ 500): the latest trades, newest first.

There is no server-time endpoint (ccxt's ``has['fetchTime']`` is not set), so a recorder must use its own
clock: this server follows the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pandas as pd

from .base import DAY_MS, MINUTE_MS, ApiError, Candles, Handler, Listing, VenueServer, iso_utc, query_int

MINUTE_UNITS = {1, 3, 5, 10, 15, 30, 60, 240}
KST_MS = 9 * 3_600_000


class UpbitServer(VenueServer):
    exchange_id = "upbit"
    max_candles: ClassVar[int] = 200
    max_trades: ClassVar[int] = 500

    def make_listings(self, now: int) -> Sequence[Listing]:
        today = now // DAY_MS * DAY_MS
        return [
            Listing("BTC/KRW", "KRW-BTC", "BTC", "KRW", tick="1000", lot="0.00000001", listed=today - 40 * DAY_MS,
                    start_price=58_000_000.0, extra={"korean_name": "비트코인", "english_name": "Bitcoin"}),
            Listing("ETH/KRW", "KRW-ETH", "ETH", "KRW", tick="1000", lot="0.00000001",
                    listed=today - 5 * DAY_MS + 8 * 3_600_000, start_price=3_100_000.0,
                    extra={"korean_name": "이더리움", "english_name": "Ethereum"}),
            Listing("ETH/BTC", "BTC-ETH", "ETH", "BTC", tick="0.00001", lot="0.00000001",
                    listed=today - 40 * DAY_MS, start_price=0.05,
                    extra={"korean_name": "이더리움", "english_name": "Ethereum"}),
        ]

    def ccxt_urls(self) -> dict[str, str]:
        return {"public": self.url, "private": self.url}

    def routes(self) -> dict[str, Handler]:
        return {
            "/v1/market/all": self._markets,
            "/v1/candles/minutes/{unit}": self._minutes,
            "/v1/candles/days": lambda _, q: self._candles(q, DAY_MS, None),
            "/v1/candles/weeks": lambda _, q: self._candles(q, 7 * DAY_MS, None),
            "/v1/trades/ticks": self._trades,
        }

    def not_found(self, path: str) -> Any:
        return {"error": {"name": "not_found", "message": "Not Found"}}

    def _market(self, listing: Listing, details: bool) -> dict[str, Any]:
        entry = {"market": listing.market_id, "korean_name": listing.extra["korean_name"],
                 "english_name": listing.extra["english_name"]}
        if details:
            entry["market_warning"] = "NONE"
        return entry

    def _markets(self, _: dict[str, str], query: dict[str, str]) -> list[dict[str, Any]]:
        details = query.get("isDetails", "false").lower() == "true"
        return [self._market(listing, details) for listing in self.listings]

    def _listing_of(self, query: dict[str, str]) -> Listing:
        try:
            return self.listing(query.get("market", ""))
        except KeyError:
            raise ApiError(404, {"error": {"name": "404", "message": "Code not found"}}) from None

    def _minutes(self, path: dict[str, str], query: dict[str, str]) -> list[dict[str, Any]]:
        unit = int(path["unit"]) if path["unit"].isdigit() else 0
        if unit not in MINUTE_UNITS:
            raise ApiError(400, {"error": {"name": "invalid_parameter", "message": "unit is invalid"}})
        return self._candles(query, unit * MINUTE_MS, unit)

    def _candles(self, query: dict[str, str], interval: int, unit: int | None) -> list[dict[str, Any]]:
        listing = self._listing_of(query)
        count = min(query_int(query, "count", 1) or 1, self.max_candles)
        candles = self.candles(listing.symbol, interval)
        to = query.get("to")
        if to:
            stamp = pd.Timestamp(to.replace(" ", "T"))
            to_ms = int((stamp if stamp.tzinfo else stamp.tz_localize("UTC")).value // 1_000_000)
            candles = candles.where(candles.open_time < to_ms)
        chosen = candles.slice(max(0, len(candles) - count), len(candles))
        return [self._candle(chosen, i, unit) for i in range(len(chosen) - 1, -1, -1)]

    def _candle(self, candles: Candles, i: int, unit: int | None) -> dict[str, Any]:
        ts, o, h, low, c, v = candles.row(i)
        candle: dict[str, Any] = {
            "market": candles.listing.market_id, "candle_date_time_utc": iso_utc(ts),
            "candle_date_time_kst": iso_utc(ts + KST_MS), "opening_price": float(o), "high_price": float(h),
            "low_price": float(low), "trade_price": float(c),
            "timestamp": max(ts, min(ts + candles.interval_ms - 1, self.now) - 137),  # its last trade
            "candle_acc_trade_price": float(candles.quote_volume(i)), "candle_acc_trade_volume": float(v),
        }
        if unit is not None:
            candle["unit"] = unit
        else:
            candle.update(prev_closing_price=float(o), change_price=float(c) - float(o),
                          change_rate=(float(c) - float(o)) / float(o))
        return candle

    def _trades(self, _: dict[str, str], query: dict[str, str]) -> list[dict[str, Any]]:
        listing = self._listing_of(query)
        count = min(query_int(query, "count", 1) or 1, self.max_trades)
        rows = []
        for tick in self.trades(listing.symbol, count):
            stamp = pd.Timestamp(tick.timestamp, unit="ms")
            rows.append({
                "market": listing.market_id, "trade_date_utc": stamp.strftime("%Y-%m-%d"),
                "trade_time_utc": stamp.strftime("%H:%M:%S"), "timestamp": tick.timestamp,
                "trade_price": float(tick.price), "trade_volume": float(tick.amount),
                "prev_closing_price": float(tick.price), "change_price": 0.0,
                "ask_bid": "BID" if tick.side == "buy" else "ASK", "sequential_id": tick.trade_id * 10_000,
            })
        return rows
