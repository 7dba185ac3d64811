"""Coverage and gap audit of leveled series (bars, mark/index bars, open interest).

For every entity and level: first and last timestamp, row count, the count the level's grid expects between
them, and every gap (missing bars on the grid) — computed in SQL with a window function, so it scans the
table once whatever its size. Gaps the venue confirmed empty (``KnownGap`` rows) are labelled ``known``.

With a requested range (``start`` / ``end``) only the rows inside it count, and the bars missing at its ends are
gaps too: a series recorded up to yesterday is not complete up to today's ``end`` (a run that stopped early left
its end untouched, which the stored rows alone never show).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, case, func, literal, select, type_coerce

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.query import exchange_condition, resolve_entity_ids
from zvt_crypto.contract.reader import in_values
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import TimeLike, iso, to_ms
from zvt_crypto.domain.series import Bar, KnownGap

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement


@dataclass(frozen=True)
class Gap:
    """Missing bars from ``start`` to ``end`` (open times, both inclusive, epoch ms)."""

    start: int
    end: int
    missing: int
    known: bool = False
    reason: str | None = None


@dataclass
class Coverage:
    entity_id: str
    level: str
    first: int
    last: int
    rows: int
    gaps: list[Gap] = field(default_factory=list)
    # the requested range on the level's grid (``None``: from the first / to the last stored bar)
    start: int | None = None
    end: int | None = None

    @property
    def expected(self) -> int:
        first = self.first if self.start is None else min(self.start, self.first)
        last = self.last if self.end is None else max(self.end, self.last)
        return (last - first) // Level.parse(self.level).ms + 1

    @property
    def missing(self) -> int:
        return self.expected - self.rows

    @property
    def unexplained(self) -> int:
        """Missing bars not covered by a known (venue-confirmed) gap."""
        return sum(gap.missing for gap in self.gaps if not gap.known)

    def as_dict(self) -> dict[str, Any]:
        requested = {} if self.start is None and self.end is None else {"start": iso(self.start), "end": iso(self.end)}
        return {
            "entity_id": self.entity_id,
            "level": self.level,
            **requested,
            "first": iso(self.first),
            "last": iso(self.last),
            "rows": self.rows,
            "expected": self.expected,
            "missing": self.missing,
            "gaps": [{**asdict(gap), "start": iso(gap.start), "end": iso(gap.end)} for gap in self.gaps],
        }


def _level_ms(level_column: ColumnElement[str]) -> ColumnElement[int]:
    return case(*((level_column == level.value, literal(level.ms)) for level in Level), else_=literal(0))


def coverage(
    store: Store,
    schema: type[Schema] | None = None,
    *,
    exchange: str | None = None,
    symbols: Sequence[str] | None = None,
    entity_ids: Sequence[str] | None = None,
    level: Level | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
) -> list[Coverage]:
    """Coverage of ``schema`` (default ``Bar``) per entity and level, with every gap on the level's grid; with
    ``start`` / ``end`` (inclusive) of the rows in that range, the bars missing at its ends included."""
    schema = schema or Bar
    if not schema.has_level():
        raise InvalidInputError(f"coverage works on leveled series; {schema.__name__} has no level")
    table = schema.__table__
    conditions: list[ColumnElement[bool]] = []
    ids = resolve_entity_ids(schema, exchange, symbols, entity_ids)
    if ids is not None:
        conditions.append(in_values(table.c.entity_id, ids, store.dialect))
    elif exchange:
        conditions.append(exchange_condition(table.c.entity_id, exchange))
    if level is not None:
        conditions.append(table.c.level == str(Level.parse(level)))
    start_ms = None if start is None else to_ms(start)
    end_ms = None if end is None else to_ms(end)

    stamp = type_coerce(table.c.timestamp, BigInteger)  # raw epoch ms, not datetimes
    if start_ms is not None:
        conditions.append(stamp >= start_ms)
    if end_ms is not None:
        conditions.append(stamp <= end_ms)
    summary = (
        select(table.c.entity_id, table.c.level, func.min(stamp), func.max(stamp), func.count())
        .where(*conditions)
        .group_by(table.c.entity_id, table.c.level)
        .order_by(table.c.entity_id, table.c.level)
    )
    known_table = KnownGap.__table__
    with store.engine.connect() as connection:
        result = {
            (entity, lvl): _in_range(Coverage(entity, lvl, int(first), int(last), int(count)), start_ms, end_ms)
            for entity, lvl, first, last, count in connection.execute(summary)
        }
        # The window query scans every row: run it only on the series whose count says they have a hole (a
        # complete series has exactly (last - first) / step + 1 rows, since (entity, level, timestamp) is unique).
        holed = sorted({row.entity_id for row in result.values() if row.missing > 0})
        gap_rows: Sequence[Any] = []
        if holed:
            where = [*conditions, in_values(table.c.entity_id, holed, store.dialect)]
            previous = func.lag(stamp).over(partition_by=(table.c.entity_id, table.c.level),
                                            order_by=table.c.timestamp)
            steps = select(
                table.c.entity_id, table.c.level, stamp.label("ts"), previous.label("prev")
            ).where(*where).subquery()
            step_ms = _level_ms(steps.c.level)
            gaps_sql = (
                select(steps.c.entity_id, steps.c.level, steps.c.prev + step_ms, steps.c.ts - step_ms, step_ms)
                .where(steps.c.prev.is_not(None), steps.c.ts - steps.c.prev > step_ms)
                .order_by(steps.c.entity_id, steps.c.level, steps.c.ts)
            )
            gap_rows = connection.execute(gaps_sql).all()
        known_rows = connection.execute(
            select(known_table.c.entity_id, known_table.c.level, known_table.c.start_timestamp,
                   known_table.c.end_timestamp, known_table.c.reason)
            .where(known_table.c.schema_name == schema.__name__)
        ).all()
    known: dict[tuple[str, str], list[tuple[int, int, str | None]]] = {}
    for entity, lvl, known_start, known_end, reason in known_rows:
        known.setdefault((entity, lvl), []).append((to_ms(known_start), to_ms(known_end), reason))
    edges = [(row.entity_id, row.level, lo, hi, Level.parse(row.level).ms)
             for row in result.values() for lo, hi in _range_edges(row)]
    for entity, lvl, gap_start, gap_end, step in [*gap_rows, *edges]:
        gap_start, gap_end = int(gap_start), int(gap_end)
        cover = next((k for k in known.get((entity, lvl), []) if k[0] <= gap_start and gap_end <= k[1]), None)
        result[(entity, lvl)].gaps.append(Gap(gap_start, gap_end, (gap_end - gap_start) // int(step) + 1,
                                              cover is not None, cover[2] if cover else None))
    for row in result.values():
        row.gaps.sort(key=lambda gap: gap.start)
    return list(result.values())


def _in_range(row: Coverage, start_ms: int | None, end_ms: int | None) -> Coverage:
    """``row`` with the requested range on its level's grid: the first bar opening at or after ``start``, the
    last opening at or before ``end``."""
    level = Level.parse(row.level)
    row.start = None if start_ms is None else level.ceil(start_ms)
    row.end = None if end_ms is None else level.floor(end_ms)
    return row


def _range_edges(row: Coverage) -> list[tuple[int, int]]:
    """The holes between the requested range's ends and the first / last stored bar."""
    step = Level.parse(row.level).ms
    edges = []
    if row.start is not None and row.start < row.first:
        edges.append((row.start, row.first - step))
    if row.end is not None and row.last < row.end:
        edges.append((row.last + step, row.end))
    return edges



