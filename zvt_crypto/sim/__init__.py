"""A simulated Binance (spot and USDⓈ-M) on the loopback, for recorder tests, the offline demo and notebooks.

The real ccxt client talks to it through its normal ``urls`` options; data is deterministic for a seed and a
simulated clock; faults (429/418, 5xx bursts, slow answers, dropped connections, outages, duplicate or
out-of-order rows, junk bodies) are injected on demand. Importing this package starts nothing.

>>> import ccxt
>>> from zvt_crypto.sim import SimulatedExchange
>>> with SimulatedExchange(seed=7, now="2024-01-08T00:00:00Z") as sim:
...     exchange = ccxt.binance(sim.ccxt_options("binance"))
...     bars = exchange.fetch_ohlcv("BTC/USDT", "1h", limit=3)
>>> [len(bar) for bar in bars], bars[-1][0]        # [time ms, open, …, volume]; the last bar opened at "now"
([6, 6, 6], 1704672000000)

The package is also callable, as ``zvt_crypto.sim(seed=7, now=None, *, home=None)``: a context manager that starts
it and yields a config whose ccxt clients (``binance``, ``binanceusdm``) talk to it
(:func:`zvt_crypto.facade.sim`), so a notebook records offline in two lines:

>>> import zvt_crypto as zc
>>> with zc.sim() as cfg:
...     summary = zc.record("bars", exchange="binance", symbols=["BTC/USDT"], level="1d", config=cfg)
>>> summary.failed
[]
"""

from __future__ import annotations

import sys
import types
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from zvt_crypto.contract.timeutil import TimeLike, to_datetime
from zvt_crypto.sim.faults import Fault, FaultPlan, Gap
from zvt_crypto.sim.markets import MarketSpec, default_markets
from zvt_crypto.sim.server import DEFAULT_NOW, RequestRecord, SimulatedExchange, WeightLimit, peak_count

__all__ = [
    "DEFAULT_NOW",
    "Fault",
    "FaultPlan",
    "Gap",
    "MarketSpec",
    "RequestRecord",
    "SimulatedExchange",
    "WeightLimit",
    "default_markets",
    "peak_count",
    "serve",
]


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 7,
    now: TimeLike | None = None,
    lifetime: float | None = 3600,
) -> None:
    """Run a simulated exchange in the foreground (for notebooks on another process) until ``lifetime`` seconds
    pass or Ctrl-C; prints its URL and the config sections that point zvt_crypto's ccxt clients at it."""
    with SimulatedExchange(seed=seed, now=now, host=host, port=port, lifetime=lifetime) as sim:
        print(f"simulated Binance at {sim.url} — seed {seed}, now {to_datetime(sim.now).isoformat()}", flush=True)
        print("add to your zvt_crypto config file (ZVT_CRYPTO_CONFIG):\n", file=sys.stdout)
        print(sim.config_toml(), flush=True)
        try:
            sim.wait()
        except KeyboardInterrupt:
            pass


if TYPE_CHECKING:
    from zvt_crypto.contract.config import Config


class _CallablePackage(types.ModuleType):
    """``zvt_crypto.sim`` is both this package and ``zc.sim(...)``: importing a subpackage sets it as an attribute
    of its parent, so a function of the same name on ``zvt_crypto`` would be replaced by the package whenever
    anything imported it; a callable package keeps both meanings, whatever was imported first."""

    def __call__(self, seed: int = 7, now: TimeLike | None = None, *, home: str | None = None
                 ) -> AbstractContextManager[Config]:
        from zvt_crypto.facade import sim

        return sim(seed, now, home=home)


sys.modules[__name__].__class__ = _CallablePackage
