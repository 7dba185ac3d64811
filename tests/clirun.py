"""Running ``zvt-crypto`` in a test: in this process through click's runner (no interpreter start-up, the default),
or as a real ``python -m zvt_crypto`` subprocess where the process is the subject (the entry point, signals, one
smoke test per command group). Both return ``returncode``, ``stdout`` and ``stderr``, so a test reads the same."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner


@dataclass(frozen=True)
class Ran:
    """What an in-process run printed and returned, named like :class:`subprocess.CompletedProcess`."""

    returncode: int
    stdout: str
    stderr: str


def _settings(home: Path | None, env: Mapping[str, str] | None) -> dict[str, str | None]:
    """The caller's environment without its ``ZVT_CRYPTO_*`` settings (``None`` unsets one), plus ``env``."""
    settings: dict[str, str | None] = {key: None for key in os.environ if key.startswith("ZVT_CRYPTO_")}
    if home is not None:
        settings["ZVT_CRYPTO_HOME"] = str(home)
    settings.update(env or {})
    return settings


def run_cli(*args: str, home: Path | None = None, env: Mapping[str, str] | None = None) -> Ran:
    """``zvt-crypto *args`` in this process. An exception that escapes the CLI is shown on stderr as the
    interpreter would show it (a traceback, exit 1), so "no traceback" assertions keep their meaning."""
    from zvt_crypto.cli import cli

    result = CliRunner().invoke(cli, list(args), env=_settings(home, env), prog_name="zvt-crypto")
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return Ran(result.exit_code, result.stdout, stderr)


def run_cli_process(*args: str, home: Path | None = None, env: Mapping[str, str] | None = None,
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m zvt_crypto *args`` in a new process (PYTHONPATH and the rest of the environment inherited)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    environment.update({key: value for key, value in _settings(home, env).items() if value is not None})
    return subprocess.run([sys.executable, "-m", "zvt_crypto", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)
