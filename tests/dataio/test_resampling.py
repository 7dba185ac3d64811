"""``zvt-crypto resample``: a level the venue lacks, built exactly from stored bars and stored idempotently."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.clirun import run_cli
from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.sample import sample_bars
from zvt_crypto.domain import Bar

BTC = "pair_coinbase_BTC-USD"


def test_resample_command_builds_complete_intervals_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'zvt.db'}"
    store = Store(url)
    try:  # 2024-01-01 03:00 … 2024-01-03 04:00: the first and last 6h intervals are incomplete
        hours = sample_bars("BTC/USD", "2024-01-01T03:00Z", 50, "1h").assign(entity_id=BTC)
        store.write(Bar, hours, level="1h")
    finally:
        store.dispose()
    base = ["--db-url", url, "resample", "--exchange", "coinbase", "--symbol", "BTC/USD"]
    first = run_cli(*base, "--from", "1h", "--to", "6h")
    assert first.returncode == 0, first.stderr
    assert first.stdout == (f"{BTC}: 7 6h bars built from 50 1h bars (7 new or changed; incomplete intervals left "
                            "out)\n")
    again = run_cli(*base, "--from", "1h", "--to", "6h")
    assert "(0 new or changed;" in again.stdout
    store = Store(url)
    try:
        stored = Bar.query_data(entity_ids=[BTC], level="6h", store=store)
        expected = resample_bars(hours.set_index(["entity_id", "timestamp"]), "1h", "6h")
        assert str(stored.index.get_level_values("timestamp")[0]) == "2024-01-01 06:00:00+00:00"
        np.testing.assert_array_equal(stored["close"].to_numpy(), expected["close"].to_numpy())
    finally:
        store.dispose()

    ranged = run_cli(*base, "--from", "1h", "--to", "12h", "--start", "2024-01-02T05:00Z", "--end", "2024-01-02T13:00Z")
    assert ranged.stdout.startswith(f"{BTC}: 2 12h bars built from 24 1h bars")  # the 2nd's two whole intervals
    refused = run_cli(*base, "--from", "4h", "--to", "6h")
    assert refused.returncode == 1
    assert refused.stderr == "error: cannot build 6h bars from 4h bars; the source level must divide the target " \
                             "(e.g. --from 1h --to 6h)\n"
    missing = run_cli(*base, "--from", "2h", "--to", "6h")
    assert missing.returncode == 1 and missing.stderr == (
        f"error: no 2h bars of {BTC} stored; record them first: zvt-crypto record bars --exchange coinbase --symbol "
        "BTC/USD --level 2h\n")
