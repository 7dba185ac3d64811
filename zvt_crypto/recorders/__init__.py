"""Recorders: fetch venue data through ccxt into the store, incrementally and resiliently.

Importing this package defines (and so registers) the built-in ccxt recorders; ``Schema.record_data`` finds
them through :func:`zvt_crypto.contract.registry.recorder_for`. Third-party recorders register the same way
from a module named in the ``zvt_crypto.recorders`` entry-point group.
"""

from zvt_crypto.recorders.bars import BarsRecorder, IndexPriceBarsRecorder, MarkPriceBarsRecorder
from zvt_crypto.recorders.base import Recorder, RecordSummary, SymbolResult
from zvt_crypto.recorders.derivatives import FundingRateRecorder, OpenInterestRecorder
from zvt_crypto.recorders.markets import MarketsRecorder, PerpMarketsRecorder
from zvt_crypto.recorders.paged import PagedRecorder
from zvt_crypto.recorders.trades import OrderBookRecorder, TradesRecorder

__all__ = [
    "BarsRecorder", "FundingRateRecorder", "IndexPriceBarsRecorder", "MarkPriceBarsRecorder", "MarketsRecorder",
    "OpenInterestRecorder", "OrderBookRecorder", "PagedRecorder", "PerpMarketsRecorder", "RecordSummary",
    "Recorder", "SymbolResult", "TradesRecorder",
]
