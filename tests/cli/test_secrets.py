"""No credential reaches any output: a distinctive secret in every place a user can put one (ccxt keys, headers,
URLs' userinfo and query, proxies, the database URL), then every command that prints, logs or stores."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from zvt_crypto.cli import cli
from zvt_crypto.contract.config import load_config, redact
from zvt_crypto.contract.redaction import redact_ccxt_options, redact_text
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import JobRun
from zvt_crypto.sim import SimulatedExchange

MARK = "S3CRET"  # every secret below contains it; no output may
SPOT_OPTIONS = 'fetchCurrencies = false, fetchMargins = false, fetchMarkets = { types = ["spot"] }'


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secrets_toml(sim: SimulatedExchange) -> str:
    """binance: the simulator, reached through a URL with userinfo, with credentials in every ccxt key;
    binanceusdm: a dead venue whose URL carries credentials (its errors name the URL)."""
    live = sim.url.replace("http://", f"http://trader:{MARK}-userinfo@")
    dead = f"http://trader:{MARK}-dead-userinfo@127.0.0.1:{closed_port()}"
    return f"""
[exchanges.binance]
max_retries = 1
retry_initial_seconds = 0.01
retry_max_seconds = 0.05

[exchanges.binance.ccxt]
apiKey = "{MARK}-apiKey"
secret = "{MARK}-secret"
password = "{MARK}-password"
uid = "{MARK}-uid"
login = "{MARK}-login"
privateKey = "{MARK}-privateKey"
walletAddress = "{MARK}-walletAddress"
token = "{MARK}-token"
headers = {{ "X-Custom-Auth" = "{MARK}-header" }}
options = {{ {SPOT_OPTIONS}, brokerSecret = "{MARK}-option" }}

[exchanges.binance.ccxt.urls]
www = "https://{MARK}-bare-token@example.com/"
doc = ["https://example.com/doc?apikey={MARK}-query-apikey&page=2"]

[exchanges.binance.ccxt.urls.api]
public = "{live}/api/v3"
private = "{sim.url}/api/v3?signature={MARK}-query-signature&token={MARK}-query-token"

[exchanges.binanceusdm]
max_retries = 1
retry_initial_seconds = 0.01
retry_max_seconds = 0.05

[exchanges.binanceusdm.ccxt]
options = {{ fetchCurrencies = false, fetchMargins = false }}

[exchanges.binanceusdm.ccxt.urls.api]
public = "{dead}/api/v3"
fapiPublic = "{dead}/fapi/v1"
fapiPublicV2 = "{dead}/fapi/v2"
fapiData = "{dead}/futures/data"

[[jobs]]
name = "spot"
exchange = "binance"
symbols = ["BTC/USDT"]
levels = ["1h"]
every = "1h"
start = "2024-01-07T00:00:00Z"

