"""The recorder contract: a class bound to a schema and a provider that registers itself when defined.

``Bar.record_data(exchange="binance", symbols=["BTC/USDT"], level="1h")`` finds the registered recorder for
``Bar`` that supports the exchange and runs it: one ccxt async client per exchange, symbols recorded
concurrently (bounded), every call through :class:`VenueClient` (timeouts, retries, budget, circuit breaker),
a progress bar per job and a :class:`RecordSummary` at the end. Subclasses implement ``record_symbol``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.redaction import redact_text
from zvt_crypto.contract.registry import recorder_for, recorders
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.contract.text import shown
from zvt_crypto.recorders.exchange import create_exchange, require
from zvt_crypto.recorders.resilience import VenueClient, retryable, venue_client, venue_failure_advice
from zvt_crypto.recorders.venues import DERIVATIVES_VENUE

log = logging.getLogger(__name__)


@dataclass
class SymbolResult:
    symbol: str
    rows: int = 0
    changed: int = 0
    gaps_found: int = 0
    gaps_filled: int = 0
    gaps_confirmed: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # not failures, but what the user should know (shown in str)


@dataclass
class RecordSummary:
    """What one recording job did."""

    schema: str
    exchange: str
    results: list[SymbolResult] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(result, name) for result in self.results)

    @property
    def failed(self) -> list[SymbolResult]:
        return [result for result in self.results if result.error]

    def __str__(self) -> str:
        text = (
            f"{self.schema} from {self.exchange}: {len(self.results)} symbol(s), {self.total('changed')} rows written "
            f"({self.total('rows')} received), {self.requests} requests, {self.retries} retries, gaps "
            f"{self.total('gaps_found')} found / {self.total('gaps_filled')} filled / "
            f"{self.total('gaps_confirmed')} confirmed empty, {self.seconds:.1f} s"
        )
        for result in self.results:
            text += "".join(f"\n  {result.symbol}: {note}" for note in result.notes)
        for result in self.failed:
            text += f"\n  {result.symbol}: FAILED — {result.error}"
        return redact_text(text)


@dataclass
class RunContext:
    """Shared by the symbol tasks of one run."""

    exchange: Any
    client: VenueClient
    store: Store
    config: Config
    options: dict[str, Any]
    # the venue's clock, asked once per run by the first symbol task that needs it and awaited by the others
    venue_clock: asyncio.Task[int] | None = field(default=None, repr=False)
    # each symbol's result as it is built (Recorder.new_result): what a symbol stored still counts when it fails
    # or the run is cancelled part-way
    results: dict[str, SymbolResult] = field(default_factory=dict)
    # the run's progress display (rich ``Progress``; disabled when not shown): paged recorders add a task per symbol
    # that counts its pages
    progress: Any = field(default=None, repr=False)


class Recorder:
    """Base of every recorder. Subclasses set ``schema``, ``provider``, ``capability`` (the ccxt ``has`` flag)
    and ``kind`` (words for messages), and implement :meth:`record_symbol`; defining one registers it."""

    schema: ClassVar[type[Schema]]
    provider: ClassVar[str] = "ccxt"
    capability: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    concurrency: ClassVar[int] = 4
    # the kind exists for derivatives only (funding, open interest, mark / index prices): a spot symbol is refused
    contracts_only: ClassVar[bool] = False

    #: the venues (ccxt ids) this recorder is written for; empty: generic, every ccxt exchange. Naming a venue
    #: makes it win over the generic recorder there (``contract.registry.recorder_for`` has the whole rule)
    exchanges: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a subclass that declares its schema, provider or venues is a recorder of its own (registered as
        # "<Schema>:<provider>[:<venues>]", so a venue-specific one never replaces the generic one)
        declares = {"schema", "provider", "exchanges"} & set(cls.__dict__)
        if declares and getattr(cls, "schema", None) is not None:
            venues = f":{','.join(cls.exchanges)}" if cls.exchanges else ""
            recorders.register(f"{cls.schema.__name__}:{cls.provider}{venues}", cls)

    @classmethod
    def supports(cls, exchange_id: str) -> bool:
        """A venue-specific recorder supports its venues; a generic ccxt recorder every ccxt exchange (the ``has``
        flag is checked on the client)."""
        if cls.exchanges:
            return exchange_id in cls.exchanges
        import ccxt

        return exchange_id in ccxt.exchanges

    def __init__(self, store: Store | Config | str | None = None, config: Config | None = None) -> None:
        # Fix: a Store made from a config carries it (``store.config``); it was ignored, so
        # ``Schema.record_data(..., store=store)`` built its ccxt clients from the default config instead (e.g. the
        # real venue rather than the one the store's config names).
        self.config = (config or (store if isinstance(store, Config) else None) or getattr(store, "config", None)
                       or load_config())
        self.store = get_store(store if store is not None else self.config)
        # the summary of the latest run, filled (requests, retries, seconds) even when the run raised
        self.last_summary: RecordSummary | None = None

    # -- entry points -----------------------------------------------------------------------------------------------
    def record(self, *, exchange: str, symbols: Sequence[str] | str | None = None, show_progress: bool = True,
               **options: Any) -> RecordSummary:
        """Record ``symbols`` of ``exchange`` (blocking). Options are the subclass's (``level``, ``start`` …)."""
        return run_coroutine(self.arecord(exchange=exchange, symbols=symbols, show_progress=show_progress, **options))

    async def arecord(self, *, exchange: str, symbols: Sequence[str] | str | None = None,
                      show_progress: bool = True, **options: Any) -> RecordSummary:
        symbol_list = [symbols] if isinstance(symbols, str) else list(symbols or [])
        if not symbol_list:
            raise InvalidInputError("no symbols to record: pass one or more ccxt symbols such as 'BTC/USDT'")
        async with self.venue_run(exchange, options) as (context, summary):
            markets = await load_markets(context)
            unknown = [symbol for symbol in symbol_list if symbol not in markets]
            if unknown:
                raise InvalidInputError(_unknown_symbols_message(exchange, unknown, markets))
            if self.contracts_only:
                self.check_contracts(exchange, symbol_list, markets)
            from zvt_crypto.recorders.markets import write_entities

            write_entities(self.store, exchange, [markets[s] for s in symbol_list],
                           getattr(context.exchange, "precisionMode", None))
            self.prepare(context)
            summary.results = await self._run_symbols(context, symbol_list, show_progress)
        return summary

    @asynccontextmanager
    async def venue_run(self, exchange: str, options: dict[str, Any],
                        label: str | None = None) -> AsyncIterator[tuple[RunContext, RecordSummary]]:
        """One run against one exchange: the ccxt client (checked for this recorder's capability), its
        resilient wrapper, and the summary's request counts and duration, whatever happens inside."""
        started = time.monotonic()
        client_exchange = create_exchange(exchange, self.config, asynchronous=True)
        client = venue_client(client_exchange, self.config)  # the [exchanges.<id>] budget and retry policy
        summary = self.last_summary = RecordSummary(label or self.schema.__name__, exchange)
        context = RunContext(client_exchange, client, self.store, self.config, options)
        try:
            require(client_exchange, self.capability, self.kind)
            yield context, summary
        finally:
            if context.venue_clock is not None and not context.venue_clock.done():
                context.venue_clock.cancel()  # every symbol task was cancelled while it was asked
            if not summary.results:  # cancelled or interrupted part-way: what the symbols stored until then
                summary.results = list(context.results.values())
            await client_exchange.close()
            summary.requests, summary.retries = client.stats.requests, client.stats.retries
            summary.seconds = time.monotonic() - started
            log.info("%s", summary)

    async def venue_now(self, context: RunContext) -> int:
        """The venue's clock (never trust ours to decide which bar is closed or when a market went), asked
        once per run: the symbol tasks start together, so the first one's request is shared (a task) rather
        than each asking before any answer is cached. Shielded: a cancelled symbol does not cancel it."""
        if context.venue_clock is None:

            async def ask() -> int:
                try:
                    if context.exchange.has.get("fetchTime"):
                        return int(await context.client.call("fetch_time"))
                    return int(context.exchange.milliseconds())
                except BaseException:
                    context.venue_clock = None  # a failed answer is not shared: the next symbol asks again
                    raise

            context.venue_clock = asyncio.ensure_future(ask())
        return await asyncio.shield(context.venue_clock)

    def check_contracts(self, exchange: str, symbols: list[str], markets: Mapping[str, Any]) -> None:
        """Refuse symbols that are not derivatives (before anything is stored): the venue would answer with its
        perpetual's series, stored under the spot pair."""
        spot = [symbol for symbol in symbols if not markets[symbol].get("contract")]
        if not spot:
            return
        market = markets[spot[0]]
        perp = f"{market.get('base')}/{market.get('quote')}:{market.get('quote')}"
        if perp in markets:
            hint = f"use its perpetual, e.g. {perp}"
        elif exchange in DERIVATIVES_VENUE:
            hint = f"use a perpetual on {DERIVATIVES_VENUE[exchange]}, e.g. --exchange {DERIVATIVES_VENUE[exchange]} " \
                   f"--symbol {perp}"
        else:
            hint = f"use a perpetual or futures symbol (such as {perp}) of a venue that lists it"
        raise InvalidInputError(f"{self.kind} exist for perpetuals and futures only; {', '.join(spot)} on {exchange} "
                                f"{'is a spot market' if len(spot) == 1 else 'are spot markets'}: {hint}")

    def prepare(self, context: RunContext) -> None:
        """Validate options once per run (before any symbol starts); subclasses override."""

    @staticmethod
    def new_result(context: RunContext, symbol: str) -> SymbolResult:
        """The result ``record_symbol`` fills as it goes: kept by the run, so the rows a symbol stored are
        reported even when it fails or is cancelled later."""
        result = context.results[symbol] = SymbolResult(symbol)
        return result

    async def _run_symbols(self, context: RunContext, symbols: list[str], show_progress: bool) -> list[SymbolResult]:
        gate = asyncio.Semaphore(self.concurrency)
        shared = context.options.get("_progress")  # one display for several exchanges recorded at once
        with nullcontext(shared) if shared is not None else new_progress(show_progress) as progress:
            task = progress.add_task(f"{context.exchange.id} {self.kind}", total=len(symbols))
            context.progress = progress

            def failed(symbol: str, error: str) -> SymbolResult:
                """The symbol's result so far (the rows it stored count), with its error."""
                result = context.results.setdefault(symbol, SymbolResult(symbol))
                result.error = redact_text(error)
                return result

            async def one(symbol: str) -> SymbolResult:
                async with gate:
                    try:
                        return await self.record_symbol(context, symbol)
                    except ZvtCryptoError as exc:
                        return failed(symbol, str(exc))
                    except Exception as exc:  # one symbol's failure must not stop the others
                        log.exception("recording %s %s failed", context.exchange.id, symbol)
                        return failed(symbol, f"{type(exc).__name__}: {exc}")
                    except (asyncio.CancelledError, KeyboardInterrupt):
                        failed(symbol, "interrupted before it finished; a rerun resumes after what it stored")
                        raise
                    finally:
                        progress.advance(task)

            return list(await asyncio.gather(*(one(symbol) for symbol in symbols)))

    async def record_symbol(self, context: RunContext, symbol: str) -> SymbolResult:  # pragma: no cover
        raise NotImplementedError


