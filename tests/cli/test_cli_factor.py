"""``zvt-crypto factor list|compute|show`` end to end on a real SQLite store: ``list`` through the real entry point
in a subprocess, the rest in this process (click's runner)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_cli import run
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.sample import sample_bars
from zvt_crypto.domain import Bar
from zvt_crypto.factors.indicators import INDICATORS

SYMBOLS = ["BTC/USDT", "ETH/USDT"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("factor_home")
    url = f"sqlite:///{home / 'zvt.db'}"
    store = Store(url)
    for symbol in SYMBOLS:
        bars = sample_bars(symbol, "2024-01-01", 24 * 30, "1h", volatility=0.01)
        store.write(Bar, bars.assign(entity_id=f"pair_binance_{symbol.replace('/', '-')}"), level="1h")
    store.dispose()
    return home, url


def cli(db: tuple[Path, str], *args: str, check: bool = True, process: bool = False) -> object:
    home, url = db
    return run(home, "--db-url", url, *args, check=check, process=process)


def test_list_names_the_builtins(db: tuple[Path, str]) -> None:
    out = cli(db, "factor", "list", process=True).stdout  # type: ignore[attr-defined]
    for name in ("sma", "ema", "rsi", "macd", "bbands", "atr", "vwap", "obv", "mfi", "stoch", "adx",
                 "funding_carry", "basis", "realized_vol", "mtf_trend", "ml_forecast"):
        assert f"│ {name} " in out, name


@pytest.mark.parametrize(("name", "params", "columns"), [
    ("rsi", ["window=14"], ["rsi"]),
    ("macd", [], ["macd", "signal", "hist"]),
    ("bbands", ["window=20"], ["upper", "middle", "lower"]),
])
def test_compute_then_show_writes_the_outputs(db: tuple[Path, str], tmp_path: Path, name: str, params: list[str],
                                              columns: list[str]) -> None:
    flags = [item for param in params for item in ("--param", param)]
    computed = cli(db, "factor", "compute", name, "--exchange", "binance", "--symbol", "BTC/USDT",
                   "--symbol", "ETH/USDT", "--level", "1h", *flags).stdout  # type: ignore[attr-defined]
    assert "2 entities, " in computed
    out = tmp_path / f"{name}.csv"
    cli(db, "factor", "show", name, "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h", *flags,
        "--out", str(out))
    table = pd.read_csv(out)
    assert list(table.columns) == ["timestamp", *columns]
    assert len(table) == 24 * 30
    assert table["timestamp"].iloc[0] == "2024-01-01T00:00:00Z"
    # the same values as the library function on the stored bars
    store = Store(db[1])
    try:
        bars = Bar.query_data(exchange="binance", symbols=["BTC/USDT"], level="1h", store=store).droplevel(0)
    finally:
        store.dispose()
    values = dict(param.split("=") for param in params)
    expected = INDICATORS[name](bars, **{k: int(v) for k, v in values.items()})
    np.testing.assert_allclose(table[columns].to_numpy(float), expected[columns].to_numpy(float), rtol=1e-9)

    again = cli(db, "factor", "compute", name, "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h",
                *flags).stdout  # type: ignore[attr-defined]
    assert "0 rows computed, 0 written" in again


def test_clear_errors(db: tuple[Path, str]) -> None:
    unknown = cli(db, "factor", "compute", "rsx", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h",
                  check=False)
    assert unknown.returncode == 1 and "unknown factor 'rsx'" in unknown.stderr  # type: ignore[attr-defined]
    bad = cli(db, "factor", "compute", "rsi", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h",
              "--param", "window=abc", check=False)
    assert bad.returncode == 1 and "window='abc' must be int" in bad.stderr  # type: ignore[attr-defined]
    malformed = cli(db, "factor", "compute", "rsi", "--exchange", "binance", "--symbol", "BTC/USDT", "--level",
                    "1h", "--param", "window", check=False)
    assert malformed.returncode == 1 and "name=value" in malformed.stderr  # type: ignore[attr-defined]
    missing = cli(db, "factor", "show", "ema", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h",
                  "--param", "window=99", check=False)
    assert missing.returncode == 1 and "compute them first" in missing.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(("args", "warning"), [
    (["rsi", "--symbol", "DOGE/USDT"],
     "DOGE/USDT on binance: no 1h bars stored; record them: zvt-crypto record bars --exchange binance "
     "--symbol DOGE/USDT --level 1h"),
    (["cross_spread", "--symbol", "BTC/USDT", "--param", "other=okx"],
     "BTC/USDT on binance: all 720 values are NaN; an input is missing: 1h bars of BTC/USDT on okx (zvt-crypto "
     "record bars --exchange okx --symbol BTC/USDT --level 1h)"),
])
def test_nothing_usable_is_a_warning_and_exit_1(db: tuple[Path, str], args: list[str], warning: str) -> None:
    result = cli(db, "factor", "compute", args[0], "--exchange", "binance", "--level", "1h", *args[1:], check=False)
    assert result.returncode == 1, result.stdout  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert f"warning: {warning}" in stderr
    assert "error: nothing usable computed for " in stderr and "Traceback" not in stderr
