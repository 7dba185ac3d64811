"""Steps that run after a job's recording (``after = [...]``): a registry of kinds, with ``factor`` built in.

Why a registry: the paper trader (and later others) adds its own kind — ``register_step("paper", PaperStep())`` —
without the scheduler knowing it; an ``after`` entry whose kind nobody registered is a config error that lists
the kinds that exist. Kinds other than ``factor`` are modules named in the ``zvt_crypto.steps`` entry-point group
(the paper trader's included, declared in ``setup.cfg`` as a third party would), imported the first time a kind is
looked up: importing the scheduler does not import the trader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from zvt_crypto.contract.errors import ConfigError, ZvtCryptoError
from zvt_crypto.contract.registry import STEPS_GROUP, PluginRegistry

if TYPE_CHECKING:
    from zvt_crypto.contract.config import Config
    from zvt_crypto.contract.store import Store
    from zvt_crypto.schedule.config import AfterStep, JobSpec


@dataclass
class StepContext:
    """What a step may use: the store, the config, the job and the symbols each exchange just recorded."""

    store: Store
    config: Config
    job: JobSpec
    symbols: Mapping[str, list[str]]  # exchange → symbols of this run (the universe resolved)
    failed: Mapping[str, set[str]] = field(default_factory=dict)  # exchange → symbols whose recording failed


@dataclass
class StepResult:
    """What a step did: rows written, and a one-line summary for the run's history."""

    rows: int = 0
    text: str = ""


class StepKind(Protocol):
    """A kind of after-step: validates its config entry up front, then runs once per job run."""

    def parse(self, entry: Mapping[str, Any], where: str, levels: tuple[str, ...]) -> AfterStep:
        """Validate one ``after`` entry (``where`` names the file, job and entry); raise :class:`ConfigError`."""
        ...

    def describe(self, step: AfterStep) -> str: ...

    def run(self, context: StepContext, step: AfterStep) -> StepResult: ...


# The package's own entries of the steps group, for an install whose metadata predates the group (setup.cfg
# declares the same; ``pip install -e .`` brings the metadata up to date).
BUILTIN_STEPS = {"paper": "zvt_crypto.trader.paper_step"}
_steps: PluginRegistry[StepKind] = PluginRegistry(STEPS_GROUP, "after-step kind", builtins=BUILTIN_STEPS)


def register_step(kind: str, step: StepKind, *, replace: bool = False) -> StepKind:
    """Make ``kind = "..."`` usable in ``after`` entries (the registries' one replace policy applies)."""
    return _steps.register(kind, step, replace=replace)


def step_kinds() -> dict[str, StepKind]:
    """Every kind, the entry-point group's loaded on first use."""
    return _steps.items()


def get_step(kind: str) -> StepKind:
    steps = step_kinds()
    if kind not in steps:
        raise ConfigError(f"unknown after-step kind {kind!r}; known: {', '.join(sorted(steps))}")
    return steps[kind]


class FactorStep:
    """``{ factor = "rsi", params = { window = 14 }, level = "1h" }``: compute the factor incrementally on the bars
    this run recorded, for every exchange of the job. ``level`` may be left out when the job records one level."""

    keys = frozenset({"factor", "params", "level"})

    def parse(self, entry: Mapping[str, Any], where: str, levels: tuple[str, ...]) -> AfterStep:
        from zvt_crypto.contract.levels import Level
        from zvt_crypto.factors.base import make_factor
        from zvt_crypto.schedule.config import AfterStep

        extra = sorted(set(entry) - self.keys)
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}; a factor step takes "
                              f"{', '.join(sorted(self.keys))}")
        name, params = entry["factor"], entry.get("params", {})
        if not isinstance(name, str) or not isinstance(params, Mapping):
            raise ConfigError(f"{where}: write factor = \"name\" and params = {{ key = value }}")
        level = entry.get("level")
        if level is None:
            if len(levels) != 1:
                raise ConfigError(f"{where}: factor {name!r} needs level = \"…\" (the job records "
                                  f"{list(levels) or 'no levels'})")
            level = levels[0]
        try:
            level = str(Level.parse(level))
            factor = make_factor(name, dict(params))
        except ZvtCryptoError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if levels and level not in levels:
            raise ConfigError(f"{where}: factor {name!r} runs on {level} bars but the job records "
                              f"{', '.join(levels)}; add {level} to levels or record it in another job")
        return AfterStep("factor", {"factor": name, "params": dict(factor.p), "level": level})

    def describe(self, step: AfterStep) -> str:
        from zvt_crypto.factors.base import make_factor

        return make_factor(step.params["factor"], step.params["params"]).factor_id(step.params["level"])

    def run(self, context: StepContext, step: AfterStep) -> StepResult:
        from zvt_crypto.factors.base import make_factor
        from zvt_crypto.factors.engine import compute_factor

        rows, texts = 0, []
        factor = make_factor(step.params["factor"], step.params["params"])
        for exchange, symbols in context.symbols.items():
            if not symbols:
                continue
            run = compute_factor(factor, exchange=exchange, symbols=symbols, level=step.params["level"],
                                 store=context.store)
            rows += run.changed
            texts.append(f"{exchange}: {run}")
        return StepResult(rows, "; ".join(texts))


register_step("factor", FactorStep())
