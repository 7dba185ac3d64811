"""Public trades and order-book snapshots.

Trades resume after the last stored trade. How a venue pages is its profile's ``trades_paging``: venues that
page by trade id (Binance: ``params={'fromId': …}``) are followed id by id, which never skips a trade; others
page forward by time. Binance's ``fetch_trades(since)`` covers at most one hour per call, so an empty hour moves
the window on instead of ending the run. Coinbase answers the newest trades of ``[since, until]``: its range is
recorded in consecutive windows from the oldest, each paged backwards from its end and written in one transaction
once complete, so what is stored is always a prefix in time of the range (a run stopped part-way leaves no hole
for the next run, which resumes after the last stored trade, to skip over). Venues that serve only their latest
trades (OKX, Bybit, Upbit, Bithumb) get one request, and a range reaching further back than they serve is said in
the summary. Trades are keyed
``(entity_id, timestamp, trade_id)``: a trade seen twice is written once.

An order-book snapshot stores the top N levels of each side at the time of the run.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.timeutil import check_range, iso_ms, ms_to_index, to_ms
from zvt_crypto.domain import OrderBookSnapshot, Trade
from zvt_crypto.recorders.base import Recorder, RunContext, SymbolResult
from zvt_crypto.recorders.venues import VenueProfile, venue_profile

DEFAULT_TRADES_LOOKBACK_MS = 3_600_000  # first run without start: the last hour
# ``until`` venues (Coinbase) are recorded in windows from the oldest, each written once complete
UNTIL_FIRST_WINDOW_MS = 3_600_000  # the first window of a run; later ones adapt to the trade rate
UNTIL_TARGET_PAGES = 4  # pages a window is sized for
UNTIL_MAX_PAGES = 32  # pages held at most before the window is retried narrower (bounds memory)
UNTIL_MAX_WINDOW_MS = 30 * 86_400_000  # the widest window (quiet markets)
log = logging.getLogger(__name__)


def check_trades(trades: Any) -> None:
    import ccxt

    if not isinstance(trades, list):
        raise ccxt.BadResponse(f"expected a list of trades, got {type(trades).__name__}")
    for trade in trades:
        if not isinstance(trade, dict) or trade.get("price") is None or trade.get("timestamp") is None:
            raise ccxt.BadResponse(f"malformed trade {trade!r}: the venue answered with something else than trades")


def id_hole(trades: list[dict[str, Any]], from_id: int | None) -> tuple[int, int] | None:
    """The first run of ids ``(first, last)`` missing from a page of a venue whose trade ids are consecutive
    (Binance's aggregate trades): before its first id when it was asked ``from_id``, or between two of its ids.
    None when the page is whole (duplicated rows are harmless)."""
    ids = sorted({int(trade["id"]) for trade in trades})
    if not ids:
        return None
    if from_id is not None and ids[0] > from_id:
        return from_id, ids[0] - 1
    return next(((a + 1, b - 1) for a, b in itertools.pairwise(ids) if b > a + 1), None)


def trades_frame(trades: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({
        "timestamp": pd.array([t["timestamp"] for t in trades], dtype="int64"),
        "trade_id": [str(t["id"]) for t in trades],
        "price": [float(t["price"]) for t in trades],
        "amount": [float(t["amount"]) for t in trades],
        "side": [t.get("side") for t in trades],
    })


class TradesRecorder(Recorder):
    """``Trade.record_data(exchange="binance", symbols=["BTC/USDT"], start=None, end=None)``."""

    schema = Trade
    capability = "fetchTrades"
    kind = "trades"

    def prepare(self, context: RunContext) -> None:
        options = context.options
        if options.get("level") is not None:
            raise InvalidInputError(f"trades have no level; drop level={options['level']!r}")
        options["start"] = None if options.get("start") is None else to_ms(options["start"])
        options["end"] = None if options.get("end") is None else to_ms(options["end"])
        check_range(options["start"], options["end"])

    async def _last_stored(self, context: RunContext, eid: str) -> tuple[int, str] | None:
        stored = await asyncio.to_thread(
            # Fix: "timestamp" must be asked for: with index=None query_data returns only the columns named, and
            # the resume run failed with KeyError 'timestamp' as soon as one trade was stored.
            Trade.query_data, entity_ids=[eid], columns=["timestamp", "trade_id"], order=["-timestamp", "-trade_id"],
            limit=1, index=None, store=context.store,
        )
        if stored.empty:
            return None
        return int(stored["timestamp"].iloc[0].value // 1_000_000), str(stored["trade_id"].iloc[0])

    async def record_symbol(self, context: RunContext, symbol: str) -> SymbolResult:
        profile = venue_profile(context.exchange.id)
        result = self.new_result(context, symbol)
        eid = entity_id(context.exchange.id, symbol)
        now = await self.venue_now(context)
        end = now if context.options["end"] is None else min(now, context.options["end"])
        since, last_id = context.options["start"], None
        if since is None:
            last = await self._last_stored(context, eid)
            since, last_id = (last[0], last[1]) if last else (now - DEFAULT_TRADES_LOOKBACK_MS, None)
        lower = since  # the range starts here whatever the paging does
        limit = profile.trades_page((getattr(context.exchange, "markets", None) or {}).get(symbol))
        if profile.trades_paging != "forward":
            await self._record_newest_first(context, symbol, eid, lower, end, profile, limit, result)
            return result
        while since <= end:
            # Once a trade id is known, venues that page by id are followed id by id (never skips a trade).
            by_id = profile.trades_from_id and last_id is not None and last_id.isdigit()
            if by_id:
                # `limit` goes to the venue, not to ccxt: ccxt keeps only the last `limit` rows of a longer answer
                # (duplicated rows), which loses the first trades of the page
                args: tuple[Any, ...] = (None, None, {"fromId": int(str(last_id)) + 1, "limit": limit})
            else:
                args = (since, limit)
            trades = await self._fetch_page(context, symbol, args, profile, result)
            frame = trades_frame(trades).drop_duplicates(["timestamp", "trade_id"])
            frame = frame[(frame["timestamp"] >= lower) & (frame["timestamp"] <= end)]
            if frame.empty:
                past_end = bool(trades) and int(trades[-1]["timestamp"]) > end
                window = profile.trades_window_ms
                if not by_id and not past_end and window and since + window <= end:
                    since += window  # a window without trades (Binance: one hour per call): move it on
                    continue
                break
            frame = frame.sort_values(["timestamp", "trade_id"], ignore_index=True)
            result.rows += len(frame)
            written = await asyncio.to_thread(
                context.store.write, Trade, frame.assign(entity_id=eid, timestamp=ms_to_index(frame["timestamp"]))
            )
            result.changed += written.changed
            newest, last_id = int(frame["timestamp"].iloc[-1]), str(frame["trade_id"].iloc[-1])
            full_page = len(trades) >= limit
            if not full_page and (by_id or not profile.trades_window_ms):
                break  # a short page from id paging, or from a venue without time windows: caught up
            if full_page:  # time paging restarts at the newest trade's millisecond (seen trades are kept once)
                since = newest if newest > since else since + 1
            else:  # the window is exhausted
                since = max(newest + 1, since + (profile.trades_window_ms or 0))
        return result

    async def _fetch_page(self, context: RunContext, symbol: str, args: tuple[Any, ...], profile: VenueProfile,
                          result: SymbolResult) -> list[dict[str, Any]]:
        """One forward page (``fetch_trades(symbol, *args)``); an empty answer is asked again once. On a venue
        with consecutive trade ids a page that misses ids (it does not start at the ``fromId`` asked for, or has a
        hole) is asked again; ids still missing from the second answer are ids the venue does not serve, and the
        summary says so."""
        trades = await context.client.call("fetch_trades", symbol, *args, check=check_trades)
        if not trades:  # a claim to verify, not the end: a venue's hiccup answers [] too (one more request)
            trades = await context.client.call("fetch_trades", symbol, *args, check=check_trades)
        from_id = args[2].get("fromId") if len(args) > 2 else None
        hole = id_hole(trades, from_id) if profile.trades_from_id else None
        if hole is None:
            return trades
        log.warning("%s %s: trades %s…%s missing from a page; asking again", context.exchange.id, symbol, *hole)
        trades = await context.client.call("fetch_trades", symbol, *args, check=check_trades)
        hole = id_hole(trades, from_id)
        if hole is not None:
            result.notes.append(f"{context.exchange.id} served no trade with id {hole[0]}…{hole[1]} (asked twice), "
                                "though its trade ids are consecutive")
        return trades

    async def _record_newest_first(self, context: RunContext, symbol: str, eid: str, lower: int, end: int,
                                   profile: VenueProfile, limit: int, result: SymbolResult) -> None:
        """Venues whose answer is the newest ``limit`` trades. ``latest`` venues have no older page to ask for:
        one request. ``until`` venues (Coinbase) are recorded window by window from the oldest, see
        :meth:`_record_until_windows`."""
        if profile.trades_paging == "until":
            await self._record_until_windows(context, symbol, eid, lower, end, limit, result)
            return
        trades = await context.client.call("fetch_trades", symbol, lower, limit, {}, check=check_trades)
        await self._write(context, eid, [trades_frame(trades)], lower, end + 1, result)
        if len(trades) >= limit:
            oldest = min(int(trade["timestamp"]) for trade in trades)
            if oldest > lower:
                result.notes.append(
                    f"{context.exchange.id} serves only its latest {limit} trades (from {iso_ms(oldest)} here); "
                    f"trades from {iso_ms(lower)} until then are not available from it. Record trades more often "
                    "to keep them all")

    async def _record_until_windows(self, context: RunContext, symbol: str, eid: str, lower: int, end: int,
                                    limit: int, result: SymbolResult) -> None:
        """``[lower, end]`` in consecutive windows ``[lo, stop)`` from the oldest. Each window is paged back from
        its end with ``until`` (the next page ends at the oldest trade's second: ccxt sends whole seconds, so the
        pages overlap by up to a second; those trades are kept once), and its trades are written in one
        transaction once the window is complete. What is stored is therefore always a prefix in time of the
        range: a run that stops part-way (a failed request, cancellation, a kill) leaves no hole, and the next run
        resumes after the last trade stored. Windows adapt to the trade rate (about ``UNTIL_TARGET_PAGES`` pages
        each, one request for an empty one, growing quickly through quiet spans); a window that needs more than
        ``UNTIL_MAX_PAGES`` pages is dropped and retried narrower, which bounds the memory held."""
        width, lo = UNTIL_FIRST_WINDOW_MS, lower
        while lo <= end:
            stop = min(end + 1, max(_ceil_s(lo + 1), (lo + width) // 1000 * 1000))
            frames: list[pd.DataFrame] = []
            pages, until, oldest_seen, too_many = 0, _ceil_s(stop - 1), stop, False
            while True:
                trades = await context.client.call("fetch_trades", symbol, lo, limit, {"until": until},
                                                   check=check_trades)
                pages += 1
                frame = trades_frame(trades)
                frames.append(frame[(frame["timestamp"] >= lo) & (frame["timestamp"] < stop)])
                if len(trades) < limit:
                    break  # fewer than a page since `lo` (ccxt drops older ones): the window is complete
                oldest = min(int(trade["timestamp"]) for trade in trades)
                oldest_seen = min(oldest_seen, oldest)
                next_until = (oldest // 1000 + 1) * 1000
                if next_until >= until:  # a page's worth of trades in one second: step over it rather than loop
                    log.warning("%s %s: more than %d trades in the second before %s; some may be missing",
                                context.exchange.id, symbol, limit, iso_ms(until))
                    next_until = until - 1000
                if next_until <= lo:
                    break
                if pages >= UNTIL_MAX_PAGES and stop - lo > 1000:
                    too_many = True  # too many trades to hold at once: the same start again, a narrower window
                    break
                until = next_until
            if too_many:
                frames = []
                width = max(1000, (stop - oldest_seen) * UNTIL_TARGET_PAGES // UNTIL_MAX_PAGES // 1000 * 1000)
                log.info("%s %s: more than %d trades from %s; narrowing the window to %d s",
                         context.exchange.id, symbol, UNTIL_MAX_PAGES * limit, iso_ms(lo), width // 1000)
                continue
            count = await self._write(context, eid, frames, lo, stop, result)
            frames = []
            # the next window: about UNTIL_TARGET_PAGES pages at this window's rate, changing at most 8-fold
            span = stop - lo
            wanted = span * 8 if count == 0 else span * UNTIL_TARGET_PAGES * limit // count
            width = min(UNTIL_MAX_WINDOW_MS, max(1000, span // 8, min(span * 8, wanted)))
            lo = stop

    async def _write(self, context: RunContext, eid: str, frames: list[pd.DataFrame], lo: int, stop: int,
                     result: SymbolResult) -> int:
        """The trades of ``[lo, stop)`` in ``frames`` (pages, maybe overlapping), written in one transaction."""
        frame = pd.concat(frames, ignore_index=True) if frames else trades_frame([])
        frame = frame[(frame["timestamp"] >= lo) & (frame["timestamp"] < stop)]
        if frame.empty:
            return 0
        frame = frame.drop_duplicates(["timestamp", "trade_id"]).sort_values(["timestamp", "trade_id"],
                                                                             ignore_index=True)
        result.rows += len(frame)
        written = await asyncio.to_thread(
            context.store.write, Trade, frame.assign(entity_id=eid, timestamp=ms_to_index(frame["timestamp"]))
        )
        result.changed += written.changed
        return len(frame)


def _ceil_s(ms: int) -> int:
    return -(-ms // 1000) * 1000


class OrderBookRecorder(Recorder):
    """``OrderBookSnapshot.record_data(exchange="binance", symbols=[...], depth=20)``: top N levels, now."""

    schema = OrderBookSnapshot
    capability = "fetchOrderBook"
    kind = "order-book snapshots"
    default_depth = 20

    def prepare(self, context: RunContext) -> None:
        depth = int(context.options.get("depth") or self.default_depth)
        if not 1 <= depth <= 1000:
            raise InvalidInputError(f"depth must be between 1 and 1000, got {depth}")
        context.options["depth"] = depth

    async def record_symbol(self, context: RunContext, symbol: str) -> SymbolResult:
        import ccxt

        depth = context.options["depth"]
        book = await context.client.call("fetch_order_book", symbol, depth)
        bids, asks = (book.get("bids") or [])[:depth], (book.get("asks") or [])[:depth]
        if any(level[0] is None for level in bids + asks):
            raise ccxt.BadResponse(f"malformed order book for {symbol}")
        timestamp = book.get("timestamp") or await self.venue_now(context)
        row = {
            "entity_id": entity_id(context.exchange.id, symbol),
            "timestamp": int(timestamp),
            "depth": depth,
            "best_bid": bids[0][0] if bids else None,
            "best_ask": asks[0][0] if asks else None,
            "bids": [[float(p), float(a)] for p, a, *_ in bids],
            "asks": [[float(p), float(a)] for p, a, *_ in asks],
        }
        written = await asyncio.to_thread(context.store.write, OrderBookSnapshot, pd.DataFrame([row]))
        return SymbolResult(symbol, rows=1, changed=written.changed)
