"""get_entities: the universe as of a time (listing and delisting times, unknown listing time counts as listed)."""

from __future__ import annotations

import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import CryptoPair
from zvt_crypto.domain.universe import get_entities


def pair_row(symbol: str, exchange: str = "binance", listed: str | None = None, delisted: str | None = None,
             active: bool = True) -> dict[str, object]:
    base, quote = symbol.split("/")
    return {
        "entity_id": f"pair_{exchange}_{base}-{quote}", "entity_type": "pair", "exchange": exchange,
        "symbol": symbol, "base": base, "quote": quote, "active": active,
        "list_timestamp": pd.Timestamp(listed, tz="UTC") if listed else None,
        "delist_timestamp": pd.Timestamp(delisted, tz="UTC") if delisted else None,
    }


@pytest.fixture
def universe(store: Store) -> Store:
    pairs = pd.DataFrame([
        pair_row("OLD/USDT", listed="2020-01-01"),
        pair_row("NEW/USDT", listed="2024-06-01"),  # listed after the as-of date
        pair_row("GONE/USDT", listed="2019-01-01", delisted="2023-01-01", active=False),  # delisted before
        pair_row("UNKNOWN/USDT"),  # listing time unknown: counts as listed
        pair_row("EDGE/USDT", listed="2024-01-01"),  # listed exactly at the as-of time
        pair_row("LATE/USDT", listed="2021-01-01", delisted="2024-01-01", active=False),  # delisted exactly then
        pair_row("BTC/USDT", exchange="okx", listed="2020-01-01"),
    ])
    store.write(CryptoPair, pairs)
    return store


def symbols_of(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["symbol"])


def test_get_entities_as_of(universe: Store) -> None:
    as_of = get_entities("pair", exchange="binance", as_of="2024-01-01", store=universe)
    assert symbols_of(as_of) == ["EDGE/USDT", "OLD/USDT", "UNKNOWN/USDT"]
    assert as_of.index.name == "entity_id"
    earlier = get_entities("pair", exchange="binance", as_of="2022-06-01", store=universe)
    assert symbols_of(earlier) == ["GONE/USDT", "LATE/USDT", "OLD/USDT", "UNKNOWN/USDT"]
    later = get_entities("pair", as_of=pd.Timestamp("2025-01-01", tz="UTC"), store=universe)
    assert symbols_of(later) == ["BTC/USDT", "EDGE/USDT", "NEW/USDT", "OLD/USDT", "UNKNOWN/USDT"]


def test_get_entities_without_as_of(universe: Store) -> None:
    everything = get_entities("pair", store=universe)
    assert len(everything) == 7
    assert everything.loc["pair_binance_GONE-USDT", "active"] == False  # noqa: E712 - a numpy bool
    assert everything.loc["pair_binance_GONE-USDT", "delist_timestamp"] == pd.Timestamp("2023-01-01", tz="UTC")
    okx = get_entities("pair", exchange="okx", columns=["symbol"], store=universe)
    assert list(okx.columns) == ["symbol"]
    assert okx.index.tolist() == ["pair_okx_BTC-USDT"]
    named = get_entities("pair", exchange="binance", symbols=["OLD/USDT", "NEW/USDT"], store=universe)
    assert symbols_of(named) == ["NEW/USDT", "OLD/USDT"]
    assert get_entities("perp", store=universe).empty
    with pytest.raises(InvalidInputError, match="unknown entity type 'future'"):
        get_entities("future", store=universe)
