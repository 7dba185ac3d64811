"""Binance's public REST API (spot ``/api/v3``, USDⓈ-M ``/fapi/v1``, ``/fapi/v2``, ``/futures/data``) over the
deterministic data: request → JSON payload, in Binance's exact formats and query semantics.

Why separate from the server: the HTTP layer only moves bytes and injects faults; everything a client can observe
about Binance's behaviour — parameter rules, limits, error codes, row layouts, strings for decimals — lives here.
Handlers are pure functions of ``(path, params, now)``; ``now`` is the simulated clock, never the wall clock.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.sim.data import DAY_MS, FUNDING_MS, MINUTE_MS, Bars, MarketData, Trades
from zvt_crypto.sim.faults import FaultPlan
from zvt_crypto.sim.intervals import INTERVALS, OI_PERIODS, Interval
from zvt_crypto.sim.markets import SPOT, USDM, Market

SPOT_PREFIX, FAPI_PREFIX, FAPI2_PREFIX, DATA_PREFIX, DAPI_PREFIX = (
    "/api/v3", "/fapi/v1", "/fapi/v2", "/futures/data", "/dapi/v1",
)
OI_HISTORY_MS = 30 * DAY_MS  # /futures/data/openInterestHist serves the latest 30 days only
TRADE_WINDOW_MS = 60 * 60 * 1000  # aggTrades: startTime..endTime at most one hour
_DELIVERY_PERPETUAL = 4133404800000
_SPOT_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                     "TAKE_PROFIT_LIMIT"]
_FUTURES_ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                        "TRAILING_STOP_MARKET"]
_STP = ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]


class ApiError(Exception):
    """A Binance error answer: HTTP ``status`` with body ``{"code": code, "msg": msg}``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def invalid_symbol() -> ApiError:
    return ApiError(400, -1121, "Invalid symbol.")


def fmt(units: int, dp: int, out: int | None = None) -> str:
    """``units`` × 10^-dp as a decimal string with ``max(out, dp)`` decimals (``fmt(123, 2, 8)`` → ``1.23000000``)."""
    out = dp if out is None else max(out, dp)
    digits = str(abs(units)).rjust(dp + 1, "0")
    whole, frac = (digits[:-dp], digits[-dp:]) if dp else (digits, "")
    text = f"{whole}.{frac}{'0' * (out - dp)}" if out else whole
    return f"-{text}" if units < 0 else text


def fmt_column(values: np.ndarray, dp: int, out: int | None = None) -> list[str]:
    """:func:`fmt` of a whole column: one vectorised divmod and one ``%`` per value (klines pages are 12,000
    decimals; this is most of the simulator's time per request)."""
    out = dp if out is None else max(out, dp)
    if dp == 0 or (len(values) and int(values.min()) < 0):
        return [fmt(v, dp, out) for v in values.tolist()]
    whole, frac = np.divmod(np.asarray(values, dtype=np.int64), 10**dp)
    template = f"%d.%0{dp}d{'0' * (out - dp)}"
    return [template % pair for pair in zip(whole.tolist(), frac.tolist(), strict=True)]


