"""Markets → entities: spot markets become ``CryptoPair`` rows, perpetual swaps ``CryptoPerp`` rows, and the
currencies they trade ``CryptoAsset`` rows.

A market that disappears from the venue (or turns inactive) is marked ``active = False`` with a
``delist_timestamp``; its row and its data stay, so point-in-time universes remain right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import pandas as pd

from zvt_crypto.contract.ids import EntityType, entity_id
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import CryptoAsset, CryptoPair, CryptoPerp
from zvt_crypto.recorders.base import Recorder, RecordSummary, SymbolResult, VenueUnavailableError, load_markets


def entity_kind(market: dict[str, Any]) -> EntityType | None:
    """``"pair"`` for spot, ``"perp"`` for perpetual swaps, ``None`` for what we do not record (futures, options)."""
    if market.get("spot"):
        return "pair"
    if market.get("swap"):
        return "perp"
    return None


def _nested(market: dict[str, Any], *path: str) -> Any:
    value: Any = market
    for key in path:
        value = (value or {}).get(key)
    return value


def tick_size(value: Any, precision_mode: int | None) -> float | None:
    """A ccxt ``precision`` value as a step size, whatever the client's ``precisionMode``: ``TICK_SIZE`` is one
    already, ``DECIMAL_PLACES`` ``n`` is ``10**-n``; ``SIGNIFICANT_DIGITS`` gives no step at all (4 significant
    digits of a 50,000,000 KRW price is a 10,000 step, of 1,000 KRW a 0.1 step), so it is unknown (``None``)
    rather than a digit count stored as if it were a tick. ``None`` mode: ticks (what most ccxt clients use)."""
    import ccxt

    if value is None:
        return None
    if precision_mode == ccxt.DECIMAL_PLACES:
        return 10.0 ** -float(value)
    if precision_mode == ccxt.SIGNIFICANT_DIGITS:
        return None
    return float(value)


def market_row(exchange: str, market: dict[str, Any], kind: EntityType,
               precision_mode: int | None = None) -> dict[str, Any]:
    """The entity row of a ccxt ``market``; ``precision_mode`` is the client's ``precisionMode``."""
    row = {
        "entity_id": entity_id(exchange, market["symbol"], kind),
        "entity_type": kind,
        "exchange": exchange,
        "symbol": market["symbol"],
        "exchange_symbol": market.get("id"),
        "base": market["base"],
        "quote": market["quote"],
        "active": market.get("active") is not False,
        "list_timestamp": market.get("created"),
        "precision_amount": tick_size(_nested(market, "precision", "amount"), precision_mode),
        "precision_price": tick_size(_nested(market, "precision", "price"), precision_mode),
        "min_amount": _nested(market, "limits", "amount", "min"),
        "max_amount": _nested(market, "limits", "amount", "max"),
        "min_price": _nested(market, "limits", "price", "min"),
        "max_price": _nested(market, "limits", "price", "max"),
        "min_cost": _nested(market, "limits", "cost", "min"),
        "maker_fee": market.get("maker"),
        "taker_fee": market.get("taker"),
    }
    if kind == "perp":
        row.update(settle=market.get("settle") or market["quote"], contract_size=market.get("contractSize") or 1.0,
                   linear=market.get("linear") is not False)
    return row


def write_entities(store: Store, exchange: str, markets: Iterable[dict[str, Any]],
                   precision_mode: int | None = None) -> int:
    """Upsert the entity rows of ``markets``; returns how many rows changed (an unchanged market changes
    nothing). A listing time the store already knows is kept when the venue does not report one.
    ``precision_mode``: the ccxt client's ``precisionMode`` (see :func:`tick_size`)."""
    changed = 0
    by_kind: dict[str, list[dict[str, Any]]] = {"pair": [], "perp": []}
    for market in markets:
        market_kind = entity_kind(market)
        if market_kind:
            by_kind[market_kind].append(market_row(exchange, market, market_kind, precision_mode))
    for kind, rows in by_kind.items():
        if not rows:
            continue
        schema = CryptoPair if kind == "pair" else CryptoPerp
        frame = pd.DataFrame(rows)
        known = schema.query_data(entity_ids=list(frame["entity_id"]), columns=["list_timestamp", "delist_timestamp"],
                                  store=store)
        if not known.empty:
            stored = known["list_timestamp"].reindex(frame["entity_id"]).to_numpy()
            missing = frame["list_timestamp"].isna().to_numpy()
            frame["list_timestamp"] = frame["list_timestamp"].astype(object)
            frame.loc[missing, "list_timestamp"] = [None if pd.isna(v) else v for v in stored[missing]]
            # Fix: a market that trades again after it was marked delisted kept its delist_timestamp, so every
            # later universe (get_entities(as_of=...)) left it out. A live market has no delisting; an inactive
            # one keeps the time it was first seen gone.
            delisted = known["delist_timestamp"].reindex(frame["entity_id"]).to_numpy()
            frame["delist_timestamp"] = [None if active or pd.isna(v) else v
                                         for active, v in zip(frame["active"], delisted, strict=True)]
        changed += store.write(schema, frame).changed
    return changed


