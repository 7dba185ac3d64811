"""Recording benchmark: 1m bars from the simulated Binance into a fresh SQLite store, end to end, in one run.

Everything goes through the real path: a config TOML pointing ccxt at the simulator (``sim.config_toml()``),
``Bar.record_data(exchange="binance", symbols=[10 symbols], level="1m", start=..., store=Store(config))`` — the
async ccxt client, :func:`~zvt_crypto.recorders.resilience.venue_client`, pagination, validation and the upsert.
The simulator runs in its own process (the venue is another machine; in-process its HTTP threads would share
our GIL), the recorder in a fresh worker process per part so its peak RSS is its own. Two parts:

* **limiter off** — ccxt ``enableRateLimit = false`` and ``requests_per_minute = 0`` (no budget of ours):
  how fast our code records. Target ≥ 50,000 bars/s, above what Binance's published weight limits allow.
* **limiter on** — ccxt's rate limiter on (its default), our budget ``requests_per_minute`` (default 600), the
  simulator enforcing a rolling REQUEST_WEIGHT limit (default 1,500 a minute; 1000-bar klines weigh 2). Peak
  request rates over any 1 s, 10 s and 60 s window, from the simulator's request log, must stay within the
  budget, with zero 429s.

    .venv/bin/python benchmarks/bench_record.py            # 10 symbols × 100,000 bars, both parts (≈ 3 min)
    .venv/bin/python benchmarks/bench_record.py --quick    # 10 × 10,000 bars, limiter-on part 10 × 2,000

Progress goes to stderr, the Markdown report to stdout. Scratch files live under ``benchmarks/.data/``
(gitignored) and are removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from machine import machine_info, peak_rss_mb  # benchmarks/machine.py (the scripts run from this folder)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / ".data"

MINUTE_MS = 60_000
DAY_MS = 1440 * MINUTE_MS
SIM_NOW = "2024-01-08T00:00:00Z"
# (base, price, tick size): ten spot USDT pairs, all listed early enough for the requested history
COINS = (("BTC", 42_000.0, "0.01"), ("ETH", 2_300.0, "0.01"), ("BNB", 300.0, "0.1"), ("SOL", 95.0, "0.01"),
         ("XRP", 0.6, "0.0001"), ("ADA", 0.5, "0.0001"), ("DOGE", 0.08, "0.00001"), ("AVAX", 35.0, "0.01"),
         ("LINK", 14.0, "0.001"), ("DOT", 7.5, "0.001"))
WINDOWS = (1, 10, 60)

TARGET_BARS_S = 50_000
# Binance's published limits (2024): spot 6000 weight/min with 1000-bar klines weighing 2; USDⓈ-M 2400 weight/min
# with klines of 500-1000 bars weighing 5 — the most a venue lets one IP record.
VENUE_BOUNDS = {"Binance spot": 6000 / 2 * 1000 / 60, "Binance USDⓈ-M": 2400 / 5 * 1000 / 60}


# -- the simulated venue, in its own process ------------------------------------------------------------------------
def symbols(count: int) -> list[str]:
    return [f"{base}/USDT" for base, _, _ in COINS[:count]]


def sim_main(conn: Connection, count: int, bars: int, weight_limit: int | None) -> None:
    """Child process: serve ``count`` markets until told to stop; answer "log" with the request log."""
    from zvt_crypto.contract.timeutil import to_ms
    from zvt_crypto.sim import MarketSpec, SimulatedExchange

    now = to_ms(SIM_NOW)
    listed = (now - bars * MINUTE_MS) // DAY_MS * DAY_MS - DAY_MS  # a day before the first bar recorded
    markets = [MarketSpec(f"{base}/USDT", listed, price, tick_size=tick) for base, price, tick in COINS[:count]]
    with SimulatedExchange(seed=7, now=SIM_NOW, markets=markets, weight_limit=weight_limit, lifetime=None) as sim:
        conn.send({"toml": sim.config_toml(("binance",)), "now": sim.now})
        while True:
            command = conn.recv()
            if command == "log":
                conn.send([(r.received, r.status, r.weight, r.path) for r in sim.requests])
            elif command == "usage":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send((usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime))
            else:
                return


# -- one part, in a fresh worker process ----------------------------------------------------------------------------
def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def use_configured_client(config: Any) -> str:
    """Until ``Recorder.venue_run`` builds its client with ``venue_client(exchange, self.config)``, route it there
    so the configured budget applies; says which path was measured."""
    from zvt_crypto.recorders import base
    from zvt_crypto.recorders.resilience import venue_client

    if hasattr(base, "venue_client"):
        return "Recorder.venue_run → venue_client"
    base.VenueClient = lambda exchange: venue_client(exchange, config)  # type: ignore[assignment,misc]
    return "venue_client via a benchmark shim (base.py still builds VenueClient(exchange))"


def worker(part: str, count: int, bars: int, budget: int, weight_limit: int, workdir: Path) -> dict[str, Any]:
    limited = part == "on"
    context = mp.get_context("spawn")
    ours, theirs = context.Pipe()
    sim = context.Process(target=sim_main, args=(theirs, count, bars, weight_limit if limited else None),
                          daemon=True)
    sim.start()
    try:
        hello = ours.recv()
        # Imports and the store's migrations happen before the clock starts.
        import adbc_driver_sqlite.dbapi  # noqa: F401 - the writer's driver
        import ccxt.async_support  # noqa: F401 - the recorder's client
        import connectorx  # noqa: F401 - the reader's driver
        import pandas  # noqa: F401
        import rich.progress  # noqa: F401 - the progress display (silent here, but imported)

        from zvt_crypto.contract.config import load_config
        from zvt_crypto.contract.store import Store
        from zvt_crypto.domain import Bar
        from zvt_crypto.recorders import bars as _bars  # noqa: F401 - registers the recorder

        ccxt_line = "" if limited else "enableRateLimit = false\n"
        client = (f"requests_per_minute = {budget}\n" if limited else "requests_per_minute = 0\n")
        toml = hello["toml"].replace("[exchanges.binance.ccxt]\n", f"[exchanges.binance]\n{client}\n"
                                     f"[exchanges.binance.ccxt]\n{ccxt_line}", 1)
        (workdir / "zvt.toml").write_text(toml)
        config = load_config(workdir / "zvt.toml", home=workdir / "home", db_url=f"sqlite:///{workdir / 'zvt.db'}")
        client_path = use_configured_client(config)
        store = Store(config)
        store.engine  # noqa: B018 - create the file and migrate before the clock starts
        base_rss = peak_rss_mb()
        start = hello["now"] - bars * MINUTE_MS
        ours.send("usage")
        sim_cpu_before = ours.recv()[1]
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        summary = Bar.record_data(exchange="binance", symbols=symbols(count), level="1m", start=start, store=store,
                                  show_progress=False)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
        rss = peak_rss_mb()
        stored = len(Bar.query_data(entity_ids=None, level="1m", columns=[], store=store))
        ours.send("log")
        log = ours.recv()
        ours.send("usage")
        sim_rss, sim_cpu = ours.recv()
        ours.send("stop")
    finally:
        sim.join(10)
        if sim.is_alive():
            sim.kill()
    store.dispose()
    stamps = [entry[0] for entry in log]
    from zvt_crypto.sim import peak_count

    return {
        "part": part, "symbols": count, "bars_per_symbol": bars, "seconds": seconds,
        "rows_written": summary.total("changed"), "rows_stored": stored, "failed": [r.symbol for r in summary.failed],
        "client_requests": summary.requests, "client_retries": summary.retries,
        "sim_requests": len(log), "status_429": sum(1 for entry in log if entry[1] == 429),
        "klines_requests": sum(1 for entry in log if entry[3].endswith("/klines")),
        "peaks": {str(w): peak_count(stamps, w) for w in WINDOWS},
        "weight_peaks": {str(w): peak_count(stamps, w, [entry[2] for entry in log]) for w in WINDOWS},
        "budget": budget if limited else None, "weight_limit": weight_limit if limited else None,
        "base_rss_mb": base_rss, "peak_rss_mb": rss, "sim_peak_rss_mb": sim_rss, "client_path": client_path,
        "cpu_s": cpu, "sim_cpu_s": sim_cpu - sim_cpu_before,
    }


# -- orchestration and report ---------------------------------------------------------------------------------------
def run_worker(args: argparse.Namespace, part: str, run_dir: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"record-{part}-", dir=run_dir))
    bars = args.bars if part == "off" else args.limited_bars
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", part, "--symbols", str(args.symbols),
               "--bars", str(bars), "--budget", str(args.budget), "--weight-limit", str(args.weight_limit),
               "--workdir", str(workdir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            return {"part": part, "error": tail}
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(results: list[dict[str, Any]]) -> str:
    lines = ["| part | bars | seconds | bars/s | requests/s | requests | 429s | peak requests in any 1 s / 10 s / 60 s "
             "| peak weight in 60 s | recorder CPU s | simulator CPU s | recorder peak RSS MB (before the run) "
             "| simulator peak RSS MB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        if "error" in r:
            lines.append(f"| limiter {r['part']} | error: {r['error']} |" + " |" * 11)
            continue
        peaks = " / ".join(str(r["peaks"][str(w)]) for w in WINDOWS)
        rate = r["rows_written"] / r["seconds"]
        lines.append(
            f"| limiter {r['part']} | {r['rows_written']:,} | {r['seconds']:.1f} | {rate:,.0f} "
            f"| {r['sim_requests'] / r['seconds']:,.1f} | {r['sim_requests']:,} | {r['status_429']} | {peaks} "
            f"| {r['weight_peaks']['60']:,} | {r['cpu_s']:.1f} | {r['sim_cpu_s']:.1f} "
            f"| {r['peak_rss_mb']:,.0f} ({r['base_rss_mb']:,.0f}) | {r['sim_peak_rss_mb']:,.0f} |"
        )
    lines += ["", "Requests, 429s and peaks are counted from the simulator's request log (arrival times); bars/s and "
              "requests/s are over the wall-clock time of `Bar.record_data` (the gap audit included)."]
    notes = sorted({r["client_path"] for r in results if "client_path" in r})
    if notes:
        lines += ["", "Client: " + "; ".join(notes)]
    lines += ["", "## Targets", ""] + [f"- {line}" for line in targets(results)]
    return "\n".join(lines)


def targets(results: list[dict[str, Any]]) -> list[str]:
    out = []
    by_part = {r["part"]: r for r in results if "error" not in r}
    off = by_part.get("off")
    if off:
        rate = off["rows_written"] / off["seconds"]
        complete = off["rows_stored"] == off["symbols"] * off["bars_per_symbol"] and not off["failed"]
        verdict = "PASS" if rate >= TARGET_BARS_S and complete else "FAIL"
        bounds = ", ".join(f"{name} ≈ {value:,.0f}" for name, value in VENUE_BOUNDS.items())
        out.append(f"{verdict}: limiter off, ≥ {TARGET_BARS_S:,} bars/s end to end: {rate:,.0f} bars/s "
                   f"({off['rows_stored']:,} bars stored; the venue's bound in bars/s: {bounds})")
    on = by_part.get("on")
    if on:
        budget = on["budget"]
        allowed = {w: math.floor(budget * w / 60) for w in WINDOWS}
        within = all(on["peaks"][str(w)] <= allowed[w] for w in WINDOWS)
        shown = ", ".join(f"{w} s: {on['peaks'][str(w)]} ≤ {allowed[w]}" for w in WINDOWS)
        verdict = "PASS" if within else "FAIL"
        out.append(f"{verdict}: limiter on, peak request rate within the budget of {budget}/min in every window "
                   f"({shown})")
        complete = on["rows_stored"] == on["symbols"] * on["bars_per_symbol"] and not on["failed"]
        verdict = "PASS" if on["status_429"] == 0 and complete else "FAIL"
        out.append(f"{verdict}: limiter on, zero 429s against the simulator's limit of {on['weight_limit']:,} weight "
                   f"per rolling minute ({on['status_429']} 429s, peak weight {on['weight_peaks']['60']:,} in 60 s, "
                   f"{on['rows_stored']:,} bars stored, {on['client_retries']} retries)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=10, help=f"symbols to record (at most {len(COINS)})")
    parser.add_argument("--bars", type=int, default=None, help="1m bars per symbol, limiter off (default 100,000)")
    parser.add_argument("--limited-bars", type=int, default=None,
                        help="1m bars per symbol, limiter on (default: as --bars)")
    parser.add_argument("--budget", type=int, default=600, help="our requests_per_minute, limiter on")
    parser.add_argument("--weight-limit", type=int, default=1500,
                        help="the simulator's REQUEST_WEIGHT limit per rolling minute, limiter on")
    parser.add_argument("--parts", default="off,on", help="comma-separated subset of off,on")
    parser.add_argument("--quick", action="store_true", help="10,000 bars per symbol; limiter on 2,000")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.bars = args.bars or (10_000 if args.quick else 100_000)
    args.limited_bars = args.limited_bars or (2_000 if args.quick else args.bars)
    if not 1 <= args.symbols <= len(COINS):
        parser.error(f"--symbols must be from 1 to {len(COINS)}")

    if args.worker:
        print(json.dumps(worker(args.worker, args.symbols, args.bars, args.budget, args.weight_limit, args.workdir)))
        return 0

    from rich.console import Console

    console = Console(stderr=True)
    DATA_DIR.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=DATA_DIR))
    results = []
    try:
        for part in [p for p in args.parts.split(",") if p]:
            bars = args.bars if part == "off" else args.limited_bars
            console.print(f"limiter {part}: {args.symbols} symbols × {bars:,} 1m bars …")
            results.append(run_worker(args, part, run_dir))
            if "error" in results[-1]:
                console.print(f"[red]limiter {part} failed: {results[-1]['error']}")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if DATA_DIR.exists() and not any(DATA_DIR.iterdir()):
            DATA_DIR.rmdir()
    info = machine_info(("zvt-crypto", "ccxt", "aiohttp", "pandas", "numpy", "pyarrow", "adbc-driver-sqlite"))
    print("## Machine\n\n" + "\n".join(f"- {key}: {value}" for key, value in info.items()) + "\n\n" + report(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
