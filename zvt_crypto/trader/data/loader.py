"""Reading the store into a :class:`~.container.MarketData`: bars, funding and market specs, one query per table.

>>> data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h",
...                         start="2024-01-01", end="2024-06-30")          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id as make_entity_id
from zvt_crypto.contract.ids import entity_type_of_symbol
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store, StoreLike, get_store
from zvt_crypto.contract.timeutil import TimeLike, check_range, iso, to_ms
from zvt_crypto.trader.data.container import DataSource, MarketData, SymbolSpec
from zvt_crypto.trader.data.frames import FIELDS


def load_market_data(
    *,
    exchange: str,
    symbols: Sequence[str],
    level: Level | str,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    store: StoreLike = None,
) -> MarketData:
    """Bars, funding and market specs of ``symbols`` on ``exchange`` at ``level`` between ``start`` and ``end``
    (inclusive, UTC), read in one query per table.

    An empty range, or a symbol without bars in it, is an :class:`InvalidInputError` that names the range and
    says what the store holds for those symbols.

    >>> data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h")  # doctest: +SKIP
    """
    from zvt_crypto.domain import Bar, FundingRate

    store = get_store(store)
    level = Level.parse(level)
    symbols = list(dict.fromkeys(symbols))
    if not symbols:
        raise InvalidInputError("name at least one symbol")
    start_ms = None if start is None else to_ms(start)
    end_ms = None if end is None else to_ms(end)
    check_range(start_ms, end_ms)
    ids = [make_entity_id(exchange, symbol) for symbol in symbols]
    bars = Bar.query_data(
        entity_ids=ids, level=level, columns=list(FIELDS), start_timestamp=start_ms, end_timestamp=end_ms, store=store
    )
    present = set(bars.index.get_level_values("entity_id").unique().astype(str)) if len(bars) else set()
    missing = [symbol for symbol, entity in zip(symbols, ids, strict=True) if entity not in present]
    if missing:
        raise InvalidInputError(_empty_message(store, exchange, missing, ids, symbols, level, start_ms, end_ms))

    specs = market_specs(exchange, symbols, store=store)

    funding = None
    perp_ids = [entity for entity in ids if entity.startswith("perp_")]
    if perp_ids:
        last = None if end_ms is None else end_ms + level.ms
        funding = FundingRate.query_data(
            entity_ids=perp_ids,
            start_timestamp=start_ms,
            end_timestamp=last,
            columns=["funding_rate", "mark_price"],
            store=store,
        )
        funding = funding.reset_index()
    source = DataSource(
        store_url=store.url.render_as_string(hide_password=False),
        exchange=exchange,
        level=str(level),
        start=start_ms,
        end=end_ms,
    )
    return MarketData.from_bars(bars, specs=specs, level=str(level), exchange=exchange, funding=funding, source=source)


def market_specs(exchange: str, symbols: Sequence[str], *, store: StoreLike = None) -> list[SymbolSpec]:
    """The trading rules of ``symbols`` on ``exchange`` from the stored markets (defaults for a market the store
    lacks). Fees the market has no data for (imported bars) are the venue's published defaults from ccxt's fee
    table (:func:`~zvt_crypto.trader.fees.venue_default_fees`), or unknown."""
    from zvt_crypto.domain import CryptoPair, CryptoPerp
    from zvt_crypto.trader.fees import MARKET, venue_default_fees

    store = get_store(store)
    ids = [make_entity_id(exchange, symbol) for symbol in symbols]
    entities: dict[str, dict[str, Any]] = {}
    for schema in (CryptoPair, CryptoPerp):
        wanted = [e for e in ids if (e.startswith("perp_") if schema is CryptoPerp else e.startswith("pair_"))]
        if wanted:
            frame = schema.query_data(entity_ids=wanted, store=store)
            entities.update(frame.to_dict("index"))
    specs = []
    for symbol, entity in zip(symbols, ids, strict=True):
        row = entities.get(entity, {})
        perp = entity_type_of_symbol(symbol) == "perp"
        linear = bool(row.get("linear", True)) if perp else True
        if perp and not linear:
            raise InvalidInputError(f"{symbol} is an inverse perp; the engine supports spot pairs and linear perps")
        source: str | None = MARKET
        maker, taker = _num(row.get("maker_fee")), _num(row.get("taker_fee"))
        if taker is None:
            maker, taker, source = venue_default_fees(exchange, perp=perp) or (None, None, None)
        specs.append(
            SymbolSpec(
                symbol=symbol,
                entity_id=entity,
                perp=perp,
                contract_size=_num(row.get("contract_size"), 1.0),
                step=_num(row.get("precision_amount")),
                min_amount=_num(row.get("min_amount")),
                min_cost=_num(row.get("min_cost")),
                maker_fee=maker,
                taker_fee=taker,
                linear=linear,
                fee_source=source,
            )
        )
    return specs


def _empty_message(
    store: Store,
    exchange: str,
    missing: list[str],
    ids: list[str],
    symbols: list[str],
    level: Level,
    start_ms: int | None,
    end_ms: int | None,
) -> str:
    from sqlalchemy import func, select

    from zvt_crypto.contract.reader import in_values
    from zvt_crypto.domain import Bar

    table = Bar.__table__
    wanted = [entity for symbol, entity in zip(symbols, ids, strict=True) if symbol in missing]
    statement = (
        select(table.c.entity_id, table.c.level, func.min(table.c.timestamp), func.max(table.c.timestamp), func.count())
        .where(in_values(table.c.entity_id, wanted, store.dialect))
        .group_by(table.c.entity_id, table.c.level)
        .order_by(table.c.entity_id, table.c.level)
    )
    with store.begin() as connection:
        rows = connection.execute(statement).all()
    span = f"between {iso(start_ms) or 'the beginning'} and {iso(end_ms) or 'the end'}"
    stored = (
        "; ".join(
            f"{entity} {lvl}: {iso(to_ms(first))} … {iso(to_ms(last))} ({count} bars)"
            for entity, lvl, first, last, count in rows
        )
        or "no bars at any level"
    )
    return (
        f"no {level} bars of {', '.join(missing)} on {exchange} {span}; the store holds: {stored}. "
        f"Record or import them (zvt-crypto record bars --exchange {exchange} --symbol … --level {level}) "
        "or change --start/--end/--level"
    )


@overload
def _num(value: Any) -> float | None: ...
@overload
def _num(value: Any, default: float) -> float: ...
def _num(value: Any, default: float | None = None) -> float | None:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if not np.isfinite(number) else number
