"""The one request-signing scheme (alert webhook, signal webhook): what is signed, and every refusal."""

from __future__ import annotations

import hashlib
import hmac

from zvt_crypto.contract.signing import check_signature, sign, signed_headers

SECRET = "signing-secret-0123456789"
BODY = b'{"client_id":"a","symbol":"BTC/USDT","side":"buy","size":1}'
NOW = 1_800_000_000


def test_the_signature_covers_the_timestamp_and_the_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, NOW) == f"sha256={expected}"
    assert sign(SECRET, BODY, NOW + 1) != sign(SECRET, BODY, NOW)  # a re-dated request needs a new signature
    headers = signed_headers(SECRET, BODY, NOW)
    assert headers == {"X-ZVT-Timestamp": str(NOW), "X-ZVT-Signature": sign(SECRET, BODY, NOW)}


def test_every_refusal_says_why() -> None:
    good = sign(SECRET, BODY, NOW)

    def check(body: bytes = BODY, signature: str | None = good, stamp: str | None = str(NOW),
              now: float = NOW) -> str | None:
        return check_signature(SECRET, body, signature, stamp, window_seconds=300, now=now)

    assert check() is None and check(now=NOW + 300) is None and check(now=NOW - 300) is None
    assert check(signature=None) == "missing X-ZVT-Signature header"
    assert check(stamp=None) == "missing X-ZVT-Timestamp header"
    assert check(stamp="17e8") == "X-ZVT-Timestamp must be epoch seconds"
    assert check(body=BODY + b" ") == "bad signature"
    assert check(signature=good.upper()) == "bad signature"
    assert check(stamp=str(NOW + 1)) == "bad signature"  # the timestamp is signed
    assert (check(now=NOW + 301) or "").startswith("stale timestamp")
    assert (check(now=NOW - 301) or "").startswith("stale timestamp")
    # a forgery learns nothing about the window: a bad signature is reported first
    assert check(body=b"x", now=NOW + 10_000) == "bad signature"

