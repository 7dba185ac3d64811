"""Bithumb public REST API 2.0 (https://apidocs.bithumb.com/reference), ccxt's ``bithumb`` default
(``options['generation'] = 2``): Upbit's shapes on ``/v1/…`` (see ``upbit.py``).

* ``GET /v1/market/all?isDetails=true`` — ``[{"market": "KRW-BTC", …, "market_warning": "NONE"}]``.
* ``GET /v1/candles/minutes/{unit}`` … — ``market``, ``to``, ``count`` (at most 200), newest first. ccxt sends
  no ``to``: whatever ``since`` asks, the answer is the latest ``count`` candles (no deep history through ccxt).
* ``GET /v1/trades/ticks`` — ``market``, ``count``; newest first.

No server-time endpoint either: the server follows the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import DAY_MS, Listing
from .upbit import UpbitServer


class BithumbServer(UpbitServer):
    exchange_id = "bithumb"

    def make_listings(self, now: int) -> Sequence[Listing]:
        today = now // DAY_MS * DAY_MS
        return [
            Listing("BTC/KRW", "KRW-BTC", "BTC", "KRW", tick="1000", lot="0.0001", listed=today - 40 * DAY_MS,
                    start_price=57_900_000.0, extra={"korean_name": "비트코인", "english_name": "Bitcoin"}),
            Listing("ETH/KRW", "KRW-ETH", "ETH", "KRW", tick="1000", lot="0.0001", listed=today - 40 * DAY_MS,
                    start_price=3_090_000.0, extra={"korean_name": "이더리움", "english_name": "Ethereum"}),
            Listing("ETH/BTC", "BTC-ETH", "ETH", "BTC", tick="0.00000001", lot="0.0001",
                    listed=today - 40 * DAY_MS, start_price=0.0531,
                    extra={"korean_name": "이더리움", "english_name": "Ethereum"}),
        ]
