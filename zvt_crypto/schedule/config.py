"""Scheduled jobs from the config file: ``[schedule]`` (daemon-wide settings) and ``[[jobs]]`` (what, when, then).

Why everything is validated here, up front: a daemon that starts, writes its lock and history and then fails on
the third job's typo at 03:00 is worse than one that refuses to start. Every error names the file, the job and
the key, and says what to write instead::

    [schedule]
    alert_after_failures = 3
    webhook_url = "https://hooks.example.com/zvt"   # secret: webhook_secret or ZVT_CRYPTO_WEBHOOK_SECRET

    [[jobs]]
    name = "spot-1m"
    exchange = "binance"
    universe = { quote = "USDT", top = 50, by = "quote_volume" }
    kinds = ["bars"]
    levels = ["1m", "1h"]
    every = "1m"                 # or cron = "*/5 * * * *" (UTC); runs at the bar close + delay_seconds
    delay_seconds = 5
    start = "2024-01-01"         # where symbols with nothing stored begin (default: their first bar)
    after = [{ factor = "rsi", params = { window = 14 }, level = "1h" }]

    [[jobs]]
    name = "spot-1m-factors"
    after_job = "spot-1m"        # chained: runs after each run of spot-1m (instead of every/cron)
    after = [{ factor = "macd", level = "1h" }]   # no kinds: only steps, on the symbols spot-1m recorded

A chained job either records on its own (it names its exchange, symbols and kinds, ``bars`` by default) or,
naming no exchange, only runs its ``after`` steps on what the upstream run recorded (its exchanges, symbols and
levels)."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.errors import ConfigError, ZvtCryptoError
from zvt_crypto.contract.redaction import REDACTED, url_origin

SCHEDULE_SECTION = "schedule"
JOBS_SECTION = "jobs"
ENV_WEBHOOK_SECRET = "ZVT_CRYPTO_WEBHOOK_SECRET"


_SETTINGS_KEYS = {
    "misfire_grace_seconds", "alert_after_failures", "webhook_url", "webhook_secret", "webhook_timeout_seconds",
    "log_format", "log_level", "heartbeat_seconds", "lock_timeout_seconds", "shutdown_grace_seconds",
    "max_concurrent_jobs",
}
_JOB_KEYS = {
    "name", "exchange", "exchanges", "symbols", "universe", "kinds", "levels", "every", "cron", "delay_seconds",
    "start", "after", "enabled", "after_job",
}
_UNIVERSE_KEYS = {"quote", "top", "by"}
#: universe ``by`` → the ccxt ticker field ranked on
UNIVERSE_RANKS = {"quote_volume": "quoteVolume", "base_volume": "baseVolume"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
DEFAULT_DELAY_SECONDS = 5


@dataclass(frozen=True)
class Universe:
    """The ``top`` symbols quoted in ``quote``, ranked by 24 h ``by`` volume, resolved at every run."""

    quote: str
    top: int
    by: str = "quote_volume"


@dataclass(frozen=True)
class AfterStep:
    """A step run after the job's recording: ``kind`` names a registered step (``factor``, ``paper``)."""

    kind: str
    params: Mapping[str, Any]

    def describe(self) -> str:
        from zvt_crypto.schedule.steps import get_step

        return get_step(self.kind).describe(self)


