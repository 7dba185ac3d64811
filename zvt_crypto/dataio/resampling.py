"""Bars of a level the venue does not serve, built exactly from stored bars of a level it does.

``zvt-crypto record bars --level 4h`` on a venue without 4h candles is refused, naming the coarsest level it serves
that divides 4h; :func:`resample_stored` (``zvt-crypto resample``) then builds the 4h bars from those, by
:func:`zvt_crypto.contract.resample.resample_bars`: complete intervals only, so a bar is never built from part of
its interval (a gap or the still-open end leaves it out, and a later run builds it once it is complete).
"""

from __future__ import annotations

from dataclasses import dataclass

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.contract.timeutil import TimeLike, iso, to_ms


@dataclass(frozen=True)
class Resampled:
    """What one :func:`resample_stored` did: source bars read, target bars built, and of those newly stored."""

    entity_id: str
    source: str
    target: str
    read: int
    built: int
    changed: int

    def __str__(self) -> str:
        return (f"{self.entity_id}: {self.built} {self.target} bars built from {self.read} {self.source} bars "
                f"({self.changed} new or changed; incomplete intervals left out)")


def resample_stored(
    store: Store | str,
    *,
    exchange: str,
    symbol: str,
    source: Level | str,
    target: Level | str,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
) -> Resampled:
    """Build and store the ``target`` bars of ``symbol`` on ``exchange`` from its stored ``source`` bars whose
    ``target`` interval lies in ``[start, end]`` (both optional). Idempotent: building again changes nothing.

    >>> resample_stored(store, exchange="coinbase", symbol="BTC/USD", source="2h", target="4h")  # doctest: +SKIP
    """
    from zvt_crypto.contract.resample import resample_bars
    from zvt_crypto.domain import Bar

    store = get_store(store)
    src, tgt = Level.parse(source), Level.parse(target)
    if src == tgt or not src.divides(tgt):
        raise InvalidInputError(f"cannot build {tgt} bars from {src} bars; the source level must divide the target "
                                f"(e.g. --from 1h --to {tgt})")
    eid = entity_id(exchange, symbol)
    since = None if start is None else tgt.floor(to_ms(start))  # whole target intervals only
    until = None if end is None else tgt.floor(to_ms(end)) + tgt.ms - 1
    bars = Bar.query_data(entity_ids=[eid], level=src, start_timestamp=since, end_timestamp=until, store=store)
    if len(bars) == 0:
        where = f" from {iso(since)}" if since is not None else ""
        raise InvalidInputError(f"no {src} bars of {eid} stored{where}; record them first: zvt-crypto record bars "
                                f"--exchange {exchange} --symbol {symbol} --level {src}")
    built = resample_bars(bars, src, tgt)
    changed = store.write(Bar, built, level=tgt).changed if len(built) else 0
    return Resampled(eid, str(src), str(tgt), len(bars), len(built), changed)
