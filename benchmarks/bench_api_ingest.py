"""API ingestion: ``POST /api/v1/bars`` of 1,000,000 1m bars as Parquet and as an Arrow IPC stream through
``zvt-crypto serve`` (a real process), beside the same rows written in-process by the function the route calls
(:func:`zvt_crypto.dataio.importers.import_bar_frame`: the floor).

Each repeat starts a fresh server over a fresh SQLite store; each format goes to its own new instrument
(``create=true``), then the same body is sent again (nothing changes: the idempotent path). The clock runs from
sending the encoded body to the answer (encoding is reported apart). Reports min/median/max of ``--repeat`` runs
and the load average before and after (the machine is often shared). Target: ≥ 200,000 rows/s.

    python benchmarks/bench_api_ingest.py --repeat 3 [--rows 1000000]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from machine import machine_info  # benchmarks/machine.py (the scripts run from this folder)

ROOT = Path(__file__).resolve().parent.parent
TARGET_ROWS_PER_SECOND = 200_000
TOKEN = "bench-writer-token-0123456789"
MEDIA = {"parquet": "application/vnd.apache.parquet", "arrow": "application/vnd.apache.arrow.stream"}


def make_bars(rows: int) -> pd.DataFrame:
    """``rows`` valid 1m bars from 2020-01-01 (a seeded random walk)."""
    rng = np.random.default_rng(16)
    close = 10_000 + np.cumsum(rng.normal(0, 5, rows))
    open_ = np.r_[10_000.0, close[:-1]]
    spread = rng.uniform(0, 3, rows)
    return pd.DataFrame({
        "timestamp": pd.date_range("2020-01-01", periods=rows, freq="1min", tz="UTC"),
        "open": open_, "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread,
        "close": close, "volume": rng.uniform(0.1, 50, rows),
    })


def encode(frame: pd.DataFrame, fmt: str) -> bytes:
    import pyarrow as pa

    if fmt == "parquet":
        return frame.to_parquet(index=False)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(home: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    env.update(ZVT_CRYPTO_HOME=home, PYTHONPATH=str(ROOT), ZVT_CRYPTO_API_TOKEN_BENCH=f"write:{TOKEN}")
    process = subprocess.Popen([sys.executable, "-m", "zvt_crypto", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"serve ended with {process.returncode}: {process.communicate()[1].decode()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                if response.status == 200:
                    return process, port
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise SystemExit("serve gave no 200 on /healthz within 60 s") from None
            time.sleep(0.02)


def post(port: int, body: bytes, fmt: str, symbol: str) -> tuple[float, dict[str, int]]:
    """Seconds from sending ``body`` to the parsed answer, and the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    path = f"/api/v1/bars?exchange=binance&symbol={symbol}&level=1m&create=true"
    started = time.perf_counter()
    connection.request("POST", path, body=body, headers={"Content-Type": MEDIA[fmt],
                                                         "Authorization": f"Bearer {TOKEN}"})
    response = connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise SystemExit(f"POST {fmt} answered {response.status}: {data[:500].decode(errors='replace')}")
    return elapsed, json.loads(data)


def in_process(frame: pd.DataFrame) -> float:
    """The floor: the route's own library call on a fresh store, no HTTP and no decoding."""
    from zvt_crypto.contract.store import Store
    from zvt_crypto.dataio.importers import import_bar_frame

    with tempfile.TemporaryDirectory() as home:
        store = Store(f"sqlite:///{home}/zvt_crypto.db")
        store.engine  # noqa: B018 - create and migrate outside the clock
        started = time.perf_counter()
        result = import_bar_frame(store, frame, exchange="binance", symbol="FLOOR/USDT", level="1m")
        elapsed = time.perf_counter() - started
        store.dispose()
    assert result.changed == len(frame)
    return elapsed


def summary(name: str, times: list[float], rows: int, target: bool) -> str:
    median = statistics.median(times)
    rate = rows / median
    verdict = f"; target ≥ {TARGET_ROWS_PER_SECOND:,} rows/s: {'met' if rate >= TARGET_ROWS_PER_SECOND else 'MISSED'}"
    return (f"{name:<40} median {median:6.2f} s (min {min(times):.2f}, max {max(times):.2f}) = "
            f"{rate:,.0f} rows/s{verdict if target else ''}")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    for key, value in machine_info(["fastapi", "uvicorn", "pyarrow", "pandas", "sqlalchemy"]).items():
        print(f"{key}: {value}")
    print(f"load average before: {load()}")
    frame = make_bars(args.rows)
    bodies: dict[str, bytes] = {}
    for fmt in MEDIA:
        started = time.perf_counter()
        bodies[fmt] = encode(frame, fmt)
        print(f"encode {fmt}: {time.perf_counter() - started:.2f} s, {len(bodies[fmt]) / 1e6:.1f} MB")

    timings: dict[str, list[float]] = {}

    def timed(name: str, run: Callable[[], float]) -> None:
        timings.setdefault(name, []).append(run())

    for _ in range(args.repeat):
        timed("in-process import_bar_frame (floor)", lambda: in_process(frame))
        with tempfile.TemporaryDirectory() as home:
            process, port = start_serve(home)
            try:
                for fmt, body in bodies.items():
                    symbol = f"{fmt.upper()}/USDT"
                    seconds, answer = post(port, body, fmt, symbol)
                    assert answer["changed"] == args.rows, answer
                    timings.setdefault(f"POST /bars {fmt} (new rows)", []).append(seconds)
                    seconds, answer = post(port, body, fmt, symbol)
                    assert answer["changed"] == 0, answer
                    timings.setdefault(f"POST /bars {fmt} again (nothing changes)", []).append(seconds)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    print(f"{args.rows:,} 1m bars, {args.repeat} run(s):")
    for name, times in timings.items():
        print(summary(name, times, args.rows, target=name.startswith("POST")))
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
