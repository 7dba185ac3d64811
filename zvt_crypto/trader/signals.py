"""Signal strategies: entries and exits, on one engine, with a vectorised twin.

A :class:`SignalStrategy` trades each symbol from two boolean signals — *entry* and *exit* — through one state
machine, in ``direction`` ``"long"`` (flat → long on entry, long → flat on exit), ``"short"`` (flat → short on
exit, short → flat on entry) or ``"both"`` (entry: go / reverse long, exit: go / reverse short; when flat and both
fire, entry wins). A position is entered with ``fraction`` of the margin available (one symbol) or ``fraction ·
equity / N`` of notional (N symbols).

``next`` (the event engine) calls :meth:`SignalStrategy.act` with the signals of the current bar; a strategy that
also implements :meth:`SignalStrategy.signals` — the same signals for every bar at once, vectorised — can run on
the vectorised path (``run_backtest(..., engine="vectorised")``), which makes exactly the same trades.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader.strategy import Strategy

DIRECTIONS = ("long", "short", "both")


class SignalStrategy(Strategy):
    """Base of entry/exit strategies (see the module docstring)."""

    direction = "long"
    fraction = 1.0
    vectorisable: ClassVar[bool] = True

    def validate(self) -> None:
        if self.direction not in DIRECTIONS:
            raise InvalidInputError(f"strategy {self.label()!r}: direction must be one of {', '.join(DIRECTIONS)}, "
                                    f"got {self.direction!r}")
        if not 0 < self.fraction <= 1:
            raise InvalidInputError(f"strategy {self.label()!r}: fraction must be in (0, 1], got {self.fraction}")

    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        """``(entries, exits)``: boolean arrays, one value per bar of the first symbol, computed from the whole
        history (the indicators of :meth:`init`); must agree with what :meth:`next` decides bar by bar."""
        raise NotImplementedError(f"{type(self).__name__} has no vectorised signals(); use the event engine")

    def next(self) -> None:
        """Default: the precomputed :meth:`signals` of the current bar (subclasses usually decide here)."""
        if getattr(self, "_signal_cache", None) is None:
            self._signal_cache = self.full_signals()
        entries, exits = self._signal_cache
        i = self.i
        self.act(bool(entries[i]), bool(exits[i]))

    def full_signals(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`signals` with every indicator visible (as in ``init``), whatever bar the engine is at."""
        clock = self.clock
        n = clock.n
        saved = {}
        full = {id(array): array for array, _label in self.indicators}
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) and value.base is not None and id(value.base) in full:
                saved[name] = value
                setattr(self, name, value.base)
        clock.n = self._market.n_bars
        try:
            entries, exits = self.signals()
        finally:
            clock.n = n
            for name, value in saved.items():
                setattr(self, name, value)
        return np.asarray(entries, dtype=bool), np.asarray(exits, dtype=bool)

    def act(self, entry: bool, exit: bool, symbol: int = 0) -> None:
        """Apply the state machine to one symbol with this bar's signals."""
        size = self._broker.positions[symbol].size
        direction = self.direction
        if size == 0:
            if direction == "long":
                if entry and not self._pending(symbol):
                    self._enter(1, symbol)
            elif direction == "short":
                if exit and not self._pending(symbol):
                    self._enter(-1, symbol)
            elif (entry or exit) and not self._pending(symbol):
                self._enter(1 if entry else -1, symbol)
        elif size > 0:
            if exit and not self._pending(symbol):
                if direction == "both":
                    self._reverse(-1, symbol)
                else:
                    self.close(symbol)
        elif entry and not self._pending(symbol):
            if direction == "both":
                self._reverse(1, symbol)
            else:
                self.close(symbol)

    def _pending(self, symbol: int) -> bool:
        return any(order.column == symbol and order.is_pending for order in self._broker.orders)

    def _reverse(self, side: int, symbol: int) -> None:
        if len(self.datas) == 1:  # one order: the broker closes the position, then sizes the new one
            self._enter(side, symbol)
        else:
            self.close(symbol)
            self._enter(side, symbol)

    def _enter(self, side: int, symbol: int) -> None:
        if len(self.datas) == 1:
            (self.buy if side > 0 else self.sell)(symbol, fraction=self.fraction)
        else:
            value = self.fraction * self.equity / len(self.datas)
            (self.buy if side > 0 else self.sell)(symbol, value=value)
