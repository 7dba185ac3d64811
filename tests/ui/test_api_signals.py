"""The signal webhook against ``zvt-crypto serve`` as a real process: a signed signal accepted on a paper account;
a bad signature, a replay, a stale timestamp, a reused client id and a signal beyond the account's risk limits
refused; every one of them in the audit table (read from the store and through ``GET /api/v1/signals``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.apiclient import Answer, call
from tests.ui.conftest import Served, Site, make_site, serve_process
from zvt_crypto.contract.store import Store

pytestmark = pytest.mark.slow

SECRET = "signal-secret-0123456789abcdef"
TRADER = "trader-token-0123456789abcd"
READER = "reader-token-0123456789abcd"
ACCOUNT = "goog-hook"
MAX_POSITION = 0.5
CASH = 10_000.0


def signed(body: bytes, secret: str = SECRET, stamp: int | None = None) -> dict[str, str]:
    """The README's recipe, written out (not the library's helper): what a sender in any language does."""
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-ZVT-Timestamp": str(stamp), "X-ZVT-Signature": f"sha256={digest}",
            "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """GOOG's real daily bars and a paper account on them with a max_position limit."""
    from zvt_crypto.trader.paper import PaperTrader

    site = make_site(tmp_path_factory.mktemp("signals"), filled=True)
    store = site.store()
    try:
        PaperTrader(ACCOUNT, "sma_cross", {"fast": 10, "slow": 30}, exchange="nasdaq", symbols=["GOOG/USD"],
                    level="1d", fee=0.001, cash=CASH, risk={"max_position": MAX_POSITION}).create(store)
    finally:
        store.dispose()
    return site


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[Served]:
    env = {"ZVT_CRYPTO_SIGNAL_SECRET": SECRET, "ZVT_CRYPTO_API_TOKEN_BOT": f"trade:{TRADER}",
           "ZVT_CRYPTO_API_TOKEN_GRAFANA": f"read:{READER}"}
    with serve_process(site, "--debug", env=env) as served:
        yield served


@pytest.fixture
def store(site: Site) -> Iterator[Store]:
    store = site.store()
    yield store
    store.dispose()


def last_close(store: Store) -> float:
    from zvt_crypto.domain import Bar

    bars = Bar.query_data(store=store, entity_ids=["pair_nasdaq_GOOG-USD"], level="1d", index=None)
    return float(bars["close"].iloc[-1])


def post(served: Served, signal: dict[str, Any], headers: dict[str, str] | None = None, *,
         account: str = ACCOUNT, token: str | None = TRADER) -> tuple[bytes, Answer]:
    body = json.dumps(signal).encode()
    sent = signed(body) if headers is None else headers
    return body, call(f"{served.url}/api/v1/signals/{account}", token, method="POST", data=body, headers=sent)


def audit(store: Store, audit_id: int) -> dict[str, Any]:
    from zvt_crypto.trader.signal_intake import signal_rows

    rows = [row for row in signal_rows(store, account=ACCOUNT) if row["id"] == audit_id]
    assert len(rows) == 1, audit_id
    return rows[0]


def test_a_signed_signal_is_accepted_as_an_order_intent(served: Served, store: Store) -> None:
    _, answer = post(served, {"client_id": "ok-1", "symbol": "GOOG/USD", "side": "buy", "size": 1})
    assert answer.status == 202, answer.text
    reply = answer.json()
    assert reply["status"] == "accepted" and reply["reason"] is None
    row = audit(store, reply["id"])
    assert (row["status"], row["client_id"], row["symbol"], row["side"], row["size"], row["token"]) == (
        "accepted", "ok-1", "GOOG/USD", "buy", 1.0, "bot")
    # a target weight within the limit is accepted too
    _, answer = post(served, {"client_id": "ok-2", "symbol": "GOOG/USD", "weight": MAX_POSITION / 2})
    assert answer.status == 202 and audit(store, answer.json()["id"])["weight"] == MAX_POSITION / 2


def test_a_bad_signature_is_refused_and_audited(served: Served, store: Store) -> None:
    signal = {"client_id": "forged-1", "symbol": "GOOG/USD", "side": "buy", "size": 1}
    body = json.dumps(signal).encode()
    _, answer = post(served, signal, signed(body, secret="another-secret-0123456789"))
    assert answer.status == 401 and answer.json()["reason"] == "bad signature"
    tampered = {**signal, "size": 2}  # signed for size 1, sent with size 2
    _, tampered_answer = post(served, tampered, signed(body))
    assert tampered_answer.status == 401
    _, unsigned = post(served, signal, {"Content-Type": "application/json"})
    assert unsigned.status == 401 and "X-ZVT-Signature" in unsigned.json()["reason"]
    for reply in (answer, tampered_answer, unsigned):
        row = audit(store, reply.json()["id"])
        assert row["status"] == "rejected" and row["client_id"] == "forged-1", row
    assert audit(store, tampered_answer.json()["id"])["size"] == 2.0  # what the forged request asked for
    assert SECRET not in answer.text


def test_a_replayed_request_is_refused(served: Served, store: Store) -> None:
    signal = {"client_id": "replay-1", "symbol": "GOOG/USD", "side": "sell", "size": 1}
    body = json.dumps(signal).encode()
    headers = signed(body)
    first = call(f"{served.url}/api/v1/signals/{ACCOUNT}", TRADER, method="POST", data=body, headers=headers)
    again = call(f"{served.url}/api/v1/signals/{ACCOUNT}", TRADER, method="POST", data=body, headers=headers)
    assert first.status == 202, first.text
    assert again.status == 409 and "accepted before" in again.json()["reason"]
    assert audit(store, again.json()["id"])["status"] == "rejected"


