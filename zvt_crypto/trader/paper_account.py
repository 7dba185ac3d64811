"""A paper account: its definition (strategy, parameters, market, :class:`~zvt_crypto.trader.settings.BacktestSettings`,
start) and its verbs — create, step, reset, delete. How a step works is told in :mod:`zvt_crypto.trader.paper`."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.ids import check_exchange_id, check_symbol, entity_id, entity_type_of_symbol
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store, StoreLike, get_store
from zvt_crypto.contract.timeutil import TimeLike, iso, now_ms, to_ms
from zvt_crypto.trader import paper_store as db
from zvt_crypto.trader.data import market_specs
from zvt_crypto.trader.fees import FeeSchedule, resolve_fees
from zvt_crypto.trader.paper_replay import (
    compare_orders,
    compare_trades,
    equity_sum,
    new_rows,
    same_number,
    state_after,
)
from zvt_crypto.trader.paper_store import PaperConflictError
from zvt_crypto.trader.risk import RiskLimits
from zvt_crypto.trader.settings import BacktestSettings
from zvt_crypto.trader.strategy import Strategy, get_strategy

if TYPE_CHECKING:
    from zvt_crypto.trader.results import BacktestResult

__all__ = ["DEFAULT_WARMUP", "PaperHistoryError", "PaperTrader", "StepReport", "check_account_name",
           "strategy_version"]

#: bars read before ``start`` to warm the strategy's indicators up
DEFAULT_WARMUP = 500
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ATTEMPTS = 3


class PaperHistoryError(ZvtCryptoError):
    """Replaying a paper account's history no longer reproduces what it recorded (or its definition no longer
    matches the strategy): it must be reset or replaced, not silently rewritten."""


@dataclass(frozen=True)
class StepReport:
    """What one step did. ``waiting`` says why it stopped before the newest stored bar (or did nothing)."""

    account: str
    bars: int = 0
    trades: int = 0
    orders: int = 0
    last_bar: int | None = None
    equity: float | None = None
    waiting: str | None = None

    @property
    def rows(self) -> int:
        """Rows appended (equity bars, trades, orders)."""
        return self.bars + self.trades + self.orders

    def __str__(self) -> str:
        if self.bars:
            text = (f"{self.account}: {self.bars} new bar{'s' * (self.bars != 1)} to {iso(self.last_bar)}, "
                    f"{self.trades} trade{'s' * (self.trades != 1)} closed, {self.orders} order"
                    f"{'s' * (self.orders != 1)} done, equity {self.equity:.2f}")
        else:
            last = f" (last bar {iso(self.last_bar)})" if self.last_bar is not None else ""
            text = f"{self.account}: no new bars{last}"
        return f"{text}; {self.waiting}" if self.waiting else text


def check_account_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(f"paper account name must be 1-64 letters, digits, '.', '_' or '-' (e.g. "
                                f"\"btc-sma\"), not {name!r}")
    return name


class PaperTrader:
    """A paper account's definition and its verbs (:meth:`create`, :meth:`step`, :meth:`reset`, :meth:`delete`);
    its state lives in the store only, so any number of objects or processes see the same account.

    Args:
        name: the account's name (unique in the store).
        strategy: a registered strategy name or ``module:Class`` (what :func:`get_strategy` takes).
        params: strategy parameters (strings are coerced); stored resolved, defaults included.
        exchange, symbols, level: the bars it trades (recorded in the store).
        cash, fee, slippage, leverage, maintenance_margin, liquidation_fee, risk: as :func:`run_backtest`.
        settings: those as one :class:`~zvt_crypto.trader.settings.BacktestSettings` (then leave them out); the
            account keeps it as :attr:`settings` and stores it (without the run options: it replays with the
            event engine).
        start: the first bar it may trade (default, at :meth:`create`: the bar after the newest one stored —
            it trades from now on); a past time replays the bars since then on the first step.
        warmup: bars before ``start`` read to warm the indicators up (``next`` first runs once they have values).
    """

    def __init__(self, name: str, strategy: str | type[Strategy], params: Mapping[str, Any] | None = None, *,
                 exchange: str, symbols: Sequence[str] | str, level: str, cash: float = 10_000.0,
                 fee: float | Sequence[float] | None = None, slippage: Any = None,
                 leverage: float | Sequence[float] = 1.0, maintenance_margin: float = 0.005,
                 liquidation_fee: float | None = None, risk: RiskLimits | Mapping[str, float] | None = None,
                 start: TimeLike | None = None, warmup: int = DEFAULT_WARMUP,
                 settings: BacktestSettings | None = None) -> None:
        self.name = check_account_name(name)
        if isinstance(strategy, Strategy):
            raise InvalidInputError("pass the strategy's name or class and its params, not an instance")
        cls = get_strategy(strategy)
        self.strategy = strategy if isinstance(strategy, str) else cls.label()
        self._cls = cls
        self.params = _json_params(self.strategy, cls(**dict(params or {})).params)
        self.exchange = check_exchange_id(exchange)
        symbol_list = [symbols] if isinstance(symbols, str) else list(dict.fromkeys(symbols))
        if not symbol_list:
            raise InvalidInputError("a paper account needs at least one symbol")
        self.symbols = [check_symbol(symbol) for symbol in symbol_list]
        self.level = str(Level.parse(level))
        given = BacktestSettings.from_arguments(
            settings, cash=cash, fee=fee if fee is None or isinstance(fee, (int, float)) else tuple(fee),
            slippage=slippage, leverage=leverage if isinstance(leverage, (int, float)) else tuple(leverage),
            maintenance_margin=maintenance_margin, liquidation_fee=liquidation_fee, risk=risk)
        levels = given.leverages(self.symbols, [entity_type_of_symbol(symbol) == "perp" for symbol in self.symbols])
        # the replay runs the event engine and stores no metrics: the run options are not part of the account
        # (they change no trade), and one leverage for every symbol is stored as one value
        self.settings = given.replace(engine="event", periods_per_year=None,
                                      leverage=levels[0] if len(set(levels)) == 1 else given.leverage)
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
            raise InvalidInputError(f"warmup is a number of bars ≥ 0, got {warmup!r}")
        self.warmup = warmup
        self.start: int | None = None if start is None else Level.parse(self.level).ceil(to_ms(start))
        self.data_start: int | None = None if self.start is None else self.start - warmup * self._bar_ms

    # -- identity ----------------------------------------------------------------------------------------------
    @property
    def _bar_ms(self) -> int:
        return Level.parse(self.level).ms

    @property
    def entity_ids(self) -> list[str]:
        return [entity_id(self.exchange, symbol) for symbol in self.symbols]

    def market(self) -> dict[str, Any]:
        """What it trades and how (the definition without its start)."""
        return {"strategy": self.strategy, "params": self.params, "exchange": self.exchange,
                "symbols": self.symbols, "level": self.level, "settings": self.settings.to_dict(run_options=False)}

    def definition_hash(self) -> str:
        if self.start is None or self.data_start is None:
            raise InvalidInputError(f"paper account {self.name!r} has no start yet: create() it first")
        text = json.dumps({**self.market(), "start": self.start, "data_start": self.data_start}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{self.strategy}({params}) on {', '.join(self.symbols)} {self.exchange} {self.level}"

    def __repr__(self) -> str:
        return f"<PaperTrader {self.name}: {self.describe()}>"

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def create(self, store: StoreLike = None, *, replace: bool = False, now: TimeLike | None = None
               ) -> PaperTrader:
        """Store the account. An account of that name with the same strategy, parameters, market and settings is
        left as it is (creating is idempotent); a different one is an error unless ``replace`` (which drops its
        history). Without a ``start`` the account trades from the bar after the newest stored one on."""
        store = get_store(store)
        existing = db.account_row(store, self.name)
        if existing is not None and not replace:
            stored = PaperTrader.from_row(existing, check=False)
            if stored.market() == self.market() and (self.start is None or (self.start, self.data_start) == (
                    stored.start, stored.data_start)):
                return stored
            raise InvalidInputError(
                f"paper account {self.name!r} exists with a different definition: {stored.describe()}, "
                f"cash {stored.settings.cash:g}, start {iso(stored.start)}; a changed strategy, parameters or "
                f"settings need a new account (another name), or replace this one and drop its history "
                f"(zvt-crypto paper create {self.name} … --reset)")
        self.fees(store)  # a market without a known fee is refused now, not at the first step
        if self.start is None:
            self.start = self._next_bar(store, now)
            self.data_start = self.start - self.warmup * self._bar_ms
        stamp = now_ms()
        db.insert_account(store, {
            **self.market(), "name": self.name, "start_timestamp": self.start,
            "data_start_timestamp": self.data_start, "definition_hash": self.definition_hash(),
            "strategy_version": strategy_version(self._cls), "created_timestamp": stamp, "updated_timestamp": stamp,
            **self._initial_state()}, replace=replace)
        return self

    def fees(self, store: StoreLike = None) -> FeeSchedule:
        """The fee rates the account charges and where they came from (``fee``, else the stored markets', else the
        venue's published defaults); an error asking for ``--fee`` when none is known."""
        fee = self.settings.fee
        specs = market_specs(self.exchange, self.symbols, store=get_store(store))
        return resolve_fees(specs, fee, exchange=self.exchange)

    def _initial_state(self) -> dict[str, Any]:
        from zvt_crypto import __version__

        cash = self.settings.cash
        return {"revision": 0, "last_bar_timestamp": None, "first_bar_timestamp": None, "n_trades": 0,
                "n_orders": 0, "cash": cash, "equity": cash, "state": {}, "version": __version__}

    def _next_bar(self, store: Store, now: TimeLike | None) -> int:
        """The first bar not stored yet for every symbol (the still-open one if nothing is stored)."""
        spans = db.bar_spans(store, self.entity_ids, self.level, 0)
        level = Level.parse(self.level)
        if len(spans) == len(self.symbols):
            return min(last for _first, last in spans.values()) + level.ms
        return level.floor(now_ms() if now is None else to_ms(now))

    @classmethod
    def load(cls, name: str, store: StoreLike = None) -> PaperTrader:
        """The stored account ``name`` (its strategy must still accept its parameters unchanged)."""
        return cls.from_row(db.require_row(get_store(store), check_account_name(name)))

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, check: bool = True) -> PaperTrader:
        try:
            trader = cls(row["name"], row["strategy"], row["params"], exchange=row["exchange"],
                         symbols=row["symbols"], level=row["level"],
                         settings=BacktestSettings.from_dict(row["settings"]))
        except ZvtCryptoError as exc:
            if not check:
                raise
            raise PaperHistoryError(f"paper account {row['name']!r} ({row['strategy']} {row['params']}) cannot be "
                                    f"run any more: {exc}. Create a new account, or replace this one "
                                    f"(zvt-crypto paper create {row['name']} … --reset)") from None
        trader.start, trader.data_start = int(row["start_timestamp"]), int(row["data_start_timestamp"])
        trader.warmup = (trader.start - trader.data_start) // trader._bar_ms
        if check and trader.params != row["params"]:
            raise PaperHistoryError(
                f"paper account {row['name']!r}: strategy {row['strategy']!r} now resolves its parameters to "
                f"{trader.params}, the account was created with {row['params']} (a parameter was added or "
                "changed in the code). Create a new account, or replace this one "
                f"(zvt-crypto paper create {row['name']} … --reset)")
        return trader

    def reset(self, store: StoreLike = None, *, start: TimeLike | None = None) -> PaperTrader:
        """Drop the account's history and start it over (from ``start``; default: its current start)."""
        store = get_store(store)
        row = db.require_row(store, self.name)
        if start is not None:
            self.start = Level.parse(self.level).ceil(to_ms(start))
            self.data_start = self.start - self.warmup * self._bar_ms
        elif self.start is None:
            self.start, self.data_start = int(row["start_timestamp"]), int(row["data_start_timestamp"])
        db.reset_account(store, self.name, {
            "start_timestamp": self.start, "data_start_timestamp": self.data_start,
            "definition_hash": self.definition_hash(), "strategy_version": strategy_version(self._cls),
            "updated_timestamp": now_ms(), **{k: v for k, v in self._initial_state().items() if k != "revision"}},
            int(row["revision"]))
        return self

    def delete(self, store: StoreLike = None) -> bool:
        """Delete the account and its history; False when there was none."""
        return db.delete_account_rows(get_store(store), self.name)

    # -- the step ----------------------------------------------------------------------------------------------
    def step(self, store: StoreLike = None, *, until: TimeLike | None = None,
             before_commit: Callable[[], None] | None = None) -> StepReport:
        """Process the bars stored since the last step (up to ``until``): replay, verify, append, in one
        transaction. ``before_commit`` runs inside the transaction just before it commits (tests inject crashes
        there). A concurrent step of the same account is waited out by retrying."""
        store = get_store(store)
        for attempt in range(_ATTEMPTS):
            try:
                return self._step(store, None if until is None else to_ms(until), before_commit)
            except PaperConflictError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _step(self, store: Store, until: int | None, before_commit: Callable[[], None] | None) -> StepReport:
        from zvt_crypto import __version__
        from zvt_crypto.trader.data import load_market_data
        from zvt_crypto.trader.engine import run_backtest

        with store.begin() as connection:  # the reads share one connection
            row = db.require_row(connection, self.name)
            if self.start is None:
                self.start, self.data_start = int(row["start_timestamp"]), int(row["data_start_timestamp"])
            assert self.start is not None and self.data_start is not None  # set together, here or in __init__
            self._check_definition(row)
            first_bar = row.get("first_bar_timestamp")
            data_from = self.data_start if first_bar is None else int(first_bar)
            horizon, waiting = self._horizon(connection, data_from)
        last: int | None = row["last_bar_timestamp"]
        if horizon is not None and until is not None and until < horizon:
            horizon, waiting = until, None
        report = StepReport(self.name, last_bar=last, equity=row["equity"], waiting=waiting)
        if horizon is None or (last is not None and horizon <= last):
            return report
        if horizon < self.start:
            return StepReport(self.name, last_bar=last, equity=row["equity"],
                              waiting=f"the account starts at {iso(self.start)}")
        # from the first bar the first step used, not the data start: bars recorded before it later (a backfill
        # of the warm-up) would change the indicators and so the decisions already recorded
        data = load_market_data(exchange=self.exchange, symbols=self.symbols, level=self.level,
                                start=data_from, end=horizon, store=store)
        stamps = data.timestamps
        start_row = int(np.searchsorted(stamps, self.start, side="left"))
        if data.n_bars < 2 or start_row >= data.n_bars or (last is not None and int(stamps[-1]) <= last):
            return report
        result = run_backtest(self._cls, data, params=self.params, settings=self.settings, start=start_row)
        known_orders = self._verify(store, row, result, self.start)
        rows = new_rows(self.name, result, last, self.start, known_orders, int(row["n_trades"]))
        counts = tuple(len(rows[table]) for table in ("paper_equity", "paper_trade", "paper_order"))
        equity = result.equity
        equity_now = float(equity["equity"].iloc[-1])
        values = {
            "last_bar_timestamp": int(stamps[-1]),
            "first_bar_timestamp": data_from if first_bar is not None else int(stamps[0]),
            "n_trades": int(row["n_trades"]) + counts[1],
            "n_orders": int(row["n_orders"]) + counts[2], "cash": float(equity["cash"].iloc[-1]),
            "equity": equity_now,
            "state": {**state_after(result, start_row), "equity_sum": equity_sum(result, self.start, len(stamps) - 1)},
            "version": __version__, "updated_timestamp": now_ms(), "strategy_version": strategy_version(self._cls),
        }
        db.write_step(store, self.name, int(row["revision"]), values, rows, before_commit,
                      definition_hash=self.definition_hash())
        return StepReport(self.name, counts[0], counts[1], counts[2], int(stamps[-1]), equity_now, waiting)

    def _check_definition(self, row: Mapping[str, Any]) -> None:
        if row["definition_hash"] != self.definition_hash():
            stored = PaperTrader.from_row(row, check=False)
            raise PaperHistoryError(f"paper account {self.name!r} is {stored.describe()} from {iso(stored.start)}; "
                                    f"this trader is {self.describe()} from {iso(self.start)}. Load it with "
                                    "PaperTrader.load(name), or replace it (zvt-crypto paper create … --reset)")

    def _horizon(self, connection: Any, data_from: int) -> tuple[int | None, str | None]:
        """The newest bar every symbol has (capped before an unrecorded funding payment), and why not later."""
        spans = db.bar_spans(connection, self.entity_ids, self.level, data_from)
        pairs = list(zip(self.symbols, self.entity_ids, strict=True))
        missing = [symbol for symbol, entity in pairs if entity not in spans]
        if missing:
            return None, (f"waiting for {self.level} bars of {', '.join(missing)} on {self.exchange} from "
                          f"{iso(data_from)} (record them: zvt-crypto record bars …)")
        unfunded = db.waiting_for_funding(connection, self.exchange, pairs)
        if unfunded:  # processed with zero funding, the bars would replay differently once funding is recorded
            return None, unfunded
        horizon = min(last for _first, last in spans.values())
        waiting = None
        behind = [symbol for symbol, entity in pairs if spans[entity][1] == horizon]
        if len(behind) < len(pairs):
            waiting = f"{', '.join(behind)} stored up to {iso(horizon)} only"
        late = [symbol for symbol, entity in pairs if spans[entity][0] > horizon]
        if late:
            return None, f"waiting for bars of {', '.join(behind)} after {iso(horizon)} ({', '.join(late)} start later)"
        for symbol, entity in pairs:
            if entity.startswith("perp_"):
                due = db.next_funding(connection, entity)
                if due is not None and horizon >= due:
                    horizon = due - 1
                    waiting = f"funding of {symbol} due {iso(due)} not stored yet (record funding)"
        return horizon, waiting

    def _verify(self, store: Store, row: Mapping[str, Any], result: BacktestResult, start: int) -> set[int]:
        """Check that the replay (of the account that starts at ``start``) reproduces what was persisted; returns
        the ids of the persisted orders."""
        last = row["last_bar_timestamp"]
        if last is None:
            return set()
        stamps = result.market_data.timestamps
        at = int(np.searchsorted(stamps, last))
        problem = None
        if at >= len(stamps) or int(stamps[at]) != last:
            problem = f"bar {iso(last)}, the last one it processed, is no longer stored"
        else:
            replayed = float(result.equity["equity"].iloc[at])
            checksum = (row["state"] or {}).get("equity_sum")
            if not same_number(replayed, row["equity"]):
                problem = f"equity at {iso(last)} replays as {replayed!r}, it recorded {row['equity']!r}"
            elif checksum is not None and not same_number(equity_sum(result, start, at), checksum):
                problem = (f"its equity at some bar before {iso(last)} replays differently (the sum over the bars "
                           f"it processed is {equity_sum(result, start, at)!r}, it recorded {checksum!r})")
        persisted: list[dict[str, Any]] = []
        if problem is None and (row["n_trades"] or row["n_orders"]):
            # as of the revision read with the account row: a step committed meanwhile is a conflict (retried),
            # not a history that differs
            trades, persisted = db.persisted_history(store, self.name, int(row["revision"]), int(row["n_trades"]))
            problem = (compare_trades(trades, result, at, int(row["n_trades"]))
                       or compare_orders(persisted, result, int(row["n_orders"])))
        if problem is not None:
            raise PaperHistoryError(
                f"paper account {self.name!r}: replaying its history no longer gives what it recorded — {problem}. "
                "The stored bars before its last step, or the strategy's code, changed since. Its record is kept "
                f"as it is; start it over with zvt-crypto paper reset {self.name} (or create a new account)")
        return {int(order["order_id"]) for order in persisted}


def strategy_version(cls: type[Strategy]) -> str | None:
    """A hash of the strategy class's source (None when it has none, e.g. defined in a REPL); a class's source
    does not change while a process runs, so it is read once."""
    return _source_digest(cls)  # type: ignore[arg-type]  # a class is Hashable; mypy disagrees: python/mypy#11470


@functools.lru_cache(maxsize=64)
def _source_digest(cls: type[Strategy]) -> str | None:
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _json_params(strategy: str, params: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, (bool, int, float, str, type(None))) or (isinstance(value, float) and
                                                                           not math.isfinite(value)):
            raise InvalidInputError(f"strategy {strategy!r}: parameter {key} is {type(value).__name__}; a paper "
                                    "account stores its parameters, so they must be numbers, strings or booleans")
        out[key] = value
    return out