def format_coverage(rows: list[Coverage], fmt: str) -> str:
    """Render coverage as ``json`` (nested, every gap), ``csv`` (one line per entity and level) or ``table``."""
    if fmt == "json":
        return json.dumps([row.as_dict() for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["entity_id", "level", "first", "last", "rows", "expected", "missing", "gaps", "known_gaps",
                         "gap_ranges"])
        for row in rows:
            ranges = ";".join(f"{iso(g.start)}/{iso(g.end)}{'(known)' if g.known else ''}" for g in row.gaps)
            writer.writerow([row.entity_id, row.level, iso(row.first), iso(row.last), row.rows, row.expected,
                             row.missing, len(row.gaps), sum(g.known for g in row.gaps), ranges])
        return buffer.getvalue()
    if fmt == "table":
        return _table(rows)
    raise InvalidInputError(f"unknown format {fmt!r}; use table, csv or json")


def _table(rows: list[Coverage]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Coverage", show_lines=False)
    for name in ("entity", "level", "first", "last", "rows", "missing", "gaps"):
        table.add_column(name, justify="right" if name in ("rows", "missing") else "left")
    for row in rows:
        shown = [f"{iso(g.start)} → {iso(g.end)} ({g.missing}{', known' if g.known else ''})" for g in row.gaps[:3]]
        if len(row.gaps) > 3:
            shown.append(f"… {len(row.gaps) - 3} more")
        table.add_row(row.entity_id, row.level, iso(row.first), iso(row.last), str(row.rows), str(row.missing),
                      "\n".join(shown) or "none")
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)
    console.print(table if rows else "no data in the store for this selection")
    return out.getvalue()
