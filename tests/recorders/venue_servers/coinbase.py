"""Coinbase Advanced Trade public REST API (https://docs.cdp.coinbase.com/advanced-trade/docs/welcome) and the
public Coinbase App v2 endpoints ccxt's ``coinbase`` client calls without keys.

* ``GET /v2/currencies``, ``/v2/currencies/crypto``, ``/v2/exchange-rates`` — ``load_markets`` calls them
  (``fetchCurrencies``); ``{"data": …}``.
* ``GET /v2/time`` — ``{"data": {"iso": …, "epoch": seconds}}`` (ccxt's default ``fetchTime``);
  ``GET /api/v3/brokerage/time`` — ``{"iso", "epochSeconds", "epochMillis"}``.
* ``GET /api/v3/brokerage/market/products`` (``product_type=SPOT|FUTURE``) — ``{"products": […], "num_products"}``.
* ``GET /api/v3/brokerage/market/products/{product_id}/candles`` — ``start``, ``end`` (UNIX seconds),
  ``granularity`` (``ONE_MINUTE`` … ``ONE_DAY``); at most 350 candles a request, else HTTP 400
  ``INVALID_ARGUMENT``. ``{"candles": [{"start", "low", "high", "open", "close", "volume"}]}``, **newest first**.
* ``GET /api/v3/brokerage/market/products/{product_id}/ticker`` — ``limit`` (≤ 1000), ``start``/``end``:
  ``{"trades": […], "best_bid", "best_ask"}``, newest first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from .base import DAY_MS, HOUR_MS, MINUTE_MS, ApiError, Handler, Listing, VenueServer, query_int

GRANULARITIES = {
    "ONE_MINUTE": MINUTE_MS, "FIVE_MINUTE": 5 * MINUTE_MS, "FIFTEEN_MINUTE": 15 * MINUTE_MS,
    "THIRTY_MINUTE": 30 * MINUTE_MS, "ONE_HOUR": HOUR_MS, "TWO_HOUR": 2 * HOUR_MS, "SIX_HOUR": 6 * HOUR_MS,
    "ONE_DAY": DAY_MS,
}
MAX_CANDLES = 350


def _ms(text: str) -> int:
    return int(pd.Timestamp(text).value // 1_000_000)


def _iso(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CoinbaseServer(VenueServer):
    """``ticker_fault``: a test's fault hook; a ticker request whose query it returns True for is answered with
    HTTP 400 ``INVALID_ARGUMENT`` (a failure ccxt does not retry)."""

    exchange_id = "coinbase"
    ticker_fault: Callable[[dict[str, str]], bool] | None = None

    def make_listings(self, now: int) -> Sequence[Listing]:
        return [
            Listing("BTC/USD", "BTC-USD", "BTC", "USD", tick="0.01", lot="0.00000001", min_amount="0.00000001",
                    listed=_ms("2023-11-01"), start_price=34_490.0,
                    extra={"base_max_size": "3400", "quote_min_size": "1", "quote_max_size": "150000000",
                           "base_name": "Bitcoin"}),
            Listing("ETH/USD", "ETH-USD", "ETH", "USD", tick="0.01", lot="0.00000001", min_amount="0.00000001",
                    listed=_ms("2023-12-04T08:00"), start_price=2_205.0,
                    extra={"base_max_size": "42000", "quote_min_size": "1", "quote_max_size": "150000000",
                           "base_name": "Ethereum"}),
        ]

    def ccxt_urls(self) -> dict[str, str]:
        return {"rest": self.url}

    def routes(self) -> dict[str, Handler]:
        return {
            "/v2/currencies": lambda _, q: {"data": [
                {"id": "USD", "name": "US Dollar", "min_size": "0.01"},
                {"id": "EUR", "name": "Euro", "min_size": "0.01"},
            ]},
            "/v2/currencies/crypto": lambda _, q: {"data": [
                {"asset_id": "5b71fc48-3dd3-540c-809b-f8c94d0e68b5", "code": "BTC", "name": "Bitcoin",
                 "color": "#F7931A", "sort_index": 100, "exponent": 8, "type": "crypto",
                 "address_regex": "^([13][a-km-zA-HJ-NP-Z1-9]{25,34})|^(bc1[a-z0-9]{39,59})$"},
                {"asset_id": "d85dce9b-5b73-5c3c-8978-522ce1d1c1b4", "code": "ETH", "name": "Ethereum",
                 "color": "#627EEA", "sort_index": 102, "exponent": 8, "type": "crypto",
                 "address_regex": "^(?:0x)?[0-9a-fA-F]{40}$"},
            ]},
            "/v2/exchange-rates": lambda _, q: {"data": {"currency": q.get("currency", "USD"), "rates": {
                "BTC": "0.0000228", "ETH": "0.000412", "EUR": "0.91", "USD": "1.0"}}},
            "/v2/time": lambda _, q: {"data": {"iso": _iso(self.now)[:19] + "Z", "epoch": self.now // 1000}},
            "/api/v3/brokerage/time": lambda _, q: {"iso": _iso(self.now), "epochSeconds": str(self.now // 1000),
                                                    "epochMillis": str(self.now)},
            "/api/v3/brokerage/market/products": self._products,
            "/api/v3/brokerage/market/products/{product_id}/candles": self._candles,
            "/api/v3/brokerage/market/products/{product_id}/ticker": self._ticker,
        }

    def not_found(self, path: str) -> Any:
        return {"error": "NOT_FOUND", "error_details": "", "message": "Not Found"}

    def _listing_of(self, product_id: str) -> Listing:
        try:
            return self.listing(product_id)
        except KeyError:
            raise ApiError(404, {"error": "NOT_FOUND", "error_details": "ProductID is invalid",
                                 "message": "ProductID is invalid"}) from None

    def _products(self, _: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        if query.get("product_type", "SPOT") != "SPOT":
            return {"products": [], "num_products": 0}
        products = [self._product(listing) for listing in self.listings]
        return {"products": products, "num_products": len(products)}

    def _product(self, listing: Listing) -> dict[str, Any]:
        last = self.candles(listing.symbol, HOUR_MS)
        return {
            "product_id": listing.market_id, "price": last.price(last.close[-1]) if len(last) else "",
            "price_percentage_change_24h": "1.2", "volume_24h": "10967.87426597",
            "volume_percentage_change_24h": "-3.1", "base_increment": listing.lot, "quote_increment": listing.tick,
            "quote_min_size": listing.extra["quote_min_size"], "quote_max_size": listing.extra["quote_max_size"],
            "base_min_size": listing.min_amount, "base_max_size": listing.extra["base_max_size"],
            "base_name": listing.extra["base_name"], "quote_name": "US Dollar", "watched": False,
            "is_disabled": False, "new": False, "status": "online", "cancel_only": False, "limit_only": False,
            "post_only": False, "trading_disabled": False, "auction_mode": False, "product_type": "SPOT",
            "quote_currency_id": listing.quote, "base_currency_id": listing.base,
            "fcm_trading_session_details": None, "mid_market_price": "", "alias": "", "alias_to": [],
            "base_display_symbol": listing.base, "quote_display_symbol": listing.quote, "view_only": False,
            "price_increment": listing.tick, "display_name": listing.market_id, "product_venue": "CBE",
            "approximate_quote_24h_volume": "123456789.12",
        }

    def _candles(self, path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        listing = self._listing_of(path["product_id"])
        interval = GRANULARITIES.get(query.get("granularity", ""))
        start, end = query_int(query, "start"), query_int(query, "end")
        if interval is None or start is None or end is None:
            raise ApiError(400, {"error": "INVALID_ARGUMENT", "error_details": "start, end and a valid granularity "
                                 "are required", "message": "start, end and a valid granularity are required"})
        if (end - start) * 1000 // interval > MAX_CANDLES:
            message = f"number of candles requested should be less than {MAX_CANDLES}"
            raise ApiError(400, {"error": "INVALID_ARGUMENT", "error_details": message, "message": message})
        candles = self.candles(listing.symbol, interval)
        chosen = candles.where((candles.open_time >= start * 1000) & (candles.open_time < end * 1000))
        rows = [{"start": str(ts // 1000), "low": low, "high": h, "open": o, "close": c, "volume": v}
                for ts, o, h, low, c, v in chosen.rows()]
        return {"candles": rows[::-1]}

    def _ticker(self, path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        listing = self._listing_of(path["product_id"])
        if self.ticker_fault is not None and self.ticker_fault(query):
            raise ApiError(400, {"error": "INVALID_ARGUMENT", "error_details": "injected fault",
                                 "message": "injected fault"})
        limit = min(query_int(query, "limit", 100) or 100, 1000)
        start, end = query_int(query, "start"), query_int(query, "end")
        now = self.now if end is None else min(self.now, end * 1000)
        ticks = [tick for tick in self.trades(listing.symbol, limit, now=now)
                 if start is None or tick.timestamp >= start * 1000]
        return {"trades": [
            {"trade_id": str(tick.trade_id), "product_id": listing.market_id, "price": tick.price,
             "size": tick.amount, "time": _iso(tick.timestamp), "side": tick.side.upper(), "bid": "", "ask": "",
             "exchange": "CBE"}
            for tick in ticks
        ], "best_bid": "", "best_ask": ""}
