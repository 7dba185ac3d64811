"""Loopback servers speaking the public REST formats of OKX, Bybit, Coinbase, Kraken, Upbit and Bithumb.

Why: the venue profiles (``zvt_crypto.recorders.venues``) are only worth something if the recorders, with
ccxt's own parsing in the loop, work against what each venue really answers. Each server binds ``127.0.0.1``
(port 0), serves from daemon threads, stops by itself after ``lifetime`` seconds, logs every request and keeps
the ground truth (``closed_candles``) for the tests::

    with OkxServer(now=to_ms("2024-01-08")) as okx:
        config_file.write_text(okx.config_toml())      # [exchanges.okx.ccxt] with every ccxt URL pointed here
        ...
        okx.calls("/api/v5/market/history-candles")    # what the recorder asked for
"""

from .base import HOUR_MS, Candles, Listing, RequestRecord, Tick, VenueServer
from .bithumb import BithumbServer
from .bybit import BybitServer
from .coinbase import CoinbaseServer
from .kraken import KrakenServer
from .okx import OkxServer
from .upbit import UpbitServer

SERVERS: dict[str, type[VenueServer]] = {
    server.exchange_id: server
    for server in (OkxServer, BybitServer, CoinbaseServer, KrakenServer, UpbitServer, BithumbServer)
}

__all__ = [
    "HOUR_MS", "SERVERS", "BithumbServer", "BybitServer", "Candles", "CoinbaseServer", "KrakenServer", "Listing",
    "OkxServer", "RequestRecord", "Tick", "UpbitServer", "VenueServer",
]
