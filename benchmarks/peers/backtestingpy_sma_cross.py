"""backtesting.py's whole-process equivalent of ``zvt-crypto backtest --strategy sma_cross --out run.json``: read
the bars from a CSV, run the same SMA cross (long-only, all-in, fee on each fill, decided at the close and filled at
the next open), write the stats and trades as JSON. Run by ``bench_cli.py``: ``python this.py BARS.csv OUT.json``."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover

FAST, SLOW, CASH, FEE = 10, 30, 10_000.0, 0.001


def sma(values: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(np.asarray(values, dtype=float)).rolling(n).mean().to_numpy()


class SmaCross(Strategy):
    def init(self) -> None:
        self.fast_ma = self.I(sma, self.data.Close, FAST)
        self.slow_ma = self.I(sma, self.data.Close, SLOW)

    def next(self) -> None:
        if crossover(self.fast_ma, self.slow_ma):
            self.buy()
        elif crossover(self.slow_ma, self.fast_ma):
            self.position.close()


def main(csv: str, out: str) -> None:
    frame = pd.read_csv(csv, index_col="timestamp", parse_dates=["timestamp"])
    frame.columns = [c.capitalize() for c in frame.columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = FractionalBacktest(frame, SmaCross, cash=CASH, commission=FEE, trade_on_close=False,
                                   fractional_unit=1e-16).run()
    payload = {"stats": {k: str(v) for k, v in stats.items() if not k.startswith("_")},
               "trades": stats["_trades"].astype(str).to_dict("records"),
               "equity": stats["_equity_curve"]["Equity"].reset_index().astype(str).to_dict("records")}
    with open(out, "w") as file:
        json.dump(payload, file)
    print(f"{len(stats['_trades'])} trades, final equity {stats['Equity Final [$]']:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