class VenueUnavailableError(ZvtCryptoError):
    """The venue kept failing a request the whole run depends on (its markets)."""


async def load_markets(context: RunContext, reload: bool = False) -> dict[str, Any]:
    """The venue's markets (retried as every call); a venue that keeps failing is a :class:`VenueUnavailableError`
    naming it and what to do, rather than ccxt's exception."""
    try:
        return await context.client.call("load_markets", *((True,) if reload else ()))
    except Exception as exc:
        if not retryable(exc):
            raise
        name = context.exchange.id
        raise VenueUnavailableError(
            f"{name}: could not load its markets ({type(exc).__name__}: {exc}); gave up after "
            f"{context.client.stats.requests} request(s): {venue_failure_advice(name, exc)}") from exc


def new_progress(show: bool) -> Any:
    """A rich progress display (a bar per job, one per symbol counting its pages, each with its ETA), or a silent
    one."""
    from rich.progress import Progress

    from zvt_crypto.contract.progress import progress_columns

    return Progress(*progress_columns(), disable=not show, transient=False)


async def arecord_exchanges(schema: type[Schema], exchanges: Mapping[str, Sequence[str] | None], *,
                            store: Store | Config | str | None = None, config: Config | None = None,
                            show_progress: bool = True, partial: list[RecordSummary] | None = None,
                            **options: Any) -> list[RecordSummary]:
    """Record ``schema`` from several exchanges at once, each with its own client, budget and circuit breaker,
    so one broken venue never stalls the others: its failure is reported in its summary, the rest go on.

    ``partial``: when the call is cancelled or interrupted, the summaries of the venues' runs so far (what they
    stored and the requests they sent) are appended to it before the exception goes on. ``config``: the clients'
    settings when they are not the store's own (the scheduler's job runner passes its config)."""
    recorders = {exchange: recorder_for(schema, exchange)(store, config) for exchange in exchanges}
    with new_progress(show_progress) as progress:

        async def one(exchange: str) -> RecordSummary:
            recorder = recorders[exchange]
            transient = False
            try:
                return await recorder.arecord(exchange=exchange, symbols=exchanges[exchange],
                                              show_progress=show_progress, _progress=progress, **options)
            except ZvtCryptoError as exc:
                error = str(exc)
            except Exception as exc:  # one venue's failure must not stop the others
                log.exception("recording %s from %s failed", schema.__name__, exchange)
                error, transient = f"{type(exc).__name__}: {exc}", retryable(exc)
                cause = exc
            # the failed run's own summary: its requests and retries show how hard the venue was tried
            summary = recorder.last_summary or RecordSummary(schema.__name__, exchange)
            if transient:
                error += f" — gave up after {summary.requests} request(s): {venue_failure_advice(exchange, cause)}"
            summary.results = [*summary.results, SymbolResult("(all)", error=redact_text(error))]
            return summary

        try:
            return list(await asyncio.gather(*(one(exchange) for exchange in exchanges)))
        except BaseException:
            if partial is not None:
                partial.extend(r.last_summary for r in recorders.values() if r.last_summary is not None)
            raise


def record_exchanges(schema: type[Schema], exchanges: Mapping[str, Sequence[str] | None], *,
                     store: Store | Config | str | None = None, show_progress: bool = True,
                     **options: Any) -> list[RecordSummary]:
    """Blocking :func:`arecord_exchanges`.

    >>> record_exchanges(Bar, {"binance": ["BTC/USDT"], "okx": ["BTC/USDT"]}, level="1h")  # doctest: +SKIP
    """
    return run_coroutine(arecord_exchanges(schema, exchanges, store=store, show_progress=show_progress, **options))


def record_kind(kind: str, *, exchanges: Sequence[str], symbols: Sequence[str] = (), store: Store,
                config: Config | None = None, level: str | None = None, start: str | None = None,
                end: str | None = None, recheck_gaps: bool | None = None, depth: int | None = None,
                show_progress: bool = True) -> list[RecordSummary]:
    """Record one data kind (``"bars"``, ``"funding"`` … :data:`~zvt_crypto.domain.kinds.KINDS`) from
    ``exchanges``: what ``zvt-crypto record KIND`` and :func:`zvt_crypto.record` run, with the same checks.
    Several exchanges record concurrently, each with its own client, budget and breaker."""
    from zvt_crypto.contract.schema import get_schema
    from zvt_crypto.domain.kinds import KINDS
    from zvt_crypto.recorders.exchange import check_ccxt_exchange

    name = kind.replace("_", "-")
    if name not in KINDS:
        raise InvalidInputError(f"unknown kind {kind!r}; record one of {', '.join(KINDS)}")
    schema_name, leveled, _help = KINDS[name]
    if leveled and level is None:
        raise InvalidInputError(f"recording {name} needs a level (1m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w)")
    if not exchanges:
        raise InvalidInputError("name the exchange to record from, e.g. binance or binanceusdm")
    if name != "markets" and not symbols:
        raise InvalidInputError(f"recording {name} needs one or more ccxt symbols such as 'BTC/USDT'")
    for exchange in exchanges:
        check_ccxt_exchange(exchange)  # a typo gets "did you mean …", not "no recorder supports"
    schema = get_schema(schema_name)
    given = {"level": level if leveled else None, "recheck_gaps": recheck_gaps, "depth": depth}
    options: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if name != "markets":
        options.update(start=start, end=end)
    if len(exchanges) == 1:
        recorder = recorder_for(schema, exchanges[0])(store, config)
        return [recorder.record(exchange=exchanges[0], symbols=list(symbols) or None, show_progress=show_progress,
                                **options)]
    return record_exchanges(schema, dict.fromkeys(exchanges, list(symbols) or None), store=store,
                            show_progress=show_progress, **options)


def run_coroutine(coroutine: Any) -> Any:
    """Run ``coroutine`` to completion, also from inside a running event loop (a notebook): then in a thread
    with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:  # outside the except block: its RuntimeError must not become every failure's __context__
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="zvt-crypto-recorder")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def _unknown_symbols_message(exchange: str, unknown: list[str], markets: dict[str, Any]) -> str:
    import difflib

    hints = []
    for symbol in unknown:
        close = difflib.get_close_matches(symbol, list(markets), n=3)
        hints.append(f"{shown(symbol)} (did you mean {', '.join(close)}?)" if close else shown(symbol))
    return f"unknown symbol(s) on {exchange}: {'; '.join(hints)}. Use ccxt unified symbols such as 'BTC/USDT'"
