"""The crypto domain: entities (assets, spot pairs, perps), time-series schemas, and what works on them
(coverage, universes, the kinds a user records, the Alembic history of the tables).

Names resolve lazily, so importing a light module of this package (``domain.kinds``, which the CLI reads at
start-up) does not define every table; ``zvt_crypto.domain.builtin`` defines them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zvt_crypto.domain.entities import ENTITY_SCHEMAS, CryptoAsset, CryptoPair, CryptoPerp
    from zvt_crypto.domain.factors import FactorMeta, FactorValue
    from zvt_crypto.domain.jobs import JobRun, SchedulerJob, SchedulerLock
    from zvt_crypto.domain.paper import PaperAccount, PaperEquity, PaperOrder, PaperTrade
    from zvt_crypto.domain.series import (
        SERIES_SCHEMAS,
        Bar,
        FundingRate,
        IndexPriceBar,
        KnownGap,
        MarkPriceBar,
        OpenInterest,
        OrderBookSnapshot,
        Trade,
    )
    from zvt_crypto.domain.signals import SignalAudit
    from zvt_crypto.domain.trading import BacktestEquity, BacktestRun, BacktestTrade

_MODULES = {
    "entities": ("ENTITY_SCHEMAS", "CryptoAsset", "CryptoPair", "CryptoPerp"),
    "factors": ("FactorMeta", "FactorValue"),
    "jobs": ("JobRun", "SchedulerJob", "SchedulerLock"),
    "paper": ("PaperAccount", "PaperEquity", "PaperOrder", "PaperTrade"),
    "series": ("SERIES_SCHEMAS", "Bar", "FundingRate", "IndexPriceBar", "KnownGap", "MarkPriceBar", "OpenInterest",
               "OrderBookSnapshot", "Trade"),
    "signals": ("SignalAudit",),
    "trading": ("BacktestEquity", "BacktestRun", "BacktestTrade"),
}
_EXPORTS = {name: f"zvt_crypto.domain.{module}" for module, names in _MODULES.items() for name in names}
__all__ = [
    "ENTITY_SCHEMAS", "SERIES_SCHEMAS", "BacktestEquity", "BacktestRun", "BacktestTrade", "Bar", "CryptoAsset",
    "CryptoPair", "CryptoPerp", "FactorMeta", "FactorValue", "FundingRate", "IndexPriceBar", "JobRun", "KnownGap",
    "MarkPriceBar", "OpenInterest", "OrderBookSnapshot", "PaperAccount", "PaperEquity", "PaperOrder", "PaperTrade",
    "SchedulerJob", "SchedulerLock", "SignalAudit", "Trade",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'zvt_crypto.domain' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
