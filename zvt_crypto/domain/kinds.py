"""The data kinds a user records by name (``zvt-crypto record bars``, a schedule job's ``kinds = ["bars"]``).

One table for the CLI and the scheduler: which schema a kind fills, whether it needs a level, and its help text.
It is library vocabulary, not CLI code, so the scheduler does not import the command line; and it lives in
``contract`` rather than ``recorders`` because the CLI reads it at start-up, and importing the recorders package
loads every recorder (pandas, SQLAlchemy: over a second) before any command runs.
"""

from __future__ import annotations

from typing import NamedTuple


class Kind(NamedTuple):
    """What recording a kind means: the schema it fills (by name), whether it needs ``level=``, a help line."""

    schema: str
    leveled: bool
    help: str


#: kind name → :class:`Kind` (a tuple: ``schema_name, leveled, help_text = KINDS[name]``)
KINDS: dict[str, Kind] = {
    "markets": Kind("CryptoPair", False, "Spot pairs and perpetuals of the exchange (delisted ones are marked)."),
    "bars": Kind("Bar", True, "OHLCV bars: incremental, closed bars only, gaps audited."),
    "mark-bars": Kind("MarkPriceBar", True, "Mark-price bars of perpetuals."),
    "index-bars": Kind("IndexPriceBar", True, "Index-price bars of perpetuals."),
    "trades": Kind("Trade", False, "Public trades, resumed after the last stored one."),
    "orderbook": Kind("OrderBookSnapshot", False, "A snapshot of the top N order-book levels."),
    "funding": Kind("FundingRate", False, "Funding-rate history of perpetuals."),
    "open-interest": Kind("OpenInterest", True, "Open-interest history of perpetuals."),
}
