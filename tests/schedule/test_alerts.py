"""Alerts: a real local HTTP server receives the webhook and checks its HMAC signature; an unreachable webhook is
logged, never raised; alerts come at N failures in a row (and every N more), and once on recovery."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.schedule.conftest import closed_port
from zvt_crypto.contract.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_signature, sign
from zvt_crypto.schedule.alerts import Alerter, send_webhook
from zvt_crypto.schedule.config import ScheduleSettings

SECRET = "s3cret-for-tests"


class Receiver:
    """A webhook endpoint on 127.0.0.1 that verifies every POST's signature, as a user's receiver would."""

    def __init__(self, secret: str, status: int = 200) -> None:
        self.secret, self.status = secret, status
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if check_signature(receiver.secret, body, self.headers.get(SIGNATURE_HEADER),
                                   self.headers.get(TIMESTAMP_HEADER), window_seconds=300) is None:
                    receiver.received.append(json.loads(body))
                    self.send_response(receiver.status)
                else:
                    receiver.bad_signatures += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    yield server
    server.close()


def test_webhook_is_signed_and_verified(receiver: Receiver) -> None:
    assert send_webhook(receiver.url, SECRET, {"event": "job_failing", "job": "spot"})
    assert receiver.received == [{"event": "job_failing", "job": "spot"}]
    assert not send_webhook(receiver.url, "another secret", {"event": "job_failing"})  # 401 from the receiver
    assert receiver.bad_signatures == 1
    # over "<timestamp>.<body>": the scheme the API's signal webhook verifies
    expected = __import__("hmac").new(SECRET.encode(), b"1700000000.{}", "sha256").hexdigest()
    assert sign(SECRET, b"{}", 1700000000) == "sha256=" + expected


def test_unreachable_webhook_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hooks/T0KEN"
    with caplog.at_level(logging.WARNING):
        assert send_webhook(url, SECRET, {"event": "job_failing"}, timeout=2) is False
    assert "unreachable" in caplog.text
    assert "T0KEN" not in caplog.text and SECRET not in caplog.text  # the path may carry a token


def test_alert_after_n_failures_then_every_n_and_on_recovery(receiver: Receiver,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    alerter = Alerter(ScheduleSettings(alert_after_failures=3, webhook_url=receiver.url, webhook_secret=SECRET))
    events = []
    with caplog.at_level(logging.WARNING):
        for before in range(7):
            events.append(alerter.after_run("spot", f"run{before}", "failed", before, "NetworkError: refused"))
        events.append(alerter.after_run("spot", "run7", "ok", 7, None))
        events.append(alerter.after_run("spot", "run8", "ok", 0, None))
    assert events == [None, None, "job_failing", None, None, "job_failing", None, "job_recovered", None]
    assert [(a["event"], a["consecutive_failures"]) for a in receiver.received] == [
        ("job_failing", 3), ("job_failing", 6), ("job_recovered", 0)]
    assert receiver.received[0]["error"] == "NetworkError: refused" and receiver.received[0]["run_id"] == "run2"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "job spot failed 3 times in a row; last error: NetworkError: refused",
        "job spot failed 6 times in a row; last error: NetworkError: refused"]
