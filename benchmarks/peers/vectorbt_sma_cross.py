"""vectorbt's whole-process equivalent of ``zvt-crypto backtest --strategy sma_cross --out run.json``: read the bars
from a CSV, ``Portfolio.from_signals`` with the same rules (decided at the close, filled at the next open, fee on
each fill, all-in), write the stats, trades and equity as JSON. The first call in a process includes numba's
compilation (cached on disk after the first run). Run by ``bench_cli.py``: ``python this.py BARS.csv OUT.json``."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import vectorbt as vbt

FAST, SLOW, CASH, FEE = 10, 30, 10_000.0, 0.001


def main(csv: str, out: str) -> None:
    frame = pd.read_csv(csv, index_col="timestamp", parse_dates=["timestamp"])
    close, open_ = frame["close"], frame["open"]
    fast, slow = close.rolling(FAST).mean(), close.rolling(SLOW).mean()
    entries = (fast.shift(1) < slow.shift(1)) & (fast > slow)
    exits = (slow.shift(1) < fast.shift(1)) & (slow > fast)
    portfolio = vbt.Portfolio.from_signals(close=close, entries=entries.shift(1, fill_value=False),
                                           exits=exits.shift(1, fill_value=False), price=open_, fees=FEE,
                                           init_cash=CASH, size=np.inf, min_size=1e-300)
    equity = portfolio.value()
    payload = {"stats": {k: str(v) for k, v in portfolio.stats().items()},
               "trades": portfolio.trades.records_readable.astype(str).to_dict("records"),
               "equity": [{"timestamp": t, "equity": v} for t, v in
                          zip(equity.index.strftime("%Y-%m-%dT%H:%M:%SZ"), equity.tolist(), strict=True)]}
    with open(out, "w") as file:
        json.dump(payload, file)
    print(f"{len(portfolio.trades.records)} trades, final equity {portfolio.final_value():.2f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
