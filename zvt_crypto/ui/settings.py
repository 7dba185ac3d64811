"""``[serve]`` settings of the dashboard: where it listens and the access token that guards it.

Safe by default: it binds 127.0.0.1; any other address needs a token, from ``ZVT_CRYPTO_SERVE_TOKEN`` (first) or
the config file::

    [serve]
    token = "…"    # at least 16 characters, e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"

The token never appears in a repr, a log line or a message."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.errors import ConfigError

ENV_TOKEN = "ZVT_CRYPTO_SERVE_TOKEN"
SERVE_SECTION = "serve"
MIN_TOKEN_CHARS = 16
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
_KEYS = {"token"}
HOW_TO_SET = (f'set {ENV_TOKEN} or token = "…" under [serve] in the config file (at least {MIN_TOKEN_CHARS} '
              'characters; make one with: python -c "import secrets; print(secrets.token_urlsafe(32))")')


@dataclass(frozen=True)
class ServeSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)
    debug: bool = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        token = "***" if self.token else None
        return f"ServeSettings(host={self.host!r}, port={self.port}, token={token!r}, debug={self.debug})"

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
    return section


def load_serve_settings(config: Config, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                        debug: bool = False) -> ServeSettings:
    """Resolve and check the settings; raises :class:`ConfigError` (one line saying what to do) for a host beyond
    loopback without a token, a token too short to guess-proof, or a bad ``[serve]`` table."""
    token = config.env.get(ENV_TOKEN) or _section(config).get("token") or None
    origin = ENV_TOKEN if config.env.get(ENV_TOKEN) else f"[serve] token in {config.source}"
    if token is not None and len(token.strip()) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the access token ({origin}) is shorter than {MIN_TOKEN_CHARS} characters; make one with: "
                          'python -c "import secrets; print(secrets.token_urlsafe(32))"')
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a TCP port; use 1 to 65535")
    if token is None and not is_loopback(host):
        raise ConfigError(f"refusing to serve on {host} without an access token: anyone who can reach it would see "
                          f"the store; {HOW_TO_SET}, or serve on 127.0.0.1 (the default)")
    return ServeSettings(host=host, port=port, token=token, debug=debug)
