"""The crypto domain: entities (assets, spot pairs, perps) and time-series schemas."""

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
from zvt_crypto.domain.trading import BacktestEquity, BacktestRun, BacktestTrade

__all__ = [
    "ENTITY_SCHEMAS", "SERIES_SCHEMAS", "BacktestEquity", "BacktestRun", "BacktestTrade", "Bar", "CryptoAsset",
    "CryptoPair", "CryptoPerp", "FactorMeta", "FactorValue", "FundingRate", "IndexPriceBar", "JobRun", "KnownGap",
    "MarkPriceBar", "OpenInterest", "OrderBookSnapshot", "PaperAccount", "PaperEquity", "PaperOrder", "PaperTrade",
    "SchedulerJob", "SchedulerLock", "Trade",
]
