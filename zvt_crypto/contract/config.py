"""Configuration: data home, database URL, per-exchange ccxt options.

Resolution order, first wins: explicit arguments, environment, TOML file, defaults.

* ``ZVT_CRYPTO_HOME`` — data home (default ``~/.zvt_crypto``).
* ``ZVT_CRYPTO_DB_URL`` — SQLAlchemy URL (default ``sqlite:///<home>/zvt_crypto.db``).
* ``ZVT_CRYPTO_CONFIG`` or ``zvt-crypto --config FILE`` — optional TOML file::

      home = "/data/zvt_crypto"

      [store]
      url = "postgresql+psycopg://quant@localhost/zvt"

      [exchanges.binance]               # our request budget and retry policy (defaults per venue)
      requests_per_minute = 1200        # token bucket on top of ccxt's own rate limiter; 0 = none of ours
      request_burst = 1                 # requests allowed back to back after an idle spell
      max_retries = 5                   # retries of a transient failure (429, 5xx, timeout) after the first try
      retry_initial_seconds = 0.5       # back-off before the first retry, doubling up to retry_max_seconds
      retry_max_seconds = 30
      breaker_threshold = 5             # calls failing in a row before the venue is paused
      breaker_cooldown_seconds = 60

      [exchanges.binance.ccxt]          # passed to ccxt.binance(...); ccxt deep-merges it
      timeout = 10000
      options = { fetchMarkets = { types = ["spot"] } }
      urls = { api = { public = "http://127.0.0.1:8765/api/v3" } }

* API keys come from ``ZVT_CRYPTO_<EXCHANGE>_API_KEY``, ``…_SECRET`` and ``…_PASSWORD`` (or the file) and are
  redacted in every repr.

Loading reads the file once, when :func:`load_config` is called; nothing happens at import time.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zvt_crypto.contract.errors import ConfigError
from zvt_crypto.contract.redaction import redact_ccxt_options, redact_query

ENV_HOME = "ZVT_CRYPTO_HOME"
ENV_DB_URL = "ZVT_CRYPTO_DB_URL"
ENV_CONFIG = "ZVT_CRYPTO_CONFIG"
DEFAULT_DB_FILE = "zvt_crypto.db"

_ENV_SECRET_SUFFIXES = {"API_KEY": "apiKey", "SECRET": "secret", "PASSWORD": "password", "UID": "uid"}
#: "schedule" and "jobs" are read by zvt_crypto.schedule.config (the daemon's jobs), "serve" by
#: zvt_crypto.ui.settings (the dashboard's access token)
_TOP_LEVEL_KEYS = {"home", "store", "exchanges", "schedule", "jobs", "serve"}
_STORE_KEYS = {"url", "echo"}
# [exchanges.<id>] keys of the request budget, retry policy and circuit breaker (zvt_crypto.recorders.resilience
# reads them and holds the per-venue defaults): name → (type, minimum, maximum). Bounds catch typos such as a
# budget per second where one per minute is meant, before a run hammers or stalls on a venue.
CLIENT_KEYS: dict[str, tuple[type, float, float]] = {
    "requests_per_minute": (int, 0, 1_000_000),  # 0: no budget of ours (ccxt's rate limiter only)
    "request_burst": (int, 1, 1_000_000),
    "max_retries": (int, 0, 100),
    "retry_initial_seconds": (float, 0, 3600),
    "retry_max_seconds": (float, 0, 3600),
    "breaker_threshold": (int, 1, 10_000),
    "breaker_cooldown_seconds": (float, 0, 86_400),
    "retry_after_max_seconds": (float, 0, 86_400),  # the longest Retry-After (a ban) a run waits out
}
_EXCHANGE_KEYS = {"ccxt", *CLIENT_KEYS}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """A printable copy of ccxt options: only known-safe settings shown, URLs' credentials and every other value
    replaced by ``***`` (see :mod:`zvt_crypto.contract.redaction`)."""
    return redact_ccxt_options(options)


def redact_url(url: str) -> str:
    """The database URL with any password (and secret query parameter) replaced by ``***``."""
    from sqlalchemy.engine import make_url

    try:
        rendered = make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is reported elsewhere; never echo it whole
        return "<unparsable database URL>"
    return redact_query(rendered)


@dataclass(frozen=True)
class Config:
    """Resolved configuration. Build it with :func:`load_config`; it is immutable and holds no connection.

    >>> load_config(home="/tmp/zc", env={}).home
    PosixPath('/tmp/zc')
    """

    home: Path
    db_url: str
    exchanges: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: where ``db_url`` came from, for messages: "--db-url", "ZVT_CRYPTO_DB_URL", "[store] url in FILE" or
    #: "default" (the store under the data home, the only one created without being asked)
    db_url_origin: str = field(default="default", compare=False)

    def ccxt_options(self, exchange_id: str) -> dict[str, Any]:
        """Constructor options for ``ccxt.<exchange_id>(...)``: the file's ``[exchanges.<id>.ccxt]`` table
        plus credentials from the environment. ccxt deep-merges them into its defaults."""
        # Fix: a deep copy. ccxt keeps the nested dicts it is given and changes them at run time (e.g. its
        # ``options``), which silently altered this "immutable" config and every exchange built from it later.
        options = copy.deepcopy(dict(self.exchanges.get(exchange_id, {}).get("ccxt", {})))
        prefix = f"ZVT_CRYPTO_{exchange_id.upper()}_"
        for suffix, key in _ENV_SECRET_SUFFIXES.items():
            value = self.env.get(prefix + suffix)
            if value:
                options[key] = value
        return options

    def client_settings(self, exchange_id: str) -> dict[str, Any]:
        """The :data:`CLIENT_KEYS` set in ``[exchanges.<exchange_id>]`` (validated; the caller adds defaults)."""
        section = self.exchanges.get(exchange_id, {})
        settings = {key: section[key] for key in CLIENT_KEYS if key in section}
        check_client_settings(settings, f"{self.source or 'configuration'}: [exchanges.{exchange_id}]")
        return settings

    def __repr__(self) -> str:
        exchanges = {name: {key: redact(value) if key == "ccxt" else value for key, value in section.items()}
                     for name, section in self.exchanges.items()}
        return (
            f"Config(home={str(self.home)!r}, db_url={redact_url(self.db_url)!r}, "
            f"exchanges={exchanges!r}, source={str(self.source) if self.source else None!r})"
        )

    __str__ = __repr__

    def describe(self) -> dict[str, Any]:
        """A printable, redacted summary (used by ``zvt-crypto info``)."""
        return {
            "home": str(self.home),
            "db_url": redact_url(self.db_url),
            "config_file": str(self.source) if self.source else None,
            "exchanges": {name: redact(self.ccxt_options(name)) for name in self.exchanges},
        }


def check_client_settings(settings: Mapping[str, Any], where: str) -> None:
    """Raise :class:`ConfigError` naming ``where`` (file and table) and the key for a value of the wrong type or out
    of range, or for a pair that contradicts itself."""
    for key, (kind, low, high) in CLIENT_KEYS.items():
        if key not in settings:
            continue
        value = settings[key]
        number = isinstance(value, int) if kind is int else isinstance(value, (int, float))
        if not number or isinstance(value, bool) or not low <= value <= high:  # NaN fails the range test too
            what = "an integer" if kind is int else "a number"
            raise ConfigError(f"{where}: {key} must be {what} from {low} to {high}, not {value!r}")
    initial, maximum = settings.get("retry_initial_seconds"), settings.get("retry_max_seconds")
    if initial is not None and maximum is not None and maximum < initial:
        raise ConfigError(f"{where}: retry_max_seconds ({maximum:g}) is below retry_initial_seconds ({initial:g})")
    budget, burst = settings.get("requests_per_minute"), settings.get("request_burst")
    if budget and burst is not None and burst > budget:
        raise ConfigError(f"{where}: request_burst ({burst}) exceeds requests_per_minute ({budget}); a burst is "
                          "part of the minute's budget")


def _read_toml(path: Path, from_env: bool) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        fix = f"fix the path in {ENV_CONFIG} or unset it" if from_env else "fix the path given (--config FILE)"
        raise ConfigError(f"config file {path} does not exist; {fix}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}; fix that line") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None


def _check_sections(data: Mapping[str, Any], path: Path) -> None:
    def unknown(keys: set[str], allowed: set[str], where: str) -> None:
        extra = sorted(keys - allowed)
        if extra:
            raise ConfigError(
                f"{path}: unknown key(s) {', '.join(extra)} in {where}; allowed: {', '.join(sorted(allowed))}"
            )

    unknown(set(data), _TOP_LEVEL_KEYS, "the top level")
    store = data.get("store", {})
    if not isinstance(store, Mapping):
        raise ConfigError(f"{path}: [store] must be a table")
    unknown(set(store), _STORE_KEYS, "[store]")
    if "url" in store and not isinstance(store["url"], str):
        raise ConfigError(f"{path}: [store] url must be a string such as 'sqlite:////data/zvt.db'")
    exchanges = data.get("exchanges", {})
    if not isinstance(exchanges, Mapping):
        raise ConfigError(f"{path}: [exchanges] must be a table of ccxt exchange ids")
    for name, section in exchanges.items():
        if not isinstance(section, Mapping):
            raise ConfigError(f"{path}: [exchanges.{name}] must be a table")
        unknown(set(section), _EXCHANGE_KEYS, f"[exchanges.{name}]")
        if not isinstance(section.get("ccxt", {}), Mapping):
            raise ConfigError(f"{path}: [exchanges.{name}.ccxt] must be a table of ccxt constructor options")
        check_client_settings(section, f"{path}: [exchanges.{name}]")
    if "home" in data and not isinstance(data["home"], str):
        raise ConfigError(f"{path}: home must be a string path")


def load_config(
    config_file: str | os.PathLike[str] | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    db_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Resolve the configuration (arguments > environment > TOML file > defaults).

    >>> cfg = load_config(env={"ZVT_CRYPTO_HOME": "/tmp/zc"})
    >>> cfg.db_url
    'sqlite:////tmp/zc/zvt_crypto.db'
    """
    env = dict(os.environ if env is None else env)
    path_text = config_file or env.get(ENV_CONFIG)
    path = Path(path_text).expanduser() if path_text else None
    data = _read_toml(path, from_env=not config_file) if path else {}
    if path:
        _check_sections(data, path)

    home_text = home or env.get(ENV_HOME) or data.get("home") or "~/.zvt_crypto"
    home_path = Path(home_text).expanduser()
    origins = (("--db-url", db_url), (ENV_DB_URL, env.get(ENV_DB_URL)),
               (f"[store] url in {path}", data.get("store", {}).get("url")))
    origin, url = next(((name, value) for name, value in origins if value), ("default", None))
    if not url:
        url = f"sqlite:///{home_path / DEFAULT_DB_FILE}"
    own_env = {key: value for key, value in env.items() if key.startswith("ZVT_CRYPTO_")}
    return Config(home=home_path, db_url=url, exchanges=data.get("exchanges", {}), source=path, env=own_env,
                  db_url_origin=origin)
