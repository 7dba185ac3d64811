"""``zvt-crypto serve``: the dashboard (and, later, the REST API) in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any

import click

from zvt_crypto.cli.app import Context, cli, handle_errors


def _config_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--config FILE`` after the subcommand too (``zvt-crypto serve --config zvt.toml``)."""

    def use(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            ctx.ensure_object(Context).use_config_file(value)

    return click.option("--config", type=click.Path(dir_okay=False), expose_value=False, callback=use,
                        is_eager=True, help="TOML config file (same as zvt-crypto --config); its [serve] token and "
                                            "[[jobs]] are read too.")(command)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any but loopback needs an access token (ZVT_CRYPTO_SERVE_TOKEN or "
                   "[serve] token).")
@click.option("--port", type=int, default=8050, show_default=True)
@_config_option
@click.option("--debug", "serve_debug", is_flag=True, help="Dash debug mode (and request logs); never on a "
                                                          "shared host.")
@click.pass_obj
@handle_errors
def serve(obj: Context, host: str, port: int, serve_debug: bool) -> None:
    """Run the dashboard on http://HOST:PORT in the foreground until Ctrl-C or SIGTERM (exit 0)."""
    from zvt_crypto.schedule import config as _schedule_config  # noqa: F401 - load_config accepts [[jobs]]
    from zvt_crypto.ui.settings import load_serve_settings

    debug = serve_debug or obj.debug
    settings = load_serve_settings(obj.config, host=host, port=port, debug=debug)  # refuses before any I/O
    from zvt_crypto.ui.app import create_app

    app = create_app(obj.config, settings, create_store=obj.create)
    app.state.ui.store.engine  # noqa: B018 - open (and migrate) the store now: a bad URL fails here, in one line
    with _log_to_stderr(debug):
        run_server(app, settings.host, settings.port, debug)


@contextmanager
def _log_to_stderr(debug: bool) -> Generator[None, None, None]:
    """The dashboard's warnings and failing callbacks (with their tracebacks) on stderr, UTC-stamped and redacted;
    the handler and level are put back afterwards (the command may run inside another process, e.g. a test)."""
    import logging
    import sys

    from zvt_crypto.schedule.logs import UtcFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(UtcFormatter("%(asctime)sZ %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logger = logging.getLogger("zvt_crypto")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if debug else logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def run_server(app: Any, host: str, port: int, debug: bool) -> None:
    """uvicorn in this thread; returns after a graceful shutdown on SIGINT or SIGTERM."""
    import uvicorn

    from zvt_crypto.ui.settings import ServeSettings

    _check_port_free(host, port)
    config = uvicorn.Config(app, host=host, port=port, log_level="info" if debug else "warning",
                            access_log=debug, lifespan="on", server_header=False)
    url = ServeSettings(host=host, port=port).url
    server = _graceful_server(config, lambda: click.echo(f"serving on {url} (Ctrl-C to stop)"))
    access = logging.getLogger("uvicorn.access")  # configured by uvicorn.Config above
    access.addFilter(redact_access_line)
    try:
        server.run()
    finally:
        access.removeFilter(redact_access_line)


def redact_access_line(record: logging.LogRecord) -> bool:
    """The request log's query strings with secret-looking values (``?token=…``) hidden: a client that puts its
    token in a URL (refused: the API reads the Authorization header only) must not get it written to a log."""
    from zvt_crypto.contract.redaction import redact_query

    if isinstance(record.args, tuple):
        record.args = tuple(redact_query(arg) if isinstance(arg, str) else arg for arg in record.args)
    return True


def _check_port_free(host: str, port: int) -> None:
    """A clear one-line error for a port in use (uvicorn would log it and exit without saying what to do)."""
    import socket

    from zvt_crypto.contract.errors import InvalidInputError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidInputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port "
                                    "or stop what uses it") from None


def _graceful_server(config: Any, announce: Callable[[], None]) -> Any:
    """uvicorn's server, announcing the URL once it listens and returning normally after SIGINT/SIGTERM (uvicorn
    re-raises the signal after its graceful shutdown, which would end the process with 130 or -15)."""
    import threading

    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                announce()

        @contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            if threading.current_thread() is not threading.main_thread():
                yield  # signals reach the main thread only (a server run in a test thread)
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server(config)
