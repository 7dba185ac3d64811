"""Ingestion through the API against ``zvt-crypto serve`` as a real process: bars in JSON, CSV, Parquet and Arrow,
trades and funding rates, instruments; the same body twice changes nothing; every rejection leaves the store as it
was (compared table by table); 413 and 429 through the ingestion route; scope negatives."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest

from tests.ui.apiclient import Answer, call
from tests.ui.conftest import Served, Site, make_site, serve_process
from zvt_crypto.contract.store import Store

pytestmark = pytest.mark.slow

WRITER = "writer-token-0123456789abcd"
READER = "reader-token-0123456789abcd"
LIMITED = "limited-writer-0123456789ab"
MAX_BYTES = 200_000
TOKENS_TOML = f"""
[serve]
max_request_bytes = {MAX_BYTES}

[serve.tokens.loader]
token = "{WRITER}"
scopes = ["write"]
rate = 0

[serve.tokens.grafana]
token = "{READER}"
scopes = ["read"]

[serve.tokens.slow]
token = "{LIMITED}"
scopes = ["write"]
rate = 0.01
burst = 2
"""
MEDIA = {"json": "application/json", "csv": "text/csv", "parquet": "application/vnd.apache.parquet",
         "arrow": "application/vnd.apache.arrow.stream"}
TABLES = ("bar", "trade", "funding_rate", "crypto_pair", "crypto_perp")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("api-ingest"), filled=False, extra_toml=TOKENS_TOML)


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[Served]:
    with serve_process(site) as server:
        yield server


@pytest.fixture
def store(site: Site) -> Iterator[Store]:
    store = site.store()
    yield store
    store.dispose()


def bars(count: int = 48, start: str = "2024-01-01") -> pd.DataFrame:
    """``count`` valid 1h bars (random walk, seed fixed)."""
    rng = np.random.default_rng(16)
    close = 100 + np.cumsum(rng.normal(0, 1, count))
    open_ = np.r_[100.0, close[:-1]]
    return pd.DataFrame({
        "timestamp": pd.date_range(start, periods=count, freq="1h", tz="UTC"),
        "open": open_, "high": np.maximum(open_, close) + 0.5, "low": np.minimum(open_, close) - 0.5,
        "close": close, "volume": rng.uniform(1, 10, count).round(6),
    })


def encode(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "json":
        texts = frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return texts.to_json(orient="records", double_precision=15).encode()
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    if fmt == "parquet":
        return frame.to_parquet(index=False)
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def post(served: Served, path: str, body: bytes, media: str = "application/json", token: str | None = WRITER,
         **params: Any) -> Answer:
    query = urlencode({key: str(value).lower() if isinstance(value, bool) else value for key, value in params.items()})
    return call(f"{served.url}/api/v1{path}?{query}", token, method="POST", data=body,
                headers={"Content-Type": media})


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    """Every table ingestion may write, whole (the store is small)."""
    with store.engine.connect() as connection:
        return {name: pd.read_sql_table(name, connection) for name in TABLES}


def assert_unchanged(before: dict[str, pd.DataFrame], store: Store) -> None:
    after = snapshot(store)
    for name in TABLES:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)


def stored_bars(store: Store, eid: str) -> pd.DataFrame:
    from zvt_crypto.domain import Bar

    frame = Bar.query_data(entity_ids=[eid], level="1h", store=store).reset_index()
    return frame[["timestamp", "open", "high", "low", "close", "volume"]]


# -- bars: happy path in each format, idempotent ---------------------------------------------------------------
@pytest.mark.parametrize("fmt", list(MEDIA))
def test_bars_in_each_format_are_stored_once(served: Served, store: Store, fmt: str) -> None:
    frame = bars()
    symbol = f"{fmt.upper()}/USDT"
    body = encode(frame, fmt)
    first = post(served, "/bars", body, MEDIA[fmt], exchange="binance", symbol=symbol, level="1h", create=True)
    assert first.status == 200, first.text
    assert first.json() | {"rows": 48, "changed": 48, "inserted": 48} == first.json()
    eid = first.json()["entity_id"]
    assert eid == f"pair_binance_{fmt.upper()}-USDT"
    pd.testing.assert_frame_equal(stored_bars(store, eid), frame, check_dtype=False, check_index_type=False)

    before = snapshot(store)
    again = post(served, "/bars", body, MEDIA[fmt], exchange="binance", symbol=symbol, level="1h")
    assert again.status == 200, again.text
    assert (again.json()["rows"], again.json()["changed"]) == (48, 0)
    assert_unchanged(before, store)


def test_bars_as_freqtrade_arrays(served: Served, store: Store) -> None:
    frame = bars(12)
    arrays = [[int(row.timestamp.value // 1_000_000), row.open, row.high, row.low, row.close, row.volume]
              for row in frame.itertuples()]
    answer = post(served, "/bars", json.dumps(arrays).encode(), exchange="binance", symbol="FT/USDT", level="1h",
                  create=True)
    assert (answer.status, answer.json()["changed"]) == (200, 12), answer.text
    pd.testing.assert_frame_equal(stored_bars(store, "pair_binance_FT-USDT"), frame, check_dtype=False)


def test_changed_bars_are_updated_and_counted(served: Served, store: Store) -> None:
    frame = bars(24, "2024-03-01")
    assert post(served, "/bars", encode(frame, "csv"), "text/csv", exchange="binance", symbol="UPD/USDT",
                level="1h", create=True).status == 200
    frame.loc[3, "volume"] = 99.0
    answer = post(served, "/bars", encode(frame, "csv"), "text/csv", exchange="binance", symbol="UPD/USDT",
                  level="1h")
    assert (answer.status, answer.json()["changed"], answer.json()["updated"]) == (200, 1, 1), answer.text
    assert stored_bars(store, "pair_binance_UPD-USDT")["volume"].iloc[3] == 99.0


# -- rejections: the store unchanged ---------------------------------------------------------------------------
def test_a_bad_row_rejects_the_whole_body_with_the_count_and_first_rows(served: Served, store: Store) -> None:
    frame = bars()
    frame.loc[[5, 9], "high"] = frame.loc[[5, 9], "low"] - 1  # high below low
    before = snapshot(store)
    answer = post(served, "/bars", encode(frame, "json"), exchange="binance", symbol="BAD/USDT", level="1h",
                  create=True)
    assert answer.status == 422, answer.text
    body = answer.json()
    assert body["rejected"] == 2 and "2 of 48 rows rejected" in body["detail"]
    assert [row["timestamp"] for row in body["first"]] == ["2024-01-01T05:00:00Z", "2024-01-01T09:00:00Z"]
    assert all(row["reason"] for row in body["first"])
    assert_unchanged(before, store)


def _text_price() -> bytes:
    rows = json.loads(encode(bars(4), "json"))
    rows[2]["close"] = "abc"
    return json.dumps(rows).encode()


def _future() -> bytes:
    return encode(bars(3, (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=2)).strftime("%Y-%m-%d")), "json")


def _daily() -> pd.DataFrame:
    return bars(10).assign(timestamp=pd.date_range("2024-01-01", periods=10, freq="1D", tz="UTC"))


def _bad_parquet() -> bytes:
    return b"PAR1 this is not parquet"


@pytest.mark.parametrize(("body", "media", "params", "status", "says"), [
    (_text_price, "application/json", {}, 422, "non-numeric"),
    (_future, "application/json", {}, 422, "rejected"),
    (lambda: encode(bars().drop(columns="volume"), "csv"), "text/csv", {}, 422, "no volume column"),
    (lambda: encode(bars(), "csv"), "text/csv", {"level": "1d"}, 422, "not aligned"),
    (lambda: encode(_daily(), "csv"), "text/csv", {}, 422, "not 1h bars"),
    (lambda: encode(bars(), "csv"), "text/csv", {"level": "7m"}, 422, "level"),
    (lambda: encode(bars(), "csv"), "text/csv", {"symbol": "BTCUSDT"}, 422, "symbol"),
    (lambda: encode(bars(), "csv"), "application/xml", {}, 415, "Content-Type"),
    (_bad_parquet, "application/vnd.apache.parquet", {}, 400, "cannot be read as parquet"),
    (lambda: b"[1, 2", "application/json", {}, 400, "not JSON"),
    (lambda: b'{"a": 1}', "application/json", {}, 422, "array"),
    (lambda: b"", "text/csv", {}, 422, "empty"),
    (lambda: encode(bars(), "csv"), "text/csv", {"create": "false"}, 404, "create=true"),
])
def test_every_rejection_leaves_the_store_unchanged(served: Served, store: Store, body: Any, media: str,
                                                     params: dict[str, str], status: int, says: str) -> None:
    before = snapshot(store)
    query = {"exchange": "binance", "symbol": "REJ/USDT", "level": "1h", "create": "true", **params}
    answer = post(served, "/bars", body(), media, **query)
    assert answer.status == status, answer.text
    assert says in answer.json()["detail"]
    assert "\n" not in answer.json()["detail"] and "zvt-ingest" not in answer.json()["detail"]  # no temp path
    assert_unchanged(before, store)


def test_a_body_over_the_limit_gets_413_on_the_route(served: Served, store: Store) -> None:
    big = encode(bars(4000), "csv")
    assert len(big) > MAX_BYTES
    before = snapshot(store)
    answer = post(served, "/bars", big, "text/csv", exchange="binance", symbol="BIG/USDT", level="1h", create=True)
    assert answer.status == 413 and "max_request_bytes" in answer.json()["detail"]
    assert_unchanged(before, store)


def test_a_token_over_its_rate_gets_429_on_the_route(served: Served, store: Store) -> None:
    body = encode(bars(4, "2024-05-01"), "json")
    answers = [post(served, "/bars", body, token=LIMITED, exchange="binance", symbol="RATE/USDT", level="1h",
                    create=True) for _ in range(3)]
    assert [answer.status for answer in answers] == [200, 200, 429], answers[-1].text
    assert int(answers[-1].headers["retry-after"]) >= 1


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("not-a-token-0123456789", 401), (READER, 403)])
def test_writes_need_the_write_scope(served: Served, store: Store, token: str | None, status: int) -> None:
    before = snapshot(store)
    for path, params in (("/bars", {"level": "1h"}), ("/trades", {}), ("/funding", {})):
        answer = post(served, path, encode(bars(4), "json"), token=token, exchange="binance", symbol="SCOPE/USDT",
                      create=True, **params)
        assert answer.status == status, answer.text
    assert post(served, "/entities", b'{"exchange": "binance", "symbol": "SCOPE/USDT"}', token=token).status == status
    assert_unchanged(before, store)


# -- trades, funding, instruments ------------------------------------------------------------------------------
def test_trades_are_stored_once(served: Served, store: Store) -> None:
    from zvt_crypto.domain import Trade

    trades = [{"timestamp": 1704067200000 + i * 250, "trade_id": 1000 + i, "price": 42000 + i, "amount": 0.01,
               "side": "buy" if i % 2 else "sell"} for i in range(10)]
    body = json.dumps(trades).encode()
    first = post(served, "/trades", body, exchange="binance", symbol="TRD/USDT", create=True)
    assert (first.status, first.json()["rows"], first.json()["changed"]) == (200, 10, 10), first.text
    stored = Trade.query_data(entity_ids=["pair_binance_TRD-USDT"], index=None, store=store)
    assert sorted(stored["trade_id"]) == sorted(str(1000 + i) for i in range(10))
    again = post(served, "/trades", body, exchange="binance", symbol="TRD/USDT")
    assert (again.status, again.json()["changed"]) == (200, 0)

    before = snapshot(store)
    trades[4]["price"] = -1
    bad = post(served, "/trades", json.dumps(trades).encode(), exchange="binance", symbol="TRD/USDT")
    assert bad.status == 422 and bad.json()["rejected"] == 1, bad.text
    assert_unchanged(before, store)


def test_funding_rates_in_csv_are_stored_once(served: Served, store: Store) -> None:
    from zvt_crypto.domain import FundingRate

    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=6, freq="8h", tz="UTC"),
                          "funding_rate": [0.0001, 0.0002, -0.0001, 0.0001, 0.00005, 0.0003],
                          "mark_price": [42000.0 + i for i in range(6)]})
    params = {"exchange": "binanceusdm", "symbol": "FND/USDT:USDT"}
    first = post(served, "/funding", encode(frame, "csv"), "text/csv", create=True, **params)
    assert (first.status, first.json()["changed"]) == (200, 6), first.text
    stored = FundingRate.query_data(entity_ids=["perp_binanceusdm_FND-USDT.USDT"], store=store).reset_index()
    assert stored["funding_rate"].tolist() == frame["funding_rate"].tolist()
    again = post(served, "/funding", encode(frame, "parquet"), MEDIA["parquet"], **params)
    assert (again.status, again.json()["changed"]) == (200, 0), again.text


def test_entities_are_created_then_updated(served: Served, store: Store) -> None:
    from zvt_crypto.domain import CryptoPair

    created = post(served, "/entities", json.dumps({"exchange": "kraken", "symbol": "ETH/EUR", "taker_fee": 0.0026,
                                                    "precision_price": 0.01}).encode())
    assert created.status == 200 and created.json() == {"created": 1, "updated": 0,
                                                         "entity_ids": ["pair_kraken_ETH-EUR"]}, created.text
    updated = post(served, "/entities", json.dumps([{"exchange": "kraken", "symbol": "ETH/EUR",
                                                     "taker_fee": 0.002}]).encode())
    assert updated.status == 200 and updated.json()["updated"] == 1, updated.text
    row = CryptoPair.query_data(entity_ids=["pair_kraken_ETH-EUR"], index=None, store=store).iloc[0]
    assert (row["taker_fee"], row["precision_price"], row["base"], row["quote"]) == (0.002, 0.01, "ETH", "EUR")
    # now known: bars need no create flag
    answer = post(served, "/bars", encode(bars(4), "csv"), "text/csv", exchange="kraken", symbol="ETH/EUR",
                  level="1h")
    assert answer.status == 200, answer.text

    before = snapshot(store)
    for bad in (b'{"symbol": "ETH/EUR"}', b'[{"exchange": "kraken", "symbol": "ETH/EUR", "colour": "red"}]',
                b'[{"exchange": "kraken", "symbol": "X/EUR"}, {"exchange": "kraken", "symbol": "ETHEUR"}]'):
        answer = post(served, "/entities", bad)
        assert answer.status == 422, answer.text
    assert_unchanged(before, store)
