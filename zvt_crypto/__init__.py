"""zvt_crypto: a quant research framework for crypto markets on one gap-audited store.

Importing the package is cheap and has no side effects; submodules load on first use::

    from zvt_crypto.domain import Bar
    bars = Bar.query_data(exchange="binance", symbols=["BTC/USDT"], level="1h")
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
