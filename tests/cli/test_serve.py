"""``zvt-crypto serve`` refusals, in process (the running service is tested as a real process in tests/ui)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from tests.clirun import run_cli


def test_serve_beyond_loopback_without_a_token_refuses_in_one_line(tmp_path: Path) -> None:
    ran = run_cli("serve", "--host", "0.0.0.0", home=tmp_path)
    assert ran.returncode == 1
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to serve on 0.0.0.0 without an access token")
    assert "ZVT_CRYPTO_SERVE_TOKEN" in lines[0] and "[serve]" in lines[0]
    assert not (tmp_path / "zvt_crypto.db").exists()  # refused before anything was opened


def test_serve_refuses_a_short_token_without_echoing_it(tmp_path: Path) -> None:
    ran = run_cli("serve", "--host", "0.0.0.0", home=tmp_path, env={"ZVT_CRYPTO_SERVE_TOKEN": "abc123secret"})
    assert ran.returncode == 1 and "shorter than 16 characters" in ran.stderr
    assert "abc123secret" not in ran.stderr + ran.stdout


def test_serve_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        logger = logging.getLogger("zvt_crypto")
        before = (logger.level, list(logger.handlers))
        ran = run_cli("serve", "--port", str(port), home=tmp_path)
    assert ran.returncode == 1
    assert (logger.level, logger.handlers) == before  # the command ran in this process: its logging is put back
    assert ran.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}") and "--port" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_serve_with_a_bad_serve_table_names_the_key(tmp_path: Path) -> None:
    config_file = tmp_path / "zvt.toml"
    config_file.write_text("[serve]\ntokn = 'x'\n", encoding="utf-8")
    ran = run_cli("serve", "--config", str(config_file), home=tmp_path)
    assert ran.returncode == 1 and "unknown key(s) tokn in [serve]" in ran.stderr
