"""Deterministic market data of one simulated market: trades → 1m bars → klines of any interval, exactly.

Why this shape: every number must follow from ``(seed, market, time)`` alone, so any range can be served without
generating the history before it, and a higher kline must be the exact aggregation of the 1m klines (as on
Binance, where all of them come from the same trades). Prices are integer ticks and quantities integer lot steps,
so sums, maxima and the resampled 1m series are exact.

Layers, each cached:

* a day-level random walk of log prices per pair (blocks of :data:`BLOCK_DAYS` seeded by ``(seed, pair, block)``),
  shared by a spot pair and its perpetual so they agree at every UTC midnight; daily trade counts per market come
  in the same blocks, so aggregate-trade ids are a cumulative sum and contiguous;
* per ``(market, day)`` the day's trades: minutes from a seasonal intensity, prices from a Brownian bridge from the
  day's open to the next day's open (the day's last trade *is* the next day's open);
* 1m bars from the trades (open = previous close, flat bars for minutes without trades), 1d rows of full days;
* mark and index prices: the last price times ``1 + basis(t)``, a smooth deterministic function of time.
"""

from __future__ import annotations

import hashlib
import math
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.sim.intervals import DAY_MS, HOUR_MS, MINUTE_MS, Interval
from zvt_crypto.sim.markets import Market

BLOCK_DAYS = 256
TRADE_ID_BASE = 10_000_000
FUNDING_MS = 8 * HOUR_MS
KINDS = ("last", "mark", "index")
_MINUTES = DAY_MS // MINUTE_MS
_MASK64 = (1 << 64) - 1
_TAG_WALK, _TAG_ACTIVITY, _TAG_TRADES, _TAG_BOOK = 1, 2, 3, 4

Gaps = Sequence[tuple[int, int]]  # half-open [start, end) ranges of epoch ms without data (venue outages)


def stable_key(*parts: object) -> int:
    """A 63-bit integer that depends only on ``parts`` (never on Python's randomised ``hash``)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def hash_unit(key: int, values: np.ndarray) -> np.ndarray:
    """Uniform numbers in [0, 1), one per value, a pure function of ``(key, value)`` (splitmix64): noise for any
    timestamp without generator state."""
    z = np.asarray(values, dtype=np.int64).view(np.uint64) + np.uint64((key * 0x9E3779B97F4A7C15) & _MASK64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True)
class Bars:
    """Columns of klines. Prices in ticks, ``volume``/``taker_base`` in lot steps, ``quote``/``taker_quote`` in
    tick × step units: all int64, so aggregation is exact."""

    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote: np.ndarray
    count: np.ndarray
    taker_base: np.ndarray
    taker_quote: np.ndarray

    def __len__(self) -> int:
        return len(self.open_time)

    def select(self, index: Any) -> Bars:
        return Bars(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def empty() -> Bars:
        return Bars(*(np.empty(0, dtype=np.int64) for _ in fields(Bars)))

    @staticmethod
    def concat(parts: Sequence[Bars]) -> Bars:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Bars.empty()
        if len(parts) == 1:
            return parts[0]
        return Bars(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Bars)))


@dataclass(frozen=True)
class Trades:
    """Aggregate trades (one fill each): ids contiguous per market, times non-decreasing."""

    id: np.ndarray
    time: np.ndarray
    price: np.ndarray
    qty: np.ndarray
    buyer_maker: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    def select(self, index: Any) -> Trades:
        return Trades(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(parts: Sequence[Trades]) -> Trades:
        parts = [p for p in parts if len(p)]
        if not parts:
            id_, time, price, qty = (np.empty(0, dtype=np.int64) for _ in range(4))
            return Trades(id_, time, price, qty, np.empty(0, dtype=bool))
        return Trades(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Trades)))


def aggregate(bars: Bars, keys: np.ndarray) -> Bars:
    """Bars grouped by consecutive equal ``keys`` (the bucket open times): first open, max high, min low, last
    close, summed volumes and counts — the exact rule Binance's klines obey."""
    if not len(bars):
        return Bars.empty()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)] - 1
    return Bars(
        keys[starts],
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        *(np.add.reduceat(getattr(bars, name), starts) for name in ("volume", "quote", "count", "taker_base",
                                                                      "taker_quote")),
    )


def gap_mask(times: np.ndarray, gaps: Gaps) -> np.ndarray:
    """True where a time lies in none of the gaps."""
    keep = np.ones(len(times), dtype=bool)
    for start, end in gaps:
        keep &= (times < start) | (times >= end)
    return keep


