"""The ``zvt-crypto`` command group, its global options and error handling.

Every failure is printed as one ``error: …`` line saying what to do next (secrets redacted) and exits with
status 1 — 130 after Ctrl-C; ``--debug`` adds the traceback. Usage errors exit with 2 (click's convention).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from zvt_crypto import __version__

if TYPE_CHECKING:  # typing only: the CLI opens no config or store before a command uses them
    from zvt_crypto.contract.config import Config
    from zvt_crypto.contract.store import Store

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Lazily resolved config and store for one CLI invocation (nothing opened for ``--help``)."""

    def __init__(self, config_file: str | None = None, db_url: str | None = None, home: str | None = None, *,
                 debug: bool = False, create: bool = False) -> None:
        self._args = (config_file, db_url, home)
        self.debug = debug
        self.create = create
        self._config: Config | None = None
        self._store: Store | None = None

    def use_config_file(self, config_file: str) -> None:
        """Read ``config_file`` instead (``--config`` given after a subcommand); ``--db-url``/``--home`` still
        apply. Only before the config or store was used: an opened store is never swapped under a command."""
        if self._store is not None:
            from zvt_crypto.contract.errors import ConfigError

            raise ConfigError("the store is open already; --config must come before it is used")
        self._args = (config_file, *self._args[1:])
        self._config = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from zvt_crypto.contract.config import load_config

            config_file, db_url, home = self._args
            self._config = load_config(config_file, db_url=db_url, home=home)
        return self._config

    @property
    def store(self) -> Store:
        if self._store is None:
            from zvt_crypto.contract.store import Store

            # only the default store under the data home is created unasked: a mistyped path is an error
            create = self.create or self.config.db_url_origin == "default"
            self._store = Store(self.config, create=create)
        return self._store


def _debugging() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and getattr(ctx.find_root().obj, "debug", False))


def fail(message: str, status: int = 1) -> NoReturn:
    """Print ``error: message`` (secrets redacted) on stderr and exit with ``status``."""
    from zvt_crypto.contract.redaction import redact_text

    click.echo(f"error: {redact_text(message)}", err=True)
    sys.exit(status)


def handle_errors(func: F) -> F:
    """Turn every failure into a one-line ``error: …`` saying what to do, and exit status 1 (130 after Ctrl-C);
    with ``--debug`` the traceback is printed first."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            if _debugging():
                traceback.print_exc()
            fail("interrupted; what was written is complete, run the command again to go on", 130)
        except Exception as exc:  # noqa: BLE001 - every failure: one line, never a traceback unasked
            from zvt_crypto.cli.failures import describe_failure

            if _debugging():
                traceback.print_exc()
            fail(describe_failure(exc))

    return wrapper  # type: ignore[return-value]  # same signature as func (functools.wraps)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="zvt-crypto")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="ZVT_CRYPTO_CONFIG",
              help="TOML config file (also ZVT_CRYPTO_CONFIG).")
@click.option("--db-url", help="Database URL, overriding ZVT_CRYPTO_DB_URL and the config file.")
@click.option("--home", help="Data home, overriding ZVT_CRYPTO_HOME.")
@click.option("--create", is_flag=True,
              help="Create the SQLite store named by --db-url/ZVT_CRYPTO_DB_URL/[store] url if it does not exist "
                   "(only the default store under the data home is created unasked).")
@click.option("--debug", is_flag=True, help="Print the traceback of a failure (and warnings') too.")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, db_url: str | None, home: str | None, create: bool,
        debug: bool) -> None:
    """zvt_crypto: record, store, query and research crypto market data."""
    if ctx.get_parameter_source("config_file") == click.core.ParameterSource.ENVIRONMENT:
        config_file = None  # load_config reads ZVT_CRYPTO_CONFIG itself, and then says so when it is wrong
    ctx.obj = Context(config_file, db_url, home, debug=debug, create=create)
    from zvt_crypto.cli.failures import log_warnings_to_stderr

    log_warnings_to_stderr(debug)
