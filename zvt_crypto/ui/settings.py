"""``[serve]`` settings of the dashboard: where it listens and the access token that guards it.

Safe by default: it binds 127.0.0.1; any other address needs a token, from ``ZVT_CRYPTO_SERVE_TOKEN`` (first) or
the config file::

    [serve]
    token = "…"    # at least 16 characters, e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"
    cors_origins = ["https://grafana.example.com"]   # CORS is off unless origins are listed
    max_request_bytes = 67108864                     # a larger request body is refused with 413
    rate = 50                                        # default per-token limit: requests per second …
    burst = 100                                      # … and the burst above it (rate = 0: unlimited)
    signal_secret = "…"                              # HMAC secret of POST /api/v1/signals (or ZVT_CRYPTO_SIGNAL_SECRET)
    signal_window_seconds = 300                      # a signal dated further from now is refused (replay window)

    [serve.tokens.grafana]                           # an API token with scopes (read, write, trade)
    token = "…"
    scopes = ["read"]
    expires = "2027-06-30T00:00:00Z"                 # optional; rate and burst optional too

An API token can come from the environment too: ``ZVT_CRYPTO_API_TOKEN_<NAME>=<scope>[,<scope>…]:<token>`` (it
overrides the file's token of that name). The serve token acts as an API token with every scope.

No token ever appears in a repr, a log line or a message."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.errors import ConfigError, InvalidInputError
from zvt_crypto.contract.timeutil import to_ms

ENV_TOKEN = "ZVT_CRYPTO_SERVE_TOKEN"
SERVE_SECTION = "serve"
MIN_TOKEN_CHARS = 16
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
ENV_API_TOKEN_PREFIX = "ZVT_CRYPTO_API_TOKEN_"
ENV_SIGNAL_SECRET = "ZVT_CRYPTO_SIGNAL_SECRET"
DEFAULT_SIGNAL_WINDOW_SECONDS = 300.0
SCOPES = ("read", "write", "trade")
SERVE_TOKEN_NAME = "serve"
DEFAULT_RATE = 50.0
DEFAULT_BURST = 100
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
_KEYS = {"token", "cors_origins", "max_request_bytes", "rate", "burst", "tokens", "signal_secret",
         "signal_window_seconds"}
_TOKEN_KEYS = {"token", "scopes", "expires", "rate", "burst"}
HOW_TO_SET = (f'set {ENV_TOKEN} or token = "…" under [serve] in the config file (at least {MIN_TOKEN_CHARS} '
              'characters; make one with: python -c "import secrets; print(secrets.token_urlsafe(32))")')


@dataclass(frozen=True)
class ApiToken:
    """One API token: its name (what logs and 429s say), secret, scopes and limits (``rate`` requests per second
    sustained with ``burst`` above it; ``rate`` 0 is unlimited)."""

    name: str
    secret: str = field(repr=False)
    scopes: frozenset[str] = frozenset(SCOPES)
    rate: float = DEFAULT_RATE
    burst: int = DEFAULT_BURST
    expires_ms: int | None = None

    def __repr__(self) -> str:
        return (f"ApiToken(name={self.name!r}, secret='***', scopes={sorted(self.scopes)}, rate={self.rate}, "
                f"burst={self.burst}, expires_ms={self.expires_ms})")

    __str__ = __repr__


@dataclass(frozen=True)
class ServeSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)
    debug: bool = False
    api_tokens: tuple[ApiToken, ...] = field(default=(), repr=False)
    cors_origins: tuple[str, ...] = ()
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    rate: float = DEFAULT_RATE
    burst: int = DEFAULT_BURST
    signal_secret: str | None = field(default=None, repr=False)
    signal_window_seconds: float = DEFAULT_SIGNAL_WINDOW_SECONDS

    @property
    def all_api_tokens(self) -> tuple[ApiToken, ...]:
        """The API tokens, the serve token first (every scope, the default limits)."""
        serve = (ApiToken(SERVE_TOKEN_NAME, self.token, frozenset(SCOPES), self.rate, self.burst),
                 ) if self.token else ()
        return serve + self.api_tokens

    @property
    def read_needs_token(self) -> bool:
        """Reads are open only on loopback without a serve token (write and trade always need a token)."""
        return self.token is not None or not is_loopback(self.host)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        token = "***" if self.token else None
        names = [api.name for api in self.api_tokens]
        return (f"ServeSettings(host={self.host!r}, port={self.port}, token={token!r}, debug={self.debug}, "
                f"api_tokens={names}, cors_origins={list(self.cors_origins)}, "
                f"max_request_bytes={self.max_request_bytes}, rate={self.rate}, burst={self.burst}, "
                f"signal_secret={'***' if self.signal_secret else None!r}, "
                f"signal_window_seconds={self.signal_window_seconds})")

    __str__ = __repr__


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _section(config: Config) -> Mapping[str, Any]:
    """The ``[serve]`` table of the config file (re-read: :class:`Config` keeps only its own sections)."""
    if config.source is None:
        return {}
    try:
        with config.source.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config.source}: {exc}") from None
    section = data.get(SERVE_SECTION, {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"{config.source}: [serve] must be a table")
    extra = sorted(set(section) - _KEYS)
    if extra:
        raise ConfigError(f"{config.source}: unknown key(s) {', '.join(extra)} in [serve]; allowed: "
                          f"{', '.join(sorted(_KEYS))}")
    if "token" in section and not isinstance(section["token"], str):
        raise ConfigError(f"{config.source}: [serve] token must be a string")
    if not isinstance(section.get("tokens", {}), Mapping):
        raise ConfigError(f"{config.source}: [serve.tokens] must be a table of [serve.tokens.NAME] tables")
    origins = section.get("cors_origins", [])
    if not isinstance(origins, list) or not all(isinstance(origin, str) and origin for origin in origins):
        raise ConfigError(f'{config.source}: [serve] cors_origins must be a list of origins such as '
                          '["https://grafana.example.com"]')
    return section


def _number(value: Any, what: str, *, integer: bool = False) -> float:
    """A non-negative number from the config (``what`` names it in the message)."""
    right_kind = isinstance(value, int) or (isinstance(value, float) and not integer)
    if isinstance(value, bool) or not right_kind or value < 0:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{what} must be {kind} ≥ 0, not {value!r}")
    return float(value)


def _check_secret(secret: str, origin: str) -> str:
    if len(secret.strip()) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the access token ({origin}) is shorter than {MIN_TOKEN_CHARS} characters; make one "
                          'with: python -c "import secrets; print(secrets.token_urlsafe(32))"')
    return secret


def _scopes(value: Any, origin: str) -> frozenset[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(scope, str) for scope in value):
        raise ConfigError(f"{origin}: scopes must be a non-empty list of {', '.join(SCOPES)}")
    unknown = sorted(set(value) - set(SCOPES))
    if unknown:
        raise ConfigError(f"{origin}: unknown scope(s) {', '.join(unknown)}; use {', '.join(SCOPES)}")
    return frozenset(value)


def _api_tokens(config: Config, section: Mapping[str, Any], rate: float, burst: int) -> tuple[ApiToken, ...]:
    """``[serve.tokens.NAME]`` tables, then ``ZVT_CRYPTO_API_TOKEN_NAME`` variables (the latter win by name)."""
    tokens: dict[str, ApiToken] = {}
    for name, table in section.get("tokens", {}).items():
        origin = f"[serve.tokens.{name}] in {config.source}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{origin} must be a table")
        extra = sorted(set(table) - _TOKEN_KEYS)
        if extra:
            raise ConfigError(f"{origin}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(_TOKEN_KEYS))}")
        secret = table.get("token")
        if not isinstance(secret, str):
            raise ConfigError(f'{origin}: token = "…" (a string) is missing')
        expires = table.get("expires")
        try:
            expires_ms = None if expires is None else to_ms(expires)
        except InvalidInputError:
            raise ConfigError(f"{origin}: expires {expires!r} is not a time; use ISO-8601 such as "
                              "2027-06-30T00:00:00Z") from None
        tokens[name.lower()] = ApiToken(
            name.lower(), _check_secret(secret, origin), _scopes(table.get("scopes"), origin),
            _number(table.get("rate", rate), f"{origin}: rate"),
            int(_number(table.get("burst", burst), f"{origin}: burst", integer=True)), expires_ms)
    for key, value in sorted(config.env.items()):
        if not key.startswith(ENV_API_TOKEN_PREFIX) or not key.removeprefix(ENV_API_TOKEN_PREFIX):
            continue
        name = key.removeprefix(ENV_API_TOKEN_PREFIX).lower()
        scopes, separator, secret = value.partition(":")
        if not separator:
            raise ConfigError(f"{key} must be <scope>[,<scope>…]:<token>, e.g. read:<token>")
        known = tokens.get(name)
        tokens[name] = ApiToken(name, _check_secret(secret, key), _scopes(scopes, key),
                                known.rate if known else rate, known.burst if known else burst,
                                known.expires_ms if known else None)
    if SERVE_TOKEN_NAME in tokens:
        raise ConfigError(f"the API token name {SERVE_TOKEN_NAME!r} is the serve token's; choose another name")
    secrets = [api.secret for api in tokens.values()]
    if len(set(secrets)) != len(secrets):
        raise ConfigError("two API tokens have the same secret; give each its own")
    return tuple(tokens.values())


def load_serve_settings(config: Config, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                        debug: bool = False) -> ServeSettings:
    """Resolve and check the settings; raises :class:`ConfigError` (one line saying what to do) for a host beyond
    loopback without a token, a token too short to guess-proof, or a bad ``[serve]`` table."""
    section = _section(config)
    token = config.env.get(ENV_TOKEN) or section.get("token") or None
    origin = ENV_TOKEN if config.env.get(ENV_TOKEN) else f"[serve] token in {config.source}"
    if token is not None:
        _check_secret(token, origin)
    rate = _number(section.get("rate", DEFAULT_RATE), "[serve] rate")
    burst = int(_number(section.get("burst", DEFAULT_BURST), "[serve] burst", integer=True))
    max_bytes = int(_number(section.get("max_request_bytes", DEFAULT_MAX_REQUEST_BYTES), "[serve] max_request_bytes",
                            integer=True))
    api_tokens = _api_tokens(config, section, rate, burst)
    if token is not None and token in {api.secret for api in api_tokens}:
        raise ConfigError("an API token has the serve token's secret; give it its own")
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a TCP port; use 1 to 65535")
    signal_secret = config.env.get(ENV_SIGNAL_SECRET) or section.get("signal_secret") or None
    if signal_secret is not None:
        if not isinstance(signal_secret, str):
            raise ConfigError(f"{config.source}: [serve] signal_secret must be a string")
        _check_secret(signal_secret, ENV_SIGNAL_SECRET if config.env.get(ENV_SIGNAL_SECRET) else
                      f"[serve] signal_secret in {config.source}")
    window = _number(section.get("signal_window_seconds", DEFAULT_SIGNAL_WINDOW_SECONDS),
                     "[serve] signal_window_seconds")
    if token is None and not is_loopback(host):
        raise ConfigError(f"refusing to serve on {host} without an access token: anyone who can reach it would see "
                          f"the store; {HOW_TO_SET}, or serve on 127.0.0.1 (the default)")
    return ServeSettings(host=host, port=port, token=token, debug=debug, api_tokens=api_tokens,
                         cors_origins=tuple(section.get("cors_origins", [])), max_request_bytes=max_bytes,
                         rate=rate, burst=burst, signal_secret=signal_secret, signal_window_seconds=window)
