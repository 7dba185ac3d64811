"""Factor-driven portfolios (ZVT's trader idea): target weights per bar → rebalancing, long and short.

A :class:`TargetWeightsStrategy` holds a ``T × N`` table of target weights (notional / equity; negative = short)
and, at every bar whose targets differ from the last ones, trades every symbol to its target at the next open —
reductions first, then increases, all sized from the equity at that open. A row of the table is an instruction;
bars without a row keep the positions as they are (they drift with prices); inside a row a missing weight is 0.

Three ways to give the targets:

* ``weights=``: a frame indexed by time with one column per symbol (or entity id) — e.g.
  ``to_wide(select_top_n(scores, 10, long_short=True))`` from :mod:`zvt_crypto.factors.cross_section`. A row stamped
  ``t`` is acted on at the close of the bar containing ``t`` (a factor value at bar ``t`` uses ``t``'s close).
* ``factor_weights``: a stored factor (computed first if missing, incrementally) ranked across the symbols,
  the best ``n`` long and (``long_short``) the worst ``n`` short.
* a subclass overriding :meth:`TargetWeightsStrategy.target_weights` (vectorised, from ``self.market`` in
  ``init``): ``xs_momentum`` and ``funding_carry`` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader.data import MarketData
from zvt_crypto.trader.strategy import Strategy


class TargetWeightsStrategy(Strategy):
    """Rebalance to target weights (see the module docstring)."""

    name = "target_weights"
    warmup: ClassVar[int | None] = 0
    weights = None  # a DataFrame (time × symbol); None: target_weights()

    def target_weights(self) -> pd.DataFrame | np.ndarray:
        """Targets for every bar (a frame as for ``weights=``, or a ``T × N`` array with NaN rows = no change)."""
        raise InvalidInputError(f"strategy {self.label()!r} needs weights= (a time × symbol frame of target weights)")

    def init(self) -> None:
        raw = self.weights if self.weights is not None else self.target_weights()
        self.targets = align_weights(raw, self.market)
        self._act = rebalance_rows(self.targets)

    def next(self) -> None:
        i = self.i
        if self._act[i]:
            self.rebalance(self.targets[i].tolist())


def align_weights(weights: pd.DataFrame | np.ndarray, data: MarketData) -> np.ndarray:
    """Targets as a ``T × N`` array on ``data``'s bars: NaN rows where there is no instruction, 0 for symbols a row
    leaves out."""
    t, n = data.n_bars, data.n_symbols
    if isinstance(weights, np.ndarray):
        if weights.shape != (t, n):
            raise InvalidInputError(f"target weights have shape {weights.shape}, expected {(t, n)} (bars × symbols)")
        return weights.astype(np.float64, copy=True)
    if not isinstance(weights, pd.DataFrame):
        raise InvalidInputError(f"weights must be a DataFrame (time × symbol) or an array, got {type(weights)}")
    lookup: dict[str, int] = {}
    for k, spec in enumerate(data.specs):
        lookup[spec.symbol] = k
        if spec.entity_id:
            lookup[spec.entity_id] = k
    unknown = [str(column) for column in weights.columns if str(column) not in lookup]
    if unknown:
        raise InvalidInputError(f"weights name symbols the data does not have: {', '.join(unknown[:5])}; "
                                f"the data has {', '.join(data.symbols)}")
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(weights.index, utc=True)).as_unit("ms").asi8
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"weights must be indexed by time: {exc}") from None
    rows = np.searchsorted(data.timestamps, stamps, side="right") - 1
    keep = rows >= 0
    out = np.full((t, n), np.nan)
    values = weights.to_numpy(dtype=np.float64, na_value=np.nan)[keep]
    rows = rows[keep]
    table = np.zeros((len(rows), n))
    columns = [lookup[str(column)] for column in weights.columns]
    table[:, columns] = np.nan_to_num(values, nan=0.0)
    out[rows] = table  # several rows in one bar: the last one wins
    return out


def rebalance_rows(targets: np.ndarray) -> np.ndarray:
    """Bars whose instruction differs from the previous instruction (the first one counts when it is not flat)."""
    has = ~np.isnan(targets).all(axis=1)
    act = np.zeros(len(targets), dtype=bool)
    rows = np.flatnonzero(has)
    if len(rows) == 0:
        return act
    table = targets[rows]
    changed = np.ones(len(rows), dtype=bool)
    changed[1:] = (np.abs(np.diff(table, axis=0)) > 1e-12).any(axis=1)
    changed[0] = (np.abs(table[0]) > 0).any()
    act[rows[changed]] = True
    return act


def top_bottom(scores: np.ndarray, n: int, *, long_short: bool = True) -> np.ndarray:
    """Per row of a ``T × N`` score table, ``select_top_n``'s weights: the best ``k`` long (``1/k`` each, or
    ``1/(2k)`` with the worst ``k`` short at ``−1/(2k)`` when ``long_short``); NaN scores never chosen; a row with
    too few scores is all 0. Ties break by column order."""
    from zvt_crypto.factors.cross_section import select_top_n, to_wide

    t, m = scores.shape
    index = pd.MultiIndex.from_product([np.arange(m), pd.date_range("2000-01-01", periods=t, freq="s", tz="UTC")],
                                       names=["entity_id", "timestamp"])
    series = pd.Series(scores.T.ravel(), index=index)
    wide = to_wide(select_top_n(series, n, long_short=long_short), timestamps=index.levels[1])
    return wide.reindex(columns=np.arange(m), fill_value=0.0).to_numpy(dtype=np.float64, copy=True)


def _every(targets: np.ndarray, every: int, start: int = 0) -> np.ndarray:
    """Keep one instruction row in ``every`` (the others: no change)."""
    if every > 1:
        keep = np.zeros(len(targets), dtype=bool)
        keep[start::every] = True
        targets[~keep] = np.nan
    return targets


class XsMomentum(TargetWeightsStrategy):
    """Cross-sectional momentum long/short: long the ``n`` symbols with the best ``lookback``-bar return, short the
    ``n`` worst, equal weights (gross 1, net 0), rebalanced every ``every`` bars."""

    name = "xs_momentum"
    lookback = 30
    n = 3
    every = 1
    long_short = True

    def validate(self) -> None:
        for key in ("lookback", "n", "every"):
            if getattr(self, key) < 1:
                raise InvalidInputError(f"strategy 'xs_momentum': {key} must be ≥ 1, got {getattr(self, key)}")

    def target_weights(self) -> np.ndarray:
        close = self.market.close
        past = np.full_like(close, np.nan)
        past[self.lookback:] = close[:-self.lookback]
        with np.errstate(divide="ignore", invalid="ignore"):
            momentum = close / past - 1.0
        targets = top_bottom(momentum, self.n, long_short=self.long_short)
        targets[: self.lookback] = np.nan
        return _every(targets, self.every, self.lookback)


class FundingCarry(TargetWeightsStrategy):
    """Funding carry on perps: short the ``n`` perps with the highest carry (mean of the last ``window`` funding
    rates: their longs pay), long the ``n`` lowest; equal weights, gross 1; rebalanced every ``every`` bars."""

    name = "funding_carry"
    window = 3
    n = 1
    every = 1

    def validate(self) -> None:
        for key in ("window", "n", "every"):
            if getattr(self, key) < 1:
                raise InvalidInputError(f"strategy 'funding_carry': {key} must be ≥ 1, got {getattr(self, key)}")

    def target_weights(self) -> np.ndarray:
        data = self.market
        if len(data.funding) == 0:
            raise InvalidInputError("strategy 'funding_carry' needs funding rates: load perps whose funding is "
                                    "stored (zvt-crypto record funding …)")
        carry = carry_table(data, self.window)
        targets = top_bottom(-carry, self.n, long_short=True)  # best score = lowest carry = long
        targets[np.isnan(carry).all(axis=1)] = np.nan
        return _every(targets, self.every)


def carry_table(data: MarketData, window: int) -> np.ndarray:
    """``T × N``: the mean of each symbol's last ``window`` funding rates known at each bar's close (a payment
    applied at a bar's open is known at its close), NaN before ``window`` payments."""
    funding = data.funding
    out = np.full((data.n_bars, data.n_symbols), np.nan)
    for column in range(data.n_symbols):
        mine = funding.column == column
        if not mine.any():
            continue
        rates = pd.Series(funding.rate[mine]).rolling(window).mean().to_numpy()
        bars = funding.bar[mine]
        last = np.full(data.n_bars, -1)
        last[bars] = np.arange(len(bars))  # several payments in one bar: the last one
        np.maximum.accumulate(last, out=last)
        known = last >= 0
        out[known, column] = rates[last[known]]
    return out


class FactorWeights(TargetWeightsStrategy):
    """A stored factor ranked across the symbols at each bar: the best ``n`` long and (``long_short``) the worst
    ``n`` short. ``factor_params``: the factor's parameters, a dict in Python (``{"features": ["rsi", "roc"],
    "horizon": 24}``; a list value is that comma list) or text on the command line (``--param
    "factor_params=window=20;fast=12"``; pairs split by ``;``, or by ``,`` when a piece holds ``=``:
    :func:`~zvt_crypto.contract.params.parse_params_text`). ``column`` picks an output (default: the first).
    The factor is computed first, incrementally, for the symbols and level of the data (needs data loaded from the
    store)."""

    name = "factor_weights"
    factor = "roc"
    factor_params = None  # a dict, or text (see above); None: the factor's defaults
    column = ""
    n = 3
    long_short = True
    ascending = False  # True: the lowest values are the best

    def validate(self) -> None:
        super().validate()
        self.factor_param_values()  # a malformed text fails when the strategy is made, before any data is read

    def factor_param_values(self) -> dict[str, Any]:
        """``factor_params`` as a dict (from a dict, text or None)."""
        from zvt_crypto.contract.params import parse_params_text

        given = self.factor_params
        if given is None:
            return {}
        if isinstance(given, str):
            return dict(parse_params_text(given))
        if isinstance(given, Mapping):
            return dict(given)
        raise InvalidInputError(f"strategy 'factor_weights': factor_params must be a dict or name=value text, "
                                f"got {type(given).__name__}")

    def target_weights(self) -> pd.DataFrame:
        from zvt_crypto.contract.store import get_store
        from zvt_crypto.factors.base import make_factor
        from zvt_crypto.factors.cross_section import select_top_n, to_wide
        from zvt_crypto.factors.engine import compute_factor, load_factor

        data = self.market
        source = data.source
        if source.store_url is None or data.level is None:
            raise InvalidInputError("strategy 'factor_weights' reads factors from the store: load the data with "
                                    "load_market_data (or the CLI), not from frames")
        factor = make_factor(self.factor, self.factor_param_values())
        store = get_store(source.store_url)
        ids = data.entity_ids
        compute_factor(factor, level=data.level, entity_ids=ids, store=store)
        values = load_factor(factor, level=data.level, entity_ids=ids, start=int(data.timestamps[0]),
                             end=int(data.timestamps[-1]), store=store)
        column = self.column or factor.outputs[0]
        if column not in values:
            raise InvalidInputError(f"factor {self.factor!r} has no output {column!r}; it has "
                                    f"{', '.join(values.columns)}")
        scores = values[column].astype("float64")
        if self.ascending:
            scores = -scores
        timestamps = scores.index.get_level_values("timestamp").unique().sort_values()
        return to_wide(select_top_n(scores, self.n, long_short=self.long_short), timestamps=timestamps)
