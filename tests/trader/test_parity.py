"""Parity with backtesting.py on the real price CSVs it ships: the same SMA-cross strategy and fill rules give the
same trades (entry and exit bar and price, size) and the same final equity.

backtesting.py is configured as peer-figures.md says: ``FractionalBacktest`` with a unit of 1e-8 (our amount step),
``trade_on_close=False`` (fills at the next open), commission 0.1 % on each side. Its all-in ``buy()`` sizes at
``(1 − 2⁻⁵²) · margin available / (price · (1 + commission))`` in whole units; ours at ``1 · available / (price ·
(1 + fee))`` rounded down to the step — the same to one unit of 1e-8.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

backtesting = pytest.importorskip("backtesting")
from backtesting import Strategy as BtStrategy  # noqa: E402
from backtesting.lib import FractionalBacktest, crossover  # noqa: E402
from backtesting.test import BTCUSD, EURUSD, GOOG  # noqa: E402

from zvt_crypto.trader import MarketData, run_backtest  # noqa: E402

UNIT = 1e-8
CASH = 10_000.0
FEE = 0.001


def _sma(values: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(values).rolling(n).mean().to_numpy()


class BtSmaCross(BtStrategy):
    n1 = 10
    n2 = 30
    both = False

    def init(self) -> None:
        self.sma1 = self.I(_sma, self.data.Close, self.n1)
        self.sma2 = self.I(_sma, self.data.Close, self.n2)

    def next(self) -> None:
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            if self.both:
                self.sell()


def _peer(frame: pd.DataFrame, fast: int, slow: int, both: bool) -> tuple[pd.DataFrame, float]:
    backtest = FractionalBacktest(frame, BtSmaCross, cash=CASH, commission=FEE, trade_on_close=False,
                                  fractional_unit=UNIT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = backtest.run(n1=fast, n2=slow, both=both)
    return stats["_trades"], float(stats["Equity Final [$]"])


CASES = [
    pytest.param(GOOG, 10, 30, False, id="GOOG-daily-10-30-long"),
    pytest.param(GOOG, 5, 20, True, id="GOOG-daily-5-20-both"),
    pytest.param(EURUSD, 10, 30, False, id="EURUSD-hourly-10-30-long"),
    pytest.param(EURUSD, 20, 50, True, id="EURUSD-hourly-20-50-both"),
    pytest.param(BTCUSD, 3, 8, False, id="BTCUSD-monthly-3-8-long"),
]


@pytest.mark.parametrize(("frame", "fast", "slow", "both"), CASES)
def test_same_trades_and_final_equity_as_backtesting_py(frame: pd.DataFrame, fast: int, slow: int,
                                                        both: bool) -> None:
    peer_trades, peer_equity = _peer(frame, fast, slow, both)
    data = MarketData.from_frame(frame, symbol="X").with_specs(step=UNIT)
    ours = run_backtest("sma_cross", data, params={"fast": fast, "slow": slow,
                                                   "direction": "both" if both else "long"}, cash=CASH, fee=FEE)
    # backtesting.py lists closed trades only (finalize_trades=False), like our `trades`
    assert len(ours.trades) == len(peer_trades) > 3
    assert ours.trades["entry_bar"].tolist() == peer_trades["EntryBar"].tolist()
    assert ours.trades["exit_bar"].tolist() == peer_trades["ExitBar"].tolist()
    np.testing.assert_allclose(ours.trades["entry_price"], peer_trades["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades["exit_price"], peer_trades["ExitPrice"], rtol=1e-12)
    signed = np.where(ours.trades["side"] == "long", 1.0, -1.0) * ours.trades["size"]
    np.testing.assert_allclose(signed, peer_trades["Size"], rtol=1e-8)
    np.testing.assert_allclose(ours.trades["pnl"], peer_trades["PnL"], rtol=1e-6, atol=1e-6)
    assert ours.final_equity == pytest.approx(peer_equity, rel=1e-6)
    # the vectorised path makes exactly the same trades
    vector = run_backtest("sma_cross", data, params=ours.params, cash=CASH, fee=FEE, engine="vectorised")
    pd.testing.assert_frame_equal(vector.trades, ours.trades)
    assert vector.final_equity == ours.final_equity
