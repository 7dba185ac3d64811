"""Crypto-native factors against straightforward reference computations (loops are fine here: they are the
independent check of the vectorised code)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.sample import sample_bars
from zvt_crypto.domain import Bar, FundingRate, IndexPriceBar, MarkPriceBar, OpenInterest
from zvt_crypto.factors.crypto import (
    CrossExchangeSpread,
    FundingCarry,
    OpenInterestChange,
    PerpBasis,
    RealizedVolatility,
    VolumeProfile,
)
from zvt_crypto.factors.engine import compute_factor, load_factor

PERP = "perp_binanceusdm_BTC-USDT.USDT"
SPOT = "pair_binance_BTC-USDT"
OKX = "pair_okx_BTC-USDT"
T0 = pd.Timestamp("2024-01-01", tz="UTC")
HOUR = pd.Timedelta(hours=1)


def hourly(store: Store, entity: str, n: int = 24 * 10, seed_symbol: str = "BTC/USDT", schema: type = Bar,
           volatility: float = 0.01) -> pd.DataFrame:
    bars = sample_bars(seed_symbol, T0, n, "1h", volatility=volatility).assign(entity_id=entity)
    if schema is not Bar:
        bars = bars[["entity_id", "timestamp", "open", "high", "low", "close"]]
    store.write(schema, bars, level="1h")
    return bars.set_index("timestamp")


def values_of(store: Store, factor: object, entity: str) -> pd.DataFrame:
    compute_factor(factor, entity_ids=[entity], level="1h", store=store)  # type: ignore[arg-type]
    return load_factor(factor, entity_ids=[entity], level="1h", store=store).xs(entity)  # type: ignore[arg-type]


def test_funding_carry_is_the_annualised_mean_of_known_rates(sqlite_store: Store) -> None:
    bars = hourly(sqlite_store, PERP)
    times = pd.date_range(T0, periods=30, freq="8h")
    rates = np.random.default_rng(1).normal(1e-4, 5e-5, len(times))
    sqlite_store.write(FundingRate, pd.DataFrame({"entity_id": PERP, "timestamp": times, "funding_rate": rates}))
    values = values_of(sqlite_store, FundingCarry(window=3), PERP)
    for stamp in bars.index[[0, 7, 8, 30, 200]]:
        known = [i for i, t in enumerate(times) if t <= stamp + HOUR]  # paid by the bar's close
        last = known[-1]
        assert values.at[stamp, "rate"] == rates[last]
        expected = np.mean(rates[last - 2: last + 1]) * 365 * 3 if last >= 2 else np.nan
        np.testing.assert_allclose(values.at[stamp, "carry"], expected, rtol=1e-12)


def test_basis_against_index_and_against_spot(sqlite_store: Store) -> None:
    perp = hourly(sqlite_store, PERP, 48)
    mark = hourly(sqlite_store, PERP, 48, seed_symbol="mark", schema=MarkPriceBar)
    index = hourly(sqlite_store, PERP, 48, seed_symbol="index", schema=IndexPriceBar)
    spot = hourly(sqlite_store, SPOT, 48, seed_symbol="spot")
    by_index = values_of(sqlite_store, PerpBasis(window=4), PERP)
    np.testing.assert_allclose(by_index["basis"], mark["close"] / index["close"] - 1, rtol=1e-12)
    np.testing.assert_allclose(by_index["basis_mean"].iloc[3:],
                               (mark["close"] / index["close"] - 1).rolling(4).mean().iloc[3:], rtol=1e-9)
    by_spot = values_of(sqlite_store, PerpBasis(against="spot", window=4), PERP)
    np.testing.assert_allclose(by_spot["basis"], perp["close"] / spot["close"] - 1, rtol=1e-12)
    assert PerpBasis().spot_id(PERP) == SPOT
    with pytest.raises(InvalidInputError, match="against must be"):
        PerpBasis(against="future")


def test_open_interest_change(sqlite_store: Store) -> None:
    hourly(sqlite_store, PERP, 48)
    oi = 1000 + np.arange(48) * 10.0
    stamps = pd.date_range(T0, periods=48, freq="1h")
    sqlite_store.write(OpenInterest, pd.DataFrame({"entity_id": PERP, "timestamp": stamps, "open_interest": oi}),
                       level="1h")
    values = values_of(sqlite_store, OpenInterestChange(window=6), PERP)
    # a sample stamped T is known to the bar that closes at or after T: the bar stamped T - 1h
    np.testing.assert_allclose(values["open_interest"].iloc[:-1], oi[1:])
    np.testing.assert_allclose(values["oi_change"].iloc[5:-1], oi[6:] / oi[:-6] - 1, rtol=1e-12)
    assert values["oi_change"].iloc[:5].isna().all()


def test_cross_exchange_spread(sqlite_store: Store) -> None:
    binance = hourly(sqlite_store, SPOT, 72)
    okx = hourly(sqlite_store, OKX, 72, seed_symbol="okx")
    values = values_of(sqlite_store, CrossExchangeSpread(other="okx", window=10), SPOT)
    spread = binance["close"] / okx["close"] - 1
    np.testing.assert_allclose(values["spread"], spread, rtol=1e-12)
    z = (spread - spread.rolling(10).mean()) / spread.rolling(10).std(ddof=0)
    np.testing.assert_allclose(values["spread_z"].iloc[9:], z.iloc[9:], rtol=1e-7)
    with pytest.raises(InvalidInputError, match="needs the other venue"):
        CrossExchangeSpread()


def test_realized_volatility_resets_each_utc_day(sqlite_store: Store) -> None:
    bars = hourly(sqlite_store, SPOT, 72)
    values = values_of(sqlite_store, RealizedVolatility(), SPOT)
    log_close = np.log(bars["close"])
    for stamp in bars.index[[1, 23, 24, 25, 47, 71]]:
        day_start = stamp.floor("1D")
        returns = [log_close[t] - log_close[t - HOUR] for t in bars.index
                   if day_start <= t <= stamp and t - HOUR in log_close.index]
        np.testing.assert_allclose(values.at[stamp, "realized_vol"], math.sqrt(sum(r * r for r in returns) * 365),
                                   rtol=1e-12)
    with pytest.raises(InvalidInputError, match="below 1d"):
        RealizedVolatility().warmup(__import__("zvt_crypto.contract.levels", fromlist=["Level"]).Level.parse("1d"))


def test_volume_profile_point_of_control(sqlite_store: Store) -> None:
    bars = hourly(sqlite_store, SPOT, 48, volatility=0.004)
    values = values_of(sqlite_store, VolumeProfile(bin_bps=20.0), SPOT)
    width = 20 / 10_000
    for stamp in bars.index[[0, 5, 23, 24, 40]]:
        day = bars[(bars.index >= stamp.floor("1D")) & (bars.index <= stamp)]
        day_open = day["open"].iloc[0]
        bins: dict[float, float] = {}
        best_bin, best = None, -1.0
        for _, row in day.iterrows():
            b = math.floor(math.log((row.high + row.low + row.close) / 3 / day_open) / width)
            bins[b] = bins.get(b, 0.0) + row.volume
            if bins[b] >= best:
                best_bin, best = b, bins[b]
        poc = day_open * math.exp((best_bin + 0.5) * width)
        np.testing.assert_allclose(values.at[stamp, "poc"], poc, rtol=1e-12)
        np.testing.assert_allclose(values.at[stamp, "day_volume"], day["volume"].sum(), rtol=1e-12)


def test_incremental_runs_equal_a_full_run(sqlite_store: Store, sqlite_template: Path, tmp_path: Path) -> None:
    import shutil

    full_path = tmp_path / "full.db"
    shutil.copyfile(sqlite_template, full_path)
    full = Store(f"sqlite:///{full_path}")
    try:
        for store in (sqlite_store, full):
            hourly(store, SPOT, 24 * 6)
        factors = [RealizedVolatility(), VolumeProfile()]
        for factor in factors:
            for end in ("2024-01-02T05:00Z", "2024-01-04T17:00Z", None):
                compute_factor(factor, entity_ids=[SPOT], level="1h", end=end, store=sqlite_store)
            compute_factor(factor, entity_ids=[SPOT], level="1h", store=full)
            pd.testing.assert_frame_equal(load_factor(factor, entity_ids=[SPOT], level="1h", store=sqlite_store),
                                          load_factor(factor, entity_ids=[SPOT], level="1h", store=full))
    finally:
        full.dispose()
