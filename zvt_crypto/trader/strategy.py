"""The strategy API: ``init`` declares indicators, ``next`` places orders — as in backtesting.py — over one symbol
or many, on one shared account.

>>> from zvt_crypto.trader import Strategy, crossover, sma
>>> class SmaCross(Strategy):
...     fast = 10          # parameters: class attributes with typed defaults
...     slow = 30
...
...     def init(self):
...         self.fast_ma = self.I(sma, self.data.close, self.fast)
...         self.slow_ma = self.I(sma, self.data.close, self.slow)
...
...     def next(self):
...         if crossover(self.fast_ma, self.slow_ma):
...             self.buy()                    # all-in at the next bar's open
...         elif crossover(self.slow_ma, self.fast_ma):
...             self.position.close()

What ``next`` sees. It runs once per bar, at the bar's close: ``self.data.close`` (``open``, ``high``, ``low``,
``volume``, ``timestamps``) are numpy views that end at the current bar (``[-1]`` is the current close), and every
indicator declared with ``self.I`` is re-exposed as a view ending at the current bar — also inside a ``dict`` or
``list`` attribute. Indexing past the current bar raises :class:`LookAheadError` naming the strategy. ``next`` is
first called once every indicator has a value (backtesting.py's rule: one bar after the last indicator's first
non-NaN value; set ``warmup`` to choose).

What the engine cannot see. ``self.I`` computes each indicator once on the whole history; a function that itself
looks ahead (a centred window, ``shift(-1)``, a normalisation by the whole sample) would leak the future into the
view. ``self.I`` therefore recomputes the indicator on the first half of the data and checks that the overlapping
values agree; a mismatch raises :class:`LookAheadError`. Code in ``init`` that reads ``self.market`` or
``self.bars()`` directly is the strategy's own responsibility.

Orders (all decided at the close, acting from the next bar): ``buy`` / ``sell`` with one of ``size`` (base units
or contracts), ``value`` (quote), ``fraction`` (of the margin available; the default is all-in) — plus ``limit``,
``stop`` (both: stop-limit), ``sl``, ``tp``, ``trail`` (a fraction) —, ``close``, and ``order_target`` /
``rebalance`` with target weights (notional / equity, negative for shorts). Parameters are typed from the class
attribute defaults; defining a subclass with a ``name`` registers it (``zvt_crypto.strategies`` entry-point group
for third-party packages).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.registry import strategies as strategy_registry
from zvt_crypto.trader.errors import LookAheadError, StrategyError
from zvt_crypto.trader.orders import LIMIT, MARKET, STOP, STOP_LIMIT, Order
from zvt_crypto.trader.params import PARAM_TYPES, resolve_params

if TYPE_CHECKING:
    from zvt_crypto.trader.broker import Broker
    from zvt_crypto.trader.data import MarketData

#: class attributes that configure a strategy rather than parametrise it
RESERVED = frozenset({"name", "warmup", "description", "vectorisable"})
#: what Strategy.setup binds (before it, reading one is an error that says so)
_BOUND = frozenset({"_broker", "_market", "_check_lookahead", "data", "datas", "symbols", "position", "_positions"})


class Clock:
    """How many bars the strategy may see (the current bar's row + 1): shared by every view of one strategy, so
    the engine moves them all to the next bar with one assignment (``strategy.clock.n = i + 1``)."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n


class BarData:
    """One symbol's bars as the strategy sees them: numpy views ending at the current bar."""

    __slots__ = ("_clock", "_close", "_high", "_low", "_open", "_times", "_volume", "column", "symbol")

    def __init__(self, data: MarketData, column: int, clock: Clock) -> None:
        self._clock = clock
        self._open = data.open[:, column]
        self._high = data.high[:, column]
        self._low = data.low[:, column]
        self._close = data.close[:, column]
        self._volume = data.volume[:, column]
        self._times = data.timestamps
        self.column = column
        self.symbol = data.specs[column].symbol

    @property
    def open(self) -> np.ndarray:
        return self._open[: self._clock.n]

    @property
    def high(self) -> np.ndarray:
        return self._high[: self._clock.n]

    @property
    def low(self) -> np.ndarray:
        return self._low[: self._clock.n]

    @property
    def close(self) -> np.ndarray:
        return self._close[: self._clock.n]

    @property
    def volume(self) -> np.ndarray:
        return self._volume[: self._clock.n]

    @property
    def timestamps(self) -> np.ndarray:
        """Bar open times (epoch ms, UTC)."""
        return self._times[: self._clock.n]

    @property
    def time(self) -> pd.Timestamp:
        """The current bar's open time."""
        return pd.Timestamp(int(self._times[self._clock.n - 1]), unit="ms", tz="UTC")

    def __len__(self) -> int:
        return self._clock.n

    def __repr__(self) -> str:
        return f"<BarData {self.symbol} bars=0..{self._clock.n - 1}>"


class Position:
    """A symbol's position as the strategy sees it (``size`` signed: > 0 long, < 0 short)."""

    __slots__ = ("_broker", "_strategy", "column")

    def __init__(self, strategy: Strategy, broker: Broker, column: int) -> None:
        self._strategy = strategy
        self._broker = broker
        self.column = column

    @property
    def size(self) -> float:
        return self._broker.positions[self.column].size

    @property
    def is_long(self) -> bool:
        return self._broker.positions[self.column].size > 0

    @property
    def is_short(self) -> bool:
        return self._broker.positions[self.column].size < 0

    def __bool__(self) -> bool:
        return self._broker.positions[self.column].size != 0

    @property
    def entry_price(self) -> float:
        return self._broker.positions[self.column].entry_price

    @property
    def pl(self) -> float:
        """Unrealised P&L at the current close (fees excluded)."""
        state = self._broker.positions[self.column]
        if state.size == 0:
            return 0.0
        close = float(self._broker.data.close_filled[self._strategy.i, self.column])
        return (close - state.entry_price) * state.size * self._broker.cs[self.column]

    @property
    def liquidation_price(self) -> float | None:
        value = self._broker.positions[self.column].liquidation
        return value or None

    def close(self) -> Order | None:
        """Close the whole position at the next open (no-op when flat)."""
        return self._strategy.close(self.column)

    def set_stops(self, *, sl: float | None = None, tp: float | None = None, trail: float | None = None) -> None:
        """Set (or move) the stop-loss, take-profit and trailing stop of the open position."""
        self._broker.set_stops(self.column, sl=sl, tp=tp, trail=trail)

    def __repr__(self) -> str:
        return f"<Position {self._broker.data.specs[self.column].symbol} size={self.size:g}>"


class Strategy:
    """Base of every strategy (see the module docstring). Subclasses implement :meth:`init` and :meth:`next`.

    An engine drives it through a small public lifecycle — what :func:`~zvt_crypto.trader.engine.run_backtest`
    does, and what a new engine (paper, live) does too:

    >>> strategy = SmaCross(fast=5, slow=20)                                # doctest: +SKIP
    >>> strategy.setup(Broker(data, cash=10_000), data)   # bind, then run init()   # doctest: +SKIP
    >>> for i in range(strategy.first_bar, data.n_bars):                    # doctest: +SKIP
    ...     strategy.clock.n = i + 1      # every view now ends at bar i (the engine also moves self.I's views)
    ...     strategy.next()

    :attr:`indicators` lists what ``init`` declared with :meth:`I`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: bars before ``next`` is first called; None: one bar after the last indicator's first value
    warmup: ClassVar[int | None] = None
    #: True when :meth:`signals` gives the vectorised path (entries / exits)
    vectorisable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.param_defaults()  # a bad declaration fails at definition time
        if cls.__dict__.get("name"):
            strategy_registry.register(cls.name, cls)

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        """Parameters: public class attributes of subclasses with a simple value (bool, int, float, str, None)."""
        params: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass in (object, Strategy):
                continue
            for key, value in vars(klass).items():
                if key.startswith("_") or key in RESERVED or callable(value) or isinstance(value, (property,
                                                                                                    classmethod,
                                                                                                    staticmethod)):
                    continue
                if isinstance(value, PARAM_TYPES):
                    if key in _api_names():
                        raise InvalidInputError(f"strategy {cls.label()!r}: parameter {key!r} would hide the "
                                                f"Strategy's own {key}; rename it")
                    params[key] = value
        return params

    @classmethod
    def describe(cls) -> str:
        text = (cls.description or cls.__doc__ or "").strip()
        return " ".join(text.split("\n\n")[0].split())  # the first paragraph, on one line

    @classmethod
    def label(cls) -> str:
        return cls.name or f"{cls.__module__}:{cls.__qualname__}"

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = resolve_params(self.label(), self.param_defaults(), params)
        for key, value in self.params.items():
            setattr(self, key, value)
        self.validate()
        self._clock = Clock(0)
        self._indicators: dict[int, tuple[np.ndarray, str]] = {}
        self._in_init = False
        self._start = 0

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- what subclasses provide -----------------------------------------------------------------------------------
    def validate(self) -> None:
        """Check parameter values together (e.g. ``fast < slow``); raise :class:`InvalidInputError`."""

    def init(self) -> None:
        """Declare indicators with :meth:`I` (runs once, before the first bar)."""

    def next(self) -> None:
        """Decide at the current bar's close; orders act from the next bar."""

    # -- the lifecycle (what an engine calls) ----------------------------------------------------------------------
    #: set by :meth:`setup` (declared here so the type checker knows they are always there when used)
    _broker: Broker
    _market: MarketData
    _check_lookahead: bool
    data: BarData
    datas: list[BarData]
    symbols: list[str]
    position: Position
    _positions: list[Position]

    def setup(self, broker: Broker, data: MarketData, *, start: int = 0, check_lookahead: bool = True) -> None:
        """Bind the strategy to ``data`` and ``broker``, then run :meth:`init` (with :attr:`market` readable).

        ``start`` is the first bar the strategy may act on (:attr:`first_bar` never comes before it);
        ``check_lookahead`` makes :meth:`I` test each indicator for look-ahead. Calling it again rebinds (a new
        run). An exception in ``init`` becomes a :class:`StrategyError` naming the strategy.

        >>> strategy.setup(broker, data, start=100)   # bars 0..99 only warm up the indicators  # doctest: +SKIP
        """
        self._broker = broker
        self._indicators = {}
        self.__dict__.pop("_signal_cache", None)
        self._market = data
        self._clock = Clock(data.n_bars)
        self._check_lookahead = check_lookahead
        self._start = int(start)
        self.datas = [BarData(data, k, self._clock) for k in range(data.n_symbols)]
        self.data = self.datas[0]
        self.symbols = data.symbols
        self._positions = [Position(self, broker, k) for k in range(data.n_symbols)]
        self.position = self._positions[0]
        self._in_init = True
        try:
            self.init()
        except ZvtCryptoError:
            raise
        except Exception as exc:
            raise StrategyError(f"strategy {self.label()!r} failed in init(): {type(exc).__name__}: {exc}") from exc
        finally:
            self._in_init = False

    def __getattr__(self, name: str) -> Any:
        # reached only when normal lookup fails: the attributes setup() binds do not exist before it ran
        if name in _BOUND:
            raise AttributeError(f"strategy {self.label()!r} has no {name} yet: it is set when an engine "
                                 "(run_backtest) calls setup() with the data and a broker")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def clock(self) -> Clock:
        """The shared bar counter of every view (:class:`Clock`): an engine sets ``clock.n`` to move them."""
        return self._clock

    @property
    def indicators(self) -> list[tuple[np.ndarray, str]]:
        """Every array declared with :meth:`I` since :meth:`setup`, whole-history, with its label, in order.

        >>> [label for _array, label in strategy.indicators]   # doctest: +SKIP
        ['sma', 'sma']
        """
        return list(self._indicators.values())

    @property
    def first_bar(self) -> int:
        """The first bar ``next`` sees: ``warmup``, else one after the last indicator's first value
        (backtesting.py's rule; an indicator that is all NaN does not count); never before :meth:`setup`'s
        ``start``."""
        n_bars = self._market.n_bars
        floor = min(self._start, n_bars)
        if self.warmup is not None:
            return max(floor, min(int(self.warmup), n_bars))
        start = 0
        for array, _label in self._indicators.values():
            valid = ~np.isnan(array)
            if array.ndim > 1:
                valid = valid.reshape(len(array), -1).all(axis=1)
            if valid.any():
                start = max(start, int(np.argmax(valid)))
        return max(floor, min(start + 1, n_bars))

    # -- data ------------------------------------------------------------------------------------------------------
    @property
    def market(self) -> MarketData:
        """All the data (every bar): for vectorised work in :meth:`init` only."""
        if not self._in_init:
            raise LookAheadError(f"strategy {self.label()!r}: self.market holds every bar, including future ones; "
                                 "use it in init() (e.g. through self.I) and self.data in next()")
        return self._market

    def bars(self, symbol: str | int = 0) -> pd.DataFrame:
        """One symbol's whole OHLCV frame (indexed by UTC ``timestamp``), for indicator functions in :meth:`init`."""
        return self.market.bars(self._column(symbol) if not isinstance(symbol, int) else symbol)

    @property
    def i(self) -> int:
        """The current bar's row."""
        return self._clock.n - 1

    @property
    def time(self) -> pd.Timestamp:
        return self.data.time

    @property
    def equity(self) -> float:
        """Equity at the current close."""
        return self._broker.equity_at(self._clock.n - 1)

    @property
    def cash(self) -> float:
        return self._broker.cash

    @property
    def orders(self) -> list[Order]:
        """Pending orders."""
        return [order for order in self._broker.orders if order.is_pending]

    def position_of(self, symbol: str | int) -> Position:
        return self._positions[self._column(symbol)]

    def _column(self, symbol: str | int | None) -> int:
        if symbol is None:
            return 0
        if isinstance(symbol, (int, np.integer)):
            if not 0 <= symbol < len(self.datas):
                raise InvalidInputError(f"symbol index {symbol} out of range 0..{len(self.datas) - 1}")
            return int(symbol)
        return self._market.column(symbol)

    # -- indicators ------------------------------------------------------------------------------------------------
    def I(self, func: Callable[..., Any], *args: Any, name: str | None = None,  # noqa: E743 - backtesting.py's name
          **kwargs: Any) -> Any:
        """Compute an indicator once on the whole history; ``next`` sees it as a view ending at the current bar.

        ``func`` returns an array, a Series, a DataFrame (one array per column, returned as a tuple) or a tuple of
        arrays; each must have one value per bar. Returns the array (or tuple of arrays). A function with an
        attribute ``causal = True`` (a vetted built-in) skips the look-ahead check."""
        label = str(name or getattr(func, "__name__", None) or "indicator")
        arrays = _as_arrays(func(*args, **kwargs), self._market.n_bars, label)
        if self._check_lookahead and not getattr(func, "causal", False):
            _check_causal(self.label(), label, func, args, kwargs, arrays, self._market.n_bars)
        for array in arrays:
            self._indicators[id(array)] = (array, label)
        return arrays[0] if len(arrays) == 1 else arrays

    # -- orders ----------------------------------------------------------------------------------------------------
    def buy(self, symbol: str | int | None = None, *, size: float | None = None, value: float | None = None,
            fraction: float | None = None, limit: float | None = None, stop: float | None = None,
            sl: float | None = None, tp: float | None = None, trail: float | None = None, tag: Any = None) -> Order:
        """Buy at the next bar (market), or when a ``limit`` / ``stop`` price is reached. Without a size: all-in
        (``fraction=1`` of the margin available, after closing a short)."""
        return self._order(1, symbol, size, value, fraction, limit, stop, sl, tp, trail, tag)

    def sell(self, symbol: str | int | None = None, *, size: float | None = None, value: float | None = None,
             fraction: float | None = None, limit: float | None = None, stop: float | None = None,
             sl: float | None = None, tp: float | None = None, trail: float | None = None, tag: Any = None) -> Order:
        """Sell (or go short) — the mirror of :meth:`buy`."""
        return self._order(-1, symbol, size, value, fraction, limit, stop, sl, tp, trail, tag)

    def _order(self, side: int, symbol: str | int | None, size: float | None, value: float | None,
               fraction: float | None, limit: float | None, stop: float | None, sl: float | None, tp: float | None,
               trail: float | None, tag: Any) -> Order:
        if size is None and value is None and fraction is None:
            fraction = 1.0
        kind = STOP_LIMIT if limit is not None and stop is not None else LIMIT if limit is not None else \
            STOP if stop is not None else MARKET
        return self._broker.submit(self._column(symbol), side, type=kind, size=size, value=value, fraction=fraction,
                                   limit=limit, stop=stop, sl=sl, tp=tp, trail=trail, tag=tag,
                                   bar=self._clock.n - 1)

    def close(self, symbol: str | int | None = None) -> Order | None:
        """Close the whole position of ``symbol`` at the next open (None when flat)."""
        column = self._column(symbol)
        state = self._broker.positions[column]
        if state.size == 0:
            return None
        return self._broker.submit(column, -1 if state.size > 0 else 1, close_all=True, reduce_only=True,
                                   bar=self._clock.n - 1)

    def order_target(self, symbol: str | int, weight: float, *, tag: Any = None) -> Order:
        """Trade ``symbol`` to ``weight`` × equity of notional (negative: short) at the next open."""
        return self._broker.submit(self._column(symbol), 0, weight=float(weight), tag=tag, bar=self._clock.n - 1)

    def rebalance(self, weights: Mapping[str | int, float] | Iterable[float]) -> list[Order]:
        """Target weights for several symbols at once (a mapping, or one weight per symbol in order); symbols
        left out keep their positions. Reductions fill before increases."""
        items = weights.items() if isinstance(weights, Mapping) else enumerate(weights)
        orders = []
        for symbol, weight in items:
            column = self._column(symbol)
            if weight == 0 and self._broker.positions[column].size == 0:
                continue
            orders.append(self.order_target(column, weight))
        return orders

    def cancel(self, order: Order) -> None:
        order.cancel()


# ---------------------------------------------------------------------------------------------------------------
# helpers for strategies
# ---------------------------------------------------------------------------------------------------------------
def crossover(series1: Any, series2: Any) -> bool:
    """True when ``series1`` just crossed above ``series2`` (both views; a number works as a constant):
    ``series1[-2] < series2[-2] and series1[-1] > series2[-1]`` — backtesting.py's rule.

    >>> crossover(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    True
    """
    try:
        return bool(series1[-2] < series2[-2] and series1[-1] > series2[-1])
    except IndexError:
        return False
    except TypeError:  # a number on one side
        if not hasattr(series1, "__getitem__"):
            series1 = (series1, series1)
        if not hasattr(series2, "__getitem__"):
            series2 = (series2, series2)
        try:
            return bool(series1[-2] < series2[-2] and series1[-1] > series2[-1])
        except IndexError:
            return False


def cross_above(series1: np.ndarray, series2: np.ndarray | float) -> np.ndarray:
    """Vectorised :func:`crossover` at every bar (False at the first bar and wherever a value is NaN)."""
    a = np.asarray(series1, dtype=np.float64)
    b = np.broadcast_to(np.asarray(series2, dtype=np.float64), a.shape)
    out = np.zeros(a.shape, dtype=bool)
    out[1:] = (a[:-1] < b[:-1]) & (a[1:] > b[1:])
    return out


def sma(values: Any, n: int) -> np.ndarray:
    """Simple moving average (NaN for the first ``n − 1`` bars): ``pd.Series(values).rolling(n).mean()``, the
    indicator of backtesting.py's SMA-cross example (same values to the bit)."""
    return pd.Series(np.asarray(values, dtype=np.float64)).rolling(int(n)).mean().to_numpy()


sma.causal = True  # type: ignore[attr-defined]  # tested (tests/trader): self.I skips the look-ahead check


def _as_arrays(values: Any, n_bars: int, label: str) -> tuple[np.ndarray, ...]:
    if isinstance(values, pd.DataFrame):
        arrays = tuple(values[column].to_numpy(dtype=np.float64) for column in values.columns)
    elif isinstance(values, pd.Series):
        arrays = (values.to_numpy(dtype=np.float64),)
    elif isinstance(values, tuple | list):
        arrays = tuple(np.asarray(value, dtype=np.float64) for value in values)
    else:
        array = np.asarray(values, dtype=np.float64)
        if array.ndim == 2 and array.shape[0] != n_bars and array.shape[1] == n_bars:
            arrays = tuple(array)
        else:
            arrays = (array,)
    for array in arrays:
        if array.ndim == 0 or array.shape[0] != n_bars:
            raise InvalidInputError(f"indicator {label!r} must give one value per bar ({n_bars}), got shape "
                                    f"{array.shape}")
    # own, contiguous copies: the views handed to next() must not alias the caller's data
    return tuple(np.array(array, dtype=np.float64, copy=True) for array in arrays)


def _truncate(value: Any, n_bars: int, keep: int) -> tuple[Any, bool]:
    if isinstance(value, (pd.Series, pd.DataFrame)) and len(value) == n_bars:
        return value.iloc[:keep], True
    if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n_bars:
        return value[:keep], True
    return value, False


def _check_causal(strategy: str, label: str, func: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any], arrays: tuple[np.ndarray, ...], n_bars: int) -> None:
    """Recompute on the first half of the bars; the overlap must agree (else the function looks ahead)."""
    keep = n_bars // 2
    if keep < 2:
        return
    cut_args, cut_any = [], False
    for value in args:
        cut, was_cut = _truncate(value, n_bars, keep)
        cut_args.append(cut)
        cut_any |= was_cut
    cut_kwargs = {}
    for key, value in kwargs.items():
        cut, was_cut = _truncate(value, n_bars, keep)
        cut_kwargs[key] = cut
        cut_any |= was_cut
    if not cut_any:  # the function reads no per-bar input we can shorten: nothing to compare
        return
    partial = _as_arrays(func(*cut_args, **cut_kwargs), keep, label)
    for full, part in zip(arrays, partial, strict=False):
        head = full[:keep]
        same = np.isclose(head, part, rtol=1e-9, atol=1e-12, equal_nan=True)
        if not same.all():
            bar = int(np.argmin(same))
            raise LookAheadError(
                f"strategy {strategy!r}: indicator {label!r} looks ahead: its value at bar {bar} is {head[bar]!r} "
                f"with the whole history but {part[bar]!r} when the bars after {keep - 1} are removed. An indicator "
                "must use only the current and earlier bars (no centred windows, shift(-k) or whole-sample "
                "normalisation)"
            )


@functools.cache
def _api_names() -> frozenset[str]:
    """The public names of the strategy API (a parameter may not reuse one)."""
    return frozenset(name for name in vars(Strategy) if not name.startswith("_")) | {
        name for name in _BOUND if not name.startswith("_")} | {"params"}


def get_strategy(spec: str | type[Strategy]) -> type[Strategy]:
    """The strategy class registered as ``spec``, or ``module:Class`` imported, or a class passed through."""
    if isinstance(spec, type):
        if not issubclass(spec, Strategy):
            raise InvalidInputError(f"{spec!r} is not a Strategy subclass")
        return spec
    import zvt_crypto.trader.builtin  # noqa: F401 - defining the built-ins registers them

    if ":" in spec:
        import importlib

        module_name, _, class_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InvalidInputError(f"cannot import strategy module {module_name!r}: {exc}") from None
        found = getattr(module, class_name, None)
        if not (isinstance(found, type) and issubclass(found, Strategy)):
            raise InvalidInputError(f"{spec!r}: {module_name} has no Strategy subclass named {class_name!r}")
        return found
    return strategy_registry.get(spec)


def strategy_names() -> list[str]:
    import zvt_crypto.trader.builtin  # noqa: F401

    return strategy_registry.names()
