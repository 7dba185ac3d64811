"""The ``zvt-crypto`` command line: a thin layer over the library, one module per group of commands."""

from zvt_crypto.cli import (  # noqa: F401 - defining the commands registers them on ``cli``
    backtest,
    data,
    factor,
    optimize,
    paper,
    record,
    schedule,
    serve,
    store,
)
from zvt_crypto.cli.app import cli


def main() -> None:
    cli(prog_name="zvt-crypto")


__all__ = ["cli", "main"]
