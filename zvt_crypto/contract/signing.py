"""The one HMAC-SHA256 request-signing scheme: the scheduler's alert webhook signs what it sends with it, and the
API's signal webhook verifies what it receives with it.

A signed request carries ``X-ZVT-Timestamp: <epoch seconds>`` and ``X-ZVT-Signature: sha256=<hex>``, the hex
HMAC-SHA256 under the shared secret of ``<timestamp>.<raw body>``. Why the timestamp is signed too: a receiver
refuses a request older than its replay window, and an attacker cannot re-date a captured one.

>>> stamp = 1700000000
>>> header = sign("s3cret-for-the-docs", b'{"a":1}', stamp)
>>> check_signature("s3cret-for-the-docs", b'{"a":1}', header, str(stamp), window_seconds=300, now=stamp + 10)
>>> check_signature("s3cret-for-the-docs", b'{"a":2}', header, str(stamp), window_seconds=300, now=stamp)
'bad signature'
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-ZVT-Signature"
TIMESTAMP_HEADER = "X-ZVT-Timestamp"
PREFIX = "sha256="


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-ZVT-Signature`` value for ``body`` sent at ``timestamp`` (epoch seconds)."""
    message = str(int(timestamp)).encode() + b"." + body
    return PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Both headers for ``body``, dated now unless ``timestamp`` is given."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, body, stamp)}


def check_signature(secret: str, body: bytes, signature: str | None, timestamp: str | None, *,
                    window_seconds: float, now: float | None = None) -> str | None:
    """Why the request is refused (a short reason, never echoing a secret), or None when it is authentic and
    dated within ``window_seconds`` of ``now`` (either side: clocks drift). The signature is compared in constant
    time, and checked before the timestamp so a forger learns nothing about the window."""
    if not signature:
        return f"missing {SIGNATURE_HEADER} header"
    if not timestamp:
        return f"missing {TIMESTAMP_HEADER} header"
    if not timestamp.isdigit():
        return f"{TIMESTAMP_HEADER} must be epoch seconds"
    if not hmac.compare_digest(sign(secret, body, int(timestamp)).encode(), signature.encode()):
        return "bad signature"
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > window_seconds:
        return f"stale timestamp: more than {window_seconds:g} s from the server's clock"
    return None
