"""The factor catalog read by id: stored factors with their coverage, values named by outputs, the compute
command of a factor never computed, and the tear sheet of a stored factor (equal to the research module's on the
same data) — on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import make_bars
from zvt_crypto.contract.errors import InvalidInputError, NoUsableDataError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.factors import compute_factor, load_factor, make_factor
from zvt_crypto.factors.catalog import (
    compute_command,
    factor_entities,
    factor_meta,
    factor_tear_sheet,
    factor_values,
    parse_factor_id,
    stored_factors,
)
from zvt_crypto.factors.research import tear_sheet

IDS = ["pair_binance_BTC-USDT", "pair_binance_ETH-USDT", "pair_binance_SOL-USDT"]


def fill(store: Store, n: int = 120) -> None:
    store.write(Bar, pd.concat([make_bars(entity, n=n, seed=seed) for seed, entity in enumerate(IDS)]))
    compute_factor(make_factor("rsi", {"window": 6}), exchange="binance", level="1h", store=store).check()
    compute_factor(make_factor("macd"), exchange="binance", symbols=["BTC/USDT"], level="1h", store=store).check()


def test_stored_factors_values_and_entities(store: Store) -> None:
    assert stored_factors(store).empty and list(stored_factors(store))[:2] == ["factor_id", "name"]
    fill(store)
    catalog = stored_factors(store).set_index("factor_id")
    assert list(catalog.index) == ["macd:1h:fast=12,signal=9,slow=26", "rsi:1h:window=6"]
    rsi = catalog.loc["rsi:1h:window=6"]
    bars = make_bars(IDS[0], n=120)
    assert (rsi["name"], rsi["level"], rsi["params"], list(rsi["outputs"])) == ("rsi", "1h", {"window": 6}, ["rsi"])
    assert (rsi["entities"], rsi["rows"]) == (3, 360)
    assert (rsi["first"], rsi["last"]) == (bars["timestamp"].iloc[0], bars["timestamp"].iloc[-1])
    assert catalog.loc["macd:1h:fast=12,signal=9,slow=26", "entities"] == 1
    assert factor_entities("rsi:1h:window=6", store) == IDS
    values = factor_values("macd:1h:fast=12,signal=9,slow=26", store=store)
    expected = load_factor("macd", level="1h", exchange="binance", store=store)
    pd.testing.assert_frame_equal(values, expected[["macd", "signal", "hist"]])
    eth = factor_values("rsi:1h:window=6", entity_ids=[IDS[1]], start=bars["timestamp"].iloc[100], store=store)
    assert len(eth) == 20 and set(eth.index.get_level_values("entity_id")) == {IDS[1]}


def test_a_factor_never_computed_names_the_command(sqlite_store: Store) -> None:
    assert factor_meta("rsi:1h:window=6", sqlite_store) is None
    factor_id = make_factor("macd", {"fast": 8}).factor_id("4h")
    assert parse_factor_id(factor_id) == ("macd", "4h", {"fast": "8", "signal": "9", "slow": "26"})
    params = "--param fast=8 --param signal=9 --param slow=26"
    expected = f"zvt-crypto factor compute macd --exchange binance --level 4h {params}"
    assert compute_command(factor_id, "binance") == expected
    with pytest.raises(InvalidInputError, match=f"compute them first: zvt-crypto factor compute macd --exchange "
                                                f"EXCHANGE --level 4h {params}"):  # the exchange is the caller's
        factor_values(factor_id, store=sqlite_store)
    with pytest.raises(InvalidInputError, match="not a factor id"):
        parse_factor_id("rsi")


def test_tear_sheet_of_a_stored_factor_is_the_research_modules(sqlite_store: Store) -> None:
    store = sqlite_store
    fill(store)
    sheet = factor_tear_sheet("rsi:1h:window=6", periods=(1, 3), q=3, store=store)
    factor = load_factor("rsi", params={"window": 6}, level="1h", exchange="binance", store=store)["rsi"].dropna()
    close = Bar.query_data(entity_ids=IDS, level="1h", columns=["close"], store=store)["close"]
    expected = tear_sheet(factor, close, periods=(1, 3), q=3, max_lag=3)
    pd.testing.assert_frame_equal(sheet.ic_summary, expected.ic_summary)
    pd.testing.assert_frame_equal(sheet.quantiles.mean, expected.quantiles.mean)
    with pytest.raises(InvalidInputError, match="has no output 'nope'"):
        factor_tear_sheet("rsi:1h:window=6", output="nope", store=store)
    with pytest.raises(NoUsableDataError, match=r"two or more symbols .* \(found: BTC/USDT\)"):
        factor_tear_sheet("macd:1h:fast=12,signal=9,slow=26", store=store)  # one symbol: no cross-section
