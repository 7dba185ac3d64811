"""What a factor reads: one object per computation that fetches each input once, in one query per schema.

The engine fills the main level's bars itself (trimmed to exactly the warm-up each entity needs); every other
input — another level, funding, open interest, mark/index bars, other entities — is read on first use from the
earliest time the computation needs up to its end, and cached for the rest of the computation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store

OHLCV = ("open", "high", "low", "close", "volume")


@dataclass
class FactorInput:
    """Inputs of one factor computation for ``entity_ids`` at ``level`` between ``start_ms`` (the earliest
    warm-up bar, ``None`` for the beginning) and ``end_ms`` (inclusive, ``None`` for the newest)."""

    store: Store
    entity_ids: list[str]
    level: Level
    start_ms: int | None = None
    end_ms: int | None = None
    #: the earliest bar whose value will be kept (earlier ones are warm-up); a factor may skip work before it
    output_from_ms: int | None = None
    _cache: dict[Any, pd.DataFrame] = field(default_factory=dict, repr=False)
    #: inputs read beyond the main bars that had no row for an entity: ``(schema name, level or None, entity)``
    missing: list[tuple[str, str | None, str]] = field(default_factory=list, repr=False)
    #: hears how many entities a factor computed one entity at a time has done (a progress bar's count)
    on_entity: Callable[[int], None] | None = field(default=None, repr=False)

    def bars(self, level: Level | str | None = None, *, schema: type[Schema] | None = None,
             entity_ids: Sequence[str] | None = None, columns: Sequence[str] = OHLCV) -> pd.DataFrame:
        """Bars (``schema``: Bar, MarkPriceBar, IndexPriceBar) indexed ``(entity_id, timestamp)``."""
        from zvt_crypto.domain import Bar

        schema = schema or Bar
        level = Level.parse(level) if level is not None else self.level
        if schema is Bar and level == self.level and entity_ids is None and ("main", tuple(columns)) in self._cache:
            return self._cache[("main", tuple(columns))]
        wanted = [c for c in columns if c in schema.__table__.c]
        return self.series(schema, level=level, entity_ids=entity_ids, columns=wanted)

    def series(self, schema: type[Schema], *, level: Level | str | None = None,
               entity_ids: Sequence[str] | None = None, columns: Sequence[str] | None = None,
               start_ms: int | None = None) -> pd.DataFrame:
        """Rows of any time series (funding, open interest, …) for the computation's time range."""
        ids = tuple(entity_ids) if entity_ids is not None else tuple(self.entity_ids)
        start = self.start_ms if start_ms is None else start_ms
        key = (schema.__name__, str(level), ids, tuple(columns or ()), start)
        if key not in self._cache:
            frame = schema.query_data(
                entity_ids=list(ids), level=level, columns=list(columns) if columns else None,
                start_timestamp=start, end_timestamp=self.end_ms, store=self.store)
            self._cache[key] = frame
            found = set(frame.index.get_level_values("entity_id")) if "entity_id" in frame.index.names else set()
            level_name = None if level is None else str(Level.parse(level))
            self.missing += [(schema.__name__, level_name, e) for e in ids
                             if e not in found and (schema.__name__, level_name, e) not in self.missing]
        return self._cache[key]

    def set_main_bars(self, frame: pd.DataFrame, columns: Sequence[str] = OHLCV) -> None:
        self._cache[("main", tuple(columns))] = frame
