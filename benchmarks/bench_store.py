"""Store benchmark: zvt_crypto against pandas ``to_sql``, plain ``sqlite3`` and Parquet, in one run.

Every path gets the same synthetic data (seeded random-walk 1m bars) and runs in its own fresh subprocess, so
its peak RSS (``ru_maxrss``) is its own. Two scenarios:

* (a) one entity × N bars (default N = 1,000,000)
* (b) 100 entities × N/100 bars

For each path: first write (rows/s), re-write of the same rows (all duplicates, rows/s), read back into a pandas
DataFrame (one entity in (a), all 100 in (b)), peak RSS and file size. Also ``import zvt_crypto`` time and
``from zvt_crypto.domain import Bar`` time in fresh interpreters (median of 5).

    .venv/bin/python benchmarks/bench_store.py            # 1M rows, median of 3 runs per path
    .venv/bin/python benchmarks/bench_store.py --quick    # 100k rows, one run per path (smoke test)

Progress goes to stderr, the Markdown report to stdout. Scratch files live under ``benchmarks/.data/``
(gitignored) and are removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import machine_info, peak_rss_mb  # benchmarks/machine.py (the scripts run from this folder)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / ".data"

PATHS = ("zvt_crypto", "pandas", "sqlite3", "parquet")
SCENARIOS = {"a": "(a) 1 entity", "b": "(b) 100 entities"}
COLUMNS = ("entity_id", "timestamp", "open", "high", "low", "close", "volume", "quote_volume")
SEED = 20240101
START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
MINUTE_MS = 60_000

TARGET_WRITE_ROWS_S = 250_000
TARGET_READ_S = 1.0
TARGET_READ_ROWS = 1_000_000
TARGET_IMPORT_S = 0.5


# -- synthetic data -------------------------------------------------------------------------------------------------
def entity_ids(count: int) -> list[str]:
    if count == 1:
        return ["pair_binance_BTC-USDT"]
    return [f"pair_binance_C{i:03d}-USDT" for i in range(count)]


def make_bars(n_entities: int, per_entity: int, seed: int = SEED) -> Any:
    """Seeded random-walk 1m bars, sorted by (entity_id, timestamp); OHLC consistent, volumes positive."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    shape = (n_entities, per_entity)
    first = rng.uniform(1.0, 1000.0, size=(n_entities, 1))
    close = first * np.exp(np.cumsum(rng.normal(0.0, 1e-3, size=shape), axis=1))
    open_ = np.concatenate([first, close[:, :-1]], axis=1)
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 5e-4, size=shape)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 5e-4, size=shape)))
    volume = rng.gamma(2.0, 10.0, size=shape)
    ms = START_MS + np.arange(per_entity, dtype=np.int64) * MINUTE_MS
    return pd.DataFrame(
        {
            "entity_id": np.repeat(np.array(entity_ids(n_entities), dtype=object), per_entity),
            "timestamp": pd.to_datetime(np.tile(ms, n_entities), unit="ms", utc=True),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
            "quote_volume": (volume * close).ravel(),
        }
    )


# -- helpers ----------------------------------------------------------------------------------------------------------
def files_mb(*paths: Path) -> float:
    """Size of a database file plus its -wal / -journal / -shm companions, in MB (10^6 bytes)."""
    total = 0
    for path in paths:
        for candidate in (path, *(path.with_name(path.name + s) for s in ("-wal", "-journal", "-shm"))):
            if candidate.exists():
                total += candidate.stat().st_size
    return total / 1e6


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


