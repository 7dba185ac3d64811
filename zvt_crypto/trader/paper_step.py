"""The scheduler's ``paper`` after-step: step paper accounts right after a job recorded their bars.

::

    [[jobs]]
    name = "spot-1h"
    exchange = "binance"
    symbols = ["BTC/USDT", "ETH/USDT"]
    levels = ["1h"]
    every = "1h"
    after = [{ paper = "btc-sma" }]          # or paper = ["btc-sma", "eth-rsi"], or paper = "*"

``paper = "*"`` steps every account whose exchange, symbols and level the run recorded. Named accounts are
stepped when the run recorded any of their symbols on their exchange (at their level, when the job records
levels) and reported as skipped otherwise. Whether a named account exists can only be checked when the step runs
(the config is validated without opening the store): an unknown one fails the step with a message that says how
to create it, after the other accounts were stepped.

Registered through the ``zvt_crypto.steps`` entry-point group (``setup.cfg``): the step registry imports this
module the first time a kind is looked up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zvt_crypto.contract.errors import ConfigError, InvalidInputError, ZvtCryptoError
from zvt_crypto.schedule.steps import StepContext, StepResult, register_step

if TYPE_CHECKING:
    from zvt_crypto.schedule.config import AfterStep

ALL = "*"


class PaperStep:
    """``{ paper = "NAME" }`` (or a list of names, or ``"*"``): step those paper accounts after the recording."""

    keys = frozenset({"paper"})

    def parse(self, entry: Mapping[str, Any], where: str, levels: tuple[str, ...]) -> AfterStep:
        from zvt_crypto.schedule.config import AfterStep
        from zvt_crypto.trader.paper import check_account_name

        extra = sorted(set(entry) - self.keys)
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}; a paper step takes only paper = "
                              "\"account\" (or a list of accounts, or \"*\" for every account the job feeds)")
        value = entry["paper"]
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
            raise ConfigError(f"{where}: write paper = \"account\", paper = [\"a\", \"b\"] or paper = \"*\", "
                              f"not {value!r}")
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: paper lists the same account twice: {names!r}")
        if ALL in names and len(names) > 1:
            raise ConfigError(f"{where}: paper = \"*\" already means every account; drop the other names")
        for name in names:
            if name != ALL:
                try:
                    check_account_name(name)
                except InvalidInputError as exc:
                    raise ConfigError(f"{where}: {exc}") from None
        del levels  # an account's level is known only in the store: checked when the step runs
        return AfterStep("paper", {"accounts": list(names)})

    def describe(self, step: AfterStep) -> str:
        names = step.params["accounts"]
        return "paper (every account fed)" if names == [ALL] else f"paper {', '.join(names)}"

    def run(self, context: StepContext, step: AfterStep) -> StepResult:
        from zvt_crypto.trader import paper_store as db
        from zvt_crypto.trader.paper import PaperTrader

        names = step.params["accounts"]
        every = names == [ALL]
        accounts: list[tuple[str, dict[str, Any] | None]] = (
            [(row["name"], row) for row in db.account_rows(context.store)] if every
            else [(name, db.account_row(context.store, name)) for name in names])
        total, texts, errors = 0, [], []
        for name, row in accounts:
            if row is None:
                errors.append(f"no paper account {name!r}; create it with zvt-crypto paper create {name} "
                              "--strategy … --exchange … --symbol … --level …")
                continue
            skipped = self._not_fed(context, row)
            if skipped:
                if not every:
                    texts.append(f"{name}: skipped ({skipped})")
                continue
            try:
                report = PaperTrader.from_row(row).step(context.store)
            except ZvtCryptoError as exc:
                errors.append(str(exc))
                continue
            total += report.rows
            texts.append(str(report))
        if errors:
            done = f" (done: {'; '.join(texts)})" if texts else ""
            raise ZvtCryptoError("; ".join(errors) + done)
        return StepResult(total, "; ".join(texts) or "no paper account is fed by this job")

    @staticmethod
    def _not_fed(context: StepContext, row: Mapping[str, Any]) -> str | None:
        """Why this run recorded nothing the account trades on (None: it did)."""
        recorded = context.symbols.get(row["exchange"])
        if not recorded or not set(recorded) & set(row["symbols"]):
            return f"this run recorded none of {', '.join(row['symbols'])} on {row['exchange']}"
        levels = context.job.levels
        if levels and row["level"] not in levels:
            return f"this run records {', '.join(levels)} bars, the account trades {row['level']}"
        return None


register_step("paper", PaperStep())