def _seasonal_weights() -> np.ndarray:
    """Intraday activity: busiest around 14:00 UTC, quietest around 02:00."""
    minute = np.arange(_MINUTES)
    weights = 1.0 + 0.35 * np.cos(2 * np.pi * (minute / _MINUTES - 14 / 24))
    return weights / weights.sum()


_WEIGHTS = _seasonal_weights()


class _LRU:
    """A small thread-safe LRU cache: values are deterministic, so a race only costs a recomputation."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        with self._lock:
            self._data[key] = value
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        return value


class MarketData:
    """All deterministic data of one market; every method takes the simulated ``now`` and the outage gaps."""

    def __init__(self, market: Market, seed: int) -> None:
        if seed < 0:
            raise InvalidInputError("seed must be a non-negative integer")
        self.market = market
        self.seed = seed
        spec = market.spec
        self._walk_key = zlib.crc32(f"{market.pair}|{market.anchor_ms}".encode())
        self._key = zlib.crc32(f"{market.venue}|{market.id}".encode())
        self._anchor_day = market.anchor_ms // DAY_MS
        self._log_price0 = math.log(spec.price)
        self._price_scale = 10.0**market.price_dp
        self._mean_units = spec.mean_qty * 10.0**market.qty_dp
        self._oi_units = spec.open_interest * 10.0**market.qty_dp
        self._lock = threading.Lock()
        self._log_open = np.array([self._log_price0])  # log open of day i (days since the anchor)
        self._first_id = np.array([TRADE_ID_BASE], dtype=np.int64)  # first trade id of day i
        self._trades = _LRU(32)
        self._minutes = _LRU(192)
        self._days: dict[tuple[str, int], Bars] = {}
        basis_key = stable_key(seed, "basis", market.venue, market.id)
        self._phases = 2 * np.pi * hash_unit(basis_key, np.arange(6))
        self._basis_key = basis_key

    # ----------------------------------------------------------------- day-level walk and trade ids
    def _ensure(self, day_index: int) -> None:
        """Extend the day walk and the cumulative trade ids to cover day ``day_index`` (+1 for the next open)."""
        with self._lock:
            while len(self._log_open) < day_index + 2:
                block = (len(self._log_open) - 1) // BLOCK_DAYS
                walk = np.random.default_rng([self.seed, _TAG_WALK, self._walk_key, block])
                returns = walk.normal(0.0, self.market.spec.daily_vol, BLOCK_DAYS)
                act = np.random.default_rng([self.seed, _TAG_ACTIVITY, self._key, block])
                mean = self.market.spec.trades_per_minute * _MINUTES * np.exp(act.normal(0.0, 0.25, BLOCK_DAYS))
                totals = np.maximum(1, act.poisson(mean)).astype(np.int64)
                self._log_open = np.concatenate([self._log_open, self._log_open[-1] + np.cumsum(returns)])
                self._first_id = np.concatenate([self._first_id, self._first_id[-1] + np.cumsum(totals)])

    def _day_index(self, day: int) -> int:
        index = day - self._anchor_day
        if index < 0:
            raise InvalidInputError(f"{self.market.symbol}: day {day} precedes the price anchor")
        self._ensure(index)
        return index

    def _open_ticks(self, index: int) -> int:
        return max(1, int(np.rint(math.exp(self._log_open[index]) * self._price_scale)))

    def day_trades(self, day: int) -> Trades:
        """Every trade of UTC day ``day`` (days since the epoch), listing and outages not applied."""
        return self._trades.get(day, lambda: self._make_trades(day))

    def _make_trades(self, day: int) -> Trades:
        index = self._day_index(day)
        first, n = int(self._first_id[index]), int(self._first_id[index + 1] - self._first_id[index])
        rng = np.random.default_rng([self.seed, _TAG_TRADES, self._key, day])
        counts = rng.multinomial(n, _WEIGHTS)
        minute = np.repeat(np.arange(_MINUTES, dtype=np.int64), counts)
        times = day * DAY_MS + np.sort(minute * MINUTE_MS + rng.integers(0, MINUTE_MS, n))
        walk = np.cumsum(rng.normal(0.0, self.market.spec.daily_vol / math.sqrt(n), n))
        frac = np.arange(1, n + 1) / n
        log0, log1 = self._log_open[index], self._log_open[index + 1]
        log_price = log0 + walk - frac * walk[-1] + frac * (log1 - log0)
        price = np.maximum(1, np.rint(np.exp(log_price) * self._price_scale)).astype(np.int64)
        price[-1] = self._open_ticks(index + 1)  # the day's last trade is the next day's open: continuity
        sigma = 1.1
        qty = np.maximum(1, np.rint(self._mean_units * rng.lognormal(-sigma**2 / 2, sigma, n))).astype(np.int64)
        buyer_maker = rng.random(n) < 0.5
        return Trades(first + np.arange(n, dtype=np.int64), times, price, qty, buyer_maker)

    # ----------------------------------------------------------------- 1m bars and 1d rows
    def _live(self, now: int) -> tuple[int, int]:
        """[first, last] millisecond with data as of ``now``."""
        return self.market.listed_ms, self.market.last_data_ms(now)

    def minutes(self, kind: str, day: int, lo: int, hi: int) -> Bars:
        """1m bars of ``day`` from trades in [lo, hi]; minutes outside [floor(lo), hi] are left out."""
        d0 = day * DAY_MS
        lo, hi = max(lo, d0), min(hi, d0 + DAY_MS - 1)
        if hi < lo:
            return Bars.empty()
        full = lo == d0 and hi == d0 + DAY_MS - 1
        if full:
            return self._minutes.get((kind, day), lambda: self._make_minutes(kind, day, lo, hi))
        return self._make_minutes(kind, day, lo, hi)

    def _make_minutes(self, kind: str, day: int, lo: int, hi: int) -> Bars:
        if kind != "last":
            return self._derive(kind, self.minutes("last", day, lo, hi))
        trades = self.day_trades(day)
        # Trades from the day's start even when the market lists later: its first bar opens at the previous close.
        window = slice(0, np.searchsorted(trades.time, hi, "right"))
        price, qty, maker = trades.price[window], trades.qty[window], trades.buyer_maker[window]
        minute = (trades.time[window] - day * DAY_MS) // MINUTE_MS
        counts = np.bincount(minute, minlength=_MINUTES).astype(np.int64)
        starts = np.searchsorted(minute, np.arange(_MINUTES))
        busy = counts > 0
        last = np.maximum.accumulate(np.where(busy, starts + counts - 1, -1))
        day_open = self._open_ticks(self._day_index(day))
        close = np.where(last >= 0, price[np.maximum(last, 0)] if len(price) else day_open, day_open)
        open_ = np.r_[day_open, close[:-1]]
        high, low = np.maximum(open_, close), np.minimum(open_, close)
        sums = {name: np.zeros(_MINUTES, dtype=np.int64) for name in ("volume", "quote", "taker_base", "taker_quote")}
        if busy.any():
            seg = starts[busy]
            high[busy] = np.maximum(high[busy], np.maximum.reduceat(price, seg))
            low[busy] = np.minimum(low[busy], np.minimum.reduceat(price, seg))
            notional = price * qty
            taker = ~maker
            sums["volume"][busy] = np.add.reduceat(qty, seg)
            sums["quote"][busy] = np.add.reduceat(notional, seg)
            sums["taker_base"][busy] = np.add.reduceat(np.where(taker, qty, 0), seg)
            sums["taker_quote"][busy] = np.add.reduceat(np.where(taker, notional, 0), seg)
        open_time = day * DAY_MS + np.arange(_MINUTES, dtype=np.int64) * MINUTE_MS
        bars = Bars(open_time, open_, high, low, close, sums["volume"], sums["quote"], counts, sums["taker_base"],
                    sums["taker_quote"])
        keep = (open_time >= lo - lo % MINUTE_MS) & (open_time <= hi)
        return bars if keep.all() else bars.select(keep)

    def basis(self, kind: str, times: np.ndarray) -> np.ndarray:
        """Relative premium of the index / mark price over the last price at ``times``: smooth, deterministic."""
        days = np.asarray(times, dtype=np.float64) / DAY_MS
        p = self._phases
        index = 0.0004 * np.sin(2 * np.pi * days / 3.7 + p[0]) + 0.00015 * np.sin(2 * np.pi * days * 3 + p[1])
        index += 0.00004 * (hash_unit(self._basis_key, np.asarray(times) // MINUTE_MS) - 0.5)
        if kind == "index":
            return index
        return index + 0.0001 + 0.0003 * np.sin(2 * np.pi * days / 1.3 + p[2])

    def _derive(self, kind: str, last: Bars) -> Bars:
        """Mark or index 1m bars from last-price bars; open == previous close holds because the close uses the
        basis at the next minute's open."""
        if not len(last):
            return last
        b_open = 1.0 + self.basis(kind, last.open_time)
        b_close = 1.0 + self.basis(kind, last.open_time + MINUTE_MS)
        open_ = np.maximum(1, np.rint(last.open * b_open)).astype(np.int64)
        close = np.maximum(1, np.rint(last.close * b_close)).astype(np.int64)
        high = np.maximum(np.maximum(open_, close), np.rint(last.high * b_open).astype(np.int64))
        low = np.maximum(1, np.minimum(np.minimum(open_, close), np.rint(last.low * b_open).astype(np.int64)))
        zero = np.zeros(len(last), dtype=np.int64)
        return Bars(last.open_time, open_, high, low, close, zero, zero, np.full(len(last), 60, dtype=np.int64),
                    zero, zero)

    def _day_row(self, kind: str, day: int, lo: int, hi: int, gaps: Gaps) -> Bars:
        """The 1d aggregate of ``day``'s 1m bars within [lo, hi] outside the gaps (cached for whole days)."""
        d0 = day * DAY_MS
        touched = any(start < d0 + DAY_MS and end > d0 for start, end in gaps)
        if lo <= d0 and hi >= d0 + DAY_MS - 1 and not touched:
            key = (kind, day)
            row = self._days.get(key)
            if row is None:
                row = aggregate(self.minutes(kind, day, lo, hi), np.full(_MINUTES, d0, dtype=np.int64))
                self._days[key] = row
            return row
        bars = self.minutes(kind, day, lo, hi)
        if touched:
            bars = bars.select(gap_mask(bars.open_time, gaps))
        return aggregate(bars, np.full(len(bars), d0, dtype=np.int64))

    # ----------------------------------------------------------------- klines
    def _between(self, kind: str, iv: Interval, first: int, last: int, now: int, gaps: Gaps) -> Bars:
        """Bars of ``iv`` opening in [first, last] (aligned), from data as of ``now`` outside the gaps."""
        lo, hi = self._live(now)
        lo, hi = max(lo, first), min(hi, iv.shift(last, 1) - 1)
        if hi < lo:
            return Bars.empty()
        days = range(lo // DAY_MS, hi // DAY_MS + 1)
        if iv.intraday:
            bars = Bars.concat([self.minutes(kind, day, lo, hi) for day in days])
            if gaps:
                bars = bars.select(gap_mask(bars.open_time, gaps))
        else:
            bars = Bars.concat([self._day_row(kind, day, lo, hi, gaps) for day in days])
        return aggregate(bars, iv.floor_array(bars.open_time))

    def klines(
        self, kind: str, iv: Interval, start: int | None, end: int | None, limit: int, now: int, gaps: Gaps = ()
    ) -> Bars:
        """Binance's kline query: bars with ``start <= open_time <= end``; the first ``limit`` of them when
        ``start`` is given, else the last ``limit`` (the still-open bar at ``now`` included)."""
        lo, hi = self._live(now)
        first, last = iv.floor(lo), iv.floor(hi)
        if start is not None:
            first = max(first, iv.ceil(start))
        if end is not None:
            last = min(last, iv.floor(end))
        parts: list[Bars] = []
        rows = 0
        if start is not None:
            cursor = first
            while cursor <= last and rows < limit:
                stop = min(iv.shift(cursor, limit - rows - 1), last)
                parts.append(self._between(kind, iv, cursor, stop, now, gaps))
                rows += len(parts[-1])
                cursor = iv.shift(stop, 1)
            return Bars.concat(parts).select(slice(0, limit))
        cursor = last
        while cursor >= first and rows < limit:
            begin = max(iv.shift(cursor, -(limit - rows - 1)), first)
            parts.insert(0, self._between(kind, iv, begin, cursor, now, gaps))
            rows += len(parts[0])
            cursor = iv.shift(begin, -1)
        bars = Bars.concat(parts)
        return bars.select(slice(max(0, len(bars) - limit), None))

    def price_at(self, kind: str, ts: int, now: int) -> int | None:
        """The ``kind`` price in ticks at ``ts`` (the close of the bar in progress), None before the listing."""
        lo, hi = self._live(now)
        ts = min(ts, hi)
        if ts < lo:
            return None
        bars = self.minutes(kind, ts // DAY_MS, lo, ts)
        return int(bars.close[-1]) if len(bars) else None

    def open_prices(self, kind: str, times: np.ndarray, now: int) -> np.ndarray:
        """``kind`` price in ticks at the minute opens ``times`` (ascending, aligned, live); 0 where unknown."""
        out = np.zeros(len(times), dtype=np.int64)
        lo, hi = self._live(now)
        for day in np.unique(times // DAY_MS):
            bars = self.minutes(kind, int(day), lo, hi)
            sel = (times // DAY_MS) == day
            pos = np.searchsorted(bars.open_time, times[sel])
            found = pos < len(bars)
            found[found] = bars.open_time[pos[found]] == times[sel][found]
            values = np.zeros(int(sel.sum()), dtype=np.int64)
            values[found] = bars.open[pos[found]]
            out[sel] = values
        return out

    # ----------------------------------------------------------------- trades
    def _day_view(self, day: int, lo: int, hi: int, gaps: Gaps) -> Trades:
        trades = self.day_trades(day)
        window = slice(np.searchsorted(trades.time, lo, "left"), np.searchsorted(trades.time, hi, "right"))
        view = trades.select(window)
        return view.select(gap_mask(view.time, gaps)) if gaps else view

    def trades_from_id(self, from_id: int, limit: int, now: int, gaps: Gaps = ()) -> Trades:
        """Up to ``limit`` trades with ``id >= from_id``, oldest first."""
        lo, hi = self._live(now)
        if hi < lo:
            return Trades.concat([])
        last_day = hi // DAY_MS
        self._day_index(last_day)
        day = self._anchor_day + max(0, int(np.searchsorted(self._first_id, from_id, "right")) - 1)
        day = max(day, lo // DAY_MS)
        parts: list[Trades] = []
        rows = 0
        while day <= last_day and rows < limit:
            view = self._day_view(day, lo, hi, gaps)
            view = view.select(view.id >= from_id)
            parts.append(view.select(slice(0, limit - rows)))
            rows += len(parts[-1])
            day += 1
        return Trades.concat(parts)

    def trades_between(self, start: int, end: int, limit: int, now: int, gaps: Gaps = (), latest: bool = False
                       ) -> Trades:
        """Trades with ``start <= time <= end``: the first ``limit``, or the last ``limit`` if ``latest``."""
        lo, hi = self._live(now)
        lo, hi = max(lo, start), min(hi, end)
        if hi < lo:
            return Trades.concat([])
        days = list(range(lo // DAY_MS, hi // DAY_MS + 1))
        parts: list[Trades] = []
        rows = 0
        for day in reversed(days) if latest else days:
            view = self._day_view(day, lo, hi, gaps)
            if latest:
                take = view.select(slice(max(0, len(view) - (limit - rows)), None))
                parts.insert(0, take)
            else:
                take = view.select(slice(0, limit - rows))
                parts.append(take)
            rows += len(take)
            if rows >= limit:
                break
        return Trades.concat(parts)

    # ----------------------------------------------------------------- derivatives data
    def funding(self, times: np.ndarray, now: int) -> tuple[np.ndarray, np.ndarray]:
        """Funding rates (units of 1e-8) and mark prices (ticks) at funding times (multiples of 8 h)."""
        premium = self.basis("mark", times) - self.basis("index", times)
        noise = 0.00002 * (hash_unit(self._basis_key ^ 0x5F, times // FUNDING_MS) - 0.5)
        rate = np.clip(np.rint((premium + noise) * 1e8), -750_000, 750_000).astype(np.int64)
        return rate, self.open_prices("mark", times, now)

    def open_interest(self, times: np.ndarray, now: int) -> tuple[np.ndarray, np.ndarray]:
        """Open interest (lot steps) and its value (tick × step units, at the mark price) at ``times``."""
        days = np.asarray(times, dtype=np.float64) / DAY_MS
        p = self._phases
        level = 1.0 + 0.15 * np.sin(2 * np.pi * days / 9.0 + p[3]) + 0.05 * np.sin(2 * np.pi * days + p[4])
        level += 0.02 * (hash_unit(self._basis_key ^ 0x01, times // MINUTE_MS) - 0.5)
        units = np.maximum(1, np.rint(self._oi_units * level)).astype(np.int64)
        return units, units * self.open_prices("mark", times, now)

    def book(self, levels: int, now: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """An order book of ``levels`` per side around the last price: bid prices, bid sizes, ask prices, ask
        sizes (ticks and lot steps), deterministic for each second of simulated time."""
        mid = self.price_at("last", now, now) or self._open_ticks(self._day_index(now // DAY_MS))
        rng = np.random.default_rng([self.seed, _TAG_BOOK, self._key, now // 1000])
        best_bid = max(1, mid - int(rng.integers(0, 2)))
        steps = rng.geometric(0.6, (2, levels))
        bids = best_bid - np.r_[0, np.cumsum(steps[0, 1:])]
        asks = best_bid + 1 + np.r_[0, np.cumsum(steps[1, 1:])]
        bids = bids[bids > 0]
        sizes = np.maximum(1, np.rint(self._mean_units * rng.lognormal(0.0, 1.0, (2, levels)))).astype(np.int64)
        return bids.astype(np.int64), sizes[0, : len(bids)], asks.astype(np.int64), sizes[1]