def _int(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.lstrip("-").isdigit() or len(raw) > 20:
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(raw)


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def _limit(params: dict[str, str], default: int, maximum: int) -> int:
    """Binance clamps an oversized limit silently; below 1 it uses 1."""
    return min(max(_int(params, "limit", default) or default, 1), maximum)


def _time_range(params: dict[str, str]) -> tuple[int | None, int | None]:
    start, end = _int(params, "startTime"), _int(params, "endTime")
    if start is not None and end is not None and start > end:
        raise ApiError(400, -1023, "Start time is greater than end time.")
    return start, end


def _weight_limits(weight: int, enforced: tuple[int, str, str, int] | None = None) -> list[dict[str, Any]]:
    """exchangeInfo's ``rateLimits``: Binance's published ones, or the simulator's enforced weight limit
    ``(intervalNum, letter, interval, weight)``."""
    num, interval = 1, "MINUTE"
    if enforced is not None:
        num, _, interval, weight = enforced
    return [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": interval, "intervalNum": num, "limit": weight},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    ]


# Request weights as Binance publishes them (2024): (path, limit thresholds). A request's weight is the first
# ``(upper, weight)`` pair whose ``upper`` is at least its ``limit`` (the endpoint's default limit when absent); a
# plain int is a fixed weight. Unlisted paths weigh 1.
_KLINES_BY_LIMIT = ((99, 1), (499, 2), (1000, 5), (sys.maxsize, 10))
_WEIGHTS: dict[str, int | tuple[int, tuple[tuple[int, int], ...]]] = {
    f"{SPOT_PREFIX}/exchangeInfo": 20, f"{SPOT_PREFIX}/klines": 2, f"{SPOT_PREFIX}/uiKlines": 2,
    f"{SPOT_PREFIX}/aggTrades": 2, f"{SPOT_PREFIX}/trades": 25, f"{SPOT_PREFIX}/avgPrice": 2,
    f"{SPOT_PREFIX}/depth": (100, ((100, 5), (500, 25), (1000, 50), (sys.maxsize, 250))),
    f"{FAPI_PREFIX}/klines": (500, _KLINES_BY_LIMIT), f"{FAPI_PREFIX}/markPriceKlines": (500, _KLINES_BY_LIMIT),
    f"{FAPI_PREFIX}/indexPriceKlines": (500, _KLINES_BY_LIMIT), f"{FAPI_PREFIX}/aggTrades": 20,
    f"{FAPI_PREFIX}/trades": 5,
    f"{FAPI_PREFIX}/depth": (500, ((50, 2), (100, 5), (500, 10), (sys.maxsize, 20))),
}
# Ticker endpoints cost more without a symbol (every market): (with symbol, without).
_TICKER_WEIGHTS = {
    f"{SPOT_PREFIX}/ticker/24hr": (2, 80), f"{SPOT_PREFIX}/ticker/price": (2, 4),
    f"{SPOT_PREFIX}/ticker/bookTicker": (2, 4), f"{FAPI_PREFIX}/ticker/24hr": (1, 40),
    f"{FAPI_PREFIX}/ticker/price": (1, 2), f"{FAPI2_PREFIX}/ticker/price": (1, 2),
    f"{FAPI_PREFIX}/ticker/bookTicker": (2, 5), f"{FAPI_PREFIX}/premiumIndex": (1, 10),
}


def request_weight(path: str, params: dict[str, str]) -> int:
    """What a request costs against the ``REQUEST_WEIGHT`` limit, as on Binance: klines at limit 1000 cost 2 on
    spot and 5 on USDⓈ-M, so a budget counted in requests must leave room for the weight."""
    ticker = _TICKER_WEIGHTS.get(path)
    if ticker is not None:
        return ticker[0] if params.get("symbol") else ticker[1]
    rule = _WEIGHTS.get(path, 1)
    if isinstance(rule, int):
        return rule
    default, steps = rule
    raw = params.get("limit", "")
    limit = int(raw) if raw.isdigit() else default
    return next(weight for upper, weight in steps if limit <= upper)


Handler = Callable[[dict[str, str], int, str], Any]


class BinanceApi:
    """Routes Binance REST paths to handlers over one :class:`MarketData` per market."""

    def __init__(self, markets: Sequence[Market], seed: int, faults: FaultPlan) -> None:
        self.faults = faults
        self.rate_limit: tuple[int, str, str, int] | None = None  # the enforced weight limit, shown in exchangeInfo
        self.data: dict[tuple[str, str], MarketData] = {}
        for market in markets:
            key = (market.venue, market.id)
            if key in self.data:
                raise InvalidInputError(f"market {market.symbol!r} is defined twice")
            self.data[key] = MarketData(market, seed)
        spot = {"ping": self._ping, "time": self._time, "exchangeInfo": self._spot_exchange_info,
                "klines": self._klines, "uiKlines": self._klines, "depth": self._depth,
                "aggTrades": self._agg_trades, "trades": self._trades, "ticker/24hr": self._ticker_24hr,
                "ticker/price": self._ticker_price, "ticker/bookTicker": self._book_ticker,
                "avgPrice": self._avg_price}
        fapi = {"ping": self._ping, "time": self._time, "exchangeInfo": self._futures_exchange_info,
                "klines": self._klines, "markPriceKlines": self._mark_klines, "indexPriceKlines": self._index_klines,
                "depth": self._depth, "aggTrades": self._agg_trades, "trades": self._trades,
                "ticker/24hr": self._ticker_24hr, "ticker/price": self._ticker_price,
                "ticker/bookTicker": self._book_ticker, "premiumIndex": self._premium_index,
                "fundingRate": self._funding_rate, "openInterest": self._open_interest}
        self.routes: dict[str, tuple[str, Handler]] = {}
        self.routes.update({f"{SPOT_PREFIX}/{name}": (SPOT, fn) for name, fn in spot.items()})
        self.routes.update({f"{FAPI_PREFIX}/{name}": (USDM, fn) for name, fn in fapi.items()})
        self.routes[f"{FAPI2_PREFIX}/ticker/price"] = (USDM, self._ticker_price)
        self.routes[f"{DATA_PREFIX}/openInterestHist"] = (USDM, self._open_interest_hist)
        self.routes.update({f"{DAPI_PREFIX}/{name}": ("dapi", fn) for name, fn in
                            {"ping": self._ping, "time": self._time, "exchangeInfo": self._dapi_exchange_info}.items()})

    # ----------------------------------------------------------------- dispatch
    def market_of(self, path: str, params: dict[str, str]) -> tuple[str | None, str | None]:
        """(Binance id, ccxt symbol) the request is about, for scoping faults; never raises."""
        route = self.routes.get(path)
        market_id = params.get("symbol") or params.get("pair")
        if route is None or market_id is None:
            return market_id, None
        data = self.data.get((route[0], market_id))
        return market_id, data.market.symbol if data else None

    def handle(self, path: str, params: dict[str, str], now: int) -> Any:
        """The JSON payload for ``path``; raises :class:`ApiError` for Binance errors and ``KeyError`` for an
        unknown path (the server answers 404)."""
        venue, handler = self.routes[path]
        return handler(params, now, venue)

    def _md(self, params: dict[str, str], now: int, venue: str, key: str = "symbol") -> MarketData:
        symbol = _required(params, key)
        data = self.data.get((venue, symbol))
        if data is None or data.market.listed_ms > now:
            raise invalid_symbol()
        return data

    def _listed(self, venue: str, now: int) -> list[MarketData]:
        return [d for (v, _), d in self.data.items() if v == venue and d.market.listed_ms <= now]

    def _gaps(self, data: MarketData) -> list[tuple[int, int]]:
        return self.faults.gaps_for(data.market.id, data.market.symbol)

    # ----------------------------------------------------------------- general
    @staticmethod
    def _ping(params: dict[str, str], now: int, venue: str) -> Any:
        return {}

    @staticmethod
    def _time(params: dict[str, str], now: int, venue: str) -> Any:
        return {"serverTime": now}

    def _spot_exchange_info(self, params: dict[str, str], now: int, venue: str) -> Any:
        listed = self._listed(SPOT, now)
        wanted = [params["symbol"]] if params.get("symbol") else None
        if params.get("symbols"):
            wanted = _json_list(params["symbols"])
        if wanted is not None:
            by_id = {d.market.id: d for d in listed}
            if any(w not in by_id for w in wanted):
                raise invalid_symbol()
            listed = [by_id[w] for w in wanted]
        return {"timezone": "UTC", "serverTime": now, "rateLimits": _weight_limits(6000, self.rate_limit),
                "exchangeFilters": [], "symbols": [_spot_symbol(d.market, now) for d in listed]}

    def _futures_exchange_info(self, params: dict[str, str], now: int, venue: str) -> Any:
        listed = self._listed(USDM, now)
        assets = sorted({d.market.settle or d.market.quote for d in listed})
        return {"timezone": "UTC", "serverTime": now, "futuresType": "U_MARGINED",
                "rateLimits": _weight_limits(2400, self.rate_limit), "exchangeFilters": [],
                "assets": [{"asset": a, "marginAvailable": True, "autoAssetExchange": "-10000"} for a in assets],
                "symbols": [_futures_symbol(d.market, now) for d in listed]}

    @staticmethod
    def _dapi_exchange_info(params: dict[str, str], now: int, venue: str) -> Any:
        return {"timezone": "UTC", "serverTime": now, "rateLimits": _weight_limits(2400), "exchangeFilters": [],
                "symbols": []}

    # ----------------------------------------------------------------- klines
    def _kline_query(self, params: dict[str, str], now: int, venue: str, kind: str, key: str = "symbol"
                     ) -> list[list[Any]]:
        data = self._md(params, now, venue, key)
        interval = INTERVALS.get(_required(params, "interval"))
        if interval is None:
            raise ApiError(400, -1120, "Invalid interval.")
        limit = _limit(params, 500, 1000 if venue == SPOT else 1500)
        start, end = _time_range(params)
        bars = data.klines(kind, interval, start, end, limit, now, self._gaps(data))
        return _kline_rows(bars, interval, data.market, kind)

    def _klines(self, params: dict[str, str], now: int, venue: str) -> Any:
        return self._kline_query(params, now, venue, "last")

    def _mark_klines(self, params: dict[str, str], now: int, venue: str) -> Any:
        return self._kline_query(params, now, venue, "mark")

    def _index_klines(self, params: dict[str, str], now: int, venue: str) -> Any:
        return self._kline_query(params, now, venue, "index", key="pair")

    # ----------------------------------------------------------------- trades and book
    def _agg_trades(self, params: dict[str, str], now: int, venue: str) -> Any:
        data = self._md(params, now, venue)
        limit = _limit(params, 500, 1000)
        from_id = _int(params, "fromId")
        start, end = _time_range(params)
        gaps = self._gaps(data)
        if from_id is not None and (start is not None or end is not None):
            raise ApiError(400, -1128, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > TRADE_WINDOW_MS:
            raise ApiError(400, -1127, "More than 1 hours between startTime and endTime.")
        if from_id is not None:
            trades = data.trades_from_id(from_id, limit, now, gaps)
        elif start is not None:
            trades = data.trades_between(start, start + TRADE_WINDOW_MS if end is None else end, limit, now, gaps)
        elif end is not None:
            trades = data.trades_between(end - TRADE_WINDOW_MS, end, limit, now, gaps, latest=True)
        else:
            trades = data.trades_between(0, now, limit, now, gaps, latest=True)
        return _agg_trade_rows(trades, data.market)

    def _trades(self, params: dict[str, str], now: int, venue: str) -> Any:
        data = self._md(params, now, venue)
        trades = data.trades_between(0, now, _limit(params, 500, 1000), now, self._gaps(data), latest=True)
        m = data.market
        rows = []
        quote_dp = m.price_dp + m.qty_dp
        for tid, t, p, q, maker in zip(trades.id.tolist(), trades.time.tolist(), trades.price.tolist(),
                                       trades.qty.tolist(), trades.buyer_maker.tolist(), strict=True):
            row = {"id": tid, "price": fmt(p, m.price_dp, m.price_out), "qty": fmt(q, m.qty_dp, m.qty_out),
                   "quoteQty": fmt(p * q, quote_dp, 8 if m.venue == SPOT else None), "time": t, "isBuyerMaker": maker}
            if m.venue == SPOT:
                row["isBestMatch"] = True
            rows.append(row)
        return rows

    def _depth(self, params: dict[str, str], now: int, venue: str) -> Any:
        data = self._md(params, now, venue)
        spot = venue == SPOT
        limit = _limit(params, 100 if spot else 500, 5000 if spot else 1000)
        bids, bid_qty, asks, ask_qty = data.book(limit, now)
        m = data.market
        book: dict[str, Any] = {"lastUpdateId": now // 10}
        if not spot:
            book.update({"E": now, "T": now})
        book["bids"] = [list(pair) for pair in zip(fmt_column(bids, m.price_dp, m.price_out),
                                                   fmt_column(bid_qty, m.qty_dp, m.qty_out), strict=True)]
        book["asks"] = [list(pair) for pair in zip(fmt_column(asks, m.price_dp, m.price_out),
                                                   fmt_column(ask_qty, m.qty_dp, m.qty_out), strict=True)]
        return book

    # ----------------------------------------------------------------- tickers
    def _selected(self, params: dict[str, str], now: int, venue: str) -> tuple[list[MarketData], bool]:
        """Markets named by ``symbol`` / ``symbols`` (one → a single object), or every listed market (a list)."""
        if params.get("symbol"):
            return [self._md(params, now, venue)], True
        if params.get("symbols"):
            return [self._md(params | {"symbol": s}, now, venue) for s in _json_list(params["symbols"])], False
        return self._listed(venue, now), False

    def _ticker_24hr(self, params: dict[str, str], now: int, venue: str) -> Any:
        selected, single = self._selected(params, now, venue)
        rows = [self._stats(d, now, spot=venue == SPOT) for d in selected]
        return rows[0] if single else rows

    def _stats(self, data: MarketData, now: int, spot: bool) -> dict[str, Any]:
        m = data.market
        window = data.trades_between(now - DAY_MS + 1, now, sys.maxsize, now, self._gaps(data))
        p, q = m.price_dp, m.qty_dp

        def price(v: int) -> str:
            return fmt(v, p, m.price_out)

        if len(window):
            first, last = int(window.price[0]), int(window.price[-1])
            volume, quote = int(window.qty.sum()), int((window.price * window.qty).sum())
            stats = {"priceChange": price(last - first),
                     "priceChangePercent": f"{(last - first) / first * 100:.3f}",
                     "weightedAvgPrice": f"{quote / volume / 10**p:.{m.price_out}f}",
                     "lastPrice": price(last), "lastQty": fmt(int(window.qty[-1]), q, m.qty_out),
                     "openPrice": price(first), "highPrice": price(int(window.price.max())),
                     "lowPrice": price(int(window.price.min())), "volume": fmt(volume, q, m.qty_out),
                     "quoteVolume": fmt(quote, p + q, 8 if spot else None),
                     "firstId": int(window.id[0]), "lastId": int(window.id[-1]), "count": len(window)}
        else:
            zero_p, zero_q = price(0), fmt(0, q, m.qty_out)
            stats = {"priceChange": zero_p, "priceChangePercent": "0.000", "weightedAvgPrice": zero_p,
                     "lastPrice": zero_p, "lastQty": zero_q, "openPrice": zero_p, "highPrice": zero_p,
                     "lowPrice": zero_p, "volume": zero_q, "quoteVolume": fmt(0, p + q, 8 if spot else None),
                     "firstId": -1, "lastId": -1, "count": 0}
        row: dict[str, Any] = {"symbol": m.id, **stats, "openTime": now - DAY_MS, "closeTime": now}
        if spot:
            bids, bid_qty, asks, ask_qty = data.book(1, now)
            previous = data.price_at("last", now - DAY_MS, now) or 0
            row.update({"prevClosePrice": price(previous), "bidPrice": price(int(bids[0])),
                        "bidQty": fmt(int(bid_qty[0]), q, m.qty_out), "askPrice": price(int(asks[0])),
                        "askQty": fmt(int(ask_qty[0]), q, m.qty_out)})
        return row

    def _ticker_price(self, params: dict[str, str], now: int, venue: str) -> Any:
        selected, single = self._selected(params, now, venue)
        rows = []
        for d in selected:
            row: dict[str, Any] = {"symbol": d.market.id,
                                   "price": fmt(d.price_at("last", now, now) or 0, d.market.price_dp,
                                                d.market.price_out)}
            if venue != SPOT:
                row["time"] = now
            rows.append(row)
        return rows[0] if single else rows

    def _book_ticker(self, params: dict[str, str], now: int, venue: str) -> Any:
        selected, single = self._selected(params, now, venue)
        rows = []
        for d in selected:
            m = d.market
            bids, bid_qty, asks, ask_qty = d.book(1, now)
            row: dict[str, Any] = {"symbol": m.id, "bidPrice": fmt(int(bids[0]), m.price_dp, m.price_out),
                                   "bidQty": fmt(int(bid_qty[0]), m.qty_dp, m.qty_out),
                                   "askPrice": fmt(int(asks[0]), m.price_dp, m.price_out),
                                   "askQty": fmt(int(ask_qty[0]), m.qty_dp, m.qty_out)}
            if venue != SPOT:
                row.update({"time": now, "lastUpdateId": now // 10})
            rows.append(row)
        return rows[0] if single else rows

    def _avg_price(self, params: dict[str, str], now: int, venue: str) -> Any:
        data = self._md(params, now, venue)
        bars = data.klines("last", INTERVALS["1m"], None, now, 5, now, self._gaps(data))
        volume = int(bars.volume.sum())
        avg = int(bars.quote.sum()) / volume / 10**data.market.price_dp if volume else 0.0
        return {"mins": 5, "price": f"{avg:.8f}", "closeTime": now}

    # ----------------------------------------------------------------- USDⓈ-M derivatives data
    def _premium_index(self, params: dict[str, str], now: int, venue: str) -> Any:
        selected, single = self._selected(params, now, venue)
        next_funding = now - now % FUNDING_MS + FUNDING_MS
        rows = []
        for d in selected:
            m = d.market
            rate, _ = d.funding(np.array([next_funding]), now)
            index = fmt(d.price_at("index", now, now) or 0, m.price_dp, 8)
            rows.append({"symbol": m.id, "markPrice": fmt(d.price_at("mark", now, now) or 0, m.price_dp, 8),
                         "indexPrice": index, "estimatedSettlePrice": index,
                         "lastFundingRate": fmt(int(rate[0]), 8), "interestRate": "0.00010000",
                         "nextFundingTime": next_funding, "time": now})
        return rows[0] if single else rows

    def _funding_rate(self, params: dict[str, str], now: int, venue: str) -> Any:
        selected = [self._md(params, now, venue)] if params.get("symbol") else self._listed(USDM, now)
        start, end = _time_range(params)
        limit = _limit(params, 100, 1000)
        rows: list[dict[str, Any]] = []
        for d in selected:
            first = _ceil(d.market.listed_ms, FUNDING_MS)
            times = _grid(first, d.market.last_data_ms(now), FUNDING_MS, start, end, limit)
            rate, mark = d.funding(times, now)
            rows += [{"symbol": d.market.id, "fundingTime": t, "fundingRate": fmt(r, 8),
                      "markPrice": fmt(p, d.market.price_dp, 8)}
                     for t, r, p in zip(times.tolist(), rate.tolist(), mark.tolist(), strict=True)]
        rows.sort(key=lambda row: row["fundingTime"])
        return rows[:limit] if start is not None else rows[-limit:]

    def _open_interest(self, params: dict[str, str], now: int, venue: str) -> Any:
        data = self._md(params, now, venue)
        units, _ = data.open_interest(np.array([now - now % MINUTE_MS]), now)
        return {"openInterest": fmt(int(units[0]), data.market.qty_dp), "symbol": data.market.id, "time": now}

    def _open_interest_hist(self, params: dict[str, str], now: int, venue: str) -> Any:
        data = self._md(params, now, venue)
        period = OI_PERIODS.get(_required(params, "period"))
        if period is None:
            raise ApiError(400, -1130, "Data sent for parameter 'period' is not valid.")
        limit = _limit(params, 30, 500)
        start, end = _time_range(params)
        earliest = now - OI_HISTORY_MS
        for name, bound in (("startTime", start), ("endTime", end)):
            if bound is not None and bound < earliest:
                raise ApiError(400, -1130, f"parameter '{name}' is invalid.")
        assert period.ms is not None
        first = max(_ceil(data.market.listed_ms, period.ms), _ceil(earliest, period.ms))
        times = _grid(first, data.market.last_data_ms(now), period.ms, start, end, limit)
        units, value = data.open_interest(times, now)
        m = data.market
        return [{"symbol": m.id, "sumOpenInterest": fmt(u, m.qty_dp, 8),
                 "sumOpenInterestValue": fmt(v, m.price_dp + m.qty_dp, 8), "timestamp": t}
                for t, u, v in zip(times.tolist(), units.tolist(), value.tolist(), strict=True)]


# --------------------------------------------------------------------- formats
def _json_list(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, -1100, "Illegal characters found in parameter 'symbols'.")
    return value


def _ceil(ts: int, step: int) -> int:
    return -(-ts // step) * step


def _grid(first: int, last_data: int, step: int, start: int | None, end: int | None, limit: int) -> np.ndarray:
    """Times on a ``step`` grid from ``first`` up to ``last_data`` within [start, end]: the first ``limit`` when
    ``start`` is given, else the last ``limit``."""
    lo = first if start is None else max(first, _ceil(start, step))
    hi = last_data if end is None else min(last_data, end)
    hi -= hi % step
    if hi < lo:
        return np.empty(0, dtype=np.int64)
    if start is not None:
        return np.arange(lo, min(hi, lo + (limit - 1) * step) + 1, step, dtype=np.int64)
    return np.arange(max(lo, hi - (limit - 1) * step), hi + 1, step, dtype=np.int64)


def _close_times(bars: Bars, interval: Interval) -> list[int]:
    if interval.ms is not None:
        return (bars.open_time + interval.ms - 1).tolist()
    return [interval.shift(t, 1) - 1 for t in bars.open_time.tolist()]


def _kline_rows(bars: Bars, interval: Interval, m: Market, kind: str) -> list[list[Any]]:
    """Binance's 12-field kline rows; decimals are strings, mark/index rows carry no volume."""
    p, q, po = m.price_dp, m.qty_dp, m.price_out
    columns: list[list[Any]] = [bars.open_time.tolist(), *(fmt_column(getattr(bars, c), p, po)
                                                           for c in ("open", "high", "low", "close"))]
    n = len(bars)
    if kind == "last":
        quote_out = 8 if m.venue == SPOT else None
        columns += [fmt_column(bars.volume, q, m.qty_out), _close_times(bars, interval),
                    fmt_column(bars.quote, p + q, quote_out), bars.count.tolist(),
                    fmt_column(bars.taker_base, q, m.qty_out), fmt_column(bars.taker_quote, p + q, quote_out),
                    ["0"] * n]
    else:
        zeros = ["0"] * n
        columns += [zeros, _close_times(bars, interval), zeros, bars.count.tolist(), zeros, zeros, zeros]
    return [list(row) for row in zip(*columns, strict=True)]


def _agg_trade_rows(trades: Trades, m: Market) -> list[dict[str, Any]]:
    spot = m.venue == SPOT
    rows = []
    for tid, t, p, q, maker in zip(trades.id.tolist(), trades.time.tolist(), trades.price.tolist(),
                                   trades.qty.tolist(), trades.buyer_maker.tolist(), strict=True):
        row = {"a": tid, "p": fmt(p, m.price_dp, m.price_out), "q": fmt(q, m.qty_dp, m.qty_out), "f": tid, "l": tid,
               "T": t, "m": maker}
        if spot:
            row["M"] = True
        rows.append(row)
    return rows


def _spot_symbol(m: Market, now: int) -> dict[str, Any]:
    s = m.spec
    p8, q8 = (lambda v: fmt(_units(v, m.price_dp), m.price_dp, 8)), (lambda v: fmt(_units(v, m.qty_dp), m.qty_dp, 8))
    if s.notional_filter == "MIN_NOTIONAL":
        notional = {"filterType": "MIN_NOTIONAL", "minNotional": f"{float(s.min_notional):.8f}",
                    "applyToMarket": True, "avgPriceMins": 5}
    else:
        notional = {"filterType": "NOTIONAL", "minNotional": f"{float(s.min_notional):.8f}", "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5}
    return {
        "symbol": m.id, "status": m.status(now), "baseAsset": m.base, "baseAssetPrecision": 8,
        "quoteAsset": m.quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8, "orderTypes": _SPOT_ORDER_TYPES, "icebergAllowed": True, "ocoAllowed": True,
        "otoAllowed": True, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": p8(s.tick_size), "maxPrice": f"{1_000_000:.8f}",
             "tickSize": p8(s.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": q8(s.min_qty or s.step_size), "maxQty": q8(s.max_qty),
             "stepSize": q8(s.step_size)},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": q8(s.max_qty),
             "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            notional,
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": _STP,
    }


def _futures_symbol(m: Market, now: int) -> dict[str, Any]:
    s = m.spec
    price, qty = (lambda v: fmt(_units(v, m.price_dp), m.price_dp)), (lambda v: fmt(_units(v, m.qty_dp), m.qty_dp))
    return {
        "symbol": m.id, "pair": m.id, "contractType": "PERPETUAL", "deliveryDate": _DELIVERY_PERPETUAL,
        "onboardDate": m.listed_ms, "status": m.status(now), "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": m.base, "quoteAsset": m.quote, "marginAsset": m.settle,
        "pricePrecision": m.price_out, "quantityPrecision": m.qty_dp, "baseAssetPrecision": 8,
        "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [], "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": price(s.tick_size), "maxPrice": "4529764",
             "tickSize": price(s.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": qty(s.min_qty or s.step_size), "maxQty": qty(s.max_qty),
             "stepSize": qty(s.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": qty(s.min_qty or s.step_size), "maxQty": qty(s.max_qty),
             "stepSize": qty(s.step_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": s.min_notional},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": _FUTURES_ORDER_TYPES, "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


def _units(text: str, dp: int) -> int:
    """A decimal string as an integer of 10^-dp units (exact; the spec guarantees it fits)."""
    whole, _, frac = text.partition(".")
    frac = (frac + "0" * dp)[:dp]
    return int(whole or "0") * 10**dp + int(frac or "0")
