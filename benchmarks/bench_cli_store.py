"""Store commands as a user runs them: whole processes, start-up included, beside plain pandas / pyarrow scripts.

A table of named commands (``commands()``), each started ``--runs`` times after one uncounted warm-up; the report
gives min / median / max wall seconds, the median CPU seconds (user + system: it moves less with the load) and
the load average (the machine is shared: quote the median next to the load). ``PYTHONPATH=/other/checkout`` times
another version of zvt_crypto with the same table (the commands inherit it). Commands:

* ``import`` — ``zvt-crypto import`` of a 1,000,000-row OHLCV CSV into a new SQLite store (target ≤ 3 s), beside
  ``pandas.read_csv`` and ``pyarrow.csv.read_csv`` of the same file in their own processes (reading only:
  the peers store nothing);
* ``read`` — one entity's 1M bars into the indexed ``(entity_id, timestamp)`` DataFrame (``Bar.query_data``) in a
  process, beside ``pandas.read_parquet`` of the same bars; ``read (in-process)`` times the call alone (target
  ≤ 0.4 s, within 2× of Parquet);
* ``info``, ``coverage`` and ``factor list`` on a small store (10,000 bars): the fixed cost (target ≤ 0.5 s).

    .venv/bin/python benchmarks/bench_cli_store.py                 # 1M rows, 5 runs per command
    .venv/bin/python benchmarks/bench_cli_store.py --quick         # 100k rows, 2 runs (smoke test)
    .venv/bin/python benchmarks/bench_cli_store.py --pg-url postgresql://user@host/db   # + PostgreSQL rows

Progress goes to stderr, the Markdown report to stdout. Scratch files live under ``benchmarks/.data/`` (gitignored)
and are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from machine import machine_info  # benchmarks/machine.py (the scripts run from this folder)

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / ".data"
PY = sys.executable
ZVT = [PY, "-m", "zvt_crypto"]  # what the zvt-crypto console script runs
ENTITY = "pair_binance_BTC-USDT"


@dataclass(frozen=True)
class Command:
    name: str
    argv: list[str]
    target: str = ""
    before: list[str] | None = None  # run (untimed) before each timed run, e.g. to remove the store it creates


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: Command, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of each counted run: CPU time moves less with the machine's load."""
    walls, cpus = [], []
    for attempt in range(runs + 1):  # the first is a warm-up (file cache, .pyc)
        if command.before:
            subprocess.run(command.before, check=True)
        cpu, start = children_cpu(), time.perf_counter()
        done = subprocess.run(command.argv, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - start, children_cpu() - cpu
        if done.returncode != 0:
            raise SystemExit(f"{command.name} failed ({done.returncode}):\n{done.stderr}")
        if attempt:
            walls.append(wall)
            cpus.append(cpu)
    return walls, cpus


def in_process_read(url: str, runs: int) -> list[float]:
    """The read alone (store opened first), each in a fresh process: seconds printed by the child."""
    script = (
        "import time\nfrom zvt_crypto.contract.store import Store\nfrom zvt_crypto.domain import Bar\n"
        f"store = Store({url!r}, create=False)\nstore.engine\n"
        f"Bar.query_data(entity_ids=[{ENTITY!r}], level='1m', store=store, limit=1)\n"  # loads pandas, connectorx
        "start = time.perf_counter()\n"
        f"frame = Bar.query_data(entity_ids=[{ENTITY!r}], level='1m', store=store)\n"
        "print(time.perf_counter() - start, len(frame))\n"
    )
    walls = []
    for attempt in range(runs + 1):
        done = subprocess.run([PY, "-c", script], capture_output=True, text=True, check=True)
        if attempt:
            walls.append(float(done.stdout.split()[0]))
    return walls


def prepare(folder: Path, rows: int, pg_url: str | None) -> tuple[Path, Path, str, str]:
    """The CSV and Parquet of ``rows`` 1m bars, a store holding them, and a small store (10,000 bars)."""
    from zvt_crypto.dataio.sample import sample_bars

    bars = sample_bars("BTC/USDT", "2020-01-01", rows, seed=7)
    csv, parquet = folder / "bars.csv", folder / "bars.parquet"
    bars.to_csv(csv, index=False)
    bars.assign(entity_id=ENTITY).set_index(["entity_id", "timestamp"]).to_parquet(parquet)
    small_csv = folder / "small.csv"
    bars.head(10_000).to_csv(small_csv, index=False)
    big_url, small_url = f"sqlite:///{folder / 'big.db'}", f"sqlite:///{folder / 'small.db'}"
    for url, path in ((big_url, csv), (small_url, small_csv), *(((pg_url, csv),) if pg_url else ())):
        subprocess.run([*ZVT, "--db-url", url, "--create", "import", str(path), "--exchange", "binance",
                        "--symbol", "BTC/USDT", "--level", "1m"], check=True, capture_output=True)
    return csv, parquet, big_url, small_url


def commands(folder: Path, csv: Path, parquet: Path, big_url: str, small_url: str, pg_url: str | None,
             rows: int) -> list[Command]:
    fresh = folder / "fresh.db"
    import_args = ["import", str(csv), "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1m"]
    read = (f"from zvt_crypto.domain import Bar\nframe = Bar.query_data(entity_ids=[{ENTITY!r}], level='1m', "
            "store={url!r})\nassert len(frame) == {rows}")
    table = [
        Command("import: zvt-crypto import (new SQLite store)", [*ZVT, "--db-url", f"sqlite:///{fresh}", "--create",
                *import_args], "≤ 3 s", ["sh", "-c", f"rm -f {fresh} {fresh}-wal {fresh}-shm"]),
        Command("import peer: pandas.read_csv", [PY, "-c", f"import pandas as pd\npd.read_csv({str(csv)!r})"]),
        Command("import peer: pyarrow.csv.read_csv → pandas",
                [PY, "-c", f"import pyarrow.csv as c\nc.read_csv({str(csv)!r}).to_pandas()"]),
        Command("read: Bar.query_data, SQLite (process)", [PY, "-c", read.format(url=big_url, rows=rows)]),
        Command("read peer: pandas.read_parquet (process)", [PY, "-c", f"import pandas as pd\n"
                                                             f"pd.read_parquet({str(parquet)!r})"]),
        Command("zvt-crypto info (small store)", [*ZVT, "--db-url", small_url, "info"], "≤ 0.5 s"),
        Command("zvt-crypto coverage (small store)", [*ZVT, "--db-url", small_url, "coverage"], "≤ 0.5 s"),
        Command("zvt-crypto factor list", [*ZVT, "--db-url", small_url, "factor", "list"], "≤ 0.5 s"),
        Command("peer: python -c pass", [PY, "-c", "pass"]),
    ]
    if pg_url:
        table.insert(4, Command("read: Bar.query_data, PostgreSQL (process)",
                                [PY, "-c", read.format(url=pg_url, rows=rows)]))
    return table


def row(name: str, walls: list[float], target: str, cpus: list[float] | None = None) -> str:
    cpu = f"{statistics.median(cpus):.2f}" if cpus else "–"
    return (f"| {name} | {min(walls):.2f} | **{statistics.median(walls):.2f}** | {max(walls):.2f} | {cpu} | {target} | "
            f"{load()} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 2 runs")
    parser.add_argument("--pg-url", help="also read from this PostgreSQL database (its bar rows are replaced)")
    args = parser.parse_args()
    rows, runs = (100_000, 2) if args.quick else (args.rows, args.runs)
    DATA_DIR.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="cli_store_", dir=DATA_DIR))
    try:
        print(f"preparing {rows:,} bars …", file=sys.stderr)
        csv, parquet, big_url, small_url = prepare(folder, rows, args.pg_url)
        started = load()
        lines = []
        for command in commands(folder, csv, parquet, big_url, small_url, args.pg_url, rows):
            print(f"timing {command.name} …", file=sys.stderr)
            walls, cpus = timed(command, runs)
            lines.append(row(command.name, walls, command.target, cpus))
        for name, url in (("SQLite", big_url), *((("PostgreSQL", args.pg_url),) if args.pg_url else ())):
            lines.append(row(f"read (in-process): Bar.query_data, {name}", in_process_read(url, runs), "≤ 0.4 s"))
        measured = subprocess.run([PY, "-c", "import zvt_crypto; print(zvt_crypto.__file__)"], capture_output=True,
                                  text=True, check=True).stdout.strip()
        info = machine_info(["pandas", "pyarrow", "connectorx", "sqlalchemy", "alembic"],
                            {"zvt_crypto measured": measured})
        print("## Machine\n")
        print("\n".join(f"- {key}: {value}" for key, value in info.items()))
        print(f"\n## Whole-process store commands: {rows:,} bars, {runs} runs each (after one warm-up)\n")
        print(f"Load average (1 / 5 / 15 min) at the start: {started}; each row shows it when the row finished.\n")
        print("| command | min s | median s | max s | median CPU s | target | load after |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(lines))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
