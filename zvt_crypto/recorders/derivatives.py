"""Perp-specific series: funding-rate history and open-interest history, paged forward in time."""

from __future__ import annotations

from typing import Any

import pandas as pd

from zvt_crypto.contract.levels import DAY_MS
from zvt_crypto.domain import FundingRate, OpenInterest
from zvt_crypto.recorders.base import RunContext
from zvt_crypto.recorders.paged import PagedRecorder


def _check_records(required: tuple[str, ...]) -> Any:
    def check(records: Any) -> None:
        import ccxt

        if not isinstance(records, list):
            raise ccxt.BadResponse(f"expected a list of records, got {type(records).__name__}")
        for record in records:
            missing = [key for key in required if not isinstance(record, dict) or record.get(key) is None]
            if missing:
                raise ccxt.BadResponse(f"record without {', '.join(missing)}: {record!r}")

    return check


class FundingRateRecorder(PagedRecorder):
    """``FundingRate.record_data(exchange="binanceusdm", symbols=["BTC/USDT:USDT"])`` — every funding time."""

    schema = FundingRate
    capability = "fetchFundingRateHistory"
    kind = "funding rates"
    leveled = False
    contracts_only = True

    def page_limit(self, context: RunContext) -> int:
        return 1000

    def row_spacing_ms(self, context: RunContext) -> int | None:
        return 8 * 3_600_000  # most venues fund every 8h: an estimate for the progress bar, redone after each page

    async def fetch_page(self, context: RunContext, symbol: str, since: int, limit: int) -> pd.DataFrame:
        records = await context.client.call("fetch_funding_rate_history", symbol, since, limit,
                                            check=_check_records(("timestamp", "fundingRate")))
        return pd.DataFrame({
            "timestamp": pd.array([r["timestamp"] for r in records], dtype="int64"),
            "funding_rate": [float(r["fundingRate"]) for r in records],
            "mark_price": [_float((r.get("info") or {}).get("markPrice")) for r in records],
        })


class OpenInterestRecorder(PagedRecorder):
    """``OpenInterest.record_data(exchange="binanceusdm", symbols=[...], level="1h")``; Binance keeps 30 days."""

    schema = OpenInterest
    capability = "fetchOpenInterestHistory"
    kind = "open interest"
    contracts_only = True
    default_lookback_ms = 29 * DAY_MS

    def page_limit(self, context: RunContext) -> int:
        return 500

    def supported_levels(self, exchange: Any) -> set[str] | None:
        return {"5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"} if exchange.id.startswith("binance") else None

    def history_limit_ms(self, exchange: Any) -> int | None:
        # Binance serves the last 30 days only; the first run's 29 days keep a margin for clock skew
        return self.default_lookback_ms if exchange.id.startswith("binance") else None

    async def fetch_page(self, context: RunContext, symbol: str, since: int, limit: int) -> pd.DataFrame:
        timeframe = context.options["level"].timeframe
        records = await context.client.call("fetch_open_interest_history", symbol, timeframe, since, limit,
                                            check=_check_records(("timestamp",)))
        return pd.DataFrame({
            "timestamp": pd.array([r["timestamp"] for r in records], dtype="int64"),
            "open_interest": [_float(r.get("openInterestAmount")) for r in records],
            "open_interest_value": [_float(r.get("openInterestValue")) for r in records],
        })


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
