"""Crypto-native factors: what only a store of funding, mark/index prices, open interest and several venues
can compute. Every input is aligned onto the bar grid by the time it becomes known (a bar stamped ``t``
closes at ``t + level``; a funding payment at ``T`` or an open-interest sample stamped ``T`` is known to the
bars that close at or after ``T``), so none of them looks ahead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import check_exchange_id, entity_id, parse_entity_id, symbol_of
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import series_to_ms
from zvt_crypto.factors.base import Factor
from zvt_crypto.factors.data import FactorInput

_YEAR_MS = 365 * 86_400_000
_DAY_MS = 86_400_000


def align_events(events: pd.DataFrame, index: pd.MultiIndex, level: Level) -> pd.DataFrame:
    """Reindex point-in-time events (indexed ``(entity_id, timestamp)``) onto bars: each bar gets the newest
    event stamped at or before its close."""
    names = list(events.columns)
    right = events.reset_index()
    right["_known"] = series_to_ms(right["timestamp"])
    right = right.drop(columns="timestamp").astype({"entity_id": object}).sort_values("_known")
    left = pd.DataFrame({"entity_id": index.get_level_values("entity_id").astype(object),
                         "_known": series_to_ms(index.get_level_values("timestamp")) + level.ms,
                         "_row": np.arange(len(index))}).sort_values("_known")
    merged = pd.merge_asof(left, right, on="_known", by="entity_id", direction="backward").sort_values("_row")
    return pd.DataFrame(merged[names].to_numpy(dtype="float64"), index=index, columns=names)


def _check_window(name: str, key: str, value: int) -> None:
    if value < 1:
        raise InvalidInputError(f"{name}: {key} must be ≥ 1, got {value}")


class FundingCarry(Factor):
    """Funding-rate carry of a perp: the mean of its last ``window`` funding rates, annualised.

    ``carry = mean(rate over the last window payments) × payments per year`` (from the observed interval:
    8h → 1,095). Positive: longs pay shorts, so a short collects the carry."""

    name = "funding_carry"
    outputs = ("rate", "carry")
    params = {"window": 21}
    category = "crypto"
    entity_type = "perp"

    def validate(self) -> None:
        _check_window(self.name, "window", self.p["window"])

    def compute(self, data: FactorInput) -> pd.DataFrame:
        from zvt_crypto.domain import FundingRate

        bars = data.bars()
        # funding payments are 1–8 h apart: reading 3 days per payment of the window covers any interval
        lookback = None if data.start_ms is None else data.start_ms - self.p["window"] * 3 * _DAY_MS
        funding = data.series(FundingRate, columns=["funding_rate"], start_ms=lookback)
        if funding.empty:
            return pd.DataFrame({"rate": np.nan, "carry": np.nan}, index=bars.index)
        rate = funding["funding_rate"]
        by_entity = rate.groupby(level="entity_id", observed=True, sort=False)
        mean = by_entity.transform(lambda r: r.rolling(self.p["window"]).mean())
        interval = pd.Series(series_to_ms(rate.index.get_level_values("timestamp")), index=rate.index).groupby(
            level="entity_id", observed=True, sort=False).diff()
        per_year = _YEAR_MS / interval.groupby(level="entity_id", observed=True, sort=False).transform(
            lambda gaps: gaps.rolling(self.p["window"], min_periods=1).median())
        events = pd.DataFrame({"rate": rate, "carry": mean * per_year})
        return align_events(events, bars.index, data.level)


class PerpBasis(Factor):
    """Basis of a perp: mark over index (``against=index``) or perp close over the spot pair's close
    (``against=spot``, spot on ``spot_exchange``, default the perp venue's spot twin), minus 1, and its
    ``window``-bar mean."""

    name = "basis"
    outputs = ("basis", "basis_mean")
    params = {"against": "index", "window": 24, "spot_exchange": ""}
    category = "crypto"
    entity_type = "perp"
    SPOT_TWIN = {"binanceusdm": "binance", "binancecoinm": "binance"}

    def validate(self) -> None:
        if self.p["against"] not in ("index", "spot"):
            raise InvalidInputError(f"basis: against must be 'index' or 'spot', got {self.p['against']!r}")
        _check_window(self.name, "window", self.p["window"])
        if self.p["spot_exchange"]:
            check_exchange_id(self.p["spot_exchange"])

    def warmup(self, level: Level) -> int | None:
        return self.p["window"]

    def compute(self, data: FactorInput) -> pd.DataFrame:
        from zvt_crypto.domain import IndexPriceBar, MarkPriceBar

        bars = data.bars()
        if self.p["against"] == "index":
            mark = data.bars(schema=MarkPriceBar, columns=["close"])["close"]
            reference = data.bars(schema=IndexPriceBar, columns=["close"])["close"]
            price = mark.reindex(bars.index)
        else:
            spot_ids = {perp: self.spot_id(perp) for perp in data.entity_ids}
            spot = data.bars(entity_ids=list(spot_ids.values()), columns=["close"])["close"]
            spot = spot.rename(index={s: p for p, s in spot_ids.items()}, level="entity_id")
            reference, price = spot, bars["close"]
        basis = price / reference.reindex(bars.index) - 1.0
        mean = basis.groupby(level="entity_id", observed=True, sort=False).transform(
            lambda b: b.rolling(self.p["window"]).mean())
        return pd.DataFrame({"basis": basis, "basis_mean": mean})

    def spot_id(self, perp_id: str) -> str:
        _, exchange, _ = parse_entity_id(perp_id)
        spot_exchange = self.p["spot_exchange"] or self.SPOT_TWIN.get(exchange, exchange)
        return entity_id(spot_exchange, symbol_of(perp_id).split(":", 1)[0], "pair")  # BTC/USDT:USDT → BTC/USDT


class OpenInterestChange(Factor):
    """Relative change of a perp's open interest over ``window`` samples at the computed level:
    ``oi_t / oi_(t−window) − 1`` (samples recorded at the same level as the bars)."""

    name = "oi_change"
    outputs = ("open_interest", "oi_change")
    params = {"window": 24}
    category = "crypto"
    entity_type = "perp"

    def validate(self) -> None:
        _check_window(self.name, "window", self.p["window"])

    def warmup(self, level: Level) -> int | None:
        return self.p["window"] + 1

    def compute(self, data: FactorInput) -> pd.DataFrame:
        from zvt_crypto.domain import OpenInterest

        bars = data.bars()
        oi = data.series(OpenInterest, level=data.level, columns=["open_interest"])
        if oi.empty:
            return pd.DataFrame({"open_interest": np.nan, "oi_change": np.nan}, index=bars.index)
        value = oi["open_interest"]
        change = value.groupby(level="entity_id", observed=True, sort=False).pct_change(self.p["window"],
                                                                                        fill_method=None)
        return align_events(pd.DataFrame({"open_interest": value, "oi_change": change}), bars.index, data.level)


class CrossExchangeSpread(Factor):
    """Price spread of the same market on another venue: ``close / close_on_other − 1`` at the same bar, and
    its z-score over ``window`` bars (how unusual today's dislocation is)."""

    name = "cross_spread"
    outputs = ("spread", "spread_z")
    params = {"other": "", "window": 48}
    category = "crypto"

    def validate(self) -> None:
        if not self.p["other"]:
            raise InvalidInputError("cross_spread needs the other venue: pass other=<ccxt exchange id>, e.g. okx")
        check_exchange_id(self.p["other"])
        _check_window(self.name, "window", self.p["window"])

    def warmup(self, level: Level) -> int | None:
        return self.p["window"]

    def compute(self, data: FactorInput) -> pd.DataFrame:
        bars = data.bars()
        twins = {entity: self.other_id(entity) for entity in data.entity_ids}
        other = data.bars(entity_ids=list(twins.values()), columns=["close"])["close"]
        other = other.rename(index={o: e for e, o in twins.items()}, level="entity_id")
        spread = bars["close"] / other.reindex(bars.index) - 1.0
        by_entity = spread.groupby(level="entity_id", observed=True, sort=False)
        mean = by_entity.transform(lambda s: s.rolling(self.p["window"]).mean())
        std = by_entity.transform(lambda s: s.rolling(self.p["window"]).std(ddof=0))
        return pd.DataFrame({"spread": spread, "spread_z": (spread - mean) / std.replace(0.0, np.nan)})

    def other_id(self, entity: str) -> str:
        kind, _, symbol = parse_entity_id(entity)
        return f"{kind}_{self.p['other']}_{symbol}"


class _PerUtcDay(Factor):
    category = "crypto"

    def warmup(self, level: Level) -> int | None:
        if level.ms >= _DAY_MS:
            raise InvalidInputError(f"{self.name} is computed from intraday bars; use a level below 1d, not {level}")
        return _DAY_MS // level.ms + 1  # back to the start of the current UTC day, and the close before it

    @staticmethod
    def day_of(index: pd.MultiIndex) -> pd.Series:
        times = series_to_ms(index.get_level_values("timestamp"))
        return pd.Series(times - times % _DAY_MS, index=index)


class RealizedVolatility(_PerUtcDay):
    """Realised volatility of the current UTC day so far: ``sqrt(Σ log-return²)`` over the day's bars (the
    first bar's return from the previous close), annualised with ``sqrt(365)``; resets at 00:00 UTC."""

    name = "realized_vol"
    outputs = ("realized_vol",)

    def compute(self, data: FactorInput) -> pd.DataFrame:
        bars = data.bars()
        close = bars["close"]
        returns = np.log(close).groupby(level="entity_id", observed=True, sort=False).diff()
        day = _PerUtcDay.day_of(bars.index)
        entity = bars.index.get_level_values("entity_id")
        squared = (returns**2).groupby([entity, day.to_numpy()], sort=False).cumsum()
        return pd.DataFrame({"realized_vol": np.sqrt(squared * 365.0)}, index=bars.index)


class VolumeProfile(_PerUtcDay):
    """Volume profile of the current UTC day so far: the point of control (``poc``, the centre of the price
    bin of ``bin_bps`` basis points, measured from the day's first open, holding the most volume), the
    close's distance to it, and the day's cumulative volume; resets at 00:00 UTC."""

    name = "volume_profile"
    outputs = ("poc", "poc_distance", "day_volume")
    params = {"bin_bps": 10.0}

    def validate(self) -> None:
        if not 0 < self.p["bin_bps"] <= 10_000:
            raise InvalidInputError(f"volume_profile: bin_bps must be in (0, 10000], got {self.p['bin_bps']}")

    def compute(self, data: FactorInput) -> pd.DataFrame:
        bars = data.bars()
        entity = bars.index.get_level_values("entity_id").astype(object)
        day = _PerUtcDay.day_of(bars.index).to_numpy()
        keys = [entity, day]
        day_open = bars["open"].groupby(keys, sort=False).transform("first")
        typical = (bars["high"] + bars["low"] + bars["close"]) / 3.0
        width = self.p["bin_bps"] / 10_000.0
        bin_no = np.floor(np.log(typical / day_open) / width)
        volume = bars["volume"]
        in_bin = volume.groupby([entity, day, bin_no.to_numpy()], sort=False).cumsum()
        best = in_bin.groupby(keys, sort=False).cummax()
        # the bar's own bin becomes the POC when its cumulative volume reaches the day's running maximum
        poc_bin = bin_no.where(in_bin >= best).groupby(keys, sort=False).ffill()
        poc = day_open * np.exp((poc_bin + 0.5) * width)
        return pd.DataFrame({"poc": poc, "poc_distance": bars["close"] / poc - 1.0,
                             "day_volume": volume.groupby(keys, sort=False).cumsum()}, index=bars.index)

