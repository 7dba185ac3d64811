"""``zvt-crypto serve`` as a real process: it announces its URL, answers /healthz, and ends with exit 0 on SIGTERM
and on SIGINT (Ctrl-C); with a token on 0.0.0.0 the token is never printed."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request

import pytest

from tests.ui.conftest import TOKEN, Site, serve_process

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_runs_until_a_signal_and_exits_0(site: Site, sig: int) -> None:
    with serve_process(site) as served:
        with urllib.request.urlopen(f"{served.url}/healthz", timeout=10) as response:
            assert json.loads(response.read())["store"] == site.db_url
        status, stdout, stderr = served.stop(sig)
    assert status == 0, stderr
    assert stdout == f"serving on {served.url} (Ctrl-C to stop)\n"
    assert "Traceback" not in stderr


def test_serve_with_a_token_beyond_loopback_never_prints_it(site: Site) -> None:
    with serve_process(site, "--host", "0.0.0.0", env={"ZVT_CRYPTO_SERVE_TOKEN": TOKEN}) as served:
        request = urllib.request.Request(f"{served.url}/api/v1/x", headers={"Authorization": f"Bearer {TOKEN}"})
        try:
            urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as error:
            assert error.code == 404  # past the guard: no such route yet
        status, stdout, stderr = served.stop()
    assert status == 0 and stdout.startswith("serving on http://0.0.0.0:")
    assert TOKEN not in stdout + stderr
