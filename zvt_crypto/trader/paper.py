"""Paper trading: a strategy runs on new bars as the recorder stores them, on a simulated account whose state lives
in the store, so it survives restarts — and trades exactly as a backtest over the same bars would.

>>> trader = PaperTrader("btc-sma", "sma_cross", {"fast": 10, "slow": 30}, exchange="binance",
...                      symbols=["BTC/USDT"], level="1h", fee=0.001).create(store)      # doctest: +SKIP
>>> trader.step(store)          # after each recording: processes the bars stored since the last step  # doctest: +SKIP
>>> account_status(store)                                                                  # doctest: +SKIP

Design: replay, not snapshot. A step loads the account's bars from its fixed data start (the warm-up before its
``start``; once the first step ran, from the first bar that step read) to the newest bar every symbol has, runs
:func:`~zvt_crypto.trader.engine.run_backtest` on them with the account's settings and ``start`` — the very
function a backtest runs, risk limits included — and persists only what is new: trades closed, orders finalised
and equity marked after the last processed bar, plus the state after the newest bar (cash, positions, open
orders, risk state), in ONE transaction that also bumps the account's revision. Why replay:

* Faithful by construction: "paper == backtest" is not a property to maintain across two code paths, it is the
  same call on the same bars. A decision at a bar's close fills at the next bar's open even when that bar arrives
  a step (or a restart) later, because the replay simply sees both bars.
* A strategy's state is arbitrary Python (indicator arrays, counters, dicts); snapshotting it — and the broker's
  open orders, protective levels, liquidation prices, funding cursor, kill-switch and daily-loss state — would
  mean pickling objects across code versions. A replay needs only the definition.
* Crash-safe and idempotent for free: nothing is written until the single commit, so a crash leaves the previous
  state and the next step redoes the same bars; a step with no new bar writes nothing; a concurrent step fails
  the revision check (and is retried) instead of appending twice — also when it committed between this step's
  read of the account and its check of the persisted history. Replacing an account (``create --reset``)
  continues its revision, and a step writes only into an account of its own definition, so a step of the old
  definition in flight cannot write into the new one.

Cost: each step re-runs the account's whole history (a year of 1h bars is ~9k bars, a few ms in the event
engine; a year of 1m bars, ~0.5 M bars, about a second); a long-lived fine-grained account is best restarted
(``reset --start``) now and then. Determinism is checked, not assumed: every step compares the replay with what
was persisted (the equity at the last processed bar, every persisted trade and final order); a difference —
stored bars rewritten, or the strategy's code changed its decisions — is a :class:`PaperHistoryError` that says
so, never a silent rewrite of the record.

Which bars are processed: only bars every symbol of the account has (a symbol that lags holds the others back,
so a bar is never replayed later with more symbols filled in), and for perps only bars before the next funding
payment that is not stored yet (a payment recorded late would otherwise change a processed bar); a perp with no
funding stored at all is not processed until its funding is recorded. The recorders store closed bars only, so
every stored bar is final. The first step records the first bar it read (``first_bar_timestamp``) and later
steps read from exactly there, so bars recorded before it afterwards (a backfilled warm-up) are ignored; bars
inserted inside the processed history (a hole filled) change the replay and so invalidate the account (a
:class:`PaperHistoryError`: reset it).

This module is the facade; the parts: :mod:`.paper_account` (the definition and its verbs, the step),
:mod:`.paper_replay` (the rows, state and verification a step derives from its replay), :mod:`.paper_queries`
(status, trades, orders, equity; delete) and :mod:`.paper_store` (the SQL).
"""

from zvt_crypto.trader.paper_account import (
    DEFAULT_WARMUP,
    PaperHistoryError,
    PaperTrader,
    StepReport,
    check_account_name,
    strategy_version,
)
from zvt_crypto.trader.paper_queries import (
    account_equity,
    account_orders,
    account_status,
    account_trades,
    delete_account,
    list_accounts,
)
from zvt_crypto.trader.paper_store import PaperConflictError

__all__ = ["DEFAULT_WARMUP", "PaperConflictError", "PaperHistoryError", "PaperTrader", "StepReport",
           "account_equity", "account_orders", "account_status", "account_trades", "check_account_name",
           "delete_account", "list_accounts", "strategy_version"]