@dataclass(frozen=True)
class JobSpec:
    """One ``[[jobs]]`` entry, validated. ``every_seconds`` xor ``cron`` says when; times are UTC."""

    name: str
    exchanges: tuple[str, ...]
    kinds: tuple[str, ...]
    levels: tuple[str, ...] = ()
    symbols: tuple[str, ...] | None = None
    universe: Universe | None = None
    every_seconds: int | None = None
    cron: str | None = None
    delay_seconds: int = 0
    start: int | None = None  # epoch ms: where symbols with nothing stored begin
    after: tuple[AfterStep, ...] = ()
    enabled: bool = True
    after_job: str | None = None  # chained: runs after each finished run of this job instead of on a trigger

    @property
    def steps_only(self) -> bool:
        """A chained job without kinds of its own: its steps run on what the upstream run recorded."""
        return not self.kinds

    def when(self) -> str:
        if self.after_job is not None:
            return f"after job '{self.after_job}'"
        base = f"every {format_duration(self.every_seconds)}" if self.every_seconds else f"cron '{self.cron}'"
        return f"{base} +{self.delay_seconds}s UTC" if self.delay_seconds else f"{base} UTC"

    def what(self) -> str:
        if self.steps_only:
            steps = ", ".join(step.describe() for step in self.after) or "nothing"
            return f"{steps} on what {self.after_job} recorded"
        symbols = (f"top {self.universe.top} {self.universe.quote} by {self.universe.by}" if self.universe
                   else ", ".join(self.symbols or ()) or "all markets")
        levels = f" [{', '.join(self.levels)}]" if self.levels else ""
        return f"{'+'.join(self.kinds)}{levels} of {symbols} on {', '.join(self.exchanges)}"

    def trigger(self) -> Any:
        """The APScheduler trigger (None for a chained job: the upstream's run starts it)."""
        from zvt_crypto.schedule.triggers import job_trigger

        return None if self.after_job is not None else job_trigger(self)


@dataclass(frozen=True)
class ScheduleSettings:
    """``[schedule]``: how the daemon runs, alerts and logs. The webhook secret never appears in a repr."""

    misfire_grace_seconds: int = 300
    alert_after_failures: int = 3
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_timeout_seconds: float = 5.0
    log_format: str = "text"
    log_level: str = "INFO"
    heartbeat_seconds: float = 5.0
    lock_timeout_seconds: float = 60.0
    shutdown_grace_seconds: float = 30.0
    max_concurrent_jobs: int = 4

    def __repr__(self) -> str:
        # a webhook's path is often its token (Slack, Discord): only the host is shown
        shown = {"webhook_url": url_origin(self.webhook_url) if self.webhook_url else None,
                 "webhook_secret": REDACTED if self.webhook_secret else None}
        fields = ", ".join(f"{name}={shown.get(name, getattr(self, name))!r}" for name in self.__dataclass_fields__)
        return f"ScheduleSettings({fields})"

    __str__ = __repr__


@dataclass(frozen=True)
class Schedule:
    settings: ScheduleSettings
    jobs: tuple[JobSpec, ...]

    def chained(self, name: str) -> list[JobSpec]:
        """The enabled jobs that run after each run of job ``name``, in config order."""
        return [job for job in self.jobs if job.after_job == name and job.enabled]

    def job(self, name: str) -> JobSpec:
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(job.name for job in self.jobs) or "none"
        raise ConfigError(f"no job named {name!r} in the config; jobs: {known}")


# -- parsing -----------------------------------------------------------------------------------------------------
def load_schedule(config: Config) -> Schedule:
    """The ``[schedule]`` and ``[[jobs]]`` of ``config``'s file (re-read: :class:`Config` keeps only its own
    sections), validated; no job at all is an error, since the daemon would have nothing to do."""
    if config.source is None:
        raise ConfigError("no jobs configured: scheduled jobs live in the config file; pass --config FILE (or set "
                          "ZVT_CRYPTO_CONFIG) with one or more [[jobs]] tables")
    data = _read(config.source)
    schedule = parse_schedule(data, where=str(config.source), env=config.env)
    if not schedule.jobs:
        raise ConfigError(f"{config.source}: no [[jobs]] defined; add one, e.g.\n\n[[jobs]]\nname = \"btc-1m\"\n"
                          "exchange = \"binance\"\nsymbols = [\"BTC/USDT\"]\nkinds = [\"bars\"]\nlevels = [\"1m\"]\n"
                          "every = \"1m\"")
    return schedule


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None


