"""The read endpoints against ``zvt-crypto serve`` as a real process, on a store filled through the library (real
bars, a factor, backtest runs, a paper account, a job history, and a perp's funding, open interest, trades and an
order book recorded from the simulated Binance by the real recorders): every endpoint, each format, pagination,
times in and out, bad input and unknown ids. Each answer is compared with the library function it calls."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest

from tests.ui.apiclient import Answer, call
from tests.ui.conftest import (
    PAPER_ACCOUNT,
    Served,
    Site,
    fill_research,
    make_site,
    serve_process,
    store_runs,
)
from zvt_crypto.contract.store import Store

pytestmark = pytest.mark.slow

PERP = "BTC/USDT:USDT"
PERP_ID = "perp_binanceusdm_BTC-USDT.USDT"
GOOG = {"exchange": "nasdaq", "symbol": "GOOG/USD", "level": "1d"}
GOOG_BARS = 2148
Cases = tuple[tuple[str, Any, dict[str, str], dict[str, str]], ...]


def _record_derivatives(store: Store, home: Path) -> None:
    """A perp's funding and 1h open interest, and BTC/USDT's recent trades and one order-book snapshot, each
    recorded by the library's recorder through the real ccxt client from the simulated Binance."""
    from zvt_crypto.contract.config import load_config
    from zvt_crypto.recorders import FundingRateRecorder, OpenInterestRecorder, OrderBookRecorder, TradesRecorder
    from zvt_crypto.sim import DEFAULT_NOW, SimulatedExchange

    with SimulatedExchange(seed=7, lifetime=120) as sim:
        config = sim.config(load_config(env={"ZVT_CRYPTO_HOME": str(home)}))
        FundingRateRecorder(store, config).record(exchange="binanceusdm", symbols=[PERP], start="2023-12-20",
                                                  show_progress=False)
        OpenInterestRecorder(store, config).record(exchange="binanceusdm", symbols=[PERP], level="1h",
                                                   start="2024-01-05", show_progress=False)
        TradesRecorder(store, config).record(exchange="binance", symbols=["BTC/USDT"], show_progress=False,
                                             start=pd.Timestamp(DEFAULT_NOW) - pd.Timedelta("10min"))
        OrderBookRecorder(store, config).record(exchange="binance", symbols=["BTC/USDT"], depth=5,
                                                show_progress=False)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, list[str]]:
    site = make_site(tmp_path_factory.mktemp("api-read"), filled=True)
    store = site.store()
    try:
        fill_research(store, site.home)
        run_ids = store_runs(store)
        _record_derivatives(store, site.home)
    finally:
        store.dispose()
    return site, run_ids


@pytest.fixture(scope="module")
def served(filled: tuple[Site, list[str]]) -> Iterator[Served]:
    with serve_process(filled[0]) as server:
        yield server


@pytest.fixture
def store(filled: tuple[Site, list[str]]) -> Iterator[Store]:
    store = filled[0].store()
    yield store
    store.dispose()


