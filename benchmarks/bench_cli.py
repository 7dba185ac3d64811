"""Whole-process benchmark: ``zvt-crypto`` commands as a user runs them (a fresh process each: imports, store open,
the work, the output files), side by side in one run with the peers' equivalent whole-process scripts.

Every row of :data:`COMMANDS` is one named command: its group (rows of a group are compared with each other), the
argv it runs (built from the prepared :class:`Workspace`) and, for peers, the module it needs (a row whose module is
not importable is skipped with a printed note). To add a command, add a row.

The data: ``--bars`` seeded random-walk 1m bars of ``binance BTC/USDT`` written once (before any clock) into a fresh
SQLite store and, for the peers, into a CSV of the same bars.

    .venv/bin/python benchmarks/bench_cli.py                       # 1,000,000 bars, 5 runs per command
    .venv/bin/python benchmarks/bench_cli.py --quick               # 50,000 bars, 2 runs each (a smoke test)
    .venv/bin/python benchmarks/bench_cli.py --only backtest --repeat 7

Progress goes to stderr, the Markdown report (machine, load average, min / median / max wall time per command and
its median CPU time, user + system) to stdout.
Scratch files live under ``benchmarks/.data/`` and are removed afterwards.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machine import machine_info  # benchmarks/machine.py (the scripts run from this folder)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / ".data"
PEERS = HERE / "peers"
SEED = 20240101
EXCHANGE, SYMBOL, ENTITY = "binance", "BTC/USDT", "pair_binance_BTC-USDT"
START = "2020-01-01"


@dataclass(frozen=True)
class Workspace:
    """The prepared inputs every command reads, and a scratch folder for what it writes."""

    folder: Path
    db_url: str
    csv: Path
    bars: int
    parquet: Path | None = None  # the same bars, indexed (entity_id, timestamp): the read peer's input
    small_db_url: str = ""  # a store of 10,000 bars: the fixed cost of info / coverage

    def out(self, name: str) -> Path:
        return self.folder / name


@dataclass(frozen=True)
class Command:
    """One timed whole-process command: ``argv(workspace)`` runs it; ``needs`` names a module a peer imports."""

    name: str
    group: str
    argv: Callable[[Workspace], list[str]]
    needs: str | None = None
    note: str = ""


def zvt(*args: str) -> Callable[[Workspace], list[str]]:
    """``zvt-crypto --db-url <store> ARGS…`` (``{out:NAME}`` in an argument is a scratch file's path)."""

    def argv(ws: Workspace) -> list[str]:
        expanded = [str(ws.out(a[5:-1])) if a.startswith("{out:") else a for a in args]
        return [sys.executable, "-m", "zvt_crypto", "--db-url", ws.db_url, *expanded]

    return argv


def peer(script: str, *args: str) -> Callable[[Workspace], list[str]]:
    """``python benchmarks/peers/SCRIPT <bars.csv> ARGS…`` (``{out:NAME}`` as for :func:`zvt`)."""

    def argv(ws: Workspace) -> list[str]:
        expanded = [str(ws.out(a[5:-1])) if a.startswith("{out:") else a for a in args]
        return [sys.executable, str(PEERS / script), str(ws.csv), *expanded]

    return argv


SMA = ("--strategy", "sma_cross", "--exchange", EXCHANGE, "--symbol", SYMBOL, "--level", "1m", "--param", "fast=10",
       "--param", "slow=30", "--fee", "0.001")

#: the table of commands; other benchmarks of whole commands (import, query, info …) add their rows here
COMMANDS: list[Command] = [
    Command("zvt-crypto backtest --out run.json", "backtest",
            zvt("backtest", *SMA, "--out", "{out:run.json}"),
            note="auto engine (vectorised for sma_cross), stores the run"),
    Command("zvt-crypto backtest --out run.parquet", "backtest",
            zvt("backtest", *SMA, "--out", "{out:run.parquet}"), note="as above, equity and trades as Parquet"),
    Command("zvt-crypto backtest --no-store --out run.json", "backtest",
            zvt("backtest", *SMA, "--no-store", "--out", "{out:nostore.json}"),
            note="as the first, without storing the run (one equity row per bar)"),
    Command("zvt-crypto backtest --engine event --out run.json", "backtest",
            zvt("backtest", *SMA, "--engine", "event", "--out", "{out:event.json}"),
            note="the event engine (Python `next` per bar)"),
    Command("backtesting.py (script: CSV → run → JSON)", "backtest",
            peer("backtestingpy_sma_cross.py", "{out:bt.json}"), needs="backtesting",
            note="`FractionalBacktest`, same rules, stats + trades + equity as JSON"),
    Command("vectorbt (script: CSV → from_signals → JSON)", "backtest",
            peer("vectorbt_sma_cross.py", "{out:vbt.json}"), needs="vectorbt",
            note="first call in the process: includes numba compilation"),
]



def fresh_import(ws: Workspace) -> list[str]:
    """``zvt-crypto import`` of the CSV into a new SQLite store (the one of the previous run removed first)."""
    db = ws.out("import.db")
    command = (f"rm -f {db} {db}-wal {db}-shm && exec {sys.executable} -m zvt_crypto --db-url sqlite:///{db} "
               f"--create import {ws.csv} --exchange {EXCHANGE} --symbol {SYMBOL} --level 1m")
    return ["sh", "-c", command]


def python(code: str) -> Callable[[Workspace], list[str]]:
    """``python -c CODE`` with ``{csv}``, ``{parquet}`` and ``{db_url}`` filled in from the workspace."""
    return lambda ws: [sys.executable, "-c", code.format(csv=ws.csv, parquet=ws.parquet, db_url=ws.db_url)]


def zvt_small(*args: str) -> Callable[[Workspace], list[str]]:
    return lambda ws: [sys.executable, "-m", "zvt_crypto", "--db-url", ws.small_db_url, *args]


COMMANDS += [
    Command("zvt-crypto import (CSV → new SQLite store)", "import", fresh_import, note="target ≤ 3 s"),
    Command("pandas.read_csv (script)", "import", python("import pandas as pd; pd.read_csv('{csv}')"),
            note="reads only: stores nothing"),
    Command("pyarrow.csv.read_csv → pandas (script)", "import",
            python("import pyarrow.csv as c; c.read_csv('{csv}').to_pandas()"), note="reads only"),
    Command("Bar.query_data, one entity (script)", "read",
            python("from zvt_crypto.domain import Bar; Bar.query_data(entity_ids=['" + ENTITY + "'], level='1m', "
                   "store='{db_url}')"), note="the indexed (entity_id, timestamp) DataFrame"),
    Command("pandas.read_parquet (script)", "read", python("import pandas as pd; pd.read_parquet('{parquet}')")),
    Command("zvt-crypto info", "fixed cost", zvt_small("info"), note="10,000-bar store; target ≤ 0.5 s"),
    Command("zvt-crypto coverage", "fixed cost", zvt_small("coverage"), note="10,000-bar store; target ≤ 0.5 s"),
    Command("zvt-crypto factor list", "fixed cost", zvt_small("factor", "list"), note="target ≤ 0.5 s"),
    Command("python -c pass", "fixed cost", python("pass"), note="the interpreter's own start"),
]


# -- data -------------------------------------------------------------------------------------------------------------
def make_bars(n: int, seed: int = SEED) -> Any:
    """Seeded 1m bars (OHLC consistent), bench_backtest.py's series: a random walk plus a daily cycle in the drift
    (so ~20,000 round trips at 0.2 % fees keep the account between 0.5 and 5 times its cash)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    drift = 0.0002 * np.sin(2 * np.pi * np.arange(n) / 1440)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n) + drift))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.0002, n))
    high = np.maximum(open_, close) * (1 + rng.random(n) * 0.0005)
    low = np.minimum(open_, close) * (1 - rng.random(n) * 0.0005)
    volume = np.full(n, 1000.0)
    return pd.DataFrame({"entity_id": ENTITY, "timestamp": pd.date_range(START, periods=n, freq="1min", tz="UTC"),
                         "open": open_, "high": high, "low": low, "close": close, "volume": volume,
                         "quote_volume": volume * close})


def prepare(folder: Path, n_bars: int) -> Workspace:
    """A fresh SQLite store holding ``n_bars`` 1m bars, and the same bars as a CSV."""
    from zvt_crypto.contract.store import Store
    from zvt_crypto.domain import Bar

    frame = make_bars(n_bars)
    db_url = f"sqlite:///{folder / 'store.db'}"
    store = Store(db_url, create=True)
    store.write(Bar, frame, level="1m")
    store.dispose()
    small_db_url = f"sqlite:///{folder / 'small.db'}"
    small = Store(small_db_url, create=True)
    small.write(Bar, frame.head(10_000), level="1m")
    small.dispose()
    csv = folder / "bars.csv"
    columns = ["timestamp", "open", "high", "low", "close", "volume"]
    frame[columns].assign(timestamp=frame["timestamp"].dt.tz_localize(None)).to_csv(csv, index=False)
    parquet = folder / "bars.parquet"
    frame.set_index(["entity_id", "timestamp"]).to_parquet(parquet)
    return Workspace(folder=folder, db_url=db_url, csv=csv, bars=n_bars, parquet=parquet, small_db_url=small_db_url)


# -- timing -----------------------------------------------------------------------------------------------------------
def run_once(argv: Sequence[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the process and its children) of one run of ``argv``. On a
    shared machine the wall time grows with the load; the CPU time much less."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(commands: Sequence[Command], ws: Workspace, repeat: int) -> list[dict[str, Any]]:
    """Each command ``repeat`` times, interleaved (one round runs every command once) so load drifts hit all."""
    runnable, rows = [], []
    for command in commands:
        if command.needs and importlib.util.find_spec(command.needs) is None:
            print(f"note: skipped {command.name!r}: {command.needs} is not importable here", file=sys.stderr)
            rows.append({"command": command, "times": [], "cpu": [], "skipped": f"{command.needs} not installed"})
        else:
            runnable.append(command)
            rows.append({"command": command, "times": [], "cpu": [], "skipped": None})
    for round_no in range(repeat):
        for row in rows:
            if row["skipped"]:
                continue
            wall, cpu = run_once(row["command"].argv(ws))
            row["times"].append(wall)
            row["cpu"].append(cpu)
            print(f"round {round_no + 1}/{repeat} {row['command'].name}: {wall:.3f} s, CPU {cpu:.3f} s "
                  f"(load {load()})", file=sys.stderr)
    return rows


def report(rows: Sequence[dict[str, Any]], ws: Workspace, repeat: int, loads: tuple[str, str]) -> str:
    info = machine_info(["zvt-crypto", "pandas", "numpy", "numba", "orjson", "pyarrow", "backtesting", "vectorbt"])
    lines = ["## Machine", "", *(f"- {k}: {v}" for k, v in info.items()),
             f"- load average (1 / 5 / 15 min): {loads[0]} at the start, {loads[1]} at the end", "",
             f"## Results: {ws.bars:,} stored 1m bars, {repeat} runs per command, each a fresh process", "",
             "| group | command | min s | median s | max s | CPU s (median) | notes |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        command, times = row["command"], row["times"]
        if row["skipped"]:
            lines.append(f"| {command.group} | {command.name} | — | — | — | — | skipped: {row['skipped']} |")
            continue
        lines.append(f"| {command.group} | {command.name} | {min(times):.2f} | {statistics.median(times):.2f} | "
                     f"{max(times):.2f} | {statistics.median(row['cpu']):.2f} | {command.note} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="50,000 bars, 2 runs per command")
    parser.add_argument("--only", help="comma-separated groups (e.g. backtest)")
    args = parser.parse_args(argv)
    bars, repeat = (50_000, 2) if args.quick else (args.bars, args.repeat)
    groups = set(args.only.split(",")) if args.only else None
    commands = [c for c in COMMANDS if groups is None or c.group in groups]
    DATA_DIR.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="cli-", dir=DATA_DIR))
    try:
        print(f"preparing {bars:,} bars in {folder} …", file=sys.stderr)
        ws = prepare(folder, bars)
        start_load = load()
        rows = measure(commands, ws, repeat)
        print(report(rows, ws, repeat, (start_load, load())))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
