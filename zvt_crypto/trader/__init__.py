"""The trader: backtests of bar strategies and factor portfolios, with perpetual-futures realism.

>>> from zvt_crypto.trader import load_market_data, run_backtest
>>> data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h", start="2024-01-01")  # doctest: +SKIP
>>> result = run_backtest("sma_cross", data, params={"fast": 10, "slow": 30}, fee=0.001)             # doctest: +SKIP
>>> result.metrics["sharpe"], result.trades                                                             # doctest: +SKIP

Modules: :mod:`.data` (prices preloaded into arrays), :mod:`.strategy` (the API), :mod:`.signals` (entry/exit
strategies), :mod:`.fills` (the fill rules), :mod:`.broker` (account, margin, funding, liquidation),
:mod:`.risk`, :mod:`.slippage`, :mod:`.engine` (``run_backtest``), :mod:`.vector` (the vectorised path),
:mod:`.results`, :mod:`.metrics`, :mod:`.builtin` (the built-in strategies), :mod:`.optimize` (grid / random
search), :mod:`.walkforward`, :mod:`.overfitting` (deflated Sharpe ratio, PBO), :mod:`.paper` (paper trading).
"""

from zvt_crypto.trader.data import MarketData, SymbolSpec, load_market_data
from zvt_crypto.trader.engine import run_backtest
from zvt_crypto.trader.errors import LookAheadError, StrategyError
from zvt_crypto.trader.optimize import OptimizeResult, optimize
from zvt_crypto.trader.paper import PaperTrader
from zvt_crypto.trader.results import BacktestResult
from zvt_crypto.trader.risk import RiskLimits
from zvt_crypto.trader.signals import SignalStrategy
from zvt_crypto.trader.slippage import FixedBps, SpreadImpact
from zvt_crypto.trader.strategy import Strategy, cross_above, crossover, get_strategy, sma, strategy_names
from zvt_crypto.trader.walkforward import WalkForwardResult, walk_forward

__all__ = [
    "BacktestResult", "FixedBps", "LookAheadError", "MarketData", "OptimizeResult", "PaperTrader", "RiskLimits",
    "SignalStrategy", "SpreadImpact", "Strategy", "StrategyError", "SymbolSpec", "WalkForwardResult", "cross_above",
    "crossover", "get_strategy", "load_market_data", "optimize", "run_backtest", "sma", "strategy_names",
    "walk_forward",
]