def cli(site: Site, *args: str) -> str:
    """``zvt-crypto --config SITE …`` as the user runs it (none of the test's ZVT_CRYPTO_* variables)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    return subprocess.run([sys.executable, "-m", "zvt_crypto", "--config", str(site.config_file), *args],
                          check=True, capture_output=True, text=True, env=env).stdout


def get(served: Served, path: str, **params: object) -> Answer:
    query = "&".join(f"{key}={quote(str(value), safe='')}" for key, value in params.items())
    return call(f"{served.url}/api/v1{path}" + (f"?{query}" if query else ""))


def ok_json(answer: Answer) -> Any:
    assert answer.status == 200, answer.text
    return answer.json()


# -- every endpoint ----------------------------------------------------------------------------------------------
def test_entities_are_the_librarys_universe(served: Served, store: Store) -> None:
    from zvt_crypto.domain.universe import get_entities

    for kind, exchange in (("pair", None), ("perp", "binanceusdm")):
        params = {"type": kind, **({"exchange": exchange} if exchange else {})}
        rows = ok_json(get(served, "/entities", **params))
        expected = get_entities(kind, exchange=exchange, store=store).reset_index()
        assert [row["entity_id"] for row in rows] == list(expected["entity_id"])
    assert get(served, "/entities", type="stock").status == 422
    past = ok_json(get(served, "/entities", type="pair", as_of="1990-01-01"))
    assert len(past) <= len(ok_json(get(served, "/entities", type="pair")))


def test_bars_json_are_the_stored_bars_with_iso_utc_times(served: Served, store: Store) -> None:
    from zvt_crypto.dataio.exporters import bars_for_export
    from zvt_crypto.domain import Bar

    rows = ok_json(get(served, "/bars", **GOOG, start="2010-01-01", end="2010-01-31"))
    expected = bars_for_export(Bar.query_data(entity_ids=["pair_nasdaq_GOOG-USD"], level="1d",
                                              start_timestamp="2010-01-01", end_timestamp="2010-01-31", store=store))
    assert len(rows) == len(expected) == 19
    assert rows[0]["timestamp"] == "2010-01-04T00:00:00Z"
    assert [row["close"] for row in rows] == list(expected["close"])
    epoch = ok_json(get(served, "/bars", **GOOG, start=1262304000000, end="2010-01-31T00:00:00+00:00"))
    assert epoch == rows  # epoch ms and ISO with an offset read the same


def test_bars_csv_equals_zvt_crypto_export_bars(served: Served, filled: tuple[Site, list[str]],
                                                tmp_path: Path) -> None:
    site = filled[0]
    out = tmp_path / "goog.csv"
    cli(site, "export", "bars", "--exchange", "nasdaq", "--symbol", "GOOG/USD", "--level", "1d", "--start",
        "2005-01-01", "--end", "2012-12-31", "--out", str(out))
    answer = get(served, "/bars", **GOOG, start="2005-01-01", end="2012-12-31", format="csv")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers.get("transfer-encoding") == "chunked"  # streamed
    assert answer.body == out.read_bytes()


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
def test_bars_arrow_and_parquet_round_trip_to_the_same_frame(served: Served, store: Store, fmt: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zvt_crypto.dataio.exporters import bars_for_export
    from zvt_crypto.domain import Bar

    answer = get(served, "/bars", exchange="oanda", symbol="EUR/USD", level="1h", format=fmt)
    assert answer.status == 200
    table = pa.ipc.open_stream(answer.body).read_all() if fmt == "arrow" else pq.read_table(io.BytesIO(answer.body))
    expected = bars_for_export(Bar.query_data(entity_ids=["pair_oanda_EUR-USD"], level="1h", store=store))
    assert len(expected) == 5000
    pd.testing.assert_frame_equal(table.to_pandas(), expected)


def test_series_endpoints_are_the_stored_rows(served: Served, store: Store) -> None:
    from zvt_crypto.domain import FundingRate, OpenInterest, OrderBookSnapshot, Trade

    cases: Cases = (
        ("/funding", FundingRate, {"exchange": "binanceusdm", "symbol": PERP}, {}),
        ("/open-interest", OpenInterest, {"exchange": "binanceusdm", "symbol": PERP, "level": "1h"}, {"level": "1h"}),
        ("/trades", Trade, {"exchange": "binance", "symbol": "BTC/USDT"}, {}),
        ("/orderbook", OrderBookSnapshot, {"exchange": "binance", "symbol": "BTC/USDT"}, {}))
    for path, schema, params, extra in cases:
        entity = PERP_ID if params["symbol"] == PERP else "pair_binance_BTC-USDT"
        expected = schema.query_data(entity_ids=[entity], index=None, store=store, **extra)
        assert len(expected) > 0, path
        rows = ok_json(get(served, path, **params, format="json", limit=100_000))
        assert len(rows) == len(expected), path
        arrow = get(served, path, **params, format="arrow")
        import pyarrow as pa

        assert pa.ipc.open_stream(arrow.body).read_all().num_rows == len(expected), path
    assert get(served, "/open-interest", exchange="binanceusdm", symbol=PERP).status == 422  # level needed


def test_coverage_is_the_librarys_with_gaps(served: Served, store: Store) -> None:
    from zvt_crypto.domain.coverage import coverage

    rows = ok_json(get(served, "/coverage", exchange="nasdaq"))
    assert rows == [row.as_dict() for row in coverage(store, exchange="nasdaq")]
    assert rows[0]["entity_id"] == "pair_nasdaq_GOOG-USD" and "gaps" in rows[0]
    assert get(served, "/coverage", symbol="GOOG/USD").status == 422


def test_factors_and_their_values(served: Served, store: Store) -> None:
    from zvt_crypto.factors.catalog import factor_values, stored_factors

    rows = ok_json(get(served, "/factors"))
    ids = [row["factor_id"] for row in rows]
    assert ids == list(stored_factors(store)["factor_id"]) and ids
    factor = next(one for one in ids if one.endswith(":1d") or ":1d:" in one)
    values = ok_json(get(served, f"/factors/{quote(factor, safe='')}/values", exchange="nasdaq",
                         symbol="GOOG/USD"))
    expected = factor_values(factor, entity_ids=["pair_nasdaq_GOOG-USD"], store=store)
    assert len(values) == len(expected) > 0
    missing = get(served, "/factors/nope:1d/values")
    assert missing.status == 404 and factor in missing.json()["detail"]


def test_runs_and_one_run(served: Served, filled: tuple[Site, list[str]], store: Store) -> None:
    from zvt_crypto.trader.storage import load_run

    run_ids = filled[1]
    rows = ok_json(get(served, "/runs"))
    assert sorted(row["run_id"] for row in rows) == sorted(run_ids)
    one = ok_json(get(served, f"/runs/{run_ids[0]}"))
    expected = load_run(run_ids[0], store)
    assert one["strategy"] == "sma_cross" and one["params"] == expected.params
    assert one["params"]["fast"] == 10 and one["settings"]["fee"] == 0.001
    assert len(one["trades"]) == len(expected.trades) and len(one["equity"]) == len(expected.equity)
    assert one["metrics"]["total_return"] == pytest.approx(expected.metrics["total_return"])
    assert one["equity"][0]["timestamp"].endswith("Z")
    missing = get(served, "/runs/no-such-run")
    assert missing.status == 404 and all(run_id in missing.json()["detail"] for run_id in run_ids)


def test_paper_accounts(served: Served, store: Store) -> None:
    from zvt_crypto.trader.paper import account_equity, account_trades

    rows = ok_json(get(served, "/paper"))
    assert [row["name"] for row in rows] == [PAPER_ACCOUNT]
    account = ok_json(get(served, f"/paper/{PAPER_ACCOUNT}"))
    assert account["status"]["name"] == PAPER_ACCOUNT
    assert len(account["equity"]) == len(account_equity(PAPER_ACCOUNT, store)) > 0
    assert len(account["trades"]) == len(account_trades(PAPER_ACCOUNT, store))
    missing = get(served, "/paper/nope")
    assert missing.status == 404 and PAPER_ACCOUNT in missing.json()["detail"]


def test_jobs_are_schedule_status_json(served: Served, filled: tuple[Site, list[str]]) -> None:
    site = filled[0]
    printed = json.loads(cli(site, "schedule", "status", "--format", "json"))
    api = ok_json(get(served, "/jobs"))
    assert api["daemon"] == printed["daemon"]
    volatile = {"lags", "worst_lag_seconds"}  # lag behind the clock: seconds pass between the two reads
    assert [{k: v for k, v in job.items() if k not in volatile} for job in api["jobs"]] == \
        [{k: v for k, v in job.items() if k not in volatile} for job in printed["jobs"]]
    assert [job["last_status"] for job in api["jobs"]] == ["ok", "failed"]


def test_job_history(served: Served, filled: tuple[Site, list[str]]) -> None:
    from zvt_crypto.schedule.history import recent_runs

    runs = ok_json(get(served, "/jobs/eth-1d/history"))
    store = filled[0].store()
    try:
        assert len(runs) == len(recent_runs(store, "eth-1d", 20)) == 2
    finally:
        store.dispose()
    assert {run["status"] for run in runs} == {"failed"}
    assert "hunter2" not in json.dumps(runs)  # the stored URL credential redacted
    assert runs[0]["started_timestamp"].endswith("Z")
    missing = get(served, "/jobs/nope/history")
    assert missing.status == 404 and "btc-1h" in missing.json()["detail"]


# -- pagination --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_by_time_cursor_cover_the_range_once(served: Served, order: str) -> None:
    seen: list[str] = []
    params: dict[str, object] = {**GOOG, "limit": 500, "order": order}
    pages = 0
    while True:
        answer = get(served, "/bars", **params)
        rows = ok_json(answer)
        seen += [row["timestamp"] for row in rows]
        pages += 1
        if "x-next-cursor" not in answer.headers:
            break
        assert answer.headers["link"].endswith('rel="next"')
        params["cursor"] = answer.headers["x-next-cursor"]
    assert pages == 5 and len(seen) == GOOG_BARS == len(set(seen))
    assert seen == sorted(seen, reverse=order == "desc")


def test_json_pages_default_to_1000_rows(served: Served) -> None:
    answer = get(served, "/bars", **GOOG)
    assert len(ok_json(answer)) == 1000 and "x-next-cursor" in answer.headers
    csv = get(served, "/bars", **GOOG, format="csv")
    assert csv.text.count("\n") == GOOG_BARS + 1 and "x-next-cursor" not in csv.headers  # CSV: the whole range


# -- bad input and unknown ids -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "status", "says"), [
    ({"start": "yesterday-ish"}, 422, "start='yesterday-ish' is not a time: use ISO-8601 UTC"),
    ({"start": "2012-01-01", "end": "2011-01-01"}, 422, "is after end"),
    ({"limit": 0}, 422, "limit: Input should be greater than or equal to 1"),
    ({"limit": 200_000}, 422, "above 100000 for JSON"),
    ({"order": "sideways"}, 422, "order: Input should be 'asc' or 'desc'"),
    ({"format": "xlsx"}, 422, "format: Input should be"),
    ({"level": "7x"}, 422, "7x"),
    ({"symbol": "NOPE/USD"}, 404, "stored: pair_binance_BTC-USDT 4h"),
])
def test_bad_bars_requests_say_what_to_do_in_one_line(served: Served, params: dict[str, object], status: int,
                                                      says: str) -> None:
    answer = get(served, "/bars", **{**GOOG, **params})
    detail = answer.json()["detail"]
    assert answer.status == status and isinstance(detail, str) and "\n" not in detail
    assert says in detail, detail


def test_a_missing_required_parameter(served: Served) -> None:
    answer = get(served, "/bars", exchange="nasdaq")
    assert answer.status == 422 and answer.json()["detail"].startswith("symbol: Field required")


# -- property-based fuzz over the OpenAPI document ---------------------------------------------------------------
def test_no_generated_input_gets_a_500(served: Served, tmp_path: Path) -> None:
    """schemathesis (dev extra) generates requests for every operation of /api/v1/openapi.json, valid and not:
    none may answer 5xx (an unhandled error) — bad input is a 4xx that says what to do."""
    if importlib.util.find_spec("schemathesis") is None:
        pytest.skip('schemathesis is not installed: pip install -e ".[dev]"')
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    report = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{served.url}/api/v1/openapi.json",
         "--checks", "not_a_server_error", "--max-examples", "30", "--seed", "16", "--generation-database", "none",
         "--request-timeout", "60", "--phases", "examples,coverage,fuzzing", "--no-color"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert report.returncode == 0, report.stdout[-6000:] + report.stderr[-2000:]
