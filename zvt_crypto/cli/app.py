"""The ``zvt-crypto`` command group, its global options and error handling.

Errors raised by zvt_crypto (bad input, bad data, bad config) are printed as ``error: …`` and exit with
status 1; usage errors exit with 2 (click's convention).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from zvt_crypto import __version__
from zvt_crypto.contract.errors import ZvtCryptoError

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Lazily resolved config and store for one CLI invocation (nothing opened for ``--help``)."""

    def __init__(self, config_file: str | None, db_url: str | None, home: str | None) -> None:
        self._args = (config_file, db_url, home)
        self._config: Any = None
        self._store: Any = None

    def use_config_file(self, config_file: str) -> None:
        """Read ``config_file`` instead (``--config`` given after a subcommand); ``--db-url``/``--home`` still
        apply. Only before the config or store was used: an opened store is never swapped under a command."""
        if self._store is not None:
            raise RuntimeError("the store is open already; --config must come before it is used")
        self._args = (config_file, *self._args[1:])
        self._config = None

    @property
    def config(self) -> Any:
        if self._config is None:
            from zvt_crypto.contract.config import load_config

            config_file, db_url, home = self._args
            self._config = load_config(config_file, db_url=db_url, home=home)
        return self._config

    @property
    def store(self) -> Any:
        if self._store is None:
            from zvt_crypto.contract.store import Store

            self._store = Store(self.config)
        return self._store


def handle_errors(func: F) -> F:
    """Turn zvt_crypto errors into a one-line message and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZvtCryptoError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="zvt-crypto")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="ZVT_CRYPTO_CONFIG",
              help="TOML config file (also ZVT_CRYPTO_CONFIG).")
@click.option("--db-url", help="Database URL, overriding ZVT_CRYPTO_DB_URL and the config file.")
@click.option("--home", help="Data home, overriding ZVT_CRYPTO_HOME.")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, db_url: str | None, home: str | None) -> None:
    """zvt_crypto: record, store, query and research crypto market data."""
    ctx.obj = Context(config_file, db_url, home)
