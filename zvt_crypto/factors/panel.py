"""The group structure of an ``(entity_id, timestamp)`` frame, shared by the cross-sectional scorers
(``cross_section``) and the research tear sheet (``research``): computed once per index, then every rank, count,
bucket and shift per timestamp is a vectorised pass over it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError


def check_panel_index(index: pd.Index) -> pd.MultiIndex:
    if not isinstance(index, pd.MultiIndex) or "entity_id" not in index.names or "timestamp" not in index.names:
        raise InvalidInputError(
            f"expected an index with levels (entity_id, timestamp), got {list(index.names)}; "
            "use the frames query_data returns or set_index(['entity_id', 'timestamp'])"
        )
    return index


class Panel:
    """The group structure of an ``(entity_id, timestamp)`` index, computed once and shared by every step.

    ``time``: per row, the position of its timestamp among the sorted distinct ``stamps``; ``entity``: per row, the
    code of its entity (the index's own level codes — the strings are never hashed per row).
    """

    #: sort within timestamps in a padded (timestamps × widest cross-section) matrix while it is at most this many
    #: times the number of rows (row-wise sorts of a small matrix are ~3× faster than one global sort)
    DENSE_PADDING = 4

    def __init__(self, index: pd.Index) -> None:
        self.index = check_panel_index(index)
        time, stamps = pd.factorize(index.get_level_values("timestamp"), sort=True)
        if len(time) and time.min() < 0:
            raise InvalidInputError("the timestamp level holds NaT; drop those rows first")
        self.time = time.astype(np.intp, copy=False)
        self.stamps = pd.DatetimeIndex(stamps, name="timestamp")
        self.size = len(self.stamps)
        self.rows = len(self.time)
        self._layout: tuple[np.ndarray, int] | None = None
        self._keys: tuple[np.ndarray, np.ndarray | None] | None = None

    @property
    def entity(self) -> np.ndarray:
        level = self.index.names.index("entity_id")
        codes = np.asarray(self.index.codes[level], dtype=np.intp)
        if len(codes) and codes.min() < 0:
            raise InvalidInputError("the entity_id level holds missing values; drop those rows first")
        return codes

    def count(self, values: np.ndarray) -> np.ndarray:
        """Per timestamp, the number of non-NaN values."""
        return np.bincount(self.time[~np.isnan(values)], minlength=self.size)

    def _slots(self) -> tuple[np.ndarray, int]:
        """Per row, its column in the padded matrix (rows of one timestamp in row order), and the matrix width."""
        if self._layout is None:
            per_time = np.bincount(self.time, minlength=self.size)
            by_time = np.argsort(self.time, kind="stable")
            first = np.cumsum(per_time) - per_time
            slot = np.empty(self.rows, np.intp)
            slot[by_time] = np.arange(self.rows) - np.repeat(first, per_time)
            self._layout = slot, int(per_time.max(initial=0))
        return self._layout

    def order(self, values: np.ndarray) -> np.ndarray:
        """The rows with a value, sorted by timestamp, then value, then row (NaN rows left out)."""
        valid = ~np.isnan(values)
        slot, width = self._slots()
        if self.size * width <= self.DENSE_PADDING * self.rows + 4096:
            matrix = np.full((self.size, width), np.nan)
            matrix[self.time, slot] = values
            row_of = np.full((self.size, width), -1, dtype=np.intp)
            row_of[self.time, slot] = np.arange(self.rows)
            rows = np.take_along_axis(row_of, np.argsort(matrix, axis=1, kind="stable"), axis=1).ravel()
            rows = rows[rows >= 0]  # NaN and padding sort last in each matrix row
            return rows[valid[rows]]
        kept = np.flatnonzero(valid)
        by_value = np.empty(len(kept), np.int64)
        by_value[np.argsort(values[kept], kind="stable")] = np.arange(len(kept))
        return kept[np.argsort(self.time[kept].astype(np.int64) * max(len(kept), 1) + by_value)]

    def ranks(self, values: np.ndarray, order: np.ndarray, method: str = "average") -> np.ndarray:
        """Rank 1..n within each timestamp of the rows in ``order`` (sorted as :meth:`order` gives them; a subset
        of such an order stays sorted), like ``groupby(...).rank(method)`` for ``"average"``, ``"min"`` and
        ``"first"`` (ties in row order); NaN elsewhere."""
        out = np.full(self.rows, np.nan)
        if not len(order):
            return out
        group, sorted_values = self.time[order], values[order]
        position = np.arange(len(order))
        new_group = np.ones(len(order), bool)
        new_group[1:] = group[1:] != group[:-1]
        group_start = np.maximum.accumulate(np.where(new_group, position, 0))
        if method == "first":
            out[order] = position - group_start + 1.0
            return out
        new_run = new_group.copy()
        new_run[1:] |= sorted_values[1:] != sorted_values[:-1]
        run_start = np.flatnonzero(new_run)
        if method == "min":
            per_run = run_start - group_start[run_start] + 1.0
        elif method == "average":
            run_end = np.append(run_start[1:], len(order)) - 1
            per_run = (run_start + run_end) / 2.0 - group_start[run_start] + 1.0
        else:
            raise InvalidInputError(f"unknown rank method {method!r}; use 'average', 'min' or 'first'")
        out[order] = per_run[np.cumsum(new_run) - 1]
        return out

    def rank(self, values: np.ndarray, method: str = "average", *, ascending: bool = True) -> np.ndarray:
        """Rank 1..n within each timestamp; NaN stays NaN. Descending ranks break ties in row order too."""
        signed = values if ascending else -values
        return self.ranks(signed, self.order(signed), method)

    def shift(self, values: np.ndarray, steps: int) -> np.ndarray:
        """Per row, the same entity's value ``steps`` timestamps later on the grid of distinct timestamps (earlier
        when negative); NaN where that row does not exist."""
        key = self.entity.astype(np.int64) * self.size + self.time
        if self._keys is None:
            order = None if np.all(key[1:] > key[:-1]) else np.argsort(key, kind="stable")
            sorted_key = key if order is None else key[order]
            if np.any(sorted_key[1:] == sorted_key[:-1]):
                raise InvalidInputError("the index holds an (entity_id, timestamp) pair more than once")
            self._keys = sorted_key, order
        sorted_key, order = self._keys
        target = key + steps
        position = np.searchsorted(sorted_key, target)
        position[position >= len(sorted_key)] = 0
        found = (self.time + steps >= 0) & (self.time + steps < self.size) & (sorted_key[position] == target)
        source = position if order is None else order[position]
        out = np.full(self.rows, np.nan)
        out[found] = values[source[found]]
        return out


def bucket_numbers(array: np.ndarray, panel: Panel, q: int, ranks: np.ndarray | None = None) -> np.ndarray:
    """Per row, its equal-count bucket 1..q within its timestamp (see ``quantile_bucket``); ``ranks``: the rows'
    average ranks when the caller has them already."""
    ranks = panel.rank(array) if ranks is None else ranks
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.floor((ranks - 0.5) * q / panel.count(array)[panel.time]) + 1.0