[[jobs]]
name = "perps"
exchange = "binanceusdm"
symbols = ["BTC/USDT:USDT"]
kinds = ["funding"]
every = "1h"
"""


PROXIES = f"""
[exchanges.okx.ccxt]
httpProxy = "http://proxyuser:{MARK}-http-proxy@127.0.0.1:3128"
httpsProxy = "https://proxyuser:{MARK}-https-proxy@127.0.0.1:3129"
socksProxy = "socks5://proxyuser:{MARK}-socks-proxy@127.0.0.1:1080"
"""


@pytest.fixture
def config_file(sim: SimulatedExchange, tmp_path: Path) -> Path:
    path = tmp_path / "zvt_crypto.toml"
    path.write_text(secrets_toml(sim) + PROXIES)
    return path


def invoke(config_file: Path, home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config_file), "--home", str(home), *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def test_no_secret_in_any_output(config_file: Path, tmp_path: Path, sim: SimulatedExchange) -> None:
    home = tmp_path / "home"
    outputs: dict[str, str] = {}

    code, outputs["info"] = invoke(config_file, home, "info")
    assert code == 0, outputs["info"]
    shown = json.loads(outputs["info"][outputs["info"].index("{"):])["exchanges"]
    assert shown["binance"]["urls"]["api"]["public"].startswith("http://trader:***@127.0.0.1")
    assert shown["binance"]["options"]["fetchMarkets"] == {"types": ["spot"]}  # settings stay readable

    code, outputs["record"] = invoke(config_file, home, "record", "bars", "--exchange", "binance", "--symbol",
                                     "BTC/USDT", "--level", "1h", "--start", "2024-01-07", "--quiet")
    assert code == 0 and "24 rows written" in outputs["record"], outputs["record"]
    assert sim.count("/api/v3/klines") >= 1  # the live URL (with its userinfo) was really used

    code, outputs["record error"] = invoke(config_file, home, "record", "funding", "--exchange", "binanceusdm",
                                           "--symbol", "BTC/USDT:USDT", "--quiet")
    assert code == 1 and "trader:***@127.0.0.1" in outputs["record error"], outputs["record error"]

    code, outputs["run-once ok"] = invoke(config_file, home, "schedule", "run-once", "spot")
    assert code == 0, outputs["run-once ok"]
    code, outputs["run-once failed"] = invoke(config_file, home, "schedule", "run-once", "perps")
    assert code == 1, outputs["run-once failed"]
    for command in ("status", "history", "list"):
        for fmt in ("table", "json"):
            code, outputs[f"{command} {fmt}"] = invoke(config_file, home, "schedule", command, "--format", fmt)
            assert code == 0, outputs[f"{command} {fmt}"]
    assert "trader:***@127.0.0.1" in outputs["history json"]  # the failed run's error names the URL, redacted

    logging.shutdown()  # flush the schedule.log handler
    outputs["schedule.log"] = (home / "logs" / "schedule.log").read_text()
    assert "trader:***@127.0.0.1" in outputs["schedule.log"]
    store = Store(load_config(config_file, home=home, env={}))
    try:
        with store.engine.connect() as connection:
            rows = [dict(row._mapping) for row in connection.execute(select(JobRun.__table__))]
    finally:
        store.dispose()
    assert {row["status"] for row in rows} == {"ok", "failed"}
    outputs["job_run rows"] = json.dumps(rows, default=str)

    code, outputs["postgres error"] = invoke(
        config_file, home, "--db-url", f"postgresql+psycopg://quant:{MARK}-db-password@127.0.0.1:{closed_port()}/zvt",
        "info")
    assert code == 1 and "quant:***@127.0.0.1" in outputs["postgres error"], outputs["postgres error"]

    leaks = {name: text for name, text in outputs.items() if MARK in text}
    assert not leaks, leaks


def test_ccxt_options_are_shown_by_allow_list() -> None:
    options = {"timeout": 5000, "enableRateLimit": True, "apiKey": "k1", "someFutureCredential": "k2",
               "headers": {"Authorization": "Bearer k3"}, "options": {"defaultType": "spot", "apiSecret": "k4"},
               "urls": {"api": {"public": "https://u:k5@h/api?listenKey=k6&symbol=BTC"}},
               "socksProxy": "socks5h://k7@proxy:1080", "secret": ""}
    shown = redact_ccxt_options(options)
    assert shown == {"timeout": 5000, "enableRateLimit": True, "apiKey": "***", "someFutureCredential": "***",
                     "headers": {"Authorization": "***"}, "options": {"defaultType": "spot", "apiSecret": "***"},
                     "urls": {"api": {"public": "https://u:***@h/api?listenKey=***&symbol=BTC"}},
                     "socksProxy": "socks5h://***@proxy:1080", "secret": ""}
    assert redact(options) == shown


@pytest.mark.parametrize(("text", "expected"), [
    ("binance GET http://user:pw@127.0.0.1:1/api/v3/klines?symbol=BTCUSDT", "binance GET "
     "http://user:***@127.0.0.1:1/api/v3/klines?symbol=BTCUSDT"),
    ("see https://tok123@github.com/x.git and wss://h/ws?token=abc#x", "see https://***@github.com/x.git and "
     "wss://h/ws?token=***#x"),
    ("https://h/p?a=1&Signature=s&X-Api-Key=k;session=z", "https://h/p?a=1&Signature=***&X-Api-Key=***;session=***"),
    ("no url here: user@example.com", "no url here: user@example.com"),
])
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected
