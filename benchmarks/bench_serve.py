"""Dashboard start-up: ``zvt-crypto serve`` from the process start to the first 200 on ``/healthz``.

Each run is a fresh interpreter over a fresh, empty default store (created and migrated at start, inside the
clock), on a free 127.0.0.1 port, stopped with SIGTERM (its exit status must be 0). Reports the median, min and
max of ``--repeat`` runs and the load average before the first run (the machine is often shared).

    python benchmarks/bench_serve.py --repeat 5
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

from machine import machine_info  # benchmarks/machine.py (the scripts run from this folder)

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_start() -> float:
    """Seconds from spawning ``zvt-crypto serve`` to a 200 on /healthz."""
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
        env.update(ZVT_CRYPTO_HOME=home, PYTHONPATH=str(ROOT))
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "zvt_crypto", "serve", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"serve ended with {process.returncode}: {process.communicate()[1].decode()}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.01)
            elapsed = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            status = process.wait(timeout=30)
        if status != 0:
            raise SystemExit(f"serve exited with {status} after SIGTERM")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for key, value in machine_info(["dash", "fastapi", "uvicorn", "sqlalchemy"]).items():
        print(f"{key}: {value}")
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    times = [one_start() for _ in range(args.repeat)]
    median = statistics.median(times)
    print(f"serve start-up to 200 on /healthz: median {median:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
          f"({args.repeat} runs; target ≤ {TARGET_SECONDS:.0f} s: {'met' if median <= TARGET_SECONDS else 'MISSED'})")


if __name__ == "__main__":
    main()