def test_a_stale_timestamp_is_refused(served: Served, store: Store) -> None:
    signal = {"client_id": "stale-1", "symbol": "GOOG/USD", "side": "buy", "size": 1}
    body = json.dumps(signal).encode()
    for offset in (-301, 301):  # the default window is 300 s, both ways
        _, answer = post(served, signal, signed(body, stamp=int(time.time()) + offset))
        assert answer.status == 401 and answer.json()["reason"].startswith("stale timestamp"), answer.text
        assert audit(store, answer.json()["id"])["status"] == "rejected"
    _, fresh = post(served, signal)  # the same signal, dated now: it was never accepted, so it is now
    assert fresh.status == 202, fresh.text


def test_a_reused_client_id_is_refused(served: Served, store: Store) -> None:
    _, first = post(served, {"client_id": "dup-1", "symbol": "GOOG/USD", "side": "buy", "size": 1})
    _, second = post(served, {"client_id": "dup-1", "symbol": "GOOG/USD", "side": "buy", "size": 2})
    assert first.status == 202 and second.status == 409, second.text
    rows = [row for row in _rows(served) if row["client_id"] == "dup-1"]
    assert [(row["status"], row["size"]) for row in rows] == [("rejected", 2.0), ("accepted", 1.0)]
    assert audit(store, second.json()["id"])["reason"].startswith("client_id 'dup-1' was accepted before")


def test_a_signal_beyond_the_risk_limits_is_refused(served: Served, store: Store) -> None:
    price = last_close(store)
    too_many = math.floor(MAX_POSITION * CASH / price) + 1  # just above max_position of the equity
    _, answer = post(served, {"client_id": "big-1", "symbol": "GOOG/USD", "target": too_many})
    assert answer.status == 422 and answer.json()["reason"].startswith("max_position"), answer.text
    row = audit(store, answer.json()["id"])
    assert (row["status"], row["target"]) == ("rejected", float(too_many))
    _, within = post(served, {"client_id": "big-2", "symbol": "GOOG/USD", "target": too_many - 1})
    assert within.status == 202, within.text  # the limit, not the size, refused the first
    _, weight = post(served, {"client_id": "big-3", "symbol": "GOOG/USD", "weight": -MAX_POSITION * 1.01})
    assert weight.status == 422 and "max_position" in weight.json()["reason"]


def test_unknown_account_symbol_and_bad_body_are_refused(served: Served) -> None:
    _, nobody = post(served, {"client_id": "x-1", "symbol": "GOOG/USD", "side": "buy", "size": 1}, account="nope")
    assert nobody.status == 404 and "no paper account 'nope'" in nobody.json()["reason"]
    _, other = post(served, {"client_id": "x-2", "symbol": "BTC/USDT", "side": "buy", "size": 1})
    assert other.status == 404 and "trades GOOG/USD" in other.json()["reason"]
    _, bad = post(served, {"client_id": "x-3", "symbol": "GOOG/USD", "side": "buy"})
    assert bad.status == 422 and "takes a size" in bad.json()["reason"]


def test_the_trade_scope_is_needed_besides_the_signature(served: Served) -> None:
    signal = {"client_id": "scope-1", "symbol": "GOOG/USD", "side": "buy", "size": 1}
    assert post(served, signal, token=None)[1].status == 401
    assert post(served, signal, token=READER)[1].status == 403
    assert all(row["client_id"] != "scope-1" for row in _rows(served))  # refused before it is read


def test_the_readmes_signing_recipe_is_accepted(served: Served, store: Store) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Signal webhook.**"):]
    # a ```py block: tests/test_readme.py runs the ```python ones without a server
    recipe = section[section.index("```py\n") + 6:section.index("```\n\nAnswers")]
    assert len(recipe.strip().splitlines()) == 5
    recipe = recipe.replace("btc-sma", ACCOUNT).replace("BTC/USDT", "GOOG/USD")
    exec(recipe, {"SECRET": SECRET, "TOKEN": TRADER, "API": f"{served.url}/api/v1"})  # raises unless 2xx
    accepted = [row for row in _rows(served) if row["client_id"] == "tv-42"]
    assert [row["status"] for row in accepted] == ["accepted"]


def test_the_audit_lists_every_signal_with_its_reason(served: Served, store: Store) -> None:
    from zvt_crypto.trader.signal_intake import signal_rows

    _, answer = post(served, {"client_id": "list-1", "symbol": "GOOG/USD", "side": "flat"})
    assert answer.status == 202
    listed = _rows(served)
    stored = signal_rows(store)
    assert [row["id"] for row in listed] == [row["id"] for row in stored] and listed[0]["client_id"] == "list-1"
    assert all(row["reason"] for row in listed if row["status"] == "rejected")
    assert all(row["reason"] is None for row in listed if row["status"] == "accepted")
    rejected = call(f"{served.url}/api/v1/signals?status=rejected&account={ACCOUNT}", READER).json()
    assert rejected and {row["status"] for row in rejected} == {"rejected"}
    _code, stdout, stderr = served.stop()
    assert SECRET not in stdout + stderr and TRADER not in stdout + stderr


def _rows(served: Served) -> list[dict[str, Any]]:
    answer = call(f"{served.url}/api/v1/signals", READER)
    assert answer.status == 200, answer.text
    return answer.json()
