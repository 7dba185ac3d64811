"""Alerts: a job failing ``alert_after_failures`` times in a row is logged at error level and, when configured,
POSTed to a webhook signed with HMAC-SHA256 over its timestamp and body (``X-ZVT-Timestamp``, ``X-ZVT-Signature``:
the scheme of :mod:`zvt_crypto.contract.signing`, the one the API's signal webhook verifies).

Why signed: the receiver (a chat bridge, a pager) must be able to tell our alert from anyone else's POST.
Why never raising: an unreachable webhook must not take the daemon, or the job, down with it.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from zvt_crypto.contract.redaction import url_origin
from zvt_crypto.contract.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from zvt_crypto.schedule.config import ScheduleSettings
from zvt_crypto.schedule.history import host_name

log = logging.getLogger(__name__)
__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Alerter", "send_webhook"]


def send_webhook(url: str, secret: str, payload: dict[str, Any], timeout: float = 5.0) -> bool:
    """POST ``payload`` as JSON, signed; True on a 2xx answer. Failures are logged, never raised."""
    body = json.dumps(payload, sort_keys=True, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "zvt-crypto-scheduler", **signed_headers(secret, body),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return 200 <= response.status < 300
    except urllib.error.HTTPError as exc:
        log.warning("webhook %s answered %s to the %s alert", url_origin(url), exc.code, payload.get("event"))
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        log.warning("webhook %s unreachable for the %s alert: %s", url_origin(url), payload.get("event"), exc)
    return False


class Alerter:
    """Decides after each run whether to alert: at ``alert_after_failures`` failures in a row and every as many
    again (not on each failure: a venue down for a day would flood the channel), and once when the job recovers."""

    def __init__(self, settings: ScheduleSettings) -> None:
        self.settings = settings

    def after_run(self, job: str, run_id: str, status: str, failures_before: int, error: str | None) -> str | None:
        """``failures_before``: failures in a row before this run. Returns the event sent or logged, if any."""
        threshold = self.settings.alert_after_failures
        if status == "failed":
            failures = failures_before + 1
            if failures < threshold or (failures - threshold) % threshold:
                log.warning("job %s failed (%d in a row): %s", job, failures, _first_line(error))
                return None
            log.error("job %s failed %d times in a row; last error: %s", job, failures, _first_line(error))
            self._notify({"event": "job_failing", "job": job, "consecutive_failures": failures, "run_id": run_id,
                          "error": error})
            return "job_failing"
        if status == "ok" and failures_before >= threshold:
            log.warning("job %s recovered after %d failures in a row", job, failures_before)
            self._notify({"event": "job_recovered", "job": job, "consecutive_failures": 0, "run_id": run_id,
                          "previous_failures": failures_before})
            return "job_recovered"
        return None

    def _notify(self, payload: dict[str, Any]) -> None:
        url, secret = self.settings.webhook_url, self.settings.webhook_secret
        if not url or not secret:
            return
        payload = {**payload, "host": host_name(), "time": datetime.now(UTC).isoformat(timespec="seconds")}
        send_webhook(url, secret, payload, self.settings.webhook_timeout_seconds)


def _first_line(text: str | None) -> str:
    return (text or "").splitlines()[0] if text else "(no error text)"