# -- the paths (each runs inside a worker subprocess) ----------------------------------------------------------------
def run_zvt_crypto(frame: Any, ids: list[str], workdir: Path) -> dict[str, Any]:
    from zvt_crypto.contract.store import Store
    from zvt_crypto.domain import Bar

    db = workdir / "zvt.db"
    store = Store(f"sqlite:///{db}")
    open_s, _ = timed(lambda: store.engine)  # creates the file and applies the migrations (not in the write time)
    write_s, first = timed(lambda: store.write(Bar, frame, level="1m"))
    assert first.changed == len(frame), first
    rewrite_s, again = timed(lambda: store.write(Bar, frame, level="1m"))
    assert again.changed == 0, again
    read_s, back = timed(lambda: Bar.query_data(entity_ids=ids, level="1m", store=store))

    store.dispose()
    size = files_mb(db)
    # the SQLite copies bundled with the bulk drivers, asked on a scratch file (only public driver APIs, and
    # no second library copy on the store's file while the store had it open)
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    import connectorx as cx

    scratch = workdir / "versions.db"
    with adbc_sqlite.connect(str(scratch)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()")
        adbc_version = cursor.fetchone()[0]
    cx_version = cx.read_sql(f"sqlite://{scratch}", "SELECT sqlite_version() AS v", return_type="arrow")
    return {
        "write_s": write_s, "rewrite_s": rewrite_s, "read_s": read_s, "read_rows": len(back),
        "file_mb": size,
        "notes": {
            "store open + migrations s": round(open_s, 3),
            "ADBC SQLite": adbc_version,
            "connectorx SQLite": cx_version.column(0)[0].as_py(),
        },
    }


def run_pandas(frame: Any, ids: list[str], workdir: Path) -> dict[str, Any]:
    import pandas as pd
    from sqlalchemy import create_engine

    db = workdir / "pandas.db"
    engine = create_engine(f"sqlite:///{db}")
    frame.head(0).to_sql("bar", engine, index=False)  # pandas' own column types (timestamps become TEXT)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE UNIQUE INDEX ux_bar_key ON bar (entity_id, timestamp)")

    def insert_or_ignore(pd_table: Any, connection: Any, keys: list[str], data_iter: Any) -> int:
        # pandas' default insert (one executemany of dicts), with SQLite's OR IGNORE prefix
        statement = pd_table.table.insert().prefix_with("OR IGNORE")
        return connection.execute(statement, [dict(zip(keys, row, strict=True)) for row in data_iter]).rowcount

    write_s, inserted = timed(lambda: frame.to_sql("bar", engine, if_exists="append", index=False))
    assert inserted == len(frame), inserted
    rewrite_s, reinserted = timed(
        lambda: frame.to_sql("bar", engine, if_exists="append", index=False, method=insert_or_ignore)
    )
    assert reinserted == 0, reinserted
    marks = ", ".join("?" * len(ids))
    sql = f"SELECT * FROM bar WHERE entity_id IN ({marks}) ORDER BY entity_id, timestamp"
    parse_dates = {"timestamp": {"utc": True, "format": "ISO8601"}}
    read_s, back = timed(lambda: pd.read_sql(sql, engine, params=tuple(ids), parse_dates=parse_dates))
    assert str(back["timestamp"].dtype).startswith("datetime64"), back.dtypes
    engine.dispose()
    return {"write_s": write_s, "rewrite_s": rewrite_s, "read_s": read_s, "read_rows": len(back),
            "file_mb": files_mb(db)}


def run_sqlite3(frame: Any, ids: list[str], workdir: Path) -> dict[str, Any]:
    import sqlite3

    import pandas as pd

    db = workdir / "sqlite3.db"
    connection = sqlite3.connect(db)
    connection.execute(
        "CREATE TABLE bar (entity_id TEXT NOT NULL, timestamp INTEGER NOT NULL, open REAL, high REAL, low REAL, "
        "close REAL, volume REAL, quote_volume REAL, UNIQUE (entity_id, timestamp))"
    )
    insert = f"INSERT OR IGNORE INTO bar VALUES ({', '.join('?' * len(COLUMNS))})"

    def write() -> int:
        # the frame → Python tuples conversion (with integer epoch-ms timestamps) is part of the cost
        ms = frame["timestamp"].dt.as_unit("ms").astype("int64")
        columns = [frame["entity_id"].tolist(), ms.tolist(), *(frame[c].tolist() for c in COLUMNS[2:])]
        with connection:
            before = connection.total_changes
            connection.executemany(insert, zip(*columns, strict=True))
            return connection.total_changes - before

    write_s, inserted = timed(write)
    assert inserted == len(frame), inserted
    rewrite_s, reinserted = timed(write)
    assert reinserted == 0, reinserted
    marks = ", ".join("?" * len(ids))
    sql = f"SELECT * FROM bar WHERE entity_id IN ({marks}) ORDER BY entity_id, timestamp"

    def read() -> Any:
        rows = connection.execute(sql, ids).fetchall()
        back = pd.DataFrame(rows, columns=list(COLUMNS))
        back["timestamp"] = pd.to_datetime(back["timestamp"], unit="ms", utc=True)
        return back

    read_s, back = timed(read)
    version = connection.execute("SELECT sqlite_version()").fetchone()[0]
    connection.close()
    return {
        "write_s": write_s, "rewrite_s": rewrite_s, "read_s": read_s, "read_rows": len(back),
        "file_mb": files_mb(db), "notes": {"sqlite3 module SQLite": version},
    }


def run_parquet(frame: Any, ids: list[str], workdir: Path) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = workdir / "bars.parquet"

    def write() -> None:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)

    write_s, _ = timed(write)
    rewrite_s, _ = timed(write)  # a file has no upsert: "re-write" rewrites it whole
    read_s, back = timed(lambda: pq.read_table(path, filters=[("entity_id", "in", ids)]).to_pandas())
    return {"write_s": write_s, "rewrite_s": rewrite_s, "read_s": read_s, "read_rows": len(back),
            "file_mb": files_mb(path)}


