"""The server itself: loopback only, bounded lifetime, simulated clock, config for zvt_crypto, the CLI helper,
no side effects at import."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import ccxt
import pytest

from tests.sim.conftest import MINUTE, NOW, client
from zvt_crypto.contract.config import load_config
from zvt_crypto.sim import MarketSpec, SimulatedExchange, serve


def test_bound_to_loopback_on_a_free_port(sim: SimulatedExchange) -> None:
    assert sim.host == "127.0.0.1" and sim.port > 0 and sim.url == f"http://127.0.0.1:{sim.port}"
    assert sim._server.socket.getsockname() == ("127.0.0.1", sim.port)
    for host in ("0.0.0.0", "192.168.1.10", "::1"):
        with pytest.raises(ValueError, match="loopback"):
            SimulatedExchange(host=host)


def test_lifetime_stops_the_server() -> None:
    sim = SimulatedExchange(lifetime=0.3)
    exchange = client(sim)
    assert exchange.fetch_time() == NOW
    assert sim.wait(5) and sim.closed
    with pytest.raises(OSError):
        socket.create_connection((sim.host, sim.port), timeout=1).close()
    with pytest.raises(ccxt.NetworkError):
        exchange.fetch_time()
    sim.close()  # idempotent


def test_close_does_not_wait_for_slow_answers() -> None:
    with SimulatedExchange(lifetime=30) as sim:
        sim.inject("slow", "/api/v3/time", delay=20)
        exchange = client(sim, timeout=200)
        with pytest.raises(ccxt.RequestTimeout):
            exchange.fetch_time()
        started = time.monotonic()
    assert time.monotonic() - started < 2


def test_clock(sim: SimulatedExchange) -> None:
    exchange = client(sim)
    assert exchange.fetch_time() == NOW
    assert sim.advance(90) == NOW + 90_000
    assert exchange.fetch_time() == NOW + 90_000
    assert sim.set_now("2024-01-01T00:00:00Z") == NOW - 7 * 1440 * MINUTE
    assert client(sim).fetch_ohlcv("BTC/USDT", "1m", limit=1)[0][0] == NOW - 7 * 1440 * MINUTE


def test_unknown_path_is_404(sim: SimulatedExchange) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{sim.url}/api/v3/nothing", timeout=5)
    assert caught.value.code == 404
    assert sim.request_counts() == {"/api/v3/nothing": 1}


def test_config_toml_drives_ccxt_through_load_config(sim: SimulatedExchange, tmp_path: Path) -> None:
    text = sim.config_toml()
    parsed = tomllib.loads(text)["exchanges"]
    assert parsed["binance"]["ccxt"] == sim.ccxt_options("binance")
    path = tmp_path / "zvt.toml"
    path.write_text(text)
    config = load_config(path)
    spot = ccxt.binance(config.ccxt_options("binance"))
    usdm = ccxt.binanceusdm(config.ccxt_options("binanceusdm"))
    assert len(spot.load_markets()) == 4 and len(usdm.load_markets()) == 2
    with pytest.raises(ValueError):
        sim.ccxt_options("okx")


def test_custom_universe() -> None:
    specs = [MarketSpec("DOGE/USDT", "2024-01-02", 0.09, tick_size="0.00001", step_size="1", mean_qty=5000)]
    with SimulatedExchange(seed=1, markets=specs, lifetime=30) as sim:
        exchange = client(sim)
        assert list(exchange.load_markets()) == ["DOGE/USDT"]
        rows = exchange.fetch_ohlcv("DOGE/USDT", "1d")
        assert rows[0][0] == 1704153600000 and len(rows) == 7 and 0.05 < rows[0][1] < 0.2
    with pytest.raises(ValueError, match="power of ten"):
        SimulatedExchange(markets=[MarketSpec("X/USDT", "2024-01-01", 1.0, tick_size="0.05")])


def test_serve_prints_the_config_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    serve(port=0, lifetime=0.2)
    out = capsys.readouterr().out
    assert "simulated Binance at http://127.0.0.1:" in out and "[exchanges.binanceusdm.ccxt.urls.api]" in out


def test_import_starts_nothing() -> None:
    code = ("import threading, zvt_crypto.sim, zvt_crypto.sim.server; "
            "print(threading.active_count(), sorted(t.name for t in threading.enumerate()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("1 ")