def parse_schedule(data: Mapping[str, Any], *, where: str = "configuration",
                   env: Mapping[str, str] | None = None) -> Schedule:
    """Validate the two sections of a parsed TOML document into a :class:`Schedule` (raises :class:`ConfigError`)."""
    section = data.get(SCHEDULE_SECTION, {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: [schedule] must be a table")
    settings = _parse_settings(section, where, env or {})
    entries = data.get(JOBS_SECTION, [])
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise ConfigError(f"{where}: jobs must be an array of tables: write each job as [[jobs]]")
    names: list[Any] = [entry.get("name") for entry in entries]
    for index, name in enumerate(names, start=1):
        if name in names[: index - 1]:
            raise ConfigError(f"{where}: [[jobs]] #{index}: name {name!r} is used twice; job names are unique")
    # Chained jobs are parsed after their upstream (a steps-only job takes its exchanges and levels from it).
    parsed: dict[int, JobSpec] = {}
    pending = list(range(len(entries)))
    while pending:
        progress = False
        for index in list(pending):
            entry = entries[index]
            upstream_name = entry.get("after_job")
            upstream = None
            if upstream_name is not None:
                upstream = next((job for job in parsed.values() if job.name == upstream_name), None)
                if upstream is None and upstream_name in names and upstream_name != entry.get("name"):
                    continue  # its upstream is not parsed yet
            parsed[index] = _parse_job(entry, f"{where}: [[jobs]] #{index + 1}", upstream, names)
            pending.remove(index)
            progress = True
        if not progress:
            cycle = ", ".join(repr(names[index]) for index in pending)
            raise ConfigError(f"{where}: jobs {cycle} chain to each other in a cycle (after_job); one of them needs "
                              "every = \"…\" or cron = \"…\" instead")
    return Schedule(settings, tuple(parsed[index] for index in range(len(entries))))


def _unknown(keys: Sequence[str], allowed: set[str], where: str) -> None:
    extra = sorted(set(keys) - allowed)
    if extra:
        hints = []
        for key in extra:
            close = difflib.get_close_matches(key, allowed, n=1)
            hints.append(f"{key} (did you mean {close[0]}?)" if close else key)
        raise ConfigError(f"{where}: unknown key(s) {', '.join(hints)}; allowed: {', '.join(sorted(allowed))}")


def _number(value: Any, where: str, key: str, low: float, high: float, integer: bool = False) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{where}: {key} must be {what} from {low:g} to {high:g}, not {value!r}")
    return value


def _parse_settings(section: Mapping[str, Any], where: str, env: Mapping[str, str]) -> ScheduleSettings:
    where = f"{where}: [schedule]"
    _unknown(list(section), _SETTINGS_KEYS, where)
    values: dict[str, Any] = {}
    bounds = {"misfire_grace_seconds": (1, 86_400, True), "alert_after_failures": (1, 1000, True),
              "webhook_timeout_seconds": (0.1, 60, False), "heartbeat_seconds": (0.2, 300, False),
              "lock_timeout_seconds": (1, 3600, False), "shutdown_grace_seconds": (0, 3600, False),
              "max_concurrent_jobs": (1, 64, True)}
    for key, (low, high, integer) in bounds.items():
        if key in section:
            values[key] = _number(section[key], where, key, low, high, integer)
    fmt = section.get("log_format", "text")
    if fmt not in ("text", "json"):
        raise ConfigError(f"{where}: log_format must be \"text\" or \"json\" (JSON lines), not {fmt!r}")
    level = section.get("log_level", "INFO")
    if not isinstance(level, str) or level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{where}: log_level must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    url = section.get("webhook_url")
    if url is not None and (not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url)):
        raise ConfigError(f"{where}: webhook_url must be an http(s) URL such as 'https://hooks.example.com/zvt'")
    secret = env.get(ENV_WEBHOOK_SECRET) or section.get("webhook_secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ConfigError(f"{where}: webhook_secret must be a non-empty string (or set {ENV_WEBHOOK_SECRET})")
    if url and not secret:
        raise ConfigError(f"{where}: webhook_url needs a secret to sign the alerts with: set {ENV_WEBHOOK_SECRET} "
                          "(or webhook_secret, in a file only you can read)")
    if values.get("heartbeat_seconds", 5.0) * 3 > values.get("lock_timeout_seconds", 60.0):
        raise ConfigError(f"{where}: lock_timeout_seconds must be at least three heartbeat_seconds, or a slow "
                          "heartbeat makes the lock look stale to a second scheduler")
    return ScheduleSettings(**values, log_format=fmt, log_level=level.upper(), webhook_url=url, webhook_secret=secret)


def parse_duration(text: Any, where: str, key: str) -> int:
    """``"2s"``, ``"1m"``, ``"4h"``, ``"1d"``, ``"1w"`` → seconds."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or int(match.group(1)) < 1:
        raise ConfigError(f"{where}: {key} must be a duration such as \"30s\", \"1m\", \"4h\" or \"1d\", not {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _strings(value: Any, where: str, key: str, example: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, str) and item for item in items):
        raise ConfigError(f"{where}: {key} must be a non-empty list of strings such as {example}, not {value!r}")
    if len(set(items)) != len(items):
        raise ConfigError(f"{where}: {key} lists the same value twice: {value!r}")
    return tuple(items)


def _parse_job(entry: Mapping[str, Any], where: str, upstream: JobSpec | None = None,
               names: Sequence[Any] = ()) -> JobSpec:
    from zvt_crypto.contract.ids import check_symbol
    from zvt_crypto.contract.levels import Level
    from zvt_crypto.contract.timeutil import to_ms

    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: name must be 1-64 letters, digits, '.', '_' or '-' (e.g. \"spot-1m\"), "
                          f"not {name!r}")
    where = f"{where.rsplit(': ', 1)[0]}: job {name!r}"
    _unknown(list(entry), _JOB_KEYS, where)
    after_job = _parse_after_job(entry, where, name, upstream, names)
    if after_job is not None and not ({"exchange", "exchanges", "kinds"} & set(entry)):
        assert upstream is not None  # _parse_after_job found the job it names
        return _parse_steps_only(entry, where, name, upstream)

    if ("exchange" in entry) == ("exchanges" in entry):
        raise ConfigError(f"{where}: set exactly one of exchange = \"binance\" or exchanges = [\"binance\", …]")
    key = "exchange" if "exchange" in entry else "exchanges"
    exchanges = _strings(entry[key], where, key, '["binance"]')
    if key == "exchange" and len(exchanges) != 1:
        raise ConfigError(f"{where}: exchange takes one ccxt id; use exchanges = [...] for several")
    for exchange in exchanges:
        _check(where, key, lambda exchange=exchange: _check_exchange(exchange))

    kinds = _strings(entry.get("kinds", ["bars"]), where, "kinds", '["bars", "funding"]')
    known_kinds = _kinds()
    for kind in kinds:
        if kind not in known_kinds:
            raise ConfigError(f"{where}: kinds: unknown kind {kind!r}; known: {', '.join(known_kinds)}")
    leveled = [kind for kind in kinds if known_kinds[kind][1]]
    levels: tuple[str, ...] = ()
    if "levels" in entry:
        raw = _strings(entry["levels"], where, "levels", '["1m", "1h"]')
        levels = tuple(str(_check(where, "levels", lambda level=level: Level.parse(level))) for level in raw)
        if not leveled:
            raise ConfigError(f"{where}: levels are set but none of kinds {list(kinds)} has levels; drop levels")
    elif leveled:
        raise ConfigError(f"{where}: kinds {leveled} need levels, e.g. levels = [\"1m\"]")
    for kind in kinds:
        schema_name = known_kinds[kind][0]
        for exchange in exchanges:
            _check(where, "kinds", lambda schema_name=schema_name, exchange=exchange: _check_recorder(schema_name,
                                                                                                     exchange))

    symbols, universe = _parse_symbols(entry, where, kinds, exchanges, check_symbol)
    every_seconds, cron, delay = (None, None, 0) if after_job is not None else _parse_when(entry, where)
    start = None
    if "start" in entry:
        if not isinstance(entry["start"], str):
            raise ConfigError(f"{where}: start must be an ISO-8601 UTC time in quotes such as \"2024-01-01\"")
        start = _check(where, "start", lambda: to_ms(entry["start"]))
    after = _parse_after(entry.get("after", []), where, levels)
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: enabled must be true or false")
    job = JobSpec(name=name, exchanges=exchanges, kinds=kinds, levels=levels, symbols=symbols, universe=universe,
                  every_seconds=every_seconds, cron=cron, delay_seconds=delay, start=start, after=after,
                  enabled=enabled, after_job=after_job)
    if after_job is None:
        _check(where, "cron" if cron else "every", job.trigger)
    return job


def _parse_after_job(entry: Mapping[str, Any], where: str, name: str, upstream: JobSpec | None,
                     names: Sequence[Any]) -> str | None:
    """``after_job = "name"``: validated against the other jobs (it exists, is not this job, has no trigger)."""
    if "after_job" not in entry:
        return None
    value = entry["after_job"]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: after_job must name another job, e.g. after_job = \"spot-1m\"")
    if value == name:
        raise ConfigError(f"{where}: after_job names the job itself; name the job whose runs this one follows")
    if upstream is None:
        known = ", ".join(str(other) for other in names if other != name) or "none"
        close = difflib.get_close_matches(value, [str(other) for other in names], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: after_job: no job named {value!r}{hint}; jobs: {known}")
    for key in ("every", "cron", "delay_seconds"):
        if key in entry:
            raise ConfigError(f"{where}: a chained job (after_job) runs when {value!r} has run; drop {key}")
    return value


def _parse_steps_only(entry: Mapping[str, Any], where: str, name: str, upstream: JobSpec) -> JobSpec:
    """A chained job without kinds: its steps run on the exchanges, symbols and levels of the upstream run."""
    for key in ("exchange", "exchanges", "symbols", "universe", "levels", "start"):
        if key in entry:
            raise ConfigError(f"{where}: {key} comes from job {upstream.name!r} (after_job) when the job records "
                              "nothing itself; drop it, or name the exchange and kinds to record on its own")
    if not entry.get("after"):
        raise ConfigError(f"{where}: a chained job without kinds needs after = [...] steps, e.g. "
                          "after = [{ factor = \"rsi\", level = \"1h\" }]")
    after = _parse_after(entry["after"], where, upstream.levels)
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: enabled must be true or false")
    return JobSpec(name=name, exchanges=upstream.exchanges, kinds=(), levels=upstream.levels, after=after,
                   enabled=enabled, after_job=upstream.name)


def _check(where: str, key: str, check: Any) -> Any:
    """Run a library check and re-raise its error as a config error naming the job and key."""
    try:
        return check()
    except ConfigError:
        raise
    except (ZvtCryptoError, ValueError) as exc:
        raise ConfigError(f"{where}: {key}: {exc}") from None


def _check_exchange(exchange: str) -> None:
    from zvt_crypto.recorders.exchange import check_ccxt_exchange

    check_ccxt_exchange(exchange)


def _check_recorder(schema_name: str, exchange: str) -> None:
    from zvt_crypto.contract.registry import recorder_for
    from zvt_crypto.contract.schema import get_schema

    recorder_for(get_schema(schema_name), exchange)


def _kinds() -> Mapping[str, tuple[str, bool, str]]:
    """The data kinds ``zvt-crypto record`` knows (kind → schema name, leveled, help): one list for both."""
    from zvt_crypto.domain.kinds import KINDS

    return KINDS


def _parse_symbols(entry: Mapping[str, Any], where: str, kinds: tuple[str, ...], exchanges: tuple[str, ...],
                   check_symbol: Any) -> tuple[tuple[str, ...] | None, Universe | None]:
    needs_symbols = any(kind != "markets" for kind in kinds)
    if "symbols" in entry and "universe" in entry:
        raise ConfigError(f"{where}: set symbols or universe, not both")
    if "symbols" in entry:
        if not needs_symbols:
            raise ConfigError(f"{where}: markets are recorded whole; drop symbols")
        symbols = _strings(entry["symbols"], where, "symbols", '["BTC/USDT", "ETH/USDT"]')
        for symbol in symbols:
            _check(where, "symbols", lambda symbol=symbol: check_symbol(symbol))
        return symbols, None
    if "universe" in entry:
        raw = entry["universe"]
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: universe must be a table such as {{ quote = \"USDT\", top = 50 }}")
        _unknown(list(raw), _UNIVERSE_KEYS, f"{where}: universe")
        quote, by = raw.get("quote"), raw.get("by", "quote_volume")
        if not isinstance(quote, str) or not quote:
            raise ConfigError(f"{where}: universe.quote must name the quote currency, e.g. \"USDT\"")
        top: int = _number(raw.get("top"), where, "universe.top", 1, 1000, integer=True)
        if by not in UNIVERSE_RANKS:
            raise ConfigError(f"{where}: universe.by must be one of {', '.join(UNIVERSE_RANKS)}, not {by!r}")
        if not needs_symbols:
            raise ConfigError(f"{where}: markets are recorded whole; drop universe")
        return None, Universe(quote, top, by)
    if needs_symbols:
        raise ConfigError(f"{where}: name what to record: symbols = [\"BTC/USDT\"] or "
                          "universe = { quote = \"USDT\", top = 50 }")
    return None, None


def _parse_when(entry: Mapping[str, Any], where: str) -> tuple[int | None, str | None, int]:
    if ("every" in entry) == ("cron" in entry):
        raise ConfigError(f"{where}: set exactly one of every = \"1m\" (aligned to the UTC grid) or "
                          "cron = \"*/5 * * * *\" (UTC)")
    every = parse_duration(entry["every"], where, "every") if "every" in entry else None
    cron = entry.get("cron")
    if cron is not None and (not isinstance(cron, str) or len(cron.split()) != 5):
        raise ConfigError(f"{where}: cron must have 5 fields (minute hour day month weekday, UTC) such as "
                          f"\"*/5 * * * *\", not {cron!r}")
    default_delay = DEFAULT_DELAY_SECONDS if (every is None or every >= 60) else 0
    delay = entry.get("delay_seconds", default_delay)
    limit = (every - 1) if every else 3599
    _number(delay, where, "delay_seconds", 0, max(limit, 0), integer=True)
    return every, cron, delay


def _parse_after(raw: Any, where: str, levels: tuple[str, ...]) -> tuple[AfterStep, ...]:
    from zvt_crypto.schedule.steps import step_kinds

    if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
        raise ConfigError(f"{where}: after must be a list of tables such as "
                          "[{ factor = \"rsi\", params = { window = 14 }, level = \"1h\" }]")
    steps = []
    kinds = step_kinds()
    for index, item in enumerate(raw, start=1):
        here = f"{where}: after #{index}"
        found = [key for key in item if key in kinds]
        if len(found) != 1:
            raise ConfigError(f"{here}: say what to run with exactly one of the known step kinds "
                              f"({', '.join(sorted(kinds))}), e.g. factor = \"rsi\"; got keys {sorted(item)}")
        steps.append(kinds[found[0]].parse(item, here, levels))
    return tuple(steps)