RUNNERS: dict[str, Callable[[Any, list[str], Path], dict[str, Any]]] = {
    "zvt_crypto": run_zvt_crypto,
    "pandas": run_pandas,
    "sqlite3": run_sqlite3,
    "parquet": run_parquet,
}


def worker(path: str, scenario: str, rows: int, workdir: Path) -> dict[str, Any]:
    n_entities = 1 if scenario == "a" else 100
    per_entity = rows // n_entities
    frame = make_bars(n_entities, per_entity)
    import pandas  # noqa: F401 - imported by make_bars; the base RSS includes it and the data

    base = peak_rss_mb()
    result = RUNNERS[path](frame, entity_ids(n_entities), workdir)
    result.update(path=path, scenario=scenario, rows=len(frame), base_rss_mb=base, peak_rss_mb=peak_rss_mb())
    assert result["read_rows"] == len(frame), result
    return result


# -- orchestration ----------------------------------------------------------------------------------------------------
def run_worker(path: str, scenario: str, rows: int, run_dir: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{path}-{scenario}-", dir=run_dir))
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", path, "--scenario", scenario,
                   "--rows", str(rows), "--workdir", str(workdir)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            return {"path": path, "scenario": scenario, "error": tail}
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


IMPORT_SNIPPETS = {
    "import zvt_crypto": "import zvt_crypto",
    "from zvt_crypto.domain import Bar": "from zvt_crypto.domain import Bar",
}


def import_seconds(statement: str) -> float:
    code = f"import time\nstart = time.perf_counter()\n{statement}\nprint(time.perf_counter() - start)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(done.stdout.strip())


def median_result(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [run for run in runs if "error" not in run]
    if not good:
        return runs[0]
    out = dict(good[0])
    for key in ("write_s", "rewrite_s", "read_s", "peak_rss_mb", "base_rss_mb", "file_mb"):
        values = [run[key] for run in good if run.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    out["runs"] = len(good)
    out["write_s_all"] = [run["write_s"] for run in good]
    return out


def fmt_rate(rows: int, seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{rows / seconds:,.0f}"


def fmt_seconds(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.3f}"


def report(args: argparse.Namespace, results: list[dict[str, Any]], imports: dict[str, list[float]]) -> str:
    lines = [
        f"## Results: {args.rows:,} rows per scenario, median of {args.repeat} run(s) per path, "
        "each in a fresh process",
        "",
        "| scenario | path | write rows/s | re-write rows/s | read s | read rows/s | peak RSS MB | RSS before MB "
        "| file MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        label = SCENARIOS[result["scenario"]]
        if "error" in result:
            lines.append(f"| {label} | {result['path']} | error: {result['error']} | | | | | | |")
            continue
        rows = result["rows"]
        lines.append(
            f"| {label} | {result['path']} | {fmt_rate(rows, result['write_s'])} "
            f"| {fmt_rate(rows, result['rewrite_s'])} "
            f"| {fmt_seconds(result['read_s'])} | {fmt_rate(rows, result['read_s'])} | {result['peak_rss_mb']:,.0f} "
            f"| {result['base_rss_mb']:,.0f} | {result['file_mb']:,.1f} |"
        )
    lines += [
        "",
        "RSS before = the worker's high-water mark after generating the data, before the path ran.",
        "",
        "| import (fresh interpreter, median of 5) | seconds | all runs |",
        "| --- | ---: | --- |",
    ]
    for label, values in imports.items():
        lines.append(f"| `{label}` | {statistics.median(values):.3f} | {', '.join(f'{v:.3f}' for v in values)} |")
    notes: dict[str, Any] = {}
    for result in results:
        for key, value in result.get("notes", {}).items():
            notes.setdefault(key, set()).add(str(value))
    if notes:
        lines += ["", "Notes: " + "; ".join(f"{key}: {', '.join(sorted(values))}" for key, values in notes.items())]
    lines += ["", "## Targets", ""]
    lines += [f"- {line}" for line in targets(args, results, imports)]
    return "\n".join(lines)


def targets(args: argparse.Namespace, results: list[dict[str, Any]], imports: dict[str, list[float]]) -> list[str]:
    ours = {r["scenario"]: r for r in results if r["path"] == "zvt_crypto" and "error" not in r}
    out = []
    if ours:
        rates = {s: r["rows"] / r["write_s"] for s, r in ours.items()}
        verdict = "PASS" if min(rates.values()) >= TARGET_WRITE_ROWS_S else "FAIL"
        shown = ", ".join(f"{SCENARIOS[s]} {rate:,.0f}" for s, rate in rates.items())
        small = " — measured on fewer than 1,000,000 rows, where per-call overhead weighs more" if (
            args.rows < TARGET_READ_ROWS) else ""
        out.append(f"{verdict}: zvt_crypto write ≥ {TARGET_WRITE_ROWS_S:,} rows/s ({shown}){small}")
        ratios = {s: r["write_s"] / r["rewrite_s"] for s, r in ours.items()}
        verdict = "PASS" if min(ratios.values()) >= 1.0 else "FAIL"
        shown = ", ".join(f"{SCENARIOS[s]} {ratio:.2f}× the first write's speed" for s, ratio in ratios.items())
        out.append(f"{verdict}: re-write of duplicates at least as fast as the first write ({shown})")
        if "a" in ours and ours["a"]["rows"] >= TARGET_READ_ROWS:
            seconds = ours["a"]["read_s"]
            verdict = "PASS" if seconds <= TARGET_READ_S else "FAIL"
            out.append(f"{verdict}: one entity's {ours['a']['rows']:,} bars into a DataFrame ≤ {TARGET_READ_S} s "
                       f"({seconds:.3f} s)")
        else:
            out.append(f"not evaluated: one entity's 1,000,000 bars ≤ {TARGET_READ_S} s (needs --rows 1000000)")
    else:
        out.append("not evaluated: zvt_crypto path did not run")
    if "import zvt_crypto" in imports:
        seconds = statistics.median(imports["import zvt_crypto"])
        verdict = "PASS" if seconds <= TARGET_IMPORT_S else "FAIL"
        out.append(f"{verdict}: `import zvt_crypto` ≤ {TARGET_IMPORT_S} s ({seconds:.3f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="rows per scenario (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="100,000 rows and one run per path (smoke test)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per path, median reported (default 3; 1 with --quick)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {','.join(PATHS)}")
    parser.add_argument("--scenarios", default="a,b", help="comma-separated subset of a,b")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rows = args.rows or (100_000 if args.quick else 1_000_000)
    args.repeat = args.repeat or (1 if args.quick else 3)

    if args.worker:
        print(json.dumps(worker(args.worker, args.scenario, args.rows, args.workdir)))
        return 0

    paths = [p for p in args.paths.split(",") if p]
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = sorted(set(paths) - set(PATHS)) + sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown path(s) or scenario(s): {', '.join(unknown)}")
    if args.rows % 100 and "b" in scenarios:
        parser.error("--rows must be a multiple of 100 (scenario b splits it over 100 entities)")

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    DATA_DIR.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=DATA_DIR))
    results: list[dict[str, Any]] = []
    imports: dict[str, list[float]] = {label: [] for label in IMPORT_SNIPPETS}
    total = len(scenarios) * len(paths) * args.repeat + 5 * len(IMPORT_SNIPPETS)
    try:
        with Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("starting", total=total)
            for label, statement in IMPORT_SNIPPETS.items():
                for i in range(5):
                    progress.update(task, description=f"{label} ({i + 1}/5)")
                    imports[label].append(import_seconds(statement))
                    progress.advance(task)
            for scenario in scenarios:
                for path in paths:
                    runs = []
                    for i in range(args.repeat):
                        progress.update(task, description=f"{SCENARIOS[scenario]}: {path} ({i + 1}/{args.repeat})")
                        runs.append(run_worker(path, scenario, args.rows, run_dir))
                        progress.advance(task)
                        if "error" in runs[-1]:
                            console.print(f"[red]{path} {scenario} failed: {runs[-1]['error']}")
                    results.append(median_result(runs))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if DATA_DIR.exists() and not any(DATA_DIR.iterdir()):
            DATA_DIR.rmdir()

    import sqlite3

    info = machine_info(("zvt-crypto", "pandas", "numpy", "pyarrow", "SQLAlchemy", "adbc-driver-sqlite", "connectorx"),
                        {"SQLite (Python sqlite3 module)": sqlite3.sqlite_version})
    text = "## Machine\n\n" + "\n".join(f"- {key}: {value}" for key, value in info.items()) + "\n\n"
    text += report(args, results, imports)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results, "imports": imports}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