def asset_rows(exchange: str, markets: Iterable[dict[str, Any]], currencies: dict[str, Any] | None,
               precision_mode: int | None = None) -> list[dict]:
    """One row per currency traded in ``markets``, with the venue's details where it publishes them (ccxt's
    ``currencies``: many venues, Binance among them, only serve those with an API key)."""
    codes = sorted({code for market in markets for code in (market.get("base"), market.get("quote")) if code})
    rows = []
    for code in codes:
        currency = (currencies or {}).get(code) or {}
        rows.append({
            "entity_id": entity_id(exchange, code, "asset"),
            "entity_type": "asset",
            "exchange": exchange,
            "symbol": code,
            "exchange_symbol": currency.get("id") or code,
            "active": currency.get("active") is not False,
            "name": currency.get("name"),
            "precision_amount": tick_size(currency.get("precision"), precision_mode),
            "withdraw_fee": currency.get("fee"),
            "min_withdraw": _nested(currency, "limits", "withdraw", "min"),
            "max_withdraw": _nested(currency, "limits", "withdraw", "max"),
        })
    return rows


def set_listing_if_unknown(store: Store, eid: str, first_ms: int) -> bool:
    """Venues that do not report a listing time (Binance spot) get it from the first bar: the entity's
    ``list_timestamp`` becomes ``first_ms`` if it is unknown or later."""
    schema = CryptoPerp if eid.startswith("perp_") else CryptoPair
    row = schema.query_data(entity_ids=[eid], store=store, index=None)
    if row.empty:
        return False
    listed = row["list_timestamp"].iloc[0]
    if not pd.isna(listed) and int(listed.value // 1_000_000) <= first_ms:
        return False
    store.write(schema, row.assign(list_timestamp=first_ms))
    return True


def mark_delisted(store: Store, exchange: str, live: set[str], now_ms: int) -> int:
    """Entities of ``exchange`` not in ``live`` (entity ids of active markets) become inactive, delisted now."""
    changed = 0
    for schema in (CryptoPair, CryptoPerp):
        stored = schema.query_data(exchange=exchange, store=store, index=None)
        not_live = ~stored["entity_id"].isin(live)
        gone = stored[not_live & (stored["active"] | stored["delist_timestamp"].isna())]
        if gone.empty:
            continue
        gone = gone.assign(active=False, updated_timestamp=now_ms)
        never_dated = gone["delist_timestamp"].isna()
        gone["delist_timestamp"] = gone["delist_timestamp"].astype(object)
        gone.loc[never_dated, "delist_timestamp"] = now_ms
        changed += store.write(schema, gone).changed
    return changed


class MarketsRecorder(Recorder):
    """All spot pairs and perpetuals of an exchange: ``CryptoPair.record_data(exchange="binance")``."""

    schema: ClassVar[type[Schema]] = CryptoPair  # (the subclasses record other entity schemas)
    capability = "fetchMarkets"
    kind = "markets"

    async def arecord(self, *, exchange: str, symbols: Sequence[str] | str | None = None,
                      show_progress: bool = True, **options: Any) -> RecordSummary:
        async with self.venue_run(exchange, options, label="markets") as (context, summary):
            markets = await load_markets(context, reload=True)
            if not markets:  # ccxt turns a junk 200 body into an empty dict instead of an error
                raise VenueUnavailableError(
                    f"{exchange} returned no markets; the venue answered with an unexpected body")
            recorded = [m for m in markets.values() if entity_kind(m)]
            mode = getattr(context.exchange, "precisionMode", None)
            changed = write_entities(self.store, exchange, recorded, mode)
            assets = asset_rows(exchange, recorded, getattr(context.exchange, "currencies", None), mode)
            if assets:
                changed += self.store.write(CryptoAsset, pd.DataFrame(assets)).changed
            live = {entity_id(exchange, m["symbol"], entity_kind(m)) for m in recorded if m.get("active") is not False}
            # the venue's clock dates the delisting (ours may differ, and the simulator's is in the past)
            delisted = mark_delisted(self.store, exchange, live, await self.venue_now(context))
            summary.results = [SymbolResult(f"{len(recorded)} markets, {len(assets)} assets",
                                            rows=len(recorded), changed=changed + delisted)]
        return summary


class PerpMarketsRecorder(MarketsRecorder):
    """The same job registered for ``CryptoPerp.record_data(exchange="binanceusdm")``."""

    schema = CryptoPerp


class AssetsRecorder(MarketsRecorder):
    """The same job registered for ``CryptoAsset.record_data(exchange="binance")``: currencies come with markets."""

    schema = CryptoAsset
